//! Behaviour of the streaming types beyond SciPy equivalence: steady-state start, coefficient
//! changes, decimator bookkeeping, band-power values and timing.

use neuropipe_dsp::design::{butter, firwin, iirnotch, notch_harmonics, Band, Sos, Window};
use neuropipe_dsp::{
    welch, BandPower, BandPowerConfig, Decimator, DesignError, FirFilter, PowerBand, SosFilter,
};

fn ramp_signal(frames: usize, channels: usize) -> Vec<f64> {
    (0..frames * channels)
        .map(|i| {
            let (f, ch) = ((i / channels) as f64, (i % channels) as f64);
            (0.05 * f * (ch + 1.0)).sin() * 10.0 + ch * 3.0 - 7.0
        })
        .collect()
}

/// Magnitude of the cascade's frequency response at `f` Hz.
fn gain(sos: &Sos, f: f64, fs: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / fs;
    let (c1, s1, c2, s2) = (w.cos(), -w.sin(), (2.0 * w).cos(), -(2.0 * w).sin());
    sos.iter()
        .map(|s| {
            let (nr, ni) = (s[0] + s[1] * c1 + s[2] * c2, s[1] * s1 + s[2] * s2);
            let (dr, di) = (s[3] + s[4] * c1 + s[5] * c2, s[4] * s1 + s[5] * s2);
            ((nr * nr + ni * ni) / (dr * dr + di * di)).sqrt()
        })
        .product()
}

#[test]
fn steady_state_start_has_no_transient() {
    let sos = butter(4, Band::Lowpass(10.0), 250.0).unwrap();
    let frame = [3.0, -1250.0, 0.5];
    let mut data: Vec<f64> = frame.iter().copied().cycle().take(3 * 500).collect();
    let mut f = SosFilter::<f64>::new(&sos, 3).unwrap();
    f.init_steady_state(&frame);
    f.process(&mut data);
    for (i, y) in data.iter().enumerate() {
        let want = frame[i % 3];
        assert!(
            (y - want).abs() <= 1e-9 * want.abs(),
            "sample {i}: {y} vs {want}"
        );
    }

    let taps = firwin(31, &[20.0], Window::Hann, true, 250.0).unwrap();
    let mut data: Vec<f32> = [2.0f32, -7.5]
        .iter()
        .copied()
        .cycle()
        .take(2 * 100)
        .collect();
    let mut f = FirFilter::<f32>::new(&taps, 2).unwrap();
    f.init_steady_state(&[2.0, -7.5]);
    f.process(&mut data);
    assert!(data
        .chunks(2)
        .all(|fr| (fr[0] - 2.0).abs() < 1e-5 && (fr[1] + 7.5).abs() < 1e-5));
}

#[test]
fn set_sos_keeps_state_for_same_section_count_and_resets_otherwise() {
    let c = 2;
    let x = ramp_signal(400, c);
    let a = butter(2, Band::Bandpass(1.0, 30.0), 250.0).unwrap();

    // Same design: swapping in the same coefficients mid-stream changes nothing.
    let mut whole = x.clone();
    SosFilter::<f64>::new(&a, c).unwrap().process(&mut whole);
    let mut split = x.clone();
    let mut f = SosFilter::<f64>::new(&a, c).unwrap();
    f.process(&mut split[..200 * c]);
    f.set_sos(&a).unwrap();
    f.process(&mut split[200 * c..]);
    assert_eq!(whole, split);

    // Different section count: state reset, as a fresh filter.
    let notch = iirnotch(50.0, 30.0, 250.0).unwrap();
    let mut f = SosFilter::<f64>::new(&a, c).unwrap();
    let mut first = x.clone();
    f.process(&mut first[..200 * c]);
    f.set_sos(&notch).unwrap();
    assert_eq!(f.sections(), 1);
    let mut rest = x[200 * c..].to_vec();
    f.process(&mut rest);
    let mut fresh = x[200 * c..].to_vec();
    SosFilter::<f64>::new(&notch, c)
        .unwrap()
        .process(&mut fresh);
    assert_eq!(rest, fresh);
}

#[test]
fn set_taps_keeps_recent_history() {
    let c = 3;
    let x = ramp_signal(120, c);
    let short = [0.5, 0.25, 0.125, 0.0625, 0.03125];
    let long: Vec<f64> = (0..9).map(|k| 1.0 / (k as f64 + 1.0)).collect();
    let mut f = FirFilter::<f64>::new(&short, c).unwrap();
    let mut y = x.clone();
    f.process(&mut y[..60 * c]);
    f.set_taps(&long).unwrap();
    assert_eq!(f.num_taps(), 9);
    f.process(&mut y[60 * c..]);
    // After the switch the filter sees the last 4 input frames; older ones count as zero.
    for n in 60..120 {
        for ch in 0..c {
            let mut want = 0.0;
            for (k, t) in long.iter().enumerate() {
                if n >= k && n - k >= 60 - (short.len() - 1) {
                    want += t * x[(n - k) * c + ch];
                }
            }
            assert!((y[n * c + ch] - want).abs() < 1e-12, "frame {n} ch {ch}");
        }
    }
    assert!(f.set_taps(&[]).is_err());
    assert!(f.set_taps(&[1.0, f64::NAN]).is_err());
    assert_eq!(
        f.num_taps(),
        9,
        "a rejected set_taps leaves the filter unchanged"
    );
}

#[test]
fn decimator_bookkeeping() {
    let c = 2;
    let x = ramp_signal(100, c);
    // q = 1 is the identity.
    let mut d = Decimator::<f64>::new(1, c).unwrap();
    let mut out = vec![0.0; x.len()];
    assert_eq!(d.process(&x, &mut out), 100);
    assert_eq!(out, x);
    assert_eq!(d.delay(), 0);

    let mut d = Decimator::<f32>::new(3, c).unwrap();
    assert_eq!(d.output_frames(1), 1);
    assert_eq!(d.output_frames(3), 1);
    assert_eq!(d.output_frames(4), 2);
    let mut out = vec![0.0f32; 10 * c];
    // Frames 0..4: outputs on frames 0 and 3.
    assert_eq!(d.process(&[0.0; 4 * 2], &mut out), 2);
    // Next output on frame 6, the third frame of the next call.
    assert_eq!(d.output_frames(2), 0);
    assert_eq!(d.output_frames(3), 1);
    assert_eq!(d.process(&[0.0; 2 * 2], &mut out), 0);
    assert_eq!(d.output_frames(1), 1);
    d.reset();
    assert_eq!(d.output_frames(1), 1);
    assert!(matches!(
        Decimator::<f64>::new(0, 1),
        Err(DesignError::Count { .. })
    ));
}

#[test]
fn notch_harmonics_suppress_mains() {
    let sos = notch_harmonics(50.0, 30.0, 250.0).unwrap();
    assert_eq!(sos.len(), 2);
    assert!(gain(&sos, 50.0, 250.0) < 1e-6);
    assert!(gain(&sos, 100.0, 250.0) < 1e-6);
    assert!((gain(&sos, 10.0, 250.0) - 1.0).abs() < 1e-3);
    let sos = notch_harmonics(60.0, 35.0, 1000.0).unwrap();
    assert_eq!(sos.len(), 8); // 60 .. 480 Hz
    assert!(
        notch_harmonics(1e-3, 30.0, 250.0).is_err(),
        "too many harmonics"
    );
}

#[test]
fn sos_new_validates_and_normalises() {
    let sos = Sos::new(vec![[2.0, 4.0, 2.0, 2.0, 1.0, 0.5]]).unwrap();
    assert_eq!(sos[0], [1.0, 2.0, 1.0, 1.0, 0.5, 0.25]);
    assert!(Sos::new(vec![]).is_err());
    assert!(Sos::new(vec![[1.0, 0.0, 0.0, 0.0, 0.0, 0.0]]).is_err());
    assert!(Sos::new(vec![[1.0, f64::INFINITY, 0.0, 1.0, 0.0, 0.0]]).is_err());
    let two = sos.clone().then(&iirnotch(50.0, 30.0, 250.0).unwrap());
    assert_eq!(two.len(), 2);
}

#[test]
fn band_power_of_a_sinusoid_is_its_variance() {
    let fs = 250.0;
    let channels = 2;
    let amp = [4.0, 1.5];
    let frames = 2000;
    let x: Vec<f64> = (0..frames * channels)
        .map(|i| {
            let t = (i / channels) as f64 / fs;
            amp[i % channels] * (2.0 * std::f64::consts::PI * 10.0 * t).sin() + 20.0
        })
        .collect();
    let cfg = BandPowerConfig::new(fs, channels);
    assert_eq!(
        (cfg.window, cfg.hop, cfg.nperseg, cfg.noverlap),
        (500, 62, 250, 125)
    );
    let mut bp = BandPower::new(cfg).unwrap();
    let alpha = bp.bands().iter().position(|b| b.name == "alpha").unwrap();
    let mut count = 0;
    bp.process(&x, |frame| {
        assert_eq!(frame.end_frame, 500 + 62 * count as u64);
        for (ch, a) in amp.iter().enumerate() {
            let want = a * a / 2.0;
            let got = frame.power(ch, alpha);
            assert!((got - want).abs() < 1e-3 * want, "ch {ch}: {got} vs {want}");
            let total: f64 = (0..frame.bands.len()).map(|b| frame.power(ch, b)).sum();
            assert!(total - got < 1e-3 * want, "leakage into other bands");
        }
        count += 1;
    });
    assert_eq!(count, (frames - 500) / 62 + 1);
    assert_eq!(bp.frames(), frames as u64);

    let bad = BandPowerConfig {
        bands: vec![PowerBand::new("x", 10.0, 200.0)],
        ..BandPowerConfig::new(fs, 1)
    };
    assert_eq!(
        BandPower::new(bad).unwrap_err().to_string(),
        "band x [10, 200) Hz must satisfy 0 <= lo < hi <= Nyquist (125 Hz)"
    );
}

#[test]
fn welch_rejects_bad_parameters() {
    let x = vec![0.0; 100];
    assert!(welch(&x, 250.0, 0, 0).is_err());
    assert!(welch(&x, 250.0, 64, 64).is_err());
    assert!(welch(&x, 250.0, 128, 0).is_err());
    assert!(welch(&x, f64::NAN, 64, 0).is_err());
    let (f, p) = welch(&x, 250.0, 64, 32).unwrap();
    assert_eq!(f.len(), 33);
    assert!(p.iter().all(|&v| v == 0.0));
}
