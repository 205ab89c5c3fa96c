//! Comparisons against SciPy 1.17.1 reference vectors (`scripts/dsp/gen_reference.py`).
//!
//! Tolerances: designs and `f64` outputs within 1e-10 relative to the largest reference value of
//! the compared vector (per numerator / denominator row for sections); `f32` outputs within 1e-5
//! relative RMS.

mod common;

use common::{assert_rel, rel_max_err, rel_rms_err, report_worst, Pack};
use neuropipe_dsp::design::{
    butter, firwin, iirnotch, iirpeak, notch_harmonics, sosfilt_zi, Band, Sos, Window,
};
use neuropipe_dsp::{
    welch, BandPower, BandPowerConfig, Decimator, FirFilter, FloatSample, SosFilter,
};

const TOL: f64 = 1e-10;
const TOL_F32_RMS: f64 = 1e-5;

/// Compares sections row by row: numerator relative to its largest |b|, denominator likewise.
fn assert_sos(got: &Sos, want: &[&[f64]], ctx: &str) {
    assert_eq!(got.len(), want.len(), "{ctx}: section count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_rel(&g[..3], &w[..3], TOL, &format!("{ctx} section {i} b"));
        assert_rel(&g[3..], &w[3..], TOL, &format!("{ctx} section {i} a"));
    }
}

fn assert_zi(got: &[[f64; 2]], want: &[f64], ctx: &str) {
    let flat: Vec<f64> = got.iter().flatten().copied().collect();
    assert_rel(&flat, want, TOL, ctx);
}

fn band_from(code: f64, f1: f64, f2: f64) -> Band {
    match code as u32 {
        0 => Band::Lowpass(f1),
        1 => Band::Highpass(f1),
        2 => Band::Bandpass(f1, f2),
        _ => Band::Bandstop(f1, f2),
    }
}

#[test]
fn butter_matches_scipy() {
    let pack = Pack::load("designs.ref");
    let ids = pack.ids("butter");
    assert_eq!(ids.len(), 170);
    let mut worst: f64 = 0.0;
    for i in ids {
        let p = &pack.get(&format!("butter/{i}/params")).data;
        let (band, order, fs) = (band_from(p[0], p[3], p[4]), p[1] as usize, p[2]);
        let ctx = format!("butter({order}, {band:?}, fs={fs})");
        let sos = butter(order, band, fs).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let want = pack.get(&format!("butter/{i}/sos"));
        assert_sos(&sos, &want.rows(), &ctx);
        // sosfilt_zi: within 1e-10 of the exact solution for SciPy's coefficients (the
        // remaining difference, up to ~2e-11 for low cutoffs, is the 1e-16 coefficient
        // difference amplified by the ill-conditioned system). SciPy's own LAPACK solve loses
        // cond·eps on sections with poles near z = 1, so against SciPy the tolerance is scaled
        // by the condition number of the worst 2x2 system.
        let zi = sosfilt_zi(&sos);
        assert_zi(
            &zi,
            &pack.get(&format!("butter/{i}/zi_exact")).data,
            &format!("{ctx} sosfilt_zi"),
        );
        let cond = sos
            .iter()
            .map(|s| (1.0 + s[4].abs() + s[5].abs()) / (1.0 + s[4] + s[5]).abs())
            .fold(1.0, f64::max);
        let flat: Vec<f64> = zi.iter().flatten().copied().collect();
        let e = rel_max_err(&flat, &pack.get(&format!("butter/{i}/zi")).data);
        worst = worst.max(e);
        assert!(
            e <= TOL * cond,
            "{ctx} sosfilt_zi vs SciPy: {e:e} > 1e-10 * cond {cond:e}"
        );
    }
    eprintln!("worst sosfilt_zi relative difference to SciPy {worst:e}");
    report_worst("butter_matches_scipy");
}

/// Complex response of a cascade at `w` rad/sample.
fn response(rows: &[[f64; 6]], w: f64) -> (f64, f64) {
    let mul = |(a, b): (f64, f64), (c, d): (f64, f64)| (a * c - b * d, a * d + b * c);
    let (c1, s1, c2, s2) = (w.cos(), -w.sin(), (2.0 * w).cos(), -(2.0 * w).sin());
    rows.iter().fold((1.0, 0.0), |h, s| {
        let num = (s[0] + s[1] * c1 + s[2] * c2, s[1] * s1 + s[2] * s2);
        let (dr, di) = (s[3] + s[4] * c1 + s[5] * c2, s[4] * s1 + s[5] * s2);
        let d2 = dr * dr + di * di;
        mul(h, mul(num, (dr / d2, -di / d2)))
    })
}

#[test]
fn butter_with_equal_radius_poles_matches_scipy_up_to_section_order() {
    // Edges symmetric about fs/4 give pairs of poles with the same radius; which of the two
    // sections comes first is decided by rounding noise (SciPy's own choice depends on the
    // CPU's SIMD tan/hypot). Same sections and same cascade response are required.
    let pack = Pack::load("designs.ref");
    let ids = pack.ids("butter_tie");
    assert_eq!(ids.len(), 5);
    for i in ids {
        let p = &pack.get(&format!("butter_tie/{i}/params")).data;
        let (band, order, fs) = (band_from(p[0], p[3], p[4]), p[1] as usize, p[2]);
        let ctx = format!("butter({order}, {band:?}, fs={fs})");
        let sos = butter(order, band, fs).unwrap();
        let want: Vec<[f64; 6]> = pack
            .get(&format!("butter_tie/{i}/sos"))
            .rows()
            .iter()
            .map(|r| <[f64; 6]>::try_from(*r).unwrap())
            .collect();
        assert_eq!(sos.len(), want.len(), "{ctx}");
        let by_denominator = |rows: &[[f64; 6]]| {
            let mut a: Vec<[f64; 3]> = rows.iter().map(|r| [r[3], r[4], r[5]]).collect();
            a.sort_by(|x, y| x[1].total_cmp(&y[1]).then(x[2].total_cmp(&y[2])));
            a
        };
        for (g, w) in by_denominator(&sos)
            .iter()
            .zip(by_denominator(&want).iter())
        {
            assert_rel(g, w, TOL, &format!("{ctx} denominators"));
        }
        let freqs: Vec<f64> = (1..64)
            .map(|k| k as f64 * std::f64::consts::PI / 64.0)
            .collect();
        let flat = |rows: &[[f64; 6]]| -> Vec<f64> {
            freqs
                .iter()
                .flat_map(|&w| {
                    let (re, im) = response(rows, w);
                    [re, im]
                })
                .collect()
        };
        assert_rel(&flat(&sos), &flat(&want), TOL, &format!("{ctx} response"));
    }
    report_worst("butter_with_equal_radius_poles_matches_scipy_up_to_section_order");
}

#[test]
fn notch_and_peak_match_scipy() {
    let pack = Pack::load("designs.ref");
    let ids = pack.ids("notch");
    assert_eq!(ids.len(), 150);
    for i in ids {
        let p = &pack.get(&format!("notch/{i}/params")).data;
        let (w0, q, fs) = (p[1], p[2], p[3]);
        let sos = if p[0] == 0.0 {
            iirnotch(w0, q, fs)
        } else {
            iirpeak(w0, q, fs)
        };
        let ctx = format!("kind {} w0 {w0} Q {q} fs {fs}", p[0]);
        let sos = sos.unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_sos(&sos, &pack.get(&format!("notch/{i}/sos")).rows(), &ctx);
    }
    for i in pack.ids("harmonics") {
        let p = &pack.get(&format!("harmonics/{i}/params")).data;
        let sos = notch_harmonics(p[0], p[1], p[2]).unwrap();
        let ctx = format!("notch_harmonics({}, {}, {})", p[0], p[1], p[2]);
        assert_sos(&sos, &pack.get(&format!("harmonics/{i}/sos")).rows(), &ctx);
        assert_zi(
            &sosfilt_zi(&sos),
            &pack.get(&format!("harmonics/{i}/zi")).data,
            &ctx,
        );
    }
    report_worst("notch_and_peak_match_scipy");
}

fn window_from(code: f64, beta: f64) -> Window {
    match code as u32 {
        0 => Window::Hamming,
        1 => Window::Hann,
        2 => Window::Blackman,
        _ => Window::Kaiser(beta),
    }
}

#[test]
fn firwin_matches_scipy() {
    let pack = Pack::load("designs.ref");
    let ids = pack.ids("firwin");
    assert!(ids.len() > 150, "{} firwin cases", ids.len());
    for i in ids {
        let p = &pack.get(&format!("firwin/{i}/params")).data;
        let (window, pass_zero, numtaps, fs) =
            (window_from(p[0], p[1]), p[2] != 0.0, p[3] as usize, p[4]);
        let cutoffs = &p[5..];
        let ctx =
            format!("firwin({numtaps}, {cutoffs:?}, {window:?}, pass_zero={pass_zero}, fs={fs})");
        let taps = firwin(numtaps, cutoffs, window, pass_zero, fs)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_rel(
            &taps,
            &pack.get(&format!("firwin/{i}/taps")).data,
            TOL,
            &ctx,
        );
    }
    let errs = pack.ids("firwin_err");
    assert!(!errs.is_empty());
    for i in errs {
        let p = &pack.get(&format!("firwin_err/{i}/params")).data;
        let (window, pass_zero, numtaps, fs) =
            (window_from(p[0], p[1]), p[2] != 0.0, p[3] as usize, p[4]);
        let r = firwin(numtaps, &p[5..], window, pass_zero, fs);
        assert!(
            r.is_err(),
            "firwin({numtaps}, {:?}, pass_zero={pass_zero}) should fail, got {r:?}",
            &p[5..]
        );
    }
    report_worst("firwin_matches_scipy");
}

fn sos_from(rows: &[&[f64]]) -> Sos {
    Sos::new(
        rows.iter()
            .map(|r| <[f64; 6]>::try_from(*r).unwrap())
            .collect(),
    )
    .unwrap()
}

/// Runs `f` over `x` in packets of varying sizes (1, 2, 3, 5, 8, ... frames, cycling).
fn in_packets<T>(x: &mut [T], channels: usize, mut f: impl FnMut(&mut [T])) {
    const SIZES: [usize; 8] = [1, 2, 3, 5, 8, 13, 32, 7];
    let mut off = 0;
    let mut k = 0;
    while off < x.len() {
        let n = (SIZES[k % SIZES.len()] * channels).min(x.len() - off);
        f(&mut x[off..off + n]);
        off += n;
        k += 1;
    }
}

fn cast<T: FloatSample>(x: &[f64]) -> Vec<T> {
    x.iter().map(|&v| T::from_f64(v)).collect()
}

fn widen<T: FloatSample>(x: &[T]) -> Vec<f64> {
    x.iter().map(|v| v.to_f64()).collect()
}

#[test]
fn sosfilt_matches_scipy() {
    let mut worst_f32: f64 = 0.0;
    let pack = Pack::load("sosfilt.ref");
    for fi in pack.ids("filter") {
        let sos = sos_from(&pack.get(&format!("filter/{fi}/sos")).rows());
        for seed in pack.ids("signal") {
            let x = pack.get(&format!("signal/{seed}/x"));
            let c = x.cols();
            let ctx = format!("filter {fi} signal {seed} ({c} ch)");

            // f64, one call and in packets (bit-identical).
            let mut y = x.data.clone();
            SosFilter::<f64>::new(&sos, c).unwrap().process(&mut y);
            assert_rel(
                &y,
                &pack.get(&format!("sosfilt/{fi}/{seed}/f64")).data,
                TOL,
                &ctx,
            );
            let mut yp = x.data.clone();
            let mut filt = SosFilter::<f64>::new(&sos, c).unwrap();
            in_packets(&mut yp, c, |p| filt.process(p));
            assert_eq!(y, yp, "{ctx}: packets differ from one call");

            // f32 data against SciPy as users run it: f64 coefficients, computed in f64.
            let mut y32: Vec<f32> = cast(&x.data);
            SosFilter::<f32>::new(&sos, c).unwrap().process(&mut y32);
            let want = pack.get(&format!("sosfilt/{fi}/{seed}/f32in"));
            assert!(!want.is_f32);
            let e = rel_rms_err(&widen(&y32), &want.data);
            worst_f32 = worst_f32.max(e);
            assert!(e <= TOL_F32_RMS, "{ctx} f32: relative RMS error {e:e}");

            // Steady-state start.
            let key = format!("sosfilt_ss/{fi}/{seed}/f64");
            if pack.has(&key) {
                let mut y = x.data.clone();
                let mut filt = SosFilter::<f64>::new(&sos, c).unwrap();
                filt.init_steady_state(&x.data[..c]);
                filt.process(&mut y);
                assert_rel(
                    &y,
                    &pack.get(&key).data,
                    TOL,
                    &format!("{ctx} steady state"),
                );
            }
        }
    }
    report_worst("sosfilt_matches_scipy");
    eprintln!("sosfilt_matches_scipy: worst f32 relative RMS error {worst_f32:.1e}");
}

/// f32 input through the filters EEG uses most (sub-Hz high-passes at 1-2 kHz on signals with
/// +-20 mV offsets included), zero-state and steady-state start, against SciPy computing in
/// f64 on the same f32 input: <= 1e-5 relative RMS error, and bit-identical in packets.
#[test]
fn f32_iir_matches_scipy_f64_on_sub_hz_highpass_with_offsets() {
    let pack = Pack::load("precision.ref");
    let mut worst: f64 = 0.0;
    for i in pack.ids("precision") {
        let sos = sos_from(&pack.get(&format!("precision/{i}/sos")).rows());
        let x = pack.get(&format!("precision/{i}/x"));
        assert!(x.is_f32);
        let c = x.cols();
        let x32: Vec<f32> = cast(&x.data);
        for (start, key) in [(false, "zero"), (true, "steady")] {
            let want = &pack.get(&format!("precision/{i}/{key}")).data;
            let mut y = x32.clone();
            let mut f = SosFilter::<f32>::new(&sos, c).unwrap();
            if start {
                f.init_steady_state(&x32[..c]);
            }
            f.process(&mut y);
            let e = rel_rms_err(&widen(&y), want);
            worst = worst.max(e);
            assert!(
                e <= 1e-5,
                "precision case {i} ({key} start): relative RMS error {e:e}"
            );

            let mut yp = x32.clone();
            let mut f = SosFilter::<f32>::new(&sos, c).unwrap();
            if start {
                f.init_steady_state(&x32[..c]);
            }
            in_packets(&mut yp, c, |p| f.process(p));
            assert_eq!(
                y, yp,
                "precision case {i} ({key}): packets differ from one call"
            );
        }
    }
    eprintln!("f32 IIR vs SciPy f64: worst relative RMS error {worst:.1e}");
}

#[test]
fn fir_matches_scipy_lfilter() {
    let mut worst_f32: f64 = 0.0;
    let pack = Pack::load("fir.ref");
    for ti in pack.ids("fir") {
        let taps = &pack.get(&format!("fir/{ti}/taps")).data;
        for seed in pack.ids("signal") {
            let x = pack.get(&format!("signal/{seed}/x"));
            let c = x.cols();
            let ctx = format!("fir {ti} signal {seed} ({c} ch)");

            let mut y = x.data.clone();
            FirFilter::<f64>::new(taps, c).unwrap().process(&mut y);
            assert_rel(
                &y,
                &pack.get(&format!("lfilter/{ti}/{seed}/f64")).data,
                TOL,
                &ctx,
            );
            let mut yp = x.data.clone();
            let mut filt = FirFilter::<f64>::new(taps, c).unwrap();
            in_packets(&mut yp, c, |p| filt.process(p));
            assert_eq!(y, yp, "{ctx}: packets differ from one call");

            let mut y32: Vec<f32> = cast(&x.data);
            FirFilter::<f32>::new(taps, c).unwrap().process(&mut y32);
            let e = rel_rms_err(
                &widen(&y32),
                &pack.get(&format!("lfilter/{ti}/{seed}/f32")).data,
            );
            worst_f32 = worst_f32.max(e);
            assert!(e <= TOL_F32_RMS, "{ctx} f32: relative RMS error {e:e}");

            let key = format!("lfilter_ss/{ti}/{seed}/f64");
            if pack.has(&key) {
                let mut y = x.data.clone();
                let mut filt = FirFilter::<f64>::new(taps, c).unwrap();
                filt.init_steady_state(&x.data[..c]);
                filt.process(&mut y);
                assert_rel(
                    &y,
                    &pack.get(&key).data,
                    TOL,
                    &format!("{ctx} steady state"),
                );
            }
        }
    }
    report_worst("fir_matches_scipy_lfilter");
    eprintln!("fir_matches_scipy_lfilter: worst f32 relative RMS error {worst_f32:.1e}");
}

#[test]
fn decimator_matches_resample_poly_after_delay() {
    let pack = Pack::load("fir.ref");
    for seed in pack.ids("rsignal") {
        let x = pack.get(&format!("rsignal/{seed}/x"));
        let c = x.cols();
        let n_in = x.data.len() / c;
        for q in [2usize, 3, 4, 5, 8] {
            let ctx = format!("signal {seed} ({c} ch) q {q}");
            let mut dec = Decimator::<f64>::new(q, c).unwrap();
            if seed == 5 {
                assert_rel(
                    dec.taps(),
                    &pack.get(&format!("resample_taps/{q}")).data,
                    TOL,
                    &ctx,
                );
            }
            assert_eq!(dec.delay(), 10 * q);
            let mut out = vec![0.0; dec.output_frames(n_in) * c];
            let written = dec.process(&x.data, &mut out);
            assert_eq!(written, n_in.div_ceil(q), "{ctx}");

            // d[m + 10] == r[m] for (m + 10)·q < n_in.
            let r = &pack.get(&format!("resample/{seed}/{q}/y")).data;
            assert_eq!(r.len() / c, n_in.div_ceil(q));
            let lag = dec.delay() / q;
            let m_end = written - lag;
            let got = &out[lag * c..];
            let want = &r[..m_end * c];
            assert_rel(got, want, TOL, &ctx);
            // Every reference sample but the last `lag` outputs (zero-padded past the end) is
            // covered.
            assert_eq!(m_end, r.len() / c - lag);
        }
    }
    report_worst("decimator_matches_resample_poly_after_delay");
}

#[test]
fn welch_matches_scipy() {
    let pack = Pack::load("welch.ref");
    for i in pack.ids("welch") {
        let p = &pack.get(&format!("welch/{i}/params")).data;
        let (fs, nperseg, noverlap) = (p[0], p[1] as usize, p[2] as usize);
        let x = &pack.get(&format!("welch/{i}/x")).data;
        let ctx = format!(
            "welch(len {}, fs {fs}, nperseg {nperseg}, noverlap {noverlap})",
            x.len()
        );
        let (f, psd) = welch(x, fs, nperseg, noverlap).unwrap();
        assert_rel(&f, &pack.get(&format!("welch/{i}/f")).data, TOL, &ctx);
        assert_rel(&psd, &pack.get(&format!("welch/{i}/psd")).data, TOL, &ctx);
    }
    report_worst("welch_matches_scipy");
}

#[test]
fn band_power_matches_scipy_welch_integration() {
    let pack = Pack::load("welch.ref");
    let p = &pack.get("bandpower/params").data;
    let x = pack.get("bandpower/x");
    let c = x.cols();
    let mut cfg = BandPowerConfig::new(p[0], c);
    (cfg.window, cfg.hop, cfg.nperseg, cfg.noverlap) =
        (p[1] as usize, p[2] as usize, p[3] as usize, p[4] as usize);
    let mut bp = BandPower::new(cfg).unwrap();
    let mut ends = Vec::new();
    let mut powers = Vec::new();
    bp.process(&x.data, |frame| {
        ends.push(frame.end_frame as f64);
        powers.extend_from_slice(frame.powers);
    });
    assert_eq!(ends, pack.get("bandpower/ends").data);
    assert_rel(
        &powers,
        &pack.get("bandpower/powers").data,
        TOL,
        "band power",
    );
    report_worst("band_power_matches_scipy_welch_integration");
}
