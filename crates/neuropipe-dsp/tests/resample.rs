//! `Resampler` against SciPy 1.17.1's `resample_poly(x, up, down)` (vectors from
//! `scripts/dsp/gen_reference.py`, `tests/data/resample.ref`): the same filter, and after the
//! documented lag the same outputs, for the rate pairs EEG sessions mix; in f32 the outputs are
//! the f64 reference's, rounded once.

mod common;

use common::*;
use neuropipe_dsp::Resampler;

const TOL: f64 = 1e-10;
const PAIRS: [(usize, usize); 7] = [(5, 2), (2, 5), (4, 1), (3, 2), (125, 128), (1, 3), (5, 1)];

#[test]
fn resampler_matches_resample_poly_after_its_lag() {
    let pack = Pack::load("resample.ref");
    for seed in pack.ids("signal") {
        let x = pack.get(&format!("signal/{seed}/x"));
        let c = x.cols();
        let n_in = x.data.len() / c;
        for (up, down) in PAIRS {
            let ctx = format!("signal {seed} ({c} ch) {up}/{down}");
            let mut r = Resampler::<f64>::new(up, down, c).unwrap();
            if seed == 7 {
                assert_rel(
                    r.taps(),
                    &pack.get(&format!("taps/{up}/{down}")).data,
                    TOL,
                    &ctx,
                );
            }
            let mut out = vec![0.0; r.output_frames(n_in) * c];
            let written = r.process(&x.data, &mut out);
            let want = &pack.get(&format!("resample/{seed}/{up}/{down}/y")).data;
            let n_ref = want.len() / c;
            assert_eq!(n_ref, (n_in * up).div_ceil(down), "{ctx}");
            assert_eq!(written, n_ref, "{ctx}: as many outputs as resample_poly");
            let lag = r.lag();
            let m_end = written - lag;
            assert_rel(&out[lag * c..], &want[..m_end * c], TOL, &ctx);

            // f32 in, f32 out: the f64 reference rounded once (sums are in f64).
            let x32: Vec<f32> = x.data.iter().map(|&v| v as f32).collect();
            let mut r32 = Resampler::<f32>::new(up, down, c).unwrap();
            let mut o32 = vec![0.0f32; r32.output_frames(n_in) * c];
            r32.process(&x32, &mut o32);
            let got: Vec<f64> = o32[lag * c..].iter().map(|&v| f64::from(v)).collect();
            let e = rel_rms_err(&got, &want[..m_end * c]);
            assert!(e < 1e-6, "{ctx} f32: relative RMS error {e:e}");
        }
    }
    report_worst("resampler_matches_resample_poly_after_its_lag");
}
