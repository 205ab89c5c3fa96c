//! Property tests: packet-split invariance of every streaming type, and design validation never
//! panicking whatever the inputs.

use neuropipe_dsp::design::{
    butter, firwin, iirnotch, iirpeak, notch_harmonics, sosfilt_zi, Band, Sos, Window,
};
use neuropipe_dsp::{BandPower, BandPowerConfig, Decimator, FirFilter, SosFilter, Welch};
use proptest::prelude::*;

/// Split tolerance required by the brief; the implementation is in fact bit-exact.
const SPLIT_TOL: f64 = 1e-12;

/// A multichannel signal (frames × channels, interleaved) and random packet sizes in frames.
fn signal_and_split(max_ch: usize) -> impl Strategy<Value = (usize, Vec<f64>, Vec<usize>)> {
    (1..=max_ch, 1usize..400).prop_flat_map(|(channels, frames)| {
        (
            Just(channels),
            prop::collection::vec(-100.0f64..100.0, frames * channels),
            prop::collection::vec(0usize..70, 1..40),
        )
    })
}

/// Cuts `frames` frames into packets using `sizes` cyclically (zero-size packets included).
fn packets(frames: usize, sizes: &[usize]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut start, mut k) = (0, 0);
    while start < frames {
        let n = sizes[k % sizes.len()].min(frames - start);
        out.push((start, start + n));
        start += n;
        k += 1;
        if k > 10 * frames + sizes.len() {
            // All-zero sizes: finish in one packet.
            out.push((start, frames));
            break;
        }
    }
    out
}

fn assert_close(a: &[f64], b: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!((x - y).abs() <= SPLIT_TOL, "sample {}: {} vs {}", i, x, y);
    }
    Ok(())
}

fn test_sos() -> Sos {
    butter(4, Band::Bandpass(1.0, 40.0), 250.0)
        .unwrap()
        .then(&iirnotch(50.0, 30.0, 250.0).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sos_filter_split_invariant((c, x, sizes) in signal_and_split(9), steady in any::<bool>()) {
        let sos = test_sos();
        let frames = x.len() / c;
        let mut whole = x.clone();
        let mut f = SosFilter::<f64>::new(&sos, c).unwrap();
        if steady { f.init_steady_state(&x[..c]); }
        f.process(&mut whole);
        let mut split = x.clone();
        let mut f = SosFilter::<f64>::new(&sos, c).unwrap();
        if steady { f.init_steady_state(&x[..c]); }
        for (a, b) in packets(frames, &sizes) {
            f.process(&mut split[a * c..b * c]);
        }
        assert_close(&whole, &split)?;
    }

    #[test]
    fn fir_filter_split_invariant((c, x, sizes) in signal_and_split(20), numtaps in 1usize..120) {
        let taps: Vec<f64> = (0..numtaps).map(|i| ((i * 7919) % 113) as f64 / 113.0 - 0.5).collect();
        let frames = x.len() / c;
        let mut whole = x.clone();
        FirFilter::<f64>::new(&taps, c).unwrap().process(&mut whole);
        let mut split = x.clone();
        let mut f = FirFilter::<f64>::new(&taps, c).unwrap();
        for (a, b) in packets(frames, &sizes) {
            f.process(&mut split[a * c..b * c]);
        }
        assert_close(&whole, &split)?;
    }

    #[test]
    fn decimator_split_invariant((c, x, sizes) in signal_and_split(5), q in 1usize..9) {
        let frames = x.len() / c;
        let mut d = Decimator::<f64>::new(q, c).unwrap();
        let mut whole = vec![0.0; d.output_frames(frames) * c];
        let n = d.process(&x, &mut whole);
        prop_assert_eq!(n, frames.div_ceil(q));
        let mut d = Decimator::<f64>::new(q, c).unwrap();
        let mut split = Vec::new();
        let mut buf = vec![0.0; 70 * c];
        for (a, b) in packets(frames, &sizes) {
            let expect = d.output_frames(b - a);
            let n = d.process(&x[a * c..b * c], &mut buf);
            prop_assert_eq!(n, expect);
            split.extend_from_slice(&buf[..n * c]);
        }
        assert_close(&whole, &split)?;
    }

    #[test]
    fn band_power_split_invariant((c, x, sizes) in signal_and_split(4), hop in 1usize..40) {
        let mut cfg = BandPowerConfig::new(100.0, c);
        (cfg.window, cfg.hop, cfg.nperseg, cfg.noverlap) = (64, hop, 32, 16);
        let frames = x.len() / c;
        let mut whole = Vec::new();
        let mut bp = BandPower::new(cfg.clone()).unwrap();
        bp.process(&x, |f| { whole.push(f.end_frame as f64); whole.extend_from_slice(f.powers); });
        let mut split = Vec::new();
        let mut bp = BandPower::new(cfg).unwrap();
        for (a, b) in packets(frames, &sizes) {
            bp.process(&x[a * c..b * c], |f| { split.push(f.end_frame as f64); split.extend_from_slice(f.powers); });
        }
        assert_close(&whole, &split)?;
    }
}

/// Any f64, including NaN, ±inf, subnormals and zeros.
fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        prop::num::f64::ANY,
        -1e3f64..1e3,
        Just(0.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(1e-310),
    ]
}

fn band_strategy() -> impl Strategy<Value = Band> {
    (0u8..4, any_f64(), any_f64()).prop_map(|(k, a, b)| match k {
        0 => Band::Lowpass(a),
        1 => Band::Highpass(a),
        2 => Band::Bandpass(a, b),
        _ => Band::Bandstop(a, b),
    })
}

fn window_strategy() -> impl Strategy<Value = Window> {
    prop_oneof![
        Just(Window::Hamming),
        Just(Window::Hann),
        Just(Window::Blackman),
        any_f64().prop_map(Window::Kaiser),
    ]
}

/// Every designed cascade must be usable: finite coefficients, a0 == 1.
fn check_sos(sos: &Sos) -> Result<(), TestCaseError> {
    prop_assert!(!sos.is_empty());
    for s in sos.iter() {
        prop_assert!(s.iter().all(|c| c.is_finite()), "{:?}", s);
        prop_assert_eq!(s[3], 1.0);
    }
    let _ = sosfilt_zi(sos);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn butter_never_panics(order in 0usize..14, band in band_strategy(), fs in any_f64()) {
        if let Ok(sos) = butter(order, band, fs) {
            check_sos(&sos)?;
        }
    }

    #[test]
    fn butter_accepts_valid_input(order in 1usize..=10, fs in 1.0f64..1e5, a in 0.001f64..0.999, b in 0.001f64..0.999) {
        let nyq = fs / 2.0;
        let (lo, hi) = (a.min(b) * nyq, a.max(b) * nyq);
        prop_assume!(lo < hi);
        for band in [Band::Lowpass(lo), Band::Highpass(lo), Band::Bandpass(lo, hi), Band::Bandstop(lo, hi)] {
            let sos = butter(order, band, fs).map_err(|e| TestCaseError::fail(e.to_string()))?;
            check_sos(&sos)?;
        }
    }

    #[test]
    fn notch_never_panics(w0 in any_f64(), q in any_f64(), fs in any_f64()) {
        for sos in [iirnotch(w0, q, fs), iirpeak(w0, q, fs), notch_harmonics(w0, q, fs)].into_iter().flatten() {
            check_sos(&sos)?;
        }
    }

    #[test]
    fn firwin_never_panics(
        numtaps in prop_oneof![0usize..300, Just(usize::MAX), Just(1 << 21)],
        cutoffs in prop::collection::vec(any_f64(), 0..5),
        window in window_strategy(),
        pass_zero in any::<bool>(),
        fs in any_f64(),
    ) {
        if let Ok(taps) = firwin(numtaps, &cutoffs, window, pass_zero, fs) {
            prop_assert_eq!(taps.len(), numtaps);
            prop_assert!(taps.iter().all(|t| t.is_finite()));
        }
    }

    #[test]
    fn constructors_never_panic(
        channels in prop_oneof![0usize..5, Just(usize::MAX), Just(1 << 30)],
        factor in prop_oneof![0usize..50, Just(usize::MAX)],
        nperseg in prop_oneof![0usize..300, Just(usize::MAX)],
        noverlap in 0usize..300,
        window in prop_oneof![0usize..600, Just(usize::MAX)],
        hop in 0usize..10,
        fs in any_f64(),
        lo in any_f64(),
        hi in any_f64(),
        coefs in prop::collection::vec(any_f64(), 0..13),
    ) {
        let _ = Decimator::<f32>::new(factor, channels);
        let _ = Welch::new(fs, nperseg, noverlap);
        let cfg = BandPowerConfig {
            fs, channels, window, hop, nperseg, noverlap,
            bands: vec![neuropipe_dsp::PowerBand::new("b", lo, hi)],
        };
        let _ = BandPower::new(cfg);
        let _ = BandPowerConfig::new(fs, channels);
        let _ = FirFilter::<f64>::new(&coefs, channels);
        let sections: Vec<[f64; 6]> = coefs.chunks_exact(6).map(|c| c.try_into().unwrap()).collect();
        if let Ok(sos) = Sos::new(sections) {
            check_sos(&sos)?;
            let _ = SosFilter::<f64>::new(&sos, channels);
        }
    }
}

#[test]
fn error_messages_name_parameter_value_and_range() {
    let e = butter(2, Band::Lowpass(130.0), 250.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cutoff 130 Hz must be > 0 and < Nyquist (125 Hz)"
    );
    let e = butter(0, Band::Lowpass(10.0), 250.0).unwrap_err();
    assert_eq!(e.to_string(), "order 0 must be >= 1 and <= 10");
    let e = butter(2, Band::Bandpass(40.0, 1.0), 250.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "band edges must satisfy low < high, got low 40 Hz and high 1 Hz"
    );
    let e = butter(2, Band::Highpass(f64::NAN), 250.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cutoff NaN Hz must be > 0 and < Nyquist (125 Hz)"
    );
    let e = iirnotch(50.0, 0.0, 250.0).unwrap_err();
    assert_eq!(e.to_string(), "quality factor Q 0 must be finite and > 0");
    let e = iirnotch(50.0, 30.0, -1.0).unwrap_err();
    assert_eq!(e.to_string(), "sample rate fs -1 Hz must be finite and > 0");
    let e = firwin(10, &[40.0], Window::Hann, false, 250.0).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("numtaps 10 is invalid: must be odd"),
        "{e}"
    );
    let e = firwin(11, &[40.0, 20.0], Window::Hann, false, 250.0).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cutoffs must be strictly increasing, got cutoff[1] = 20 Hz after 40 Hz"
    );
    let e = firwin(0, &[40.0], Window::Hann, true, 250.0).unwrap_err();
    assert_eq!(e.to_string(), "numtaps 0 is invalid: must be >= 1");
}
