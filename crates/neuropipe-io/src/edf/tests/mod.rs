//! Tests of the EDF writer and reader: round trips and every error path
//! (reader error paths in `reader.rs`).

mod reader;

use std::io::{self, Cursor, Seek, SeekFrom, Write};

use super::*;
use crate::datetime::{Date, DateTime};

use crate::test_util::temp_path;

fn start() -> DateTime {
    DateTime::new(2024, 3, 5, 14, 7, 9).unwrap()
}

fn spec(format: EdfFormat) -> EdfSpec {
    let mut s = EdfSpec::new(
        format,
        start(),
        vec![
            SignalSpec::new("EEG Fp1", 256.0, -3276.8, 3276.7),
            SignalSpec::new("EEG Fp2", 256.0, -500.0, 500.0),
            SignalSpec::new("EEG Cz", 256.0, -1000.0, 1000.0),
        ],
    );
    s.patient.name = "Jane Doe".into();
    s.recording.equipment = "neuropipe".into();
    s
}

/// Test data: frame-major, well inside every signal's range.
fn frames(n: usize, ch: usize) -> Vec<f64> {
    (0..n * ch)
        .map(|i| {
            let (f, c) = (i / ch, i % ch);
            300.0 * ((f as f64) * 0.05 * (c + 1) as f64).sin() + c as f64
        })
        .collect()
}

fn write_to_vec(
    spec: &EdfSpec,
    data: &[f64],
    annotate: impl FnOnce(&mut EdfWriter<Cursor<Vec<u8>>>),
) -> (Vec<u8>, EdfSummary) {
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", spec).unwrap();
    annotate(&mut w);
    w.write_frames(data, spec.signals.len()).unwrap();
    let (out, summary) = w.finish_into_inner().unwrap();
    (out.into_inner(), summary)
}

#[test]
fn header_bytes_are_exact() {
    let (bytes, _) = write_to_vec(&spec(EdfFormat::Edf), &[], |_| {});
    let fixed = std::str::from_utf8(&bytes[..256]).unwrap();
    let expected = format!(
        "{:<8}{:<80}{:<80}{}{}{:<8}{:<44}{:<8}{:<8}{:<4}",
        "0",
        "X X X Jane_Doe",
        "Startdate 05-MAR-2024 X X neuropipe",
        "05.03.24",
        "14.07.09",
        "1280",
        "EDF+C",
        "-1",
        "1",
        "4"
    );
    assert_eq!(fixed, expected);
    let sig = std::str::from_utf8(&bytes[256..1280]).unwrap();
    assert!(sig.starts_with("EEG Fp1         EEG Fp2         EEG Cz          EDF Annotations "));
    // physical minima of the 4 signals, 8 characters each
    let pmin = &sig[4 * (16 + 80 + 8)..4 * (16 + 80 + 16)];
    assert_eq!(pmin, "-3276.8 -500    -1000   -1      ");
    // samples per record: 256 for each signal, 256 (512 bytes) for annotations
    let spr = &sig[4 * (16 + 80 + 8 * 5 + 80)..4 * (16 + 80 + 8 * 6 + 80)];
    assert_eq!(spr, "256     256     256     256     ");
    assert_eq!(bytes.len(), 1280, "no record written for no data");
}

#[test]
fn bdf_version_field_and_reserved() {
    let (bytes, _) = write_to_vec(&spec(EdfFormat::Bdf), &frames(256, 3), |_| {});
    assert_eq!(&bytes[..8], b"\xFFBIOSEMI");
    assert_eq!(&bytes[192..197], b"BDF+C");
    assert_eq!(&bytes[236..244], b"1       ");
    // 3 signals × 256 samples × 3 bytes, and 512 annotation bytes rounded up to 171 samples
    assert_eq!(bytes.len(), 1280 + 256 * 3 * 3 + 171 * 3);
    let r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(r.header().signals[3].label, "BDF Annotations");
    assert_eq!(r.header().signals[3].digital_min, -8_388_608);
}

fn round_trip(format: EdfFormat) {
    let s = spec(format);
    let data = frames(640, 3); // 2.5 records
    let (bytes, summary) = write_to_vec(&s, &data, |w| {
        w.annotate(0.5, None, "eyes closed").unwrap();
        w.annotate(1.25, Some(0.75), "blink").unwrap();
        w.annotate(2.9, None, "end marker ü").unwrap();
    });
    assert_eq!(summary.records, 3);
    assert_eq!(summary.padded_frames, 128);
    assert_eq!(summary.clipped_samples, 0);
    assert_eq!(summary.annotations_written, 4, "three + the padding mark");
    let mut r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(r.format(), format);
    assert_eq!(r.variant(), EdfVariant::Continuous);
    assert_eq!(r.start(), start());
    assert_eq!(r.labels(), vec!["EEG Fp1", "EEG Fp2", "EEG Cz"]);
    assert_eq!(r.sample_rate(1), 256.0);
    assert_eq!(r.num_records(), 3);
    assert_eq!(r.num_samples(0), 768);
    assert_eq!(r.record_onsets(), vec![0.0, 1.0, 2.0]);
    assert_eq!(r.signals()[0].physical_dimension, "uV");
    assert_eq!(
        PatientId::parse(&r.header().patient).unwrap().name,
        "Jane_Doe"
    );
    let got = r.read_frames().unwrap();
    for ch in 0..3 {
        let lsb = r.signals()[ch].lsb();
        for f in 0..640 {
            let (a, b) = (got[f * 3 + ch], data[f * 3 + ch]);
            assert!(
                (a - b).abs() <= 0.5 * lsb * (1.0 + 1e-9),
                "ch {ch} frame {f}: {a} vs {b}"
            );
        }
        // padding repeats the last value
        for f in 640..768 {
            assert_eq!(got[f * 3 + ch], got[639 * 3 + ch]);
        }
    }
    assert_eq!(
        r.read_signal(2).unwrap(),
        (0..768).map(|f| got[f * 3 + 2]).collect::<Vec<_>>()
    );
    let rec = r.read_record(1).unwrap();
    assert_eq!(rec[0][0], got[256 * 3]);
    let texts: Vec<_> = r
        .annotations()
        .iter()
        .map(|a| (a.onset, a.duration, a.text.as_str()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (0.5, None, "eyes closed"),
            (1.25, Some(0.75), "blink"),
            (2.5, Some(0.5), crate::edf::PADDING_ANNOTATION),
            (2.9, None, "end marker ü")
        ]
    );
}

/// 1 s records with room for a few annotations; 150 annotations queued by the end do not fit
/// the records written: whole records of padding are added (marked as such) and none is lost.
#[test]
fn annotation_backlog_gets_padding_records_and_nothing_is_lost() {
    let mut s = spec(EdfFormat::Edf);
    s.annotation_bytes_per_record = 200;
    let data = frames(512, 3); // exactly 2 records
    let (bytes, summary) = write_to_vec(&s, &data, |w| {
        for i in 0..150 {
            w.annotate(i as f64 / 100.0, None, &format!("m{i}"))
                .unwrap();
        }
    });
    assert_eq!(summary.annotations_dropped, 0);
    assert_eq!(summary.annotations_written, 151);
    assert!(summary.extra_records > 0);
    assert_eq!(summary.records, 2 + summary.extra_records);
    assert_eq!(summary.padded_frames, summary.extra_records * 256);
    let r = EdfReader::from_bytes(bytes).unwrap();
    let anns = r.annotations();
    for i in 0..150 {
        let text = format!("m{i}");
        let a = anns
            .iter()
            .find(|a| a.text == text)
            .unwrap_or_else(|| panic!("{text} lost"));
        assert!((a.onset - i as f64 / 100.0).abs() < 1e-9);
    }
    let pad = anns
        .iter()
        .find(|a| a.text == crate::edf::PADDING_ANNOTATION)
        .unwrap();
    assert_eq!(pad.onset, 2.0);
    assert_eq!(pad.duration, Some(summary.extra_records as f64));
}

#[test]
fn round_trip_edf() {
    round_trip(EdfFormat::Edf);
}

#[test]
fn round_trip_bdf() {
    round_trip(EdfFormat::Bdf);
}

#[test]
fn rounds_to_nearest_and_clips() {
    let mut s = spec(EdfFormat::Edf);
    s.signals = vec![SignalSpec::new("X", 4.0, -32768.0, 32767.0)]; // 1 unit per LSB
    let data = [
        0.4,
        0.6,
        -0.6,
        2.5,
        40000.0,
        -40000.0,
        f64::NAN,
        f64::INFINITY,
    ];
    let (bytes, summary) = write_to_vec(&s, &data, |_| {});
    assert_eq!(summary.clipped_samples, 2);
    assert_eq!(summary.nan_samples, 2, "NaN and Inf are both written as 0");
    let mut r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(
        r.read_digital(0).unwrap(),
        vec![0, 1, -1, 3, 32767, -32768, 0, 0]
    );
}

#[test]
fn annotations_spill_to_later_records_keeping_onsets() {
    let mut s = spec(EdfFormat::Edf);
    s.annotation_bytes_per_record = 40;
    let (bytes, summary) = write_to_vec(&s, &frames(256 * 4, 3), |w| {
        for i in 0..6 {
            w.annotate(0.1 * f64::from(i), None, "stim").unwrap();
        }
    });
    assert_eq!(summary.annotations_written, 6);
    let r = EdfReader::from_bytes(bytes).unwrap();
    let onsets: Vec<f64> = r.annotations().iter().map(|a| a.onset).collect();
    assert_eq!(onsets, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5]);
}

#[test]
fn late_and_future_annotations_go_into_the_last_record_at_finish() {
    let s = spec(EdfFormat::Edf);
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", &s).unwrap();
    w.write_frames(&frames(512, 3), 3).unwrap();
    w.annotate(0.25, None, "late").unwrap();
    w.annotate(99.0, None, "after the end").unwrap();
    let (out, summary) = w.finish_into_inner().unwrap();
    assert_eq!(summary.records, 2);
    assert_eq!(summary.annotations_written, 2);
    assert_eq!(summary.annotations_dropped, 0);
    let r = EdfReader::from_bytes(out.into_inner()).unwrap();
    assert_eq!(r.annotations().len(), 2);
    assert_eq!(r.annotations()[1].onset, 99.0);
}

#[test]
fn annotations_without_records_are_reported_dropped() {
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", &spec(EdfFormat::Edf)).unwrap();
    w.annotate(0.0, None, "x").unwrap();
    assert_eq!(w.pending_annotations(), 1);
    assert_eq!(w.finish().unwrap().annotations_dropped, 1);
}

#[test]
fn partial_record_policies() {
    for (policy, records, expect) in [
        (PartialRecord::PadWithZero, 2, Some(0.0)),
        (PartialRecord::Discard, 1, None),
    ] {
        let mut s = spec(EdfFormat::Edf);
        s.partial_record = policy;
        let (bytes, summary) = write_to_vec(&s, &frames(300, 3), |_| {});
        assert_eq!(summary.records, records);
        let mut r = EdfReader::from_bytes(bytes).unwrap();
        let sig = r.read_signal(1).unwrap();
        assert_eq!(sig.len(), 256 * records as usize);
        if let Some(v) = expect {
            assert!((sig[400] - v).abs() <= r.signals()[1].lsb());
            assert_eq!(summary.padded_frames, 212);
        } else {
            assert_eq!(summary.discarded_frames, 44);
        }
    }
}

#[test]
fn mixed_rates_with_write_record() {
    let mut s = spec(EdfFormat::Bdf);
    s.signals[1].sample_rate = 128.0;
    s.record_duration = 0.5;
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", &s).unwrap();
    assert_eq!(w.frames_per_record(), None);
    assert_eq!(
        w.write_frames(&[0.0; 3], 3).unwrap_err().to_string(),
        "<test>: write_frames needs all signals at one sample rate; use write_record"
    );
    let a: Vec<f64> = (0..128).map(f64::from).collect();
    let b: Vec<f64> = (0..64).map(|i| -f64::from(i)).collect();
    w.write_record(&[&a, &b, &a]).unwrap();
    assert_eq!(
        w.write_record(&[&a, &a, &a]).unwrap_err().to_string(),
        "<test>: write_record got 128 samples for signal 2, which has 64 per record"
    );
    let (out, _) = w.finish_into_inner().unwrap();
    let mut r = EdfReader::from_bytes(out.into_inner()).unwrap();
    assert_eq!(r.sample_rate(1), 128.0);
    assert_eq!(r.header().record_duration, 0.5);
    let got = r.read_signal(1).unwrap();
    assert_eq!(got.len(), 64);
    assert!((got[63] + 63.0).abs() < r.signals()[1].lsb());
    assert_eq!(
        r.read_frames().unwrap_err().to_string(),
        "<memory>: read_frames needs all signals at one sample rate; use read_signal"
    );
}

#[test]
fn discontinuous_records_keep_their_onsets() {
    let mut s = spec(EdfFormat::Edf);
    s.discontinuous = true;
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", &s).unwrap();
    w.write_frames(&frames(256, 3), 3).unwrap();
    w.begin_record_at(10.5).unwrap();
    w.write_frames(&frames(512, 3), 3).unwrap();
    assert_eq!(
        w.begin_record_at(11.0).unwrap_err().to_string(),
        "<test>: record onset 11 s is not a number between the end of the previous record (12.5 s) and 1e9 s"
    );
    w.write_frames(&frames(10, 3), 3).unwrap();
    assert_eq!(
        w.begin_record_at(20.0).unwrap_err().to_string(),
        "<test>: begin_record_at called with 10 frames of a partial record pending"
    );
    let (out, _) = w.finish_into_inner().unwrap();
    let bytes = out.into_inner();
    assert_eq!(&bytes[192..197], b"EDF+D");
    let r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(r.variant(), EdfVariant::Discontinuous);
    assert_eq!(r.record_onsets(), vec![0.0, 10.5, 11.5, 12.5]);

    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "<test>", &spec(EdfFormat::Edf)).unwrap();
    assert_eq!(
        w.begin_record_at(5.0).unwrap_err().to_string(),
        "<test>: begin_record_at needs a discontinuous (EDF+D/BDF+D) file"
    );
}

#[test]
fn years_after_2084_use_yy() {
    let mut s = spec(EdfFormat::Edf);
    s.start = DateTime::new(2090, 12, 31, 23, 59, 59).unwrap();
    let (bytes, _) = write_to_vec(&s, &frames(256, 3), |_| {});
    assert_eq!(&bytes[168..176], b"31.12.yy");
    let r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(r.start(), s.start);
}

#[test]
fn record_count_is_updated_after_every_record() {
    let path = temp_path("live.edf");
    let s = spec(EdfFormat::Edf);
    let mut w = EdfWriter::create(&path, &s).unwrap();
    assert_eq!(
        EdfReader::open(&path).unwrap().header().declared_records,
        -1
    );
    w.write_frames(&frames(300, 3), 3).unwrap();
    let r = EdfReader::open(&path).unwrap();
    assert_eq!(r.header().declared_records, 1);
    assert_eq!(r.trailing_bytes(), 0);
    w.write_frames(&frames(300, 3), 3).unwrap();
    assert_eq!(EdfReader::open(&path).unwrap().num_records(), 2);
    // A killed process never runs Drop: the file still holds both records.
    std::mem::forget(w);
    let mut r = EdfReader::open(&path).unwrap();
    assert_eq!(r.num_records(), 2);
    assert_eq!(r.read_signal(0).unwrap().len(), 512);
}

#[test]
fn drop_finishes_the_file() {
    let path = temp_path("dropped.bdf");
    {
        let mut w = EdfWriter::create(&path, &spec(EdfFormat::Bdf)).unwrap();
        w.write_frames(&frames(300, 3), 3).unwrap();
    }
    let r = EdfReader::open(&path).unwrap();
    assert_eq!(r.num_records(), 2);
    assert_eq!(r.header().declared_records, 2);
}

#[test]
fn unwritable_path_names_the_file() {
    let err = EdfWriter::create("/nonexistent-dir/x.edf", &spec(EdfFormat::Edf)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/nonexistent-dir/x.edf: creating the file: No such file or directory (os error 2)"
    );
}

#[test]
fn full_disk_names_the_file() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipping: no /dev/full");
        return;
    }
    let err = EdfWriter::create("/dev/full", &spec(EdfFormat::Edf)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "/dev/full: writing the header: No space left on device (os error 28)"
    );
}

/// A sink that fails once `limit` bytes would be exceeded, like a full disk.
#[derive(Debug)]
struct Limited {
    inner: Cursor<Vec<u8>>,
    limit: u64,
}

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.limit.saturating_sub(self.inner.position()) as usize;
        if room == 0 {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        self.inner.write(&buf[..buf.len().min(room)])
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Limited {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn full_disk_mid_record_keeps_earlier_records_valid() {
    let s = spec(EdfFormat::Edf);
    // Room for the header, one record and half of the next.
    let record = 3 * 512 + 512;
    let sink = Limited {
        inner: Cursor::new(Vec::new()),
        limit: 1280 + record as u64 + 1000,
    };
    let mut w = EdfWriter::new(sink, "disk.edf", &s).unwrap();
    w.write_frames(&frames(256, 3), 3).unwrap();
    let err = w.write_frames(&frames(256, 3), 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "disk.edf: writing data record 2: disk full"
    );
    assert_eq!(
        w.write_frames(&frames(1, 3), 3).unwrap_err().to_string(),
        "disk.edf: the writer failed earlier and accepts no more data"
    );
    let err = w.finish_into_inner().unwrap_err();
    assert_eq!(
        err.to_string(),
        "disk.edf: the writer failed earlier and accepts no more data"
    );
}

#[test]
fn a_record_cut_short_by_a_crash_is_ignored_by_the_reader() {
    let path = temp_path("trunc.edf");
    let s = spec(EdfFormat::Edf);
    let mut w = EdfWriter::create(&path, &s).unwrap();
    w.write_frames(&frames(256, 3), 3).unwrap();
    // Append half a record behind the writer's back, as a crash mid-write
    // would leave it: the header still counts only complete records.
    {
        use std::fs::OpenOptions;
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0u8; 1000]).unwrap();
    }
    let r = EdfReader::open(&path).unwrap();
    assert_eq!(r.num_records(), 1);
    assert_eq!(r.trailing_bytes(), 1000);
    std::mem::forget(w);
}

#[test]
fn plain_bdf_is_read() {
    let (mut bytes, _) = write_to_vec(&spec(EdfFormat::Bdf), &frames(256, 3), |w| {
        w.annotate(0.5, None, "kept").unwrap();
    });
    bytes[192..197].copy_from_slice(b"24BIT");
    let mut r = EdfReader::from_bytes(bytes).unwrap();
    assert_eq!(r.variant(), EdfVariant::Plain);
    assert_eq!(r.format(), EdfFormat::Bdf);
    assert_eq!(r.annotations()[0].text, "kept");
    assert_eq!(r.read_signal(0).unwrap().len(), 256);
}

#[test]
fn spec_errors() {
    let check = |f: &dyn Fn(&mut EdfSpec), msg: &str| {
        let mut s = spec(EdfFormat::Edf);
        f(&mut s);
        let err = EdfWriter::new(Cursor::new(Vec::new()), "f.edf", &s).unwrap_err();
        assert_eq!(err.to_string(), format!("f.edf: invalid spec: {msg}"));
    };
    check(
        &|s| s.signals[1].sample_rate = 333.3,
        "signal 2 (\"EEG Fp2\") sample rate: 333.3 Hz × 1 s = 333.3 samples per record, which is not a positive whole number",
    );
    check(
        &|s| s.signals[0].label = "A very long label here".into(),
        "signal 1 label \"A very long label here\" is 22 characters, the field holds 16",
    );
    check(
        &|s| s.signals[0].label = "EDF Annotations".into(),
        "signal 1 label \"EDF Annotations\" is reserved for the annotation signal",
    );
    check(
        &|s| s.signals[0].physical_dimension = "µV".into(),
        "signal 1 (\"EEG Fp1\") physical dimension \"µV\" has characters other than printable ASCII",
    );
    check(
        &|s| s.signals[2].physical_min = -123456789.0,
        "signal 3 (\"EEG Cz\") physical minimum -123456789 does not fit in 8 characters",
    );
    check(
        &|s| {
            s.signals[2].physical_min = 0.000001;
            s.signals[2].physical_max = 0.0000012;
        },
        "signal 3 (\"EEG Cz\") physical range: minimum 0.000001 and maximum 0.0000012 are equal in 8 characters (0.000001)",
    );
    check(
        &|s| s.signals[0].digital_min = Some(40000),
        "signal 1 (\"EEG Fp1\") digital range: 40000..32767 is not an increasing range within -32768..32767",
    );
    check(
        &|s| s.record_duration = 1.0 / 3.0,
        "record duration 0.3333333333333333 s cannot be written exactly in 8 characters",
    );
    check(
        &|s| s.record_duration = 0.0,
        "record duration 0 s is not a positive number",
    );
    check(&|s| s.signals.clear(), "there are no signals");
    check(
        &|s| s.start = DateTime::new(1984, 1, 1, 0, 0, 0).unwrap(),
        "start year 1984 is before 1985, which EDF cannot represent",
    );
    check(
        &|s| s.patient.additional = "x".repeat(80),
        &format!(
            "patient identification \"X X X Jane_Doe {}\" is 95 characters, the field holds 80",
            "x".repeat(80)
        ),
    );
    check(
        &|s| s.annotation_bytes_per_record = 10,
        "10 annotation bytes per record cannot hold the 22-byte time-keeping annotation",
    );
}

#[test]
fn usage_errors() {
    let mut w = EdfWriter::new(Cursor::new(Vec::new()), "f.edf", &spec(EdfFormat::Edf)).unwrap();
    let msg = |e: EdfError| e.to_string();
    assert_eq!(
        msg(w.write_frames(&[0.0; 4], 4).unwrap_err()),
        "f.edf: write_frames got 4 channels, the file has 3 signals"
    );
    assert_eq!(
        msg(w.write_frames(&[0.0; 4], 3).unwrap_err()),
        "f.edf: write_frames got 4 values, not a whole number of 3-channel frames"
    );
    assert_eq!(
        msg(w.annotate(f64::NAN, None, "x").unwrap_err()),
        "f.edf: annotation onset NaN s is not a number within ±1e9 s"
    );
    assert_eq!(
        msg(w.annotate(1.0, Some(-1.0), "x").unwrap_err()),
        "f.edf: annotation duration -1 s is not a number within 0..1e9 s"
    );
    assert_eq!(
        msg(w.annotate(1.0, None, "a\x14b").unwrap_err()),
        "f.edf: annotation text \"a\\u{14}b\" contains byte 0x00, 0x14 or 0x15, which EDF+ reserves"
    );
    assert_eq!(
        msg(w.annotate(1.0, None, &"x".repeat(600)).unwrap_err()),
        "f.edf: annotation of 605 bytes does not fit in the 512 annotation bytes per record \
         (after the time-keeping annotation); raise annotation_bytes_per_record"
    );
    w.write_frames(&frames(10, 3), 3).unwrap();
    let a = [0.0; 256];
    assert_eq!(
        msg(w.write_record(&[&a, &a, &a]).unwrap_err()),
        "f.edf: write_record called with 10 frames of a partial record pending"
    );
}
