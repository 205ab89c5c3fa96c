//! The motor-imagery task of `SimulatedEeg` (`task: "motor_imagery"`): left/right hand
//! imagery trials to decode without a lab.
//!
//! A cue every `trial_interval_s` from 2 s on, `left` or `right` with equal probability,
//! announced as a marker on the cue's frame. From 0.5 s to 4 s after the cue the sensorimotor
//! rhythm (the simulator's alpha, ~10 Hz, the "mu" rhythm over central sites) desynchronises
//! over the hemisphere opposite the imagined hand: its amplitude drops by `erd` (0.6: to
//! 40 %) over the right-hemisphere central sites (C2, C4, C6, CP4, FC4, …) for `left`, the
//! left-hemisphere ones (C1, C3, C5, …) for `right`, with 0.3 s raised-cosine ramps. `erd = 0`
//! keeps the cues without the effect. Cue times and classes come from a random stream of their
//! own: the background signal is the same with the task on or off.

/// The two classes, in marker text.
pub const CLASSES: [&str; 2] = ["left", "right"];

/// Settings of the task.
#[derive(Clone, Debug)]
pub struct MotorImageryConfig {
    /// Frames per second.
    pub rate: f64,
    /// Time between cues (s).
    pub interval_s: f64,
    /// Fraction of the mu amplitude lost during imagery (0..=1); may change live.
    pub erd: f64,
}

/// A cue: its frame and class (0 left, 1 right).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cue {
    /// Frame index of the cue.
    pub frame: u64,
    /// Index into [`CLASSES`].
    pub class: usize,
}

/// Which hemisphere a central site is on: `Some(0)` left (odd numbers), `Some(1)` right
/// (even numbers), `None` for midline or non-central sites.
fn hemisphere(label: &str) -> Option<usize> {
    let up = label.to_ascii_uppercase();
    let central = ["C", "CP", "FC"].iter().any(|p| {
        up.strip_prefix(p)
            .is_some_and(|r| r.chars().all(|c| c.is_ascii_digit()) && !r.is_empty())
    });
    if !central {
        return None;
    }
    let digit = up.chars().last()?.to_digit(10)?;
    Some(if digit % 2 == 1 { 0 } else { 1 })
}

/// The task's state.
#[derive(Clone, Debug)]
pub struct MotorImagery {
    cfg: MotorImageryConfig,
    rng: u64,
    next: u64,
    cue: Cue,
    /// The trial running (its cue), if any.
    current: Option<Cue>,
    /// Per channel: hemisphere of a central site.
    side: Vec<Option<usize>>,
}

impl MotorImagery {
    /// The task for channels with these labels, deterministic from `seed`.
    pub fn new(cfg: MotorImageryConfig, labels: &[&str], seed: u64) -> Self {
        let mut t = MotorImagery {
            cfg,
            rng: seed ^ 0x4D49_5F54_4153_4B00,
            next: 0,
            cue: Cue { frame: 0, class: 0 },
            current: None,
            side: labels.iter().map(|l| hemisphere(l)).collect(),
        };
        t.cue = t.draw();
        t
    }

    /// Sets the ERD depth.
    pub fn set_erd(&mut self, erd: f64) {
        self.cfg.erd = erd;
    }

    fn draw(&mut self) -> Cue {
        let z = crate::util::splitmix64(&mut self.rng);
        let at = 2.0 + self.next as f64 * self.cfg.interval_s;
        self.next += 1;
        Cue {
            frame: (at * self.cfg.rate).round() as u64,
            class: (z >> 63) as usize,
        }
    }

    /// The cue at `frame`, if any (frames in order); sets each channel's mu gain in `gain`.
    pub fn frame(&mut self, frame: u64, gain: &mut [f64]) -> Option<Cue> {
        let mut cue = None;
        if frame >= self.cue.frame {
            let c = self.cue;
            if c.frame == frame {
                cue = Some(c);
            }
            self.current = Some(c);
            self.cue = self.draw();
        }
        let depth = match self.current {
            Some(c) => {
                let t = (frame - c.frame) as f64 / self.cfg.rate;
                let ramp = |x: f64| 0.5 - 0.5 * (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos();
                self.cfg.erd * ramp((t - 0.5) / 0.3) * (1.0 - ramp((t - 3.7) / 0.3))
            }
            None => 0.0,
        };
        // Imagining the left hand desynchronises the right hemisphere, and vice versa.
        let affected = self.current.map(|c| 1 - c.class);
        for (g, side) in gain.iter_mut().zip(&self.side) {
            *g = if side.is_some() && *side == affected {
                1.0 - depth
            } else {
                1.0
            };
        }
        cue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_sorted_by_hemisphere() {
        let h: Vec<Option<usize>> = ["C3", "C4", "Cz", "CP5", "FC2", "O1", "P4"]
            .iter()
            .map(|l| hemisphere(l))
            .collect();
        assert_eq!(h, [Some(0), Some(1), None, Some(0), Some(1), None, None]);
    }

    #[test]
    fn imagery_lowers_the_contralateral_mu_only_during_the_trial() {
        let cfg = MotorImageryConfig {
            rate: 100.0,
            interval_s: 6.0,
            erd: 0.6,
        };
        let mut t = MotorImagery::new(cfg, &["C3", "C4", "Pz"], 1);
        let mut g = [1.0; 3];
        let mut cues = vec![];
        let mut during = vec![];
        for f in 0..2000 {
            if let Some(c) = t.frame(f, &mut g) {
                cues.push(c);
            }
            if let Some(c) = cues.last() {
                if f == c.frame + 200 {
                    during.push((c.class, g));
                }
                if f == c.frame + 450 {
                    assert_eq!(g, [1.0; 3], "recovered after the trial");
                }
            }
        }
        assert_eq!(
            cues.iter().map(|c| c.frame).collect::<Vec<_>>(),
            [200, 800, 1400]
        );
        for (class, g) in during {
            let want = if class == 0 {
                [1.0, 0.4, 1.0]
            } else {
                [0.4, 1.0, 1.0]
            };
            for (a, b) in g.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "class {class}: {g:?}");
            }
        }
    }
}
