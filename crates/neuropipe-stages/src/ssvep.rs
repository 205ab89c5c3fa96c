//! The SSVEP task of `SimulatedEeg` (`task: "ssvep"`): steady-state visual evoked potentials
//! to decode without a lab or training (CCA).
//!
//! A cue every `trial_interval_s` from 2 s on, one of the `ssvep_hz` flicker frequencies at
//! random, announced as a marker on the cue's frame named after its frequency (`"12Hz"`,
//! `"8.5Hz"`; the labels `Cca` gives its targets). For 4 s from the cue, delayed by the visual
//! latency (140 ms) and ramped in and out over 0.2 s, the visual cortex follows the flicker:
//! a sinusoid at the frequency, its second and third harmonics at half and a quarter of the
//! amplitude, `ssvep_uv` at occipital sites (O1, Oz, O2, Iz: full; PO…: 0.7; P…: 0.3; none
//! elsewhere), with a phase per target drawn once. `ssvep_uv = 0` keeps the cues without the
//! response (decoding at chance). Cue times and targets come from a random stream of their
//! own: the background signal is the same with the task on or off. The background's alpha
//! rhythm (~10 Hz, strongest occipitally) is there too, as in a real recording: a 10 Hz
//! target competes with it.

use std::f64::consts::TAU;

/// Visual latency of the response (s).
const LATENCY_S: f64 = 0.14;
/// Stimulation time per trial (s).
const STIMULATION_S: f64 = 4.0;
/// Ramp in and out (s).
const RAMP_S: f64 = 0.2;
/// Relative amplitudes of the fundamental and harmonics.
const HARMONICS: [f64; 3] = [1.0, 0.5, 0.25];

/// The marker text (and class name) of a flicker frequency: `12Hz`, `8.5Hz`.
pub fn label(hz: f64) -> String {
    format!("{hz}Hz")
}

/// Settings of the task.
#[derive(Clone, Debug)]
pub struct SsvepConfig {
    /// Frames per second.
    pub rate: f64,
    /// Time between cues (s).
    pub interval_s: f64,
    /// The targets' flicker frequencies (Hz).
    pub freqs: Vec<f64>,
    /// Response amplitude at the strongest sites (µV); may change live.
    pub amplitude_uv: f64,
}

/// A cue: its frame and target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cue {
    /// Frame index of the cue.
    pub frame: u64,
    /// Index into the frequencies.
    pub target: usize,
}

/// How strongly a site picks up the visual cortex's response.
fn weight(label: &str) -> f64 {
    let up = label.to_ascii_uppercase();
    if up.starts_with("PO") {
        0.7
    } else if up.starts_with('O') || up.starts_with("IZ") {
        1.0
    } else if up.starts_with('P') {
        0.3
    } else {
        0.0
    }
}

/// The task's state.
#[derive(Clone, Debug)]
pub struct Ssvep {
    cfg: SsvepConfig,
    rng: u64,
    next: u64,
    cue: Cue,
    current: Option<Cue>,
    /// Marker text per target.
    labels: Vec<String>,
    /// Phase per target (rad).
    phase: Vec<f64>,
    /// Per channel: weight of the response.
    weight: Vec<f64>,
}

impl Ssvep {
    /// The task for channels with these labels, deterministic from `seed`.
    pub fn new(cfg: SsvepConfig, labels: &[&str], seed: u64) -> Self {
        let mut t = Ssvep {
            labels: cfg.freqs.iter().map(|&f| label(f)).collect(),
            phase: vec![],
            cfg,
            rng: seed ^ 0x5353_5645_505F_5441,
            next: 0,
            cue: Cue {
                frame: 0,
                target: 0,
            },
            current: None,
            weight: labels.iter().map(|l| weight(l)).collect(),
        };
        t.phase = (0..t.cfg.freqs.len())
            .map(|_| TAU * (t.random() >> 11) as f64 / (1u64 << 53) as f64)
            .collect();
        t.cue = t.draw();
        t
    }

    /// Sets the response amplitude.
    pub fn set_amplitude(&mut self, uv: f64) {
        self.cfg.amplitude_uv = uv;
    }

    /// The marker text of target `i`.
    pub fn text(&self, target: usize) -> &str {
        &self.labels[target]
    }

    fn random(&mut self) -> u64 {
        crate::util::splitmix64(&mut self.rng)
    }

    fn draw(&mut self) -> Cue {
        let z = self.random();
        let at = 2.0 + self.next as f64 * self.cfg.interval_s;
        self.next += 1;
        Cue {
            frame: (at * self.cfg.rate).round() as u64,
            target: ((z >> 11) % self.cfg.freqs.len() as u64) as usize,
        }
    }

    /// The cue at `frame`, if any (frames in order); adds the response to `uv`.
    pub fn frame(&mut self, frame: u64, uv: &mut [f64]) -> Option<Cue> {
        let mut cue = None;
        if frame >= self.cue.frame {
            let c = self.cue;
            if c.frame == frame {
                cue = Some(c);
            }
            self.current = Some(c);
            self.cue = self.draw();
        }
        let Some(c) = self.current else {
            return cue;
        };
        let t = (frame - c.frame) as f64 / self.cfg.rate - LATENCY_S;
        if t <= 0.0 || t >= STIMULATION_S || self.cfg.amplitude_uv == 0.0 {
            return cue;
        }
        let ramp = |x: f64| 0.5 - 0.5 * (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos();
        let envelope = ramp(t / RAMP_S) * ramp((STIMULATION_S - t) / RAMP_S);
        let f = self.cfg.freqs[c.target];
        let phase = self.phase[c.target];
        let s: f64 = HARMONICS
            .iter()
            .enumerate()
            .map(|(h, a)| a * (TAU * f * (h + 1) as f64 * t + phase).sin())
            .sum::<f64>()
            * envelope
            * self.cfg.amplitude_uv;
        for (u, w) in uv.iter_mut().zip(&self.weight) {
            *u += w * s;
        }
        cue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occipital_sites_follow_the_cued_flicker() {
        assert_eq!(label(12.0), "12Hz");
        assert_eq!(label(8.5), "8.5Hz");
        let w: Vec<f64> = ["O1", "Oz", "PO7", "P3", "Pz", "C3", "Fp1"]
            .iter()
            .map(|l| weight(l))
            .collect();
        assert_eq!(w, [1.0, 1.0, 0.7, 0.3, 0.3, 0.0, 0.0]);
        let cfg = SsvepConfig {
            rate: 250.0,
            interval_s: 5.0,
            freqs: vec![8.0, 15.0],
            amplitude_uv: 2.0,
        };
        let mut t = Ssvep::new(cfg, &["O1", "C3"], 3);
        let mut cues = vec![];
        let mut o1 = vec![];
        for f in 0..5000u64 {
            let mut uv = [0.0; 2];
            if let Some(c) = t.frame(f, &mut uv) {
                cues.push(c);
            }
            assert_eq!(uv[1], 0.0, "no response at C3");
            o1.push(uv[0]);
        }
        assert_eq!(
            cues.iter().map(|c| c.frame).collect::<Vec<_>>(),
            [500, 1750, 3000, 4250]
        );
        // Nothing before the latency, a response during stimulation, nothing after.
        let c = cues[0];
        assert!(o1[..c.frame as usize + 35].iter().all(|&x| x == 0.0));
        let during = &o1[c.frame as usize + 250..c.frame as usize + 750];
        let rms = (during.iter().map(|x| x * x).sum::<f64>() / 500.0).sqrt();
        // Fundamental + harmonics at 2 µV: rms = 2 sqrt((1 + 0.25 + 0.0625) / 2).
        assert!((rms - 2.0 * (1.3125f64 / 2.0).sqrt()).abs() < 0.05, "{rms}");
        assert!(o1[c.frame as usize + 1100..cues[1].frame as usize]
            .iter()
            .all(|&x| x == 0.0));
    }
}
