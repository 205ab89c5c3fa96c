//! Allocation behaviour, measured by a counting global allocator (per
//! thread, so tests running in parallel do not disturb each other):
//!
//! * the EDF reader never allocates more than a small multiple of the input's
//!   size, whatever its header fields claim;
//! * the EDF writer allocates nothing per sample or per record once created.

mod common;

use std::io::{self, Seek, SeekFrom, Write};

use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};
use proptest::prelude::*;

#[global_allocator]
static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;

/// Peak bytes allocated (above what was live before) while opening and reading `bytes`.
fn peak_while_reading(bytes: Vec<u8>) -> usize {
    let before = neuropipe_testkit::thread_live_bytes();
    neuropipe_testkit::reset_thread_peak();
    common::exercise_reader(bytes);
    neuropipe_testkit::thread_peak_bytes() - before
}

fn set(bytes: &mut [u8], offset: usize, text: &[u8]) {
    bytes[offset..offset + 8].fill(b' ');
    bytes[offset..offset + text.len()].copy_from_slice(text);
}

fn bound(len: usize) -> usize {
    // Samples become 8-byte f64s (4× a 16-bit sample), a frame-major copy
    // doubles that, and per-record bookkeeping adds a little: 24× the file
    // plus 64 KiB of fixed overhead is generous, and far below what any
    // header field could ask for.
    24 * len + 64 * 1024
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn reader_allocation_is_bounded_by_file_length(
        bdf in any::<bool>(),
        samples in prop_oneof![Just(b"99999999".to_vec()), "[0-9]{1,8}".prop_map(String::into_bytes)],
        records in prop_oneof![Just(b"-1".to_vec()), Just(b"99999999".to_vec()), "[0-9]{1,8}".prop_map(String::into_bytes)],
        ns in prop_oneof![Just(b"9999".to_vec()), "[0-9]{1,4}".prop_map(String::into_bytes)],
        which in 0usize..4,
        cut in any::<prop::sample::Index>(),
    ) {
        let format = if bdf { EdfFormat::Bdf } else { EdfFormat::Edf };
        let mut bytes = common::valid_file(format, false);
        match which {
            // samples per record of signal 1, and of the annotation signal (3 signals)
            0 => set(&mut bytes, 256 + 3 * 216, &samples),
            3 => set(&mut bytes, 256 + 3 * 216 + 16, &samples),
            1 => set(&mut bytes, 236, &records),
            _ => {
                bytes[252..256].fill(b' ');
                bytes[252..252 + ns.len()].copy_from_slice(&ns);
            }
        }
        let len = cut.index(bytes.len() + 1);
        bytes.truncate(len);
        let peak = peak_while_reading(bytes);
        prop_assert!(peak <= bound(len), "peak {peak} bytes for a {len}-byte file");
    }
}

#[test]
fn claims_of_huge_sizes_allocate_nothing_big() {
    // -1 records and 99999999 samples per record: zero whole records fit.
    let mut bytes = common::valid_file(EdfFormat::Bdf, false);
    set(&mut bytes, 236, b"-1");
    set(&mut bytes, 256 + 3 * 216, b"99999999");
    set(&mut bytes, 256 + 3 * 216 + 16, b"99999999");
    let len = bytes.len();
    let peak = peak_while_reading(bytes.clone());
    assert!(peak > 0 && peak <= bound(len), "peak {peak}");
    let r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(r.num_records(), 0);
}

/// Discards bytes but tracks the position, so seeking works without storage.
struct NullSink {
    pos: u64,
    len: u64,
}

impl Write for NullSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for NullSink {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = match pos {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        };
        Ok(self.pos)
    }
}

#[test]
fn writer_allocates_nothing_per_sample_or_record() {
    for format in [EdfFormat::Edf, EdfFormat::Bdf] {
        let signals = (0..8)
            .map(|c| SignalSpec::new(format!("ch{c}"), 250.0, -500.0, 500.0))
            .collect();
        let spec = EdfSpec::new(format, DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(), signals);
        let mut w = EdfWriter::new(NullSink { pos: 0, len: 0 }, "<null>", &spec).unwrap();
        for i in 0..20 {
            w.annotate(f64::from(i) * 0.7, Some(0.1), "stimulus")
                .unwrap();
        }
        let data: Vec<f64> = (0..8 * 25).map(|i| f64::from(i) - 100.0).collect();
        let before = neuropipe_testkit::thread_allocations();
        for _ in 0..200 {
            // 20 s: 20 records written, with their annotations, and a clipped sample.
            w.write_frames(&data, 8).unwrap();
        }
        w.write_frames(&[1e9; 8], 8).unwrap();
        let calls = neuropipe_testkit::thread_allocations() - before;
        assert_eq!(calls, 0, "{format:?}: {calls} allocations while writing");
        assert_eq!(w.records_written(), 20);
        assert_eq!(w.pending_annotations(), 0);
        assert_eq!(w.clipped_samples(), 8);
        w.finish().unwrap();
    }
}
