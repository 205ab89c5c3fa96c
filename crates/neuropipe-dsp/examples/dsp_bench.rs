//! Throughput of the streaming filters on the benchmark workload, printed as JSON (one object
//! per line) for `scripts/dsp/bench_compare.py`:
//!
//! 64 channels × `--frames` frames (default 1,000,000) at 250 Hz, processed in packets of
//! `--packet` frames (default 32); best of `--reps` runs (default 5).
//!
//! ```text
//! cargo run --release -p neuropipe-dsp --example dsp_bench -- --frames 1000000
//! ```

use std::time::Instant;

use neuropipe_dsp::design::{butter, firwin, iirnotch, Band, Sos, Window};
use neuropipe_dsp::{FirFilter, FloatSample, SosFilter};

const CHANNELS: usize = 64;
const FS: f64 = 250.0;

/// Deterministic EEG-like test data (xorshift noise + 10 Hz + 50 Hz), frame-major.
fn make_signal(frames: usize) -> Vec<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut out = Vec::with_capacity(frames * CHANNELS);
    for f in 0..frames {
        let t = f as f64 / FS;
        for ch in 0..CHANNELS {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let phase = ch as f64 * 0.1;
            out.push(
                10.0 * noise
                    + 20.0 * (2.0 * std::f64::consts::PI * 10.0 * t + phase).sin()
                    + 5.0 * (2.0 * std::f64::consts::PI * 50.0 * t).sin(),
            );
        }
    }
    out
}

/// Best wall time over `reps` runs of `run` on a fresh copy of `x`; returns Ms/s.
fn measure<T: FloatSample>(x: &[f64], reps: usize, mut run: impl FnMut(&mut [T])) -> f64 {
    let base: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let mut data = base.clone();
        let t0 = Instant::now();
        run(&mut data);
        best = best.min(t0.elapsed().as_secs_f64());
        std::hint::black_box(&data);
    }
    x.len() as f64 / best / 1e6
}

fn sos_case<T: FloatSample>(x: &[f64], sos: &Sos, packet: usize, reps: usize) -> f64 {
    measure::<T>(x, reps, |data| {
        let mut f = SosFilter::<T>::new(sos, CHANNELS).unwrap();
        for p in data.chunks_mut(packet * CHANNELS) {
            f.process(p);
        }
    })
}

fn fir_case<T: FloatSample>(x: &[f64], taps: &[f64], packet: usize, reps: usize) -> f64 {
    measure::<T>(x, reps, |data| {
        let mut f = FirFilter::<T>::new(taps, CHANNELS).unwrap();
        for p in data.chunks_mut(packet * CHANNELS) {
            f.process(p);
        }
    })
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("integer argument"))
        .unwrap_or(default)
}

fn main() {
    let frames = arg("--frames", 1_000_000);
    let packet = arg("--packet", 32);
    let reps = arg("--reps", 5);
    let x = make_signal(frames);
    let bandpass = butter(4, Band::Bandpass(1.0, 40.0), FS).unwrap();
    let notch = iirnotch(50.0, 30.0, FS).unwrap();
    let taps = firwin(101, &[40.0], Window::Hamming, true, FS).unwrap();

    let cases: Vec<(&str, f64)> = vec![
        ("bandpass_f32", sos_case::<f32>(&x, &bandpass, packet, reps)),
        ("bandpass_f64", sos_case::<f64>(&x, &bandpass, packet, reps)),
        ("notch_f32", sos_case::<f32>(&x, &notch, packet, reps)),
        ("notch_f64", sos_case::<f64>(&x, &notch, packet, reps)),
        ("fir101_f32", fir_case::<f32>(&x, &taps, packet, reps)),
        ("fir101_f64", fir_case::<f64>(&x, &taps, packet, reps)),
    ];
    for (case, msps) in cases {
        println!(
            "{{\"case\": \"{case}\", \"channels\": {CHANNELS}, \"frames\": {frames}, \"packet\": {packet}, \"msps\": {msps:.3}}}"
        );
    }
}
