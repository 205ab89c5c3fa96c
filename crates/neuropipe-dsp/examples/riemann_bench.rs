//! Per-epoch cost of the on-line Riemannian kernels: `MdmModel::distances_into` (two
//! classes) and `TangentSpaceModel::transform_into`, one covariance at a time as the `Mdm`
//! and `TangentSpace` stages call them, at 8, 16, 32 and 64 channels. Prints one JSON line
//! per size: `{"channels": n, "mdm_us": …, "ts_us": …}` (median of 7 runs of the mean over
//! a batch). `scripts/bci/riemann_bench.py` runs it next to pyRiemann.
//!
//! `cargo run --release -p neuropipe-dsp --example riemann_bench`

use neuropipe_dsp::decode::{MdmModel, Spd, TangentSpaceModel};
use std::hint::black_box;
use std::time::Instant;

/// `count` SPD matrices `n × n`: covariances of 4 n frames of xorshift noise with a
/// channel-dependent gain.
fn covariances(n: usize, count: usize, seed: u64) -> Vec<f64> {
    let mut s = seed | 1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let t = 4 * n;
    let mut out = Vec::with_capacity(count * n * n);
    for _ in 0..count {
        let x: Vec<f64> = (0..t * n)
            .map(|i| next() * (1.0 + (i % n) as f64 * 0.2))
            .collect();
        for a in 0..n {
            for b in 0..n {
                out.push((0..t).map(|k| x[k * n + a] * x[k * n + b]).sum::<f64>() / t as f64);
            }
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for n in [8usize, 16, 32, 64] {
        let nn = n * n;
        let train = covariances(n, 40, 7);
        let y: Vec<u32> = (0..40).map(|i| i % 2).collect();
        let mdm = MdmModel::fit(&train, n, &y, 2)?;
        let ts = TangentSpaceModel::fit(&train, n)?;
        let batch = (20_000 / n).clamp(20, 2000);
        let test = covariances(n, batch, 11);
        let mut spd = Spd::new(n);
        let mut d = [0.0; 2];
        let mut v = vec![0.0; ts.features()];
        // Every matrix must map (positive definite), or the timings would be of early exits.
        for c in test.chunks_exact(nn) {
            mdm.distances_into(c, &mut spd, &mut d)
                .map_err(|e| format!("test matrix not positive definite ({e})"))?;
            ts.transform_into(c, &mut spd, &mut v)
                .map_err(|e| format!("test matrix not positive definite ({e})"))?;
        }
        let time = |f: &mut dyn FnMut(&[f64])| {
            median(
                (0..7)
                    .map(|_| {
                        let t0 = Instant::now();
                        for c in test.chunks_exact(nn) {
                            f(c);
                        }
                        t0.elapsed().as_secs_f64() * 1e6 / batch as f64
                    })
                    .collect(),
            )
        };
        let mdm_us = time(&mut |c| {
            let _ = black_box(mdm.distances_into(c, &mut spd, &mut d));
            black_box(&d);
        });
        let ts_us = time(&mut |c| {
            let _ = black_box(ts.transform_into(c, &mut spd, &mut v));
            black_box(&v);
        });
        println!("{{\"channels\": {n}, \"mdm_us\": {mdm_us:.2}, \"ts_us\": {ts_us:.2}}}");
    }
    Ok(())
}
