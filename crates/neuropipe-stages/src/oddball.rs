//! The P300 oddball task of `SimulatedEeg` (`task: "p300"`): something to epoch and decode
//! without a lab.
//!
//! A stimulus every `stimulus_interval_s` from 1 s on, a `target` with probability
//! `target_probability` and a `nontarget` otherwise, each announced as a marker on the
//! stimulus frame's timestamp. Every stimulus evokes an N1/P2 complex (−4 µV at 100 ms,
//! +3 µV at 200 ms, fronto-central); targets add a P300: a positive wave peaking at 300 ms
//! (σ 60 ms) of `p300_uv`, strongest over parietal sites. Responses to close stimuli overlap
//! and add up, as in a real speller. Stimulus times and classes come from a random stream of
//! their own: the background signal is the same with the task on or off, and `p300_uv = 0`
//! keeps the markers but removes the effect (the control condition: decoding at chance).
//!
//! **Speller mode** (`items` > 0): the stimuli are flashes of `items` symbols
//! ([`ITEMS`]: `A`, `B`, …) as in a P300 speller. A trial cues one symbol (marker
//! `trial:<symbol>` on its first flash), then flashes every symbol once per repetition in a
//! random order, `repetitions` times; each flash is announced as `flash:<symbol>` and, with
//! the cued symbol's flashes as the targets, `target`/`nontarget`; one second without
//! flashes separates trials. Everything else is as above (a target rate of `1 / items`).
//!
//! The waveforms are tables computed at build time; a frame costs one table read per active
//! stimulus and a multiply-add per channel.

use std::collections::VecDeque;

/// The two classes, in marker text.
pub const TARGET: &str = "target";
/// See [`TARGET`].
pub const NONTARGET: &str = "nontarget";

/// The speller's symbols, in order (`items` takes the first ones).
pub const ITEMS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Settings of the task.
#[derive(Clone, Debug)]
pub struct OddballConfig {
    /// Frames per second.
    pub rate: f64,
    /// Time between stimulus onsets (s).
    pub interval_s: f64,
    /// Probability that a stimulus is a target.
    pub target_probability: f64,
    /// P300 amplitude at its strongest site (µV); may change live.
    pub p300_uv: f64,
    /// Speller mode: the number of symbols flashed (2 to 36); 0 for a plain oddball.
    pub items: usize,
    /// Speller mode: flashes of every symbol per trial.
    pub repetitions: usize,
}

/// A stimulus shown: its onset frame and whether it was a target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stimulus {
    /// Frame index of the onset.
    pub frame: u64,
    /// Target (`true`) or non-target.
    pub target: bool,
    /// Speller mode: the symbol flashed (index into [`ITEMS`]).
    pub item: Option<u8>,
    /// Speller mode, first flash of a trial: the symbol the trial cues.
    pub cue: Option<u8>,
}

impl Stimulus {
    /// The marker text.
    pub fn text(&self) -> &'static str {
        if self.target {
            TARGET
        } else {
            NONTARGET
        }
    }
}

/// The task's state: the stimulus schedule and the responses still running.
#[derive(Clone, Debug)]
pub struct Oddball {
    cfg: OddballConfig,
    rng: u64,
    /// Index of the next stimulus.
    next: u64,
    next_stim: Stimulus,
    /// Speller mode: the flash order of the current repetition, the position in it, the
    /// repetition, and the cued symbol.
    order: Vec<u8>,
    pos: usize,
    rep: usize,
    cue: u8,
    /// Stimuli whose responses are still running (onset within the table length).
    active: VecDeque<Stimulus>,
    /// N1/P2 and P300 waveforms, one value per frame after onset (µV at weight 1).
    common: Vec<f64>,
    p300: Vec<f64>,
    /// Per channel: weight of the N1/P2 and of the P300 (from the site name).
    w_common: Vec<f64>,
    w_p300: Vec<f64>,
}

fn gauss(t: f64, mu: f64, sigma: f64) -> f64 {
    (-0.5 * ((t - mu) / sigma).powi(2)).exp()
}

impl Oddball {
    /// The task for channels with these labels, deterministic from `seed`.
    pub fn new(cfg: OddballConfig, labels: &[&str], seed: u64) -> Self {
        let len = (0.8 * cfg.rate).ceil() as usize + 1;
        let t = |k: usize| k as f64 / cfg.rate;
        let common = (0..len)
            .map(|k| -4.0 * gauss(t(k), 0.1, 0.025) + 3.0 * gauss(t(k), 0.2, 0.035))
            .collect();
        let p300 = (0..len).map(|k| gauss(t(k), 0.3, 0.06)).collect();
        let (mut w_common, mut w_p300) = (vec![], vec![]);
        for l in labels {
            let site = l.to_ascii_uppercase();
            let (c, p) = match site.as_bytes().first() {
                Some(b'P') => (0.6, 1.0),
                Some(b'C') => (1.0, 0.7),
                Some(b'O') => (0.4, 0.6),
                Some(b'F') => (0.9, 0.3),
                Some(b'T') => (0.5, 0.4),
                _ => (0.5, 0.5),
            };
            w_common.push(c);
            w_p300.push(p);
        }
        let order = (0..cfg.items.min(ITEMS.len()) as u8).collect();
        let mut o = Oddball {
            cfg,
            rng: seed ^ 0x00DD_BA11_u64,
            next: 0,
            next_stim: Stimulus {
                frame: 0,
                target: false,
                item: None,
                cue: None,
            },
            order,
            pos: 0,
            rep: 0,
            cue: 0,
            active: VecDeque::with_capacity(64),
            common,
            p300,
            w_common,
            w_p300,
        };
        o.next_stim = o.draw();
        o
    }

    /// Sets the P300 amplitude (µV).
    pub fn set_p300_uv(&mut self, uv: f64) {
        self.cfg.p300_uv = uv;
    }

    /// A uniform draw in `[0, 1)` (SplitMix64).
    fn uniform(&mut self) -> f64 {
        let z = crate::util::splitmix64(&mut self.rng);
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next stimulus of the schedule.
    fn draw(&mut self) -> Stimulus {
        if self.order.len() >= 2 {
            return self.draw_flash();
        }
        let u = self.uniform();
        let onset_s = 1.0 + self.next as f64 * self.cfg.interval_s;
        self.next += 1;
        Stimulus {
            frame: (onset_s * self.cfg.rate).round() as u64,
            target: u < self.cfg.target_probability,
            item: None,
            cue: None,
        }
    }

    /// The next flash of the speller: a new trial (a cued symbol, one second's pause after
    /// the last) when the repetitions are done, a new random order per repetition.
    fn draw_flash(&mut self) -> Stimulus {
        let n = self.order.len();
        let mut cue = None;
        if self.pos == n {
            self.pos = 0;
            self.rep += 1;
        }
        if self.rep == self.cfg.repetitions.max(1) || (self.next == 0 && self.pos == 0) {
            if self.next > 0 {
                // One second without flashes between trials.
                self.next += (1.0 / self.cfg.interval_s).ceil() as u64;
            }
            self.rep = 0;
            self.cue = (self.uniform() * n as f64) as u8;
            cue = Some(self.cue);
        }
        if self.pos == 0 {
            // Fisher–Yates.
            for i in (1..n).rev() {
                let j = (self.uniform() * (i + 1) as f64) as usize;
                self.order.swap(i, j.min(i));
            }
        }
        let item = self.order[self.pos];
        self.pos += 1;
        let onset_s = 1.0 + self.next as f64 * self.cfg.interval_s;
        self.next += 1;
        Stimulus {
            frame: (onset_s * self.cfg.rate).round() as u64,
            target: item == self.cue,
            item: Some(item),
            cue,
        }
    }

    /// The stimulus with its onset at `frame`, if any (frames must be asked for in order);
    /// then adds every running response to `uv` (one value per channel).
    pub fn frame(&mut self, frame: u64, uv: &mut [f64]) -> Option<Stimulus> {
        let mut onset = None;
        while self.next_stim.frame <= frame {
            let s = self.next_stim;
            if s.frame == frame {
                onset = Some(s);
            }
            if self.active.len() == self.active.capacity() {
                self.active.pop_front();
            }
            self.active.push_back(s);
            self.next_stim = self.draw();
        }
        let len = self.common.len() as u64;
        while self.active.front().is_some_and(|s| frame - s.frame >= len) {
            self.active.pop_front();
        }
        let (mut common, mut p300) = (0.0, 0.0);
        for s in &self.active {
            let k = (frame - s.frame) as usize;
            common += self.common[k];
            if s.target {
                p300 += self.p300[k];
            }
        }
        p300 *= self.cfg.p300_uv;
        if common != 0.0 || p300 != 0.0 {
            for ((v, wc), wp) in uv.iter_mut().zip(&self.w_common).zip(&self.w_p300) {
                *v += wc * common + wp * p300;
            }
        }
        onset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(p300_uv: f64) -> Oddball {
        Oddball::new(
            OddballConfig {
                rate: 250.0,
                interval_s: 0.25,
                target_probability: 0.2,
                p300_uv,
                items: 0,
                repetitions: 0,
            },
            &["Fz", "Pz"],
            42,
        )
    }

    #[test]
    fn stimuli_follow_the_schedule_with_the_target_rate() {
        let mut t = task(10.0);
        let mut uv = [0.0; 2];
        let stims: Vec<Stimulus> = (0..250 * 201).filter_map(|f| t.frame(f, &mut uv)).collect();
        assert_eq!(stims.len(), 800);
        assert!(stims
            .iter()
            .enumerate()
            .all(|(k, s)| s.frame == 250 + 62 * k as u64 + (k as u64).div_ceil(2)));
        let targets = stims.iter().filter(|s| s.target).count();
        assert!(
            (120..200).contains(&targets),
            "{targets} targets of 800 at p = 0.2"
        );
    }

    #[test]
    fn targets_evoke_a_p300_over_parietal_sites() {
        let mut t = task(10.0);
        let mut first_target = None;
        for f in 0..250 * 20 {
            let mut uv = [0.0; 2];
            if let Some(s) = t.frame(f, &mut uv) {
                if s.target && first_target.is_none() {
                    first_target = Some(f);
                }
            }
        }
        let f0 = first_target.unwrap();
        // Replay to the P300 peak of that target: Pz gets the full amplitude plus overlap.
        let mut t = task(10.0);
        let mut off = task(0.0);
        let (mut a, mut b) = ([0.0; 2], [0.0; 2]);
        for f in 0..=f0 + 75 {
            a = [0.0; 2];
            b = [0.0; 2];
            t.frame(f, &mut a);
            off.frame(f, &mut b);
        }
        let p300 = a[1] - b[1];
        assert!((9.0..=20.0).contains(&p300), "P300 at Pz: {p300} µV");
        assert!((a[0] - b[0] - 0.3 * p300).abs() < 1e-9, "Fz gets 0.3 of it");
    }

    #[test]
    fn the_speller_flashes_every_symbol_once_per_repetition_and_cues_trials() {
        let mut t = Oddball::new(
            OddballConfig {
                rate: 250.0,
                interval_s: 0.25,
                target_probability: 0.2,
                p300_uv: 5.0,
                items: 6,
                repetitions: 3,
            },
            &["Pz"],
            7,
        );
        let mut uv = [0.0];
        let stims: Vec<Stimulus> = (0..250 * 60).filter_map(|f| t.frame(f, &mut uv)).collect();
        // 18 flashes per trial, then a 1 s pause (4 stimulus slots).
        let trials: Vec<&[Stimulus]> = stims.chunks(18).collect();
        assert!(trials.len() >= 10);
        let mut cues = vec![];
        for (k, trial) in trials.iter().enumerate().filter(|(_, t)| t.len() == 18) {
            let cue = trial[0].cue.expect("a trial starts with its cue");
            cues.push(cue);
            assert!(trial[1..].iter().all(|s| s.cue.is_none()));
            for rep in trial.chunks(6) {
                let mut items: Vec<u8> = rep.iter().map(|s| s.item.unwrap()).collect();
                items.sort_unstable();
                assert_eq!(items, [0, 1, 2, 3, 4, 5], "trial {k}");
            }
            assert!(trial.iter().all(|s| s.target == (s.item == Some(cue))));
            assert_eq!(trial.iter().filter(|s| s.target).count(), 3);
            if k > 0 {
                // 17 intervals within the trial before, then the pause.
                let gap = trial[0].frame - trials[k - 1][17].frame;
                assert!((312..=313).contains(&gap), "trial {k}: {gap} frames");
            }
        }
        cues.sort_unstable();
        cues.dedup();
        assert!(cues.len() >= 3, "cued symbols vary: {cues:?}");
    }
}
