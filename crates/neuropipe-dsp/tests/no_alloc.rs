//! `process` must never touch the heap: checked with a counting global allocator.
//!
//! The counting allocator is `neuropipe_testkit`'s; the library itself forbids `unsafe`.

use neuropipe_dsp::design::{butter, firwin, Band, Window};
use neuropipe_dsp::{BandPower, BandPowerConfig, Decimator, FirFilter, SosFilter, Welch};

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

/// Number of heap allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    neuropipe_testkit::allocations_during(f) as usize
}

#[test]
fn process_does_not_allocate() {
    // The counter works.
    assert_eq!(allocations(|| drop(std::hint::black_box(vec![0u8; 16]))), 1);

    let c = 8;
    let x: Vec<f32> = (0..c * 1000)
        .map(|i| ((i * 37) % 101) as f32 - 50.0)
        .collect();
    let sos = butter(5, Band::Bandpass(1.0, 40.0), 250.0).unwrap();
    let taps = firwin(101, &[40.0], Window::Hamming, true, 250.0).unwrap();
    let mut sos_f = SosFilter::<f32>::new(&sos, c).unwrap();
    let mut fir_f = FirFilter::<f32>::new(&taps, c).unwrap();
    let mut dec = Decimator::<f32>::new(4, c).unwrap();
    let mut bp = BandPower::new(BandPowerConfig::new(250.0, c)).unwrap();
    let mut welch = Welch::new(250.0, 256, 128).unwrap();
    let mut data = x.clone();
    let mut out = vec![0.0f32; x.len()];
    let mut psd = vec![0.0; welch.bins()];
    let x64: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let mut estimates = 0;

    let n = allocations(|| {
        for packet in data.chunks_mut(32 * c) {
            sos_f.init_steady_state(&packet[..c]);
            sos_f.process(packet);
            fir_f.process(packet);
            dec.process(packet, &mut out);
            bp.process(packet, |_| estimates += 1);
        }
        welch.psd(&x64, &mut psd).unwrap();
        sos_f.reset();
        fir_f.reset();
        dec.reset();
        bp.reset();
    });
    assert!(estimates > 0);
    assert_eq!(n, 0, "heap allocations during processing");
}
