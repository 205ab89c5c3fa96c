//! Helpers shared by the integration tests.

use std::io::Cursor;

use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};

/// A small valid file: 2 signals (one at half rate), 3 records of 0.5 s, annotations.
pub fn valid_file(format: EdfFormat, discontinuous: bool) -> Vec<u8> {
    let mut signals = vec![
        SignalSpec::new("A", 16.0, -100.0, 100.0),
        SignalSpec::new("B", 8.0, -1.0, 1.0),
    ];
    signals[1].digital_min = Some(-1000);
    signals[1].digital_max = Some(1000);
    let mut spec = EdfSpec::new(format, DateTime::new(2024, 1, 2, 3, 4, 5).unwrap(), signals);
    spec.record_duration = 0.5;
    spec.annotation_bytes_per_record = 60;
    spec.discontinuous = discontinuous;
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", &spec).unwrap();
    w.annotate(0.25, Some(0.1), "x").unwrap();
    w.annotate(0.75, None, "y").unwrap();
    let a: Vec<f64> = (0..8).map(|i| f64::from(i) * 10.0).collect();
    let b: Vec<f64> = (0..4).map(|i| f64::from(i) * 0.1).collect();
    for r in 0..3 {
        if discontinuous && r == 2 {
            w.begin_record_at(5.0).unwrap();
        }
        w.write_record(&[&a, &b]).unwrap();
    }
    let (out, _) = w.finish_into_inner().unwrap();
    out.into_inner()
}

/// Opens `bytes` and, if accepted, reads everything the reader offers.
pub fn exercise_reader(bytes: Vec<u8>) {
    if let Ok(mut r) = EdfReader::from_bytes(bytes) {
        let _ = r.annotations().len();
        let _ = r.record_onsets();
        let _ = r.labels();
        for ch in 0..r.signals().len() {
            let _ = r.sample_rate(ch);
            let n = r.num_samples(ch);
            let s = r.read_signal(ch).expect("accepted file reads");
            assert_eq!(s.len() as u64, n);
        }
        let _ = r.read_frames();
        if r.num_records() > 0 {
            r.read_record(r.num_records() - 1)
                .expect("accepted file reads");
        }
    }
}
