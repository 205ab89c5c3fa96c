//! Streaming filter throughput: 64 channels at 250 Hz in 32-frame packets.
//!
//! Each iteration filters 25,000 frames (1.6 M channel-samples) in place, packet by packet,
//! with one filter instance carrying its state across packets and iterations. Criterion's
//! throughput figure is in channel-samples ("elements") per second.
//!
//! `cargo bench -p neuropipe-dsp --bench filters`; `scripts/dsp/bench_compare.py` compares the
//! same workload with SciPy.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use neuropipe_dsp::design::{butter, firwin, iirnotch, Band, Window};
use neuropipe_dsp::{Decimator, FirFilter, FloatSample, SosFilter};

const CHANNELS: usize = 64;
const FRAMES: usize = 25_000;
const PACKET: usize = 32;
const FS: f64 = 250.0;

/// Deterministic EEG-like data, frame-major.
fn signal<T: FloatSample>() -> Vec<T> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..FRAMES * CHANNELS)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let t = (i / CHANNELS) as f64 / FS;
            T::from_f64(10.0 * noise + 20.0 * (2.0 * std::f64::consts::PI * 10.0 * t).sin())
        })
        .collect()
}

fn bench_type<T: FloatSample>(c: &mut Criterion, ty: &str) {
    let mut group = c.benchmark_group(format!("filters_{ty}"));
    group.throughput(Throughput::Elements((FRAMES * CHANNELS) as u64));
    group.sample_size(20);

    let bandpass = butter(4, Band::Bandpass(1.0, 40.0), FS).unwrap();
    let notch = iirnotch(50.0, 30.0, FS).unwrap();
    let taps = firwin(101, &[40.0], Window::Hamming, true, FS).unwrap();

    for (name, sos) in [("bandpass_1_40_o4", &bandpass), ("notch_50_q30", &notch)] {
        let mut data = signal::<T>();
        let mut filter = SosFilter::<T>::new(sos, CHANNELS).unwrap();
        group.bench_function(BenchmarkId::new(name, PACKET), |b| {
            b.iter(|| {
                for p in data.chunks_mut(PACKET * CHANNELS) {
                    filter.process(black_box(p));
                }
            })
        });
    }

    let mut data = signal::<T>();
    let mut fir = FirFilter::<T>::new(&taps, CHANNELS).unwrap();
    group.bench_function(BenchmarkId::new("fir101_lowpass_40", PACKET), |b| {
        b.iter(|| {
            for p in data.chunks_mut(PACKET * CHANNELS) {
                fir.process(black_box(p));
            }
        })
    });

    let data = signal::<T>();
    let mut dec = Decimator::<T>::new(4, CHANNELS).unwrap();
    let mut out = vec![T::ZERO; PACKET * CHANNELS];
    group.bench_function(BenchmarkId::new("decimate_q4", PACKET), |b| {
        b.iter(|| {
            for p in data.chunks(PACKET * CHANNELS) {
                black_box(dec.process(black_box(p), &mut out));
            }
        })
    });
    group.finish();
}

fn filters(c: &mut Criterion) {
    bench_type::<f32>(c, "f32");
    bench_type::<f64>(c, "f64");
}

criterion_group!(benches, filters);
criterion_main!(benches);
