//! Peak-to-peak thresholds per channel type (`reject`/`flat` of `Epoch`), as
//! MNE's `reject=dict(eeg=…)` and `flat=dict(…)`: an epoch is dropped if any channel of the
//! type exceeds (`reject`) or stays below (`flat`) its threshold.

use neuropipe_core::prelude::*;

/// A threshold per channel (`None` where the channel's type has none).
#[derive(Clone, Debug, Default)]
pub(crate) struct Thresholds(Vec<Option<f64>>);

impl Thresholds {
    /// Parses `["EEG:150", "EOG:250"]` for the stream's channels; `param` names the
    /// parameter in errors.
    pub(crate) fn parse(
        param: &str,
        list: Option<&[String]>,
        info: &StreamInfo,
    ) -> Result<Self, BuildError> {
        let mut per = vec![None; info.channel_count()];
        for (i, text) in list.unwrap_or_default().iter().enumerate() {
            let bad = || {
                BuildError::param(
                    param,
                    format!("[{i}]: \"{text}\" is not \"TYPE:peak-to-peak\" (in the channels' unit, e.g. \"EEG:150\")"),
                )
            };
            let (ty, v) = text.split_once(':').ok_or_else(bad)?;
            let v: f64 = v.trim().parse().map_err(|_| bad())?;
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad());
            }
            let ty = ty.trim();
            let mut any = false;
            for (slot, c) in per.iter_mut().zip(&info.channels) {
                if c.kind.eq_ignore_ascii_case(ty) {
                    *slot = Some(v);
                    any = true;
                }
            }
            if !any {
                let mut types: Vec<&str> = info.channels.iter().map(|c| c.kind.as_str()).collect();
                types.dedup();
                return Err(BuildError::param(
                    param,
                    format!(
                        "[{i}]: no channel has type `{ty}` (this stream's types: {})",
                        types.join(", ")
                    ),
                ));
            }
        }
        Ok(Thresholds(per))
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// Why an epoch failed the thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Violation {
    channel: usize,
    ptp: f64,
    threshold: f64,
    flat: bool,
}

impl Violation {
    /// `Fz peak-to-peak 212.4 uV > 150`.
    pub(crate) fn describe(&self, labels: &[String], unit: &str) -> String {
        let label = labels.get(self.channel).map_or("?", String::as_str);
        let (op, what) = if self.flat {
            ("<", "flat")
        } else {
            (">", "rejected")
        };
        format!(
            "{what}: {label} peak-to-peak {:.4} {unit} {op} {}",
            self.ptp, self.threshold
        )
    }
}

/// The first channel (in order) whose peak-to-peak amplitude over `data` (frame-major,
/// `channels` wide, finite) is above its `reject` threshold or below its `flat` one. `range`
/// is scratch of `2 × channels` values (one pass over the frames, in memory order).
pub(crate) fn peak_to_peak_check<S: FloatSample>(
    data: &[S],
    channels: usize,
    reject: &Thresholds,
    flat: &Thresholds,
    range: &mut [f64],
) -> Option<Violation> {
    if reject.is_empty() && flat.is_empty() {
        return None;
    }
    let (lo, hi) = range.split_at_mut(channels);
    lo.fill(f64::INFINITY);
    hi.fill(f64::NEG_INFINITY);
    for frame in data.chunks_exact(channels) {
        for ((l, h), x) in lo.iter_mut().zip(hi.iter_mut()).zip(frame) {
            let x = x.to_f64();
            // Finite data: plain selects (they vectorise; `min` would also handle NaN).
            *l = if x < *l { x } else { *l };
            *h = if x > *h { x } else { *h };
        }
    }
    for ch in 0..channels {
        let (r, f) = (reject.0[ch], flat.0[ch]);
        let ptp = hi[ch] - lo[ch];
        if let Some(t) = r.filter(|&t| ptp > t) {
            return Some(Violation {
                channel: ch,
                ptp,
                threshold: t,
                flat: false,
            });
        }
        if let Some(t) = f.filter(|&t| ptp < t) {
            return Some(Violation {
                channel: ch,
                ptp,
                threshold: t,
                flat: true,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> StreamInfo {
        let mut i = StreamInfo::new("t", 250.0, 3, "uV", 10, PayloadKind::F64);
        i.channels[2].kind = "EOG".into();
        i
    }

    #[test]
    fn thresholds_apply_per_channel_type() {
        let list = ["EEG:10".to_string(), "eog:100".to_string()];
        let r = Thresholds::parse("reject", Some(&list), &info()).unwrap();
        let none = Thresholds::parse("flat", None, &info()).unwrap();
        // Frames: ch0 p-p 5, ch1 p-p 8, ch2 (EOG) p-p 50.
        let ok = [0.0, 0.0, 0.0, 5.0, 8.0, 50.0];
        let mut range = [0.0; 6];
        assert_eq!(peak_to_peak_check(&ok, 3, &r, &none, &mut range), None);
        let bad = [0.0, 0.0, 0.0, 5.0, 12.0, 50.0];
        let v = peak_to_peak_check(&bad, 3, &r, &none, &mut range).unwrap();
        assert_eq!((v.channel, v.ptp, v.threshold), (1, 12.0, 10.0));
        assert_eq!(
            v.describe(&["a".into(), "b".into(), "c".into()], "uV"),
            "rejected: b peak-to-peak 12.0000 uV > 10"
        );
        let flat = Thresholds::parse("flat", Some(&["EEG:6".to_string()]), &info()).unwrap();
        assert_eq!(
            peak_to_peak_check(&ok, 3, &none, &flat, &mut range).map(|v| (v.channel, v.flat)),
            Some((0, true))
        );
    }

    #[test]
    fn bad_thresholds_are_located_errors() {
        for (text, want) in [
            ("EEG", "is not \"TYPE:peak-to-peak\""),
            ("EEG:-1", "is not"),
            (
                "EMG:5",
                "no channel has type `EMG` (this stream's types: EEG, EOG)",
            ),
        ] {
            let e = Thresholds::parse("reject", Some(&[text.to_string()]), &info()).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
    }
}
