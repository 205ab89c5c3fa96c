//! Clock resets in a stream's `ClockOffset` series, found as pyxdf 1.17.5 finds them
//! (`_detect_clock_resets` with its defaults), so that each stretch between two resets gets
//! a line of its own.
//!
//! A reset is where the source machine's clock restarted (a reboot, a hot-swapped device):
//! the measurement times jump. pyxdf cuts the series between offsets `k` and `k + 1`
//! where the time goes backwards, or where both the time step and the offset step are
//! outliers: more than 5 median absolute deviations (MAD) and 5 s from the median time
//! step, and more than 10 MADs and 1 s from the median offset step.

/// Time-step outlier: MADs and seconds from the median step (pyxdf's
/// `reset_threshold_stds`, `reset_threshold_seconds`).
const TIME_STDS: f64 = 5.0;
const TIME_SECS: f64 = 5.0;
/// Offset-step outlier (pyxdf's `reset_threshold_offset_stds`,
/// `reset_threshold_offset_seconds`).
const VALUE_STDS: f64 = 10.0;
const VALUE_SECS: f64 = 1.0;

/// The stretches between clock resets of `(measurement time, offset)` pairs in file order:
/// inclusive index ranges `[first, last]` covering every offset, in order (one range when
/// there is no reset; none for no offsets).
pub(crate) fn segments(offsets: &[(f64, f64)]) -> Vec<(usize, usize)> {
    if offsets.len() <= 1 {
        return if offsets.is_empty() {
            vec![]
        } else {
            vec![(0, 0)]
        };
    }
    let steps = |f: fn(&(f64, f64)) -> f64| -> Vec<f64> {
        offsets.windows(2).map(|w| f(&w[1]) - f(&w[0])).collect()
    };
    let time = steps(|o| o.0);
    let value = steps(|o| o.1);
    let time_glitch = outliers(&time, TIME_STDS, TIME_SECS);
    let value_glitch = outliers(&value, VALUE_STDS, VALUE_SECS);
    let mut out = Vec::new();
    let mut first = 0;
    for k in 0..time.len() {
        if time[k] < 0.0 || (time_glitch[k] && value_glitch[k]) {
            out.push((first, k));
            first = k + 1;
        }
    }
    out.push((first, offsets.len() - 1));
    out
}

/// pyxdf's `_segment_clock_diff`: steps farther than `stds` median absolute deviations and
/// than `secs` seconds from the median step.
fn outliers(steps: &[f64], stds: f64, secs: f64) -> Vec<bool> {
    let med = median(steps.to_vec());
    let dev: Vec<f64> = steps.iter().map(|s| (s - med).abs()).collect();
    let mad = median(dev.clone()) + f64::EPSILON;
    dev.iter().map(|d| d / mad > stds && *d > secs).collect()
}

/// NumPy's median: the middle value, or the mean of the two middle ones.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regular(t0: f64, v0: f64, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|k| (t0 + 5.0 * k as f64, v0 + 1e-6 * k as f64))
            .collect()
    }

    #[test]
    fn time_going_back_cuts() {
        let mut o = regular(1000.0, 2.5, 6);
        o.extend(regular(10.0, 992.5, 4));
        assert_eq!(segments(&o), vec![(0, 5), (6, 9)]);
    }

    #[test]
    fn a_forward_jump_cuts_only_when_the_offset_jumps_too() {
        // A long pause in the measurements (a lost connection), same clock: one stretch.
        let mut o = regular(1000.0, 2.5, 6);
        o.extend(regular(1200.0, 2.5001, 6));
        assert_eq!(segments(&o), vec![(0, 11)]);
        // The source clock restarted far ahead: the time and the offset jump.
        let mut o = regular(1000.0, 2.5, 6);
        o.extend(regular(5000.0, -3997.5, 6));
        assert_eq!(segments(&o), vec![(0, 5), (6, 11)]);
    }

    #[test]
    fn no_offsets_one_offset_and_numpy_medians() {
        assert!(segments(&[]).is_empty());
        assert_eq!(segments(&[(1.0, 0.5)]), vec![(0, 0)]);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
