//! `SignalQuality`: a sink that watches every channel's quality over a sliding window (see
//! [`neuropipe_dsp::quality`] for the definitions) and publishes the figures and a verdict per
//! channel as the stage's readouts: `/api/metrics`, `/metrics` (Prometheus) and the dashboard,
//! which colours each trace's label by its verdict.
//!
//! * Put it on the **unfiltered** voltage stream (after `RawToVoltage`, beside the filters):
//!   railed channels are judged against the channels' declared physical range (the ADC's
//!   limits, an EDF signal's physical range, or `range_uv`), which a filter's output no
//!   longer has, and line noise is what a notch would hide.
//! * A verdict that changes is logged (`Fp1: flat, line_noise`; `Fp1: good`).
//! * Lead-off impedance: set `impedance` when the amplifier injects the ADS1299's 6 nA AC
//!   lead-off current (`CytonSource` with `leadoff`); the figure is OpenBCI's
//!   `√2 · V_rms / 6 nA − 2.2 kΩ`, in kΩ.

use crate::io::units::volts_to_microvolts;
use neuropipe_core::prelude::*;
use neuropipe_dsp::quality::{ChannelQuality, QualityConfig, QualityMeter, Thresholds};

/// Parameters of `SignalQuality`.
#[derive(StageParams)]
pub struct SignalQualityParams {
    /// sliding window (s) each estimate covers; at least 1 s
    #[param(default = 2.0, min = 1.0, max = 60.0)]
    pub window_s: f64,
    /// time between estimates (s)
    #[param(default = 0.5, min = 0.01, max = 60.0)]
    pub hop_s: f64,
    /// mains frequency (Hz) for the line-noise ratio, 0 for none
    #[param(default = 50.0, min = 0.0, max = 1000.0)]
    pub line_hz: f64,
    /// the amplifier injects the ADS1299's 6 nA lead-off current: compute each channel's impedance (kΩ)
    #[param(default = false)]
    pub impedance: bool,
    /// physical range ±range_uv of every channel, overriding the range the stream declares (needed for railed detection on streams without one, e.g. LSL)
    #[param(min = 0.0, max = 1e9)]
    pub range_uv: Option<f64>,
    /// a standard deviation below this (µV) is flat
    #[param(default = 0.5, min = 0.0, max = 1e6, live)]
    pub flat_uv: f64,
    /// using this much of the physical range (%) is railed (90, as the OpenBCI GUI)
    #[param(default = 90.0, min = 0.0, max = 100.0, live)]
    pub railed_percent: f64,
    /// line-noise power above this multiple of the 1-40 Hz power is line noise
    #[param(default = 1.0, min = 0.0, max = 1e6, live)]
    pub max_line_ratio: f64,
    /// RMS in 1-40 Hz above this (µV) is noisy
    #[param(default = 100.0, min = 0.0, max = 1e6, live)]
    pub max_rms_uv: f64,
    /// impedance above this (kΩ) is too high
    #[param(default = 100.0, min = 0.0, max = 1e6, live)]
    pub max_impedance_kohm: f64,
}

/// The readout columns, in [`figures`] order.
const COLUMNS: [ReadoutColumn; 7] = [
    ReadoutColumn::number("offset", "uV", "mean over the window (DC offset and drift)"),
    ReadoutColumn::number("sd", "uV", "standard deviation over the window"),
    ReadoutColumn::number("rms", "uV", "RMS in 1-40 Hz (Welch)"),
    ReadoutColumn::number(
        "line_ratio",
        "",
        "power within ±1.5 Hz of the line frequency over the power in 1-40 Hz",
    ),
    ReadoutColumn::number(
        "range_used",
        "%",
        "largest distance from the middle of the physical range, in % of half the range",
    ),
    ReadoutColumn::number(
        "impedance",
        "kOhm",
        "lead-off impedance: sqrt(2) * Vrms(5-50 Hz) / 6 nA - 2.2 kOhm",
    ),
    ReadoutColumn::flags(
        "problems",
        "the verdict: none set is good",
        &neuropipe_dsp::quality::PROBLEM_NAMES,
    ),
];

/// A channel's figures as readout values, in [`COLUMNS`] order.
fn figures(q: &ChannelQuality) -> [f64; 7] {
    let nan = f64::NAN;
    [
        q.offset,
        q.sd,
        q.rms,
        q.line_ratio.unwrap_or(nan),
        q.range_used.unwrap_or(nan),
        q.impedance.unwrap_or(nan),
        q.problems as f64,
    ]
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "SignalQuality",
        "Sink: per-channel signal quality (RMS, flat, railed, line noise, impedance) and a verdict, shown in metrics and the dashboard",
        build,
    )
    .input(PortSpec::any("in").doc("f32 or f64 voltages, unfiltered"))
    .params::<SignalQualityParams>()
}

fn thresholds(p: &SignalQualityParams) -> Thresholds {
    Thresholds {
        flat_sd: p.flat_uv,
        railed_percent: p.railed_percent,
        max_line_ratio: p.max_line_ratio,
        max_rms: p.max_rms_uv,
        max_impedance: p.max_impedance_kohm,
    }
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.clone();
    let p: SignalQualityParams = b.parse_params()?;
    let fs = info.sample_rate;
    // Every channel in µV: the thresholds are.
    let mut scale = Vec::with_capacity(info.channel_count());
    for c in &info.channels {
        let k = volts_to_microvolts(&c.unit).ok_or_else(|| {
            BuildError::stage(format!(
                "channel {} is in {:?}, not a voltage: SignalQuality judges voltages (put it after RawToVoltage)",
                c.label, c.unit
            ))
        })?;
        scale.push(k);
    }
    let ranges = info
        .channels
        .iter()
        .zip(&scale)
        .map(|(c, k)| match p.range_uv {
            Some(r) => Some([-r, r]),
            None => c.range.map(|[lo, hi]| [lo * k, hi * k]),
        })
        .collect();
    let window = (p.window_s * fs).round() as usize;
    let hop = ((p.hop_s * fs).round() as usize).max(1);
    let meter = QualityMeter::new(QualityConfig {
        fs,
        ranges,
        window,
        hop,
        line_hz: p.line_hz,
        impedance: p.impedance,
        thresholds: thresholds(&p),
    })
    .map_err(|e| BuildError::stage(e.to_string()))?;
    let labels: Vec<String> = info.channels.iter().map(|c| c.label.clone()).collect();
    let readouts = b.readouts(&COLUMNS, labels.clone());
    let needs_scale = scale.iter().any(|&k| k != 1.0);
    let frames = info.frames_per_packet.max(1);
    with_float!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(SignalQuality::<S> {
            input,
            meter,
            readouts,
            params: p,
            labels,
            verdicts: vec![0; scale.len()],
            scaled: if needs_scale { vec![0.0; frames * scale.len()] } else { Vec::new() },
            scale,
        }))
    })
}

/// The `SignalQuality` stage.
pub struct SignalQuality<S: FloatSample>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    meter: QualityMeter,
    readouts: Readouts,
    params: SignalQualityParams,
    labels: Vec<String>,
    /// The last verdict of each channel (to log changes).
    verdicts: Vec<u32>,
    /// Per-channel factor to µV.
    scale: Vec<f64>,
    /// Samples converted to µV (only when some channel is not in µV).
    scaled: Vec<f64>,
}

impl<S: FloatSample> SignalQuality<S>
where
    Samples<S>: Payload,
{
    /// Publishes an estimate and logs the verdicts that changed.
    fn publish(readouts: &Readouts, verdicts: &mut [u32], labels: &[String], q: &[ChannelQuality]) {
        for (row, (cq, last)) in q.iter().zip(verdicts.iter_mut()).enumerate() {
            for (col, v) in figures(cq).into_iter().enumerate() {
                readouts.set(row, col, v);
            }
            if cq.problems != *last {
                *last = cq.problems;
                let names = COLUMNS[6].flag_names(cq.problems as f64);
                if names.is_empty() {
                    tracing::info!("{}: good", labels[row]);
                } else {
                    tracing::warn!("{}: {}", labels[row], names.join(", "));
                }
            }
        }
        readouts.publish();
    }
}

impl<S: FloatSample> DataPlaneStage for SignalQuality<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, _ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let (readouts, verdicts, labels) = (&self.readouts, &mut self.verdicts, &self.labels);
        let mut emit = |_, q: &[ChannelQuality]| Self::publish(readouts, verdicts, labels, q);
        if self.scaled.is_empty() {
            self.meter.process(pkt.samples(), &mut emit);
        } else {
            let ch = self.scale.len();
            for chunk in pkt.samples().chunks(self.scaled.len()) {
                let dst = &mut self.scaled[..chunk.len()];
                for (i, (d, s)) in dst.iter_mut().zip(chunk).enumerate() {
                    *d = s.to_f64() * self.scale[i % ch];
                }
                self.meter.process(&*dst, &mut emit);
            }
        }
        Ok(())
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        let handled = msg.apply(&mut self.params)?;
        self.meter.set_thresholds(thresholds(&self.params));
        Ok(handled)
    }
}
