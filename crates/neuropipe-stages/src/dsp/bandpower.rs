//! `BandPower`: per-channel power in frequency bands over a sliding window (Welch PSD of the
//! window integrated over each band, see [`neuropipe_dsp::BandPower`]), sent as an `f32`
//! feature stream. A transforming stage with its own pool.
//!
//! # Output stream
//!
//! * One frame per hop (`hop_s`), the first once the first window (`window_s`) is full:
//!   `sample_rate = input rate / round(hop_s · input rate)`.
//! * Channels: input channels × bands, channel-major, labelled `<channel>_<band>`
//!   (e.g. `O1_alpha`), unit `<input unit>^2` (`uV^2` for µV input), type `BandPower`.
//!   A value is the band's power (PSD integrated over the band, ≈ the variance of the signal
//!   within it: a sinusoid of amplitude `A` gives `A²/2`).
//! * `first_frame` counts feature frames; `timestamp` is the time of the last input frame of
//!   the window the estimate was computed from; `sequence` numbers output packets. An input
//!   packet that completes no estimate sends nothing.
//!
//! # Bands
//!
//! `bands` is a list of `"name:lo-hi"` strings (Hz, `lo` inclusive, `hi` exclusive), e.g.
//! `["alpha:8-13", "sigma:11.5-16"]`; the default is delta 1–4, theta 4–8, alpha 8–13, beta
//! 13–30, gamma 30–45 Hz. Every band must satisfy `0 <= lo < hi <= Nyquist`.

use neuropipe_core::prelude::*;
use neuropipe_dsp::design::DesignError;
use neuropipe_dsp::{default_bands, BandPowerConfig, PowerBand};

/// Parameters of `BandPower` (and the optional `pool`, see [`StageSpec::with_pool`]).
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct BandPowerParams {
    /// sliding window length (s): each estimate uses the last window_s of signal
    #[param(default = 2.0, min = 0.001, max = 3600.0)]
    pub window_s: f64,
    /// time between estimates (s), a whole number of frames: the output rate is 1 / hop_s (default: 0.25 s rounded to whole frames, e.g. 63 frames = 0.252 s at 250 Hz)
    #[param(min = 0.0001, max = 3600.0)]
    pub hop_s: Option<f64>,
    /// Welch segment length (frames); default: one second of signal (round(sample_rate)), at most the window
    #[param(min = 1, max = neuropipe_dsp::welch::MAX_NPERSEG)]
    pub nperseg: Option<usize>,
    /// Welch segment overlap (frames), < nperseg; default nperseg / 2
    #[param(min = 0, max = neuropipe_dsp::welch::MAX_NPERSEG)]
    pub noverlap: Option<usize>,
    /// bands as "name:lo-hi" (Hz), e.g. ["alpha:8-13", "beta:13-30"]; default delta 1-4, theta 4-8, alpha 8-13, beta 13-30, gamma 30-45
    pub bands: Option<Vec<String>>,
    /// ratios of two bands' powers as "numerator/denominator" (band names), e.g. ["alpha/theta"] for neurofeedback: one more feature per channel each, labelled like O1_alpha/theta (0 where the denominator's power is 0, counted in the readouts)
    pub ratios: Option<Vec<String>>,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "BandPower",
        "Welch band power per channel over a sliding window: an f32 feature stream, one frame per hop",
        build,
    )
    .input(
        PortSpec::any("in").doc("f32 or f64 samples (raw i32 counts need a RawToVoltage first)"),
    )
    .output(
        PortSpec::of("out", neuropipe_core::PayloadKind::F32)
            .doc("band powers (and ratios): channels x (bands + ratios) per frame, labelled <channel>_<band>, <channel>_<num>/<den>"),
    )
    .params::<BandPowerParams>()
    .with_pool()
}

/// Parses a `"name:lo-hi"` band (`"alpha:8-13"`).
pub fn parse_band(text: &str) -> Result<PowerBand, String> {
    let bad = || format!("\"{text}\" is not \"name:lo-hi\" (Hz, e.g. \"alpha:8-13\")");
    let (name, range) = text.split_once(':').ok_or_else(bad)?;
    let (lo, hi) = range.split_once('-').ok_or_else(bad)?;
    let name = name.trim();
    let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
    let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok(PowerBand::new(name, lo, hi))
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.clone();
    let p: BandPowerParams = b.parse_params()?;
    let fs = info.sample_rate;
    let channels = info.channel_count();
    let window = (p.window_s * fs).round() as usize;
    if window < 1 {
        return Err(BuildError::param(
            "window_s",
            format!("is shorter than one frame at {fs} Hz"),
        ));
    }
    let explicit_hop = p.hop_s;
    let hop_s = explicit_hop.unwrap_or(0.25);
    let hop_frames = hop_s * fs;
    let hop = hop_frames.round() as usize;
    if hop < 1 {
        return Err(BuildError::param(
            "hop_s",
            format!("is shorter than one frame at {fs} Hz"),
        ));
    }
    if explicit_hop.is_none() {
        tracing::info!(
            stage = b.id(),
            "hop {hop} frames = {:.6} s: {:.4} estimates per second",
            hop as f64 / fs,
            fs / hop as f64
        );
    } else if (hop_frames - hop_frames.round()).abs() > 1e-6 * hop_frames.max(1.0) {
        // Rounding silently would change the output rate (and every timestamp after it).
        let (lo, hi) = (hop_frames.floor().max(1.0), hop_frames.ceil());
        return Err(BuildError::param(
            "hop_s",
            format!(
                "{hop_s} s is {hop_frames} frames at {fs} Hz; a hop is whole frames: use {} s ({lo} frames, output {:.4} Hz) or {} s ({hi} frames, output {:.4} Hz)",
                lo / fs,
                fs / lo,
                hi / fs,
                fs / hi
            ),
        ));
    }
    let nperseg = match p.nperseg {
        Some(n) if n > window => {
            return Err(BuildError::param(
                "nperseg",
                format!(
                "{n} frames is longer than the window ({window} frames = window_s x sample_rate)"
            ),
            ))
        }
        Some(n) => n,
        None => (fs.round() as usize).clamp(1, window),
    };
    let noverlap = p.noverlap.unwrap_or(nperseg / 2);
    let df = fs / nperseg as f64;
    let bands = match p.bands {
        None => default_bands(),
        Some(list) => {
            let mut bands: Vec<PowerBand> = Vec::with_capacity(list.len());
            for (i, text) in list.iter().enumerate() {
                let band = parse_band(text)
                    .map_err(|m| BuildError::param("bands", format!("[{i}]: {m}")))?;
                if bands.iter().any(|b| b.name == band.name) {
                    return Err(BuildError::param(
                        "bands",
                        format!("[{i}]: band name `{}` is used twice", band.name),
                    ));
                }
                bands.push(band);
            }
            bands
        }
    };
    // A band between two frequency bins would silently read 0.
    for (i, band) in bands.iter().enumerate() {
        let first = (band.lo / df).ceil();
        if first * df >= band.hi && band.hi <= fs / 2.0 {
            return Err(BuildError::param(
                "bands",
                format!(
                    "[{i}]: band `{}` ({}-{} Hz) holds no bin of the Welch spectrum, whose resolution is {df} Hz (sample_rate / nperseg): its power would always read 0; widen the band or raise nperseg",
                    band.name, band.lo, band.hi
                ),
            ));
        }
    }
    let bp = neuropipe_dsp::BandPower::new(BandPowerConfig {
        fs,
        channels,
        window,
        hop,
        nperseg,
        noverlap,
        bands,
    })
    .map_err(|e| {
        let param = match &e {
            DesignError::Count {
                name: "nperseg", ..
            } => Some("nperseg"),
            DesignError::Count {
                name: "noverlap", ..
            } => Some("noverlap"),
            DesignError::Count { name: "window", .. } => Some("window_s"),
            DesignError::Count { name: "hop", .. } => Some("hop_s"),
            DesignError::PowerBand { .. } | DesignError::Empty { .. } => Some("bands"),
            _ => None,
        };
        super::filter::design_build_error(param, &e)
    })?;
    let nb = bp.bands().len();
    let band_index = |name: &str, i: usize| {
        bp.bands()
            .iter()
            .position(|b| b.name == name)
            .ok_or_else(|| {
                BuildError::param(
                    "ratios",
                    format!(
                        "[{i}]: no band named {name:?} (bands: {})",
                        bp.bands()
                            .iter()
                            .map(|b| b.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
    };
    let mut ratios: Vec<(usize, usize, String)> = vec![];
    for (i, r) in p.ratios.iter().flatten().enumerate() {
        let (num, den) = r.split_once('/').ok_or_else(|| {
            BuildError::param(
                "ratios",
                format!("[{i}]: \"{r}\" is not \"numerator/denominator\" (e.g. \"alpha/theta\")"),
            )
        })?;
        let (num, den) = (num.trim(), den.trim());
        ratios.push((
            band_index(num, i)?,
            band_index(den, i)?,
            format!("{num}/{den}"),
        ));
    }
    let per_channel = nb + ratios.len();
    let out_channels = channels * per_channel;
    let out_cap = info.frames_per_packet.max(1).div_ceil(hop);
    let mut out_info = info.clone();
    out_info.kind = "BandPower".to_string();
    out_info.sample_rate = fs / hop as f64;
    out_info.frames_per_packet = out_cap;
    out_info.channels = info
        .channels
        .iter()
        .flat_map(|c| {
            let powers = bp.bands().iter().map(move |band| ChannelInfo {
                label: format!("{}_{}", c.label, band.name),
                unit: format!("{}^2", c.unit),
                kind: "BandPower".to_string(),
                range: None,
            });
            let ratios = ratios.iter().map(move |(_, _, name)| ChannelInfo {
                label: format!("{}_{name}", c.label),
                unit: String::new(),
                kind: "BandPowerRatio".to_string(),
                range: None,
            });
            powers.chain(ratios)
        })
        .collect();
    let readouts = (!ratios.is_empty()).then(|| {
        let r = b.readouts(
            &[ReadoutColumn::number(
                "undefined",
                "",
                "ratio estimates whose denominator band had no power (sent as 0)",
            )],
            vec!["ratios".to_string()],
        );
        r.set(0, 0, 0.0);
        r.publish();
        r
    });
    let pool = b.pool::<VoltageEegPacket>(out_cap, out_channels)?;
    let out = b.output::<VoltageEegPacket>("out", out_info)?;
    with_float!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(BandPower::<S> {
            bp,
            channels,
            out_channels,
            ratios: ratios.iter().map(|(n, d, _)| (*n, *d)).collect(),
            readouts,
            undefined: 0,
            window: window as u64,
            hop: hop as u64,
            out_cap,
            ns_per_in_frame: 1e9 / fs,
            pool,
            input,
            out,
            next_out: 0,
            sequence: 0,
            pending_flags: 0,
        }))
    })
}

/// The `BandPower` stage.
pub struct BandPower<S: FloatSample> {
    bp: neuropipe_dsp::BandPower,
    channels: usize,
    out_channels: usize,
    /// (numerator, denominator) band indices of each ratio.
    ratios: Vec<(usize, usize)>,
    /// With ratios: the count of undefined ones.
    readouts: Option<Readouts>,
    undefined: u64,
    window: u64,
    hop: u64,
    /// Frames per output packet (the pool's size).
    out_cap: usize,
    ns_per_in_frame: f64,
    pool: MemoryPool<VoltageEegPacket>,
    input: Input<Samples<S>>,
    out: Output<VoltageEegPacket>,
    next_out: u64,
    sequence: u64,
    pending_flags: u32,
}

impl<S: FloatSample> BandPower<S> {
    /// Estimates made once `frames` input frames have been consumed.
    fn estimates(&self, frames: u64) -> u64 {
        if frames < self.window {
            0
        } else {
            (frames - self.window) / self.hop + 1
        }
    }
}

impl<S: FloatSample> DataPlaneStage for BandPower<S> {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let h = pkt.header;
        let c = self.channels;
        if h.frames() == 0 {
            return Ok(());
        }
        if h.channels as usize != c {
            return Err(StageError::fatal(format!(
                "packet {} has {} channels but the stream has {c}",
                h.sequence, h.channels
            )));
        }
        self.pending_flags |= h.flags & !FLAG_LOST_SAMPLES;
        let packet_start = self.bp.frames();
        let chunk_frames = self.out_cap * self.hop as usize;
        for chunk in pkt.samples().chunks(chunk_frames * c) {
            let before = self.bp.frames();
            let after = before + (chunk.len() / c) as u64;
            let count = (self.estimates(after) - self.estimates(before)) as usize;
            if count == 0 {
                self.bp.process(chunk, |_| {});
                continue;
            }
            // Input frame (counted from this packet's first) ending the first estimate's window.
            let first_end = self.window + (self.estimates(before)) * self.hop;
            let offset = first_end - 1 - packet_start;
            let mut o = self.pool.acquire().await;
            o.header = h;
            o.set_shape(count, self.out_channels)?;
            let nc = self.out_channels;
            let dst = o.samples_mut();
            let mut row = 0;
            let ratios = &self.ratios;
            let mut undefined = 0u64;
            self.bp.process(chunk, |est| {
                let nb = est.bands.len();
                if let Some(d) = dst.get_mut(row * nc..(row + 1) * nc) {
                    let per = nb + ratios.len();
                    for (d, p) in d.chunks_exact_mut(per).zip(est.powers.chunks_exact(nb)) {
                        for (d, &p) in d.iter_mut().zip(p) {
                            *d = p as f32;
                        }
                        for (d, &(n, den)) in d[nb..].iter_mut().zip(ratios) {
                            *d = if p[den] > 0.0 {
                                (p[n] / p[den]) as f32
                            } else {
                                undefined += 1;
                                0.0
                            };
                        }
                    }
                }
                row += 1;
            });
            if undefined > 0 {
                self.undefined += undefined;
                if let Some(r) = &self.readouts {
                    r.set(0, 0, self.undefined as f64);
                    r.publish();
                }
            }
            debug_assert_eq!(row, count);
            let oh = &mut o.header;
            oh.sequence = self.sequence;
            oh.first_frame = self.next_out;
            oh.timestamp = h.timestamp + (offset as f64 * self.ns_per_in_frame).round() as u64;
            oh.flags = std::mem::take(&mut self.pending_flags);
            oh.lost_frames = 0;
            self.sequence += 1;
            self.next_out += count as u64;
            self.out.send(o).await?;
        }
        Ok(())
    }
}
