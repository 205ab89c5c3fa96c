//! Channel units and types as the file formats and LSL metadata write them.

/// Channel types written as EDF+ label prefixes (`EEG Fp1`) and read back from them.
pub const CHANNEL_TYPES: [&str; 8] = ["EEG", "EOG", "EMG", "ECG", "MISC", "RESP", "TEMP", "STIM"];

/// A unit name understood as a voltage, as the factor to µV: `µV`, `uV`, `microvolts`
/// (the LSL/XDF convention), `mV`, `millivolts`, `V`, `volts`, `nV`, … in any case.
/// `None` for every other unit.
pub fn volts_to_microvolts(unit: &str) -> Option<f64> {
    let u = unit.trim().to_ascii_lowercase().replace(['µ', 'μ'], "u");
    let u = u.strip_suffix("(s)").unwrap_or(&u);
    Some(match u {
        "uv" | "microv" | "microvolt" | "microvolts" | "micro volts" => 1.0,
        "mv" | "millivolt" | "millivolts" | "milli volts" => 1e3,
        "v" | "volt" | "volts" => 1e6,
        "nv" | "nanovolt" | "nanovolts" => 1e-3,
        _ => return None,
    })
}

/// Splits an EDF+ label with a type prefix (`EEG Fp1`) into the type and the bare label;
/// labels without a known prefix come back as they are, with no type.
pub fn split_typed_label(label: &str) -> (Option<&'static str>, &str) {
    for t in CHANNEL_TYPES {
        if let Some(rest) = label
            .get(..t.len() + 1)
            .filter(|p| p.eq_ignore_ascii_case(&format!("{t} ")))
            .map(|_| label[t.len() + 1..].trim())
        {
            if !rest.is_empty() {
                return (Some(t), rest);
            }
        }
    }
    (None, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voltage_units_are_recognised_and_scaled() {
        for (u, f) in [
            ("uV", 1.0),
            ("µV", 1.0),
            ("μV", 1.0),
            ("microvolts", 1.0),
            ("Microvolts", 1.0),
            ("mV", 1e3),
            ("millivolts", 1e3),
            ("V", 1e6),
            ("volts", 1e6),
            ("nV", 1e-3),
        ] {
            assert_eq!(volts_to_microvolts(u), Some(f), "{u}");
        }
        for u in ["counts", "g", "%", "", "degC"] {
            assert_eq!(volts_to_microvolts(u), None, "{u}");
        }
    }

    #[test]
    fn typed_labels_split() {
        assert_eq!(split_typed_label("EEG Fp1"), (Some("EEG"), "Fp1"));
        assert_eq!(split_typed_label("EOG left"), (Some("EOG"), "left"));
        assert_eq!(split_typed_label("Fp1"), (None, "Fp1"));
        assert_eq!(split_typed_label("EEG"), (None, "EEG"));
    }
}
