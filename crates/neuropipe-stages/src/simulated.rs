//! `SimulatedEeg`: a deterministic EEG source emitting raw ADS1299-style counts at a real-time
//! pace (drift-free: the deadline of every packet is computed from its frame index) or as fast
//! as the pipeline can take them.
//!
//! The signal per channel is 1/f ("pink") background noise, an alpha rhythm (~10 Hz, strongest
//! over parietal/occipital sites, slowly waxing and waning), mains interference, a slow drift,
//! occasional eye blinks on frontal sites, and an optional DC offset — the same for a given
//! seed, whatever the packet size. It is cheap (about 10 ns per channel-sample; see
//! `examples/sim_bench.rs`): the sinusoids advance by rotation, per-channel ones as arrays (recomputed
//! exactly from the frame index every 4,096 frames, so nothing drifts), and the noise comes
//! from one 64-bit draw per sample (an Irwin–Hall approximation of a normal). Up to 1,024
//! channels.
//!
//! `faults` breaks chosen channels the way electrodes fail (live, so a demo can "pull an
//! electrode"): `flat` (a shorted input: its DC level only), `railed` (a disconnected input
//! driven to the ADC's limit), `line_noise` (a lifted electrode picking up 300 µV of mains)
//! and `noisy` (muscle or a loose lead: 250 µV RMS of broadband noise added).
//!
//! `task: "p300"` runs an oddball paradigm on top: stimulus markers (`target`, `nontarget`)
//! published on the event bus at their frame's timestamp, with the evoked responses in the
//! signal, or with `speller_items` a P300 speller's flashes (`trial:<symbol>`,
//! `flash:<symbol>` before each `target`/`nontarget`; see [`crate::oddball`]); `task: "motor_imagery"` left/right hand imagery cues with
//! the mu rhythm desynchronising over the opposite hemisphere ([`crate::motor_imagery`]);
//! `task: "ssvep"` cues to look at flickering targets, the occipital EEG following the
//! cued frequency ([`crate::ssvep`]): to
//! epoch and decode without a lab.

use crate::motor_imagery::{MotorImagery, MotorImageryConfig};
use crate::oddball::{Oddball, OddballConfig};
use crate::ssvep::{Ssvep, SsvepConfig};
use crate::util::{ads1299_uv_per_count, TEN_TWENTY};
use neuropipe_core::{
    BoxedStage, BuildError, ControlMsg, DataPlaneStage, EventKind, Handled, MemoryPool, Output,
    Pacer, PayloadKind, PortSpec, RawEegPacket, StageBuilder, StageContext, StageError,
    StageParams, StageSpec, StreamInfo, FLAG_DISCONTINUITY,
};
use std::f64::consts::TAU;

/// Parameters of `SimulatedEeg`.
#[derive(StageParams)]
pub struct SimulatedEegParams {
    /// number of channels
    #[param(default = 8, min = 1, max = 1024)]
    pub channels: usize,
    /// frames per second (Hz)
    #[param(default = 250.0, min = 1.0, max = 32_000.0)]
    pub sample_rate: f64,
    /// frames per packet
    #[param(default = 16, min = 1, max = 4096)]
    pub frames: usize,
    /// random seed: same seed, same signal
    #[param(default = 42, min = 0)]
    pub seed: i64,
    /// pace output by the clock (false: as fast as the pipeline runs)
    #[param(default = true)]
    pub realtime: bool,
    /// end the stream after this much signal (seconds); runs until stopped if absent
    #[param(min = 0.0, max = 1e9)]
    pub duration_s: Option<f64>,
    /// ADS1299 PGA gain (1, 2, 4, 6, 8, 12 or 24): sets µV per count
    #[param(default = 24, min = 1, max = 24)]
    pub gain: i64,
    /// alpha rhythm amplitude (µV)
    #[param(default = 20.0, min = 0.0, max = 10_000.0, live)]
    pub alpha_uv: f64,
    /// alpha frequency (Hz)
    #[param(default = 10.0, min = 0.1, max = 100.0, live)]
    pub alpha_hz: f64,
    /// mains frequency (Hz), 0 for none
    #[param(default = 50.0, min = 0.0, max = 1000.0)]
    pub line_hz: f64,
    /// mains interference amplitude (µV)
    #[param(default = 10.0, min = 0.0, max = 10_000.0, live)]
    pub line_uv: f64,
    /// 1/f background level (µV)
    #[param(default = 8.0, min = 0.0, max = 10_000.0, live)]
    pub noise_uv: f64,
    /// slow drift amplitude (µV)
    #[param(default = 30.0, min = 0.0, max = 100_000.0, live)]
    pub drift_uv: f64,
    /// mean time between eye blinks (s), 0 for none
    #[param(default = 6.0, min = 0.0, max = 3600.0)]
    pub blink_interval_s: f64,
    /// blink amplitude on Fp sites (µV)
    #[param(default = 150.0, min = 0.0, max = 10_000.0, live)]
    pub blink_uv: f64,
    /// largest per-channel DC offset (µV); offsets are drawn per channel
    #[param(default = 0.0, min = 0.0, max = 300_000.0)]
    pub dc_offset_uv: f64,
    /// broken channels as "label:fault", fault one of flat, railed, line_noise, noisy (e.g. ["O1:flat", "C4:railed"])
    #[param(live)]
    pub faults: Option<Vec<String>>,
    /// an experiment to simulate: "none", "p300" (an oddball task: target/nontarget stimulus markers with evoked responses), "motor_imagery" (left/right cues with mu desynchronisation over the opposite hemisphere) or "ssvep" (cues to look at one of several flickering targets, the occipital EEG following its frequency)
    #[param(default = "none", choices = ["none", "p300", "motor_imagery", "ssvep"])]
    pub task: String,
    /// p300 task: time between stimuli (s)
    #[param(default = 0.25, min = 0.05, max = 60.0)]
    pub stimulus_interval_s: f64,
    /// p300 task: probability that a stimulus is a target
    #[param(default = 0.2, min = 0.0, max = 1.0)]
    pub target_probability: f64,
    /// p300 task: P300 amplitude at parietal sites (µV); 0 keeps the markers without the effect
    #[param(default = 8.0, min = 0.0, max = 1000.0, live)]
    pub p300_uv: f64,
    /// p300 task as a speller: the number of symbols flashed one at a time (A, B, ...; 2 to 36), each trial cueing one (markers like trial:B, flash:C); 0: a plain oddball with target_probability
    #[param(default = 0, min = 0, max = 36)]
    pub speller_items: usize,
    /// p300 speller: flashes of every symbol per trial
    #[param(default = 10, min = 1, max = 1000)]
    pub speller_repetitions: usize,
    /// motor_imagery and ssvep tasks: time between cues (s)
    #[param(default = 6.0, min = 4.5, max = 600.0)]
    pub trial_interval_s: f64,
    /// motor_imagery task: fraction of the mu amplitude lost over the opposite hemisphere during imagery; 0 keeps the cues without the effect
    #[param(default = 0.6, min = 0.0, max = 1.0, live)]
    pub erd: f64,
    /// ssvep task: the targets' flicker frequencies (Hz; default: divisors of a 60 Hz monitor away from the 10 Hz alpha peak); markers are named after them ("12Hz", "7.5Hz")
    #[param(default = [7.5, 12.0, 15.0, 20.0], min = 0.5, max = 1000.0)]
    pub ssvep_hz: Vec<f64>,
    /// ssvep task: response amplitude at occipital sites (µV); 0 keeps the cues without the response
    #[param(default = 3.0, min = 0.0, max = 1000.0, live)]
    pub ssvep_uv: f64,
}

/// A simulated experiment.
enum Task {
    P300(Oddball),
    MotorImagery(MotorImagery),
    Ssvep(Ssvep),
}

/// How a simulated channel is broken (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Working.
    None,
    /// Its DC level only.
    Flat,
    /// At the ADC's positive limit.
    Railed,
    /// 300 µV of mains added.
    LineNoise,
    /// 250 µV RMS of white noise added.
    Noisy,
}

impl Fault {
    const NAMES: [(&'static str, Fault); 4] = [
        ("flat", Fault::Flat),
        ("railed", Fault::Railed),
        ("line_noise", Fault::LineNoise),
        ("noisy", Fault::Noisy),
    ];
}

/// One fault per channel from `"label:fault"` entries; an error names the bad entry.
pub fn parse_faults(entries: &[String], labels: &[&str]) -> Result<Vec<Fault>, String> {
    let mut faults = vec![Fault::None; labels.len()];
    for e in entries {
        let Some((label, name)) = e.split_once(':') else {
            return Err(format!("{e:?} is not \"label:fault\" (e.g. \"O1:flat\")"));
        };
        let (label, name) = (label.trim(), name.trim());
        let Some(i) = labels.iter().position(|l| l.eq_ignore_ascii_case(label)) else {
            return Err(format!(
                "{e:?}: no channel {label:?}{}",
                neuropipe_core::suggestion(label, labels.iter().copied())
            ));
        };
        let Some(&(_, f)) = Fault::NAMES.iter().find(|(n, _)| *n == name) else {
            return Err(format!(
                "{e:?}: unknown fault {name:?} (flat, railed, line_noise or noisy){}",
                neuropipe_core::suggestion(name, Fault::NAMES.iter().map(|(n, _)| *n))
            ));
        };
        faults[i] = f;
    }
    Ok(faults)
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "SimulatedEeg",
        "Deterministic simulated EEG (raw ADS1299 counts): pink noise, alpha, mains, drift, blinks",
        build,
    )
    .output(PortSpec::of("out", PayloadKind::I32).doc("raw counts, frame-major"))
    .with_stream_info()
    .params::<SimulatedEegParams>()
    .with_pool()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: SimulatedEegParams = b.parse_params()?;
    let channels = p.channels;
    let rate = p.sample_rate;
    let frames = p.frames;
    let gain = p.gain;
    if ![1, 2, 4, 6, 8, 12, 24].contains(&gain) {
        return Err(BuildError::param(
            "gain",
            format!("{gain} is not an ADS1299 gain (1, 2, 4, 6, 8, 12 or 24)"),
        ));
    }
    let line_hz = p.line_hz;
    if line_hz >= rate / 2.0 && line_hz > 0.0 {
        return Err(BuildError::param(
            "line_hz",
            format!("{line_hz} Hz is at or above Nyquist ({} Hz)", rate / 2.0),
        ));
    }
    let model = SignalModel {
        rate,
        alpha_uv: p.alpha_uv,
        alpha_hz: p.alpha_hz,
        line_hz,
        line_uv: p.line_uv,
        noise_uv: p.noise_uv,
        drift_uv: p.drift_uv,
        blink_interval_s: p.blink_interval_s,
        blink_uv: p.blink_uv,
        dc_offset_uv: p.dc_offset_uv,
    };
    let seed = p.seed as u64;
    let realtime = p.realtime;
    let total_frames = p.duration_s.map(|d| (d * rate).round() as u64);
    let labels = default_labels(channels);
    let label_refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let faults = parse_faults(p.faults.as_deref().unwrap_or_default(), &label_refs)
        .map_err(|e| BuildError::param("faults", e))?;
    let mut info = StreamInfo::new(
        "neuropipe-sim",
        rate,
        channels,
        "counts",
        frames,
        PayloadKind::I32,
    );
    for (c, l) in info.channels.iter_mut().zip(&labels) {
        c.label = l.clone();
        c.range = Some(crate::util::ADS1299_RANGE);
    }
    info.adc_gain = Some(gain as f64);
    info.source_id = format!("neuropipe-sim-{}", b.id());
    info.manufacturer = "neuropipe (simulated)".to_string();
    let info = b.source_stream(info)?;
    let pool = b.pool::<RawEegPacket>(frames, channels)?;
    let out = b.output::<RawEegPacket>("out", info.clone())?;
    let uv_per_count = ads1299_uv_per_count(4.5, gain as f64);
    let mut gen = Generator::new(model, &info.labels(), seed);
    gen.faults = faults;
    if p.task == "ssvep" {
        // Every harmonic must be a frequency the stream can carry, and targets distinct.
        if p.ssvep_hz.len() < 2 {
            return Err(BuildError::param(
                "ssvep_hz",
                "give two or more flicker frequencies (one target would be nothing to decode)",
            ));
        }
        if let Some(f) = p.ssvep_hz.iter().find(|&&f| 3.0 * f >= rate / 2.0) {
            return Err(BuildError::param(
                "ssvep_hz",
                format!(
                    "{f} Hz: its third harmonic ({} Hz) is at or above Nyquist ({} Hz); use frequencies below {} Hz or a higher sample_rate",
                    3.0 * f,
                    rate / 2.0,
                    rate / 6.0
                ),
            ));
        }
        let mut sorted = p.ssvep_hz.clone();
        sorted.sort_by(f64::total_cmp);
        if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
            return Err(BuildError::param(
                "ssvep_hz",
                format!(
                    "{} Hz is given twice: targets need distinct frequencies",
                    w[0]
                ),
            ));
        }
    }
    if p.task == "p300" && p.stimulus_interval_s * rate < 1.0 {
        // Two stimuli on one frame would be one marker for two responses.
        return Err(BuildError::param(
            "stimulus_interval_s",
            format!(
                "{} s is less than one frame at {rate} Hz: use at least {} s",
                p.stimulus_interval_s,
                1.0 / rate
            ),
        ));
    }
    if p.speller_items == 1 {
        return Err(BuildError::param(
            "speller_items",
            "a speller needs at least 2 symbols (0 turns the speller off)",
        ));
    }
    if p.speller_items > 0 && p.task != "p300" {
        return Err(BuildError::param(
            "speller_items",
            format!(
                "the speller is a mode of task \"p300\"; task is {:?}",
                p.task
            ),
        ));
    }
    let speller_markers = (0..p.speller_items)
        .map(|k| {
            let symbol = &crate::oddball::ITEMS[k..k + 1];
            (format!("trial:{symbol}"), format!("flash:{symbol}"))
        })
        .collect();
    let task = match p.task.as_str() {
        "p300" => Some(Task::P300(Oddball::new(
            OddballConfig {
                rate,
                interval_s: p.stimulus_interval_s,
                target_probability: p.target_probability,
                p300_uv: p.p300_uv,
                items: p.speller_items,
                repetitions: p.speller_repetitions,
            },
            &info.labels(),
            seed,
        ))),
        "motor_imagery" => Some(Task::MotorImagery(MotorImagery::new(
            MotorImageryConfig {
                rate,
                interval_s: p.trial_interval_s,
                erd: p.erd,
            },
            &info.labels(),
            seed,
        ))),
        "ssvep" => Some(Task::Ssvep(Ssvep::new(
            SsvepConfig {
                rate,
                interval_s: p.trial_interval_s,
                freqs: p.ssvep_hz.clone(),
                amplitude_uv: p.ssvep_uv,
            },
            &info.labels(),
            seed,
        ))),
        _ => None,
    };
    Ok(BoxedStage::new(SimulatedEeg {
        gen,
        task,
        pool,
        out,
        frames,
        channels,
        realtime,
        total_frames,
        uv_per_count,
        next_frame: 0,
        sequence: 0,
        pacer: Pacer::new(rate),
        uv: vec![0.0; channels],
        labels,
        speller_markers,
    }))
}

/// Labels for `n` channels: an OpenBCI-style 8-channel montage, the 10-20 system up to 19,
/// `Ch1..ChN` beyond.
pub fn default_labels(n: usize) -> Vec<String> {
    const EIGHT: [&str; 8] = ["Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"];
    if n <= 8 {
        EIGHT[..n].iter().map(|s| s.to_string()).collect()
    } else if n <= TEN_TWENTY.len() {
        TEN_TWENTY[..n].iter().map(|s| s.to_string()).collect()
    } else {
        (1..=n).map(|i| format!("Ch{i}")).collect()
    }
}

/// Amplitudes and rates of the simulated signal (µV, Hz, s).
#[derive(Clone, Debug)]
pub struct SignalModel {
    /// Sample rate (Hz).
    pub rate: f64,
    /// Alpha amplitude (µV).
    pub alpha_uv: f64,
    /// Alpha frequency (Hz).
    pub alpha_hz: f64,
    /// Mains frequency (Hz), 0 for none.
    pub line_hz: f64,
    /// Mains amplitude (µV).
    pub line_uv: f64,
    /// Pink noise level (µV).
    pub noise_uv: f64,
    /// Drift amplitude (µV).
    pub drift_uv: f64,
    /// Mean time between blinks (s), 0 for none.
    pub blink_interval_s: f64,
    /// Blink amplitude (µV).
    pub blink_uv: f64,
    /// Largest DC offset (µV).
    pub dc_offset_uv: f64,
}

/// SplitMix64: small, fast, deterministic.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        crate::util::splitmix64(&mut self.0)
    }
    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Approximately standard normal, cheaply: the sum of the four 16-bit quarters of one
    /// draw (Irwin–Hall with n = 4: mean 0, variance 1, tails bounded at ±3.46).
    #[inline]
    fn normal(&mut self) -> f64 {
        let u = self.next_u64();
        let s = (u & 0xFFFF) + ((u >> 16) & 0xFFFF) + ((u >> 32) & 0xFFFF) + (u >> 48);
        ((s as i64 - 131_070) as f64) * (SQRT_3 / 65_536.0)
    }
}

/// `√3`.
const SQRT_3: f64 = 1.732_050_807_568_877_2;

/// Oscillators are recomputed exactly from the frame index this often (and after any jump),
/// so rounding in the recurrence never accumulates and the signal depends only on the frame.
const RESYNC_FRAMES: u64 = 4096;

/// A sinusoid advanced by rotation: `(cos, sin)` of the phase, turned by one frame's step per
/// call (four multiplies instead of a `sin`).
#[derive(Clone, Copy, Debug, Default)]
struct Osc {
    c: f64,
    s: f64,
    step_c: f64,
    step_s: f64,
}

impl Osc {
    /// `sin(2π · hz · frame / rate + phase)` at `frame`, stepping one frame per [`Osc::next`].
    fn at(hz: f64, rate: f64, phase: f64, frame: u64) -> Osc {
        let cycles = (hz / rate * frame as f64).fract();
        let ph = TAU * cycles + phase;
        let w = TAU * hz / rate;
        Osc {
            c: ph.cos(),
            s: ph.sin(),
            step_c: w.cos(),
            step_s: w.sin(),
        }
    }
    /// The current value, then one frame on.
    #[inline(always)]
    fn next(&mut self) -> f64 {
        let v = self.s;
        let c = self.c * self.step_c - self.s * self.step_s;
        self.s = self.s * self.step_c + self.c * self.step_s;
        self.c = c;
        v
    }
}

/// One sinusoid per channel at a common frequency (each with its own phase), kept as
/// arrays so that advancing all of them is one vectorised loop.
#[derive(Clone, Debug, Default)]
struct OscBank {
    c: Vec<f64>,
    s: Vec<f64>,
    step_c: f64,
    step_s: f64,
}

impl OscBank {
    /// `sin(2π · hz · frame / rate + phases[i])` at `frame`.
    fn set(&mut self, hz: f64, rate: f64, phases: impl Iterator<Item = f64>, frame: u64) {
        self.c.clear();
        self.s.clear();
        for ph in phases {
            let o = Osc::at(hz, rate, ph, frame);
            self.c.push(o.c);
            self.s.push(o.s);
            (self.step_c, self.step_s) = (o.step_c, o.step_s);
        }
    }
    /// One frame on, every channel.
    #[inline(always)]
    fn advance(&mut self) {
        let (sc, ss) = (self.step_c, self.step_s);
        for (c, s) in self.c.iter_mut().zip(self.s.iter_mut()) {
            let nc = *c * sc - *s * ss;
            *s = *s * sc + *c * ss;
            *c = nc;
        }
    }
}

#[derive(Clone, Debug)]
struct ChannelState {
    pink: [f64; 3],
    alpha_w: f64,
    blink_w: f64,
    alpha_phase: f64,
    mod_phase: f64,
    drift_phase: f64,
    dc: f64,
}

/// The signal generator: pure and deterministic; one call per frame.
#[derive(Clone, Debug)]
pub struct Generator {
    /// The model (amplitudes may be changed live).
    pub model: SignalModel,
    /// Per channel: how it is broken (all [`Fault::None`] from [`new`](Self::new)).
    pub faults: Vec<Fault>,
    /// Per channel: a factor on its alpha (mu) rhythm, 1 by default (a task lowers it for
    /// event-related desynchronisation).
    pub alpha_gain: Vec<f64>,
    rng: Rng,
    chans: Vec<ChannelState>,
    next_blink: u64,
    blink_center: Option<u64>,
    line_phase: f64,
    line: Osc,
    fault_line: Osc,
    /// Per channel: the alpha rhythm, its slow waxing and waning, the drift.
    alpha: OscBank,
    wax: OscBank,
    drift: OscBank,
    /// The frame the oscillators are at, and the alpha frequency they were set up for.
    synced: Option<(u64, f64)>,
}

impl Generator {
    /// A generator for channels with these labels (site names set alpha/blink weights).
    pub fn new(model: SignalModel, labels: &[&str], seed: u64) -> Self {
        let mut rng = Rng(seed ^ 0x6E65_7572_6F70_6970);
        let chans: Vec<ChannelState> = labels
            .iter()
            .map(|l| {
                let site = l.to_ascii_uppercase();
                let alpha_w = if site.starts_with('O') || site.starts_with('P') {
                    1.0
                } else if site.starts_with('C') || site.starts_with('T') {
                    0.45
                } else if site.starts_with('F') {
                    0.2
                } else {
                    0.6
                };
                let blink_w = if site.starts_with("FP") {
                    1.0
                } else if site.starts_with('F') {
                    0.4
                } else {
                    0.05
                };
                ChannelState {
                    pink: [0.0; 3],
                    alpha_w,
                    blink_w,
                    alpha_phase: rng.uniform() * TAU,
                    mod_phase: rng.uniform() * TAU,
                    drift_phase: rng.uniform() * TAU,
                    dc: (rng.uniform() * 2.0 - 1.0) * model.dc_offset_uv,
                }
            })
            .collect();
        let mut g = Generator {
            faults: vec![Fault::None; chans.len()],
            alpha_gain: vec![1.0; chans.len()],
            line_phase: rng.uniform() * TAU,
            model,
            rng,
            chans,
            next_blink: 0,
            blink_center: None,
            line: Osc::default(),
            fault_line: Osc::default(),
            alpha: OscBank::default(),
            wax: OscBank::default(),
            drift: OscBank::default(),
            synced: None,
        };
        g.next_blink = g.draw_blink_gap(0);
        g
    }

    /// Sets every oscillator exactly to `frame`.
    fn resync(&mut self, frame: u64) {
        let m = &self.model;
        let line_hz = if m.line_hz > 0.0 { m.line_hz } else { 0.0 };
        self.line = Osc::at(line_hz, m.rate, self.line_phase, frame);
        let fault_hz = m.line_hz.max(50.0).min(0.45 * m.rate);
        self.fault_line = Osc::at(fault_hz, m.rate, 0.0, frame);
        let chans = &self.chans;
        let phases = |f: fn(&ChannelState) -> f64| chans.iter().map(f);
        self.alpha
            .set(m.alpha_hz, m.rate, phases(|c| c.alpha_phase), frame);
        self.wax.set(0.1, m.rate, phases(|c| c.mod_phase), frame);
        self.drift
            .set(0.03, m.rate, phases(|c| c.drift_phase), frame);
        self.synced = Some((frame, m.alpha_hz));
    }

    fn draw_blink_gap(&mut self, from: u64) -> u64 {
        if self.model.blink_interval_s <= 0.0 {
            return u64::MAX;
        }
        // Exponential gaps, at least 0.5 s apart.
        let gap_s = 0.5 - self.model.blink_interval_s * self.rng.uniform().ln();
        from + (gap_s * self.model.rate) as u64
    }

    /// Fills `out` (one value per channel, µV) with frame `frame`'s sample. Frames are cheapest
    /// in order (oscillators advance by rotation); any frame may be asked for.
    pub fn frame(&mut self, frame: u64, out: &mut [f64]) {
        let in_step = self
            .synced
            .is_some_and(|(f, hz)| f == frame && hz == self.model.alpha_hz);
        if !in_step || frame.is_multiple_of(RESYNC_FRAMES) {
            self.resync(frame);
        }
        self.synced = Some((frame + 1, self.model.alpha_hz));
        if frame >= self.next_blink {
            self.blink_center = Some(frame + (0.15 * self.model.rate) as u64);
            self.next_blink = self.draw_blink_gap(frame);
        }
        let m = &self.model;
        let blink = match self.blink_center {
            Some(c) => {
                let dt = (frame as f64 - c as f64) / m.rate;
                if dt > 0.6 {
                    self.blink_center = None;
                }
                m.blink_uv * (-0.5 * (dt / 0.07).powi(2)).exp()
            }
            None => 0.0,
        };
        let line = m.line_uv * self.line.next();
        let (alpha_uv, noise_uv, drift_uv) = (m.alpha_uv, m.noise_uv, m.drift_uv);
        let fault_line = 300.0 * self.fault_line.next();
        let (alpha_s, wax_s, drift_s) = (&self.alpha.s, &self.wax.s, &self.drift.s);
        for (i, (c, v)) in self.chans.iter_mut().zip(out.iter_mut()).enumerate() {
            let fault = self.faults.get(i).copied().unwrap_or(Fault::None);
            // Pink noise: white noise through three one-pole filters (−3 dB/octave, 1–100 Hz).
            let w = self.rng.normal();
            c.pink[0] = 0.997 * c.pink[0] + 0.029591 * w;
            c.pink[1] = 0.985 * c.pink[1] + 0.032534 * w;
            c.pink[2] = 0.950 * c.pink[2] + 0.048056 * w;
            let pink = (c.pink[0] + c.pink[1] + c.pink[2] + 0.05 * w) * 4.0;
            let wax = 0.6 + 0.4 * wax_s[i];
            let gain = self.alpha_gain.get(i).copied().unwrap_or(1.0);
            let alpha = alpha_uv * c.alpha_w * wax * alpha_s[i] * gain;
            let drift = drift_uv * drift_s[i];
            *v = c.dc + drift + noise_uv * pink + alpha + line + blink * c.blink_w;
            match fault {
                Fault::None => {}
                Fault::Flat => *v = c.dc,
                // Far beyond the ADC's limit: the conversion to counts clamps it there.
                Fault::Railed => *v = 1e9,
                Fault::LineNoise => *v += fault_line,
                Fault::Noisy => *v += 250.0 * self.rng.normal(),
            }
        }
        self.alpha.advance();
        self.wax.advance();
        self.drift.advance();
    }
}

/// The `SimulatedEeg` stage.
pub struct SimulatedEeg {
    gen: Generator,
    /// The simulated experiment, if any.
    /// Speller mode: per symbol, its `trial:` and `flash:` marker texts.
    speller_markers: Vec<(String, String)>,
    task: Option<Task>,
    pool: MemoryPool<RawEegPacket>,
    out: Output<RawEegPacket>,
    frames: usize,
    channels: usize,
    realtime: bool,
    total_frames: Option<u64>,
    uv_per_count: f64,
    next_frame: u64,
    sequence: u64,
    /// Real-time pacing (drift-free, re-anchored after a pause).
    pacer: Pacer,
    uv: Vec<f64>,
    /// Channel labels (to apply live `faults`).
    labels: Vec<String>,
}

impl DataPlaneStage for SimulatedEeg {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let remaining = match self.total_frames {
            Some(total) if self.next_frame >= total => return Err(StageError::QueueClosed),
            Some(total) => (total - self.next_frame).min(self.frames as u64) as usize,
            None => self.frames,
        };
        let first = self.next_frame;
        if self.realtime {
            // The packet is complete when its last frame has been "acquired" (at its timestamp).
            let due = self.pacer.due(ctx.clock(), first, remaining as u64);
            if !ctx.sleep_until(due).await {
                return Ok(()); // a control message is waiting
            }
        }
        let mut pkt = self.pool.acquire().await;
        pkt.set_shape(remaining, self.channels)?;
        let timestamp = self.pacer.frame_time_ns(first);
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = first;
        h.timestamp = timestamp;
        if self.pacer.take_discontinuity() {
            h.flags |= FLAG_DISCONTINUITY;
        }
        let limit = ((1i64 << 23) - 1) as f64;
        let scale = 1.0 / self.uv_per_count;
        for (f, frame) in pkt
            .samples_mut()
            .chunks_exact_mut(self.channels)
            .enumerate()
        {
            let at = first + f as u64;
            // Markers are published before the packet holding their frame, as a marker
            // stream would.
            let marker_at = |text: &str| {
                ctx.emit_event_at(self.pacer.frame_time_ns(at), EventKind::Marker, text)
            };
            match self.task.as_mut() {
                None => self.gen.frame(at, &mut self.uv),
                Some(Task::P300(t)) => {
                    self.gen.frame(at, &mut self.uv);
                    if let Some(stim) = t.frame(at, &mut self.uv) {
                        if let Some(c) = stim.cue {
                            marker_at(&self.speller_markers[c as usize].0);
                        }
                        if let Some(i) = stim.item {
                            marker_at(&self.speller_markers[i as usize].1);
                        }
                        marker_at(stim.text());
                    }
                }
                Some(Task::Ssvep(t)) => {
                    self.gen.frame(at, &mut self.uv);
                    if let Some(cue) = t.frame(at, &mut self.uv) {
                        marker_at(t.text(cue.target));
                    }
                }
                Some(Task::MotorImagery(t)) => {
                    // The mu gains of this frame first, then the signal.
                    if let Some(cue) = t.frame(at, &mut self.gen.alpha_gain) {
                        marker_at(crate::motor_imagery::CLASSES[cue.class]);
                    }
                    self.gen.frame(at, &mut self.uv);
                }
            }
            for (dst, uv) in frame.iter_mut().zip(&self.uv) {
                *dst = (uv * scale).round().clamp(-limit, limit) as i32;
            }
        }
        self.next_frame += remaining as u64;
        self.sequence += 1;
        self.out.send(pkt).await
    }

    fn control(
        &mut self,
        msg: &ControlMsg,
        _ctx: &mut StageContext,
    ) -> Result<Handled, StageError> {
        if let ControlMsg::Resume = msg {
            // Continue with the next frame index, re-anchored in time: the pause shows as a
            // gap in timestamps, not in sample indices.
            self.pacer.reanchor();
            return Ok(Handled::Default);
        }
        let Some(u) = msg.update::<SimulatedEegParams>()? else {
            return Ok(Handled::Default);
        };
        let m = &mut self.gen.model;
        match u {
            SimulatedEegParamsUpdate::AlphaUv(x) => m.alpha_uv = x,
            SimulatedEegParamsUpdate::AlphaHz(x) if x >= m.rate / 2.0 => {
                return Err(StageError::bad_param(format!(
                    "`alpha_hz` = {x} is at or above Nyquist ({} Hz)",
                    m.rate / 2.0
                )))
            }
            SimulatedEegParamsUpdate::AlphaHz(x) => m.alpha_hz = x,
            SimulatedEegParamsUpdate::LineUv(x) => m.line_uv = x,
            SimulatedEegParamsUpdate::NoiseUv(x) => m.noise_uv = x,
            SimulatedEegParamsUpdate::DriftUv(x) => m.drift_uv = x,
            SimulatedEegParamsUpdate::BlinkUv(x) => m.blink_uv = x,
            SimulatedEegParamsUpdate::P300Uv(x) => {
                if let Some(Task::P300(t)) = self.task.as_mut() {
                    t.set_p300_uv(x);
                }
            }
            SimulatedEegParamsUpdate::SsvepUv(x) => {
                if let Some(Task::Ssvep(t)) = self.task.as_mut() {
                    t.set_amplitude(x);
                }
            }
            SimulatedEegParamsUpdate::Erd(x) => {
                if let Some(Task::MotorImagery(t)) = self.task.as_mut() {
                    t.set_erd(x);
                }
            }
            SimulatedEegParamsUpdate::Faults(ref f) => {
                let labels = self.labels.iter().map(String::as_str).collect::<Vec<_>>();
                self.gen.faults = parse_faults(f.as_deref().unwrap_or_default(), &labels)
                    .map_err(StageError::bad_param)?;
            }
        }
        Ok(Handled::update::<SimulatedEegParams>(&u))
    }
}
