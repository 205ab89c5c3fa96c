//! Tests of the CSV writer and reader.

use std::io::Cursor;

use super::*;

fn write(labels: &[&str], rate: f64, data: &[f64]) -> String {
    let mut w = CsvWriter::new(Vec::new(), "out.csv", labels, rate).unwrap();
    w.write_frames(data).unwrap();
    String::from_utf8(w.finish().unwrap()).unwrap()
}

fn reader(text: &str) -> Result<CsvReader<Cursor<Vec<u8>>>, CsvError> {
    CsvReader::new(Cursor::new(text.as_bytes().to_vec()), "in.csv")
}

fn read_err(text: &str) -> String {
    match reader(text).and_then(|r| r.read_all()) {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn writes_header_and_rows() {
    let text = write(
        &["Fp1", "a,b", "say \"hi\"", " pad"],
        250.0,
        &[1.0, -0.5, 1e-7, 3.0, 0.1, 2.0, f64::NAN, -0.0],
    );
    assert_eq!(
        text,
        "timestamp_s,Fp1,\"a,b\",\"say \"\"hi\"\"\",\" pad\"\n0,1,-0.5,0.0000001,3\n0.004,0.1,2,NaN,-0\n"
    );
}

#[test]
fn round_trip_is_exact() {
    let data: Vec<f64> = (0..300)
        .map(|i| (f64::from(i) * 0.37).sin() * 123.456_789)
        .collect();
    let text = write(&["C3", "C4", "line\nbreak"], 256.0, &data);
    let d = reader(&text).unwrap().read_all().unwrap();
    assert_eq!(d.labels, vec!["C3", "C4", "line\nbreak"]);
    assert_eq!(d.frames, data);
    let t = d.timestamps.unwrap();
    assert_eq!(t.len(), 100);
    assert_eq!(t[1], 1.0 / 256.0);
}

#[test]
fn explicit_timestamps_and_no_timestamp_column() {
    let mut w = CsvWriter::new(Vec::new(), "o.csv", &["x"], 1.0).unwrap();
    w.write_frame_at(10.25, &[1.0]).unwrap();
    assert_eq!(
        w.write_frame_at(11.0, &[1.0, 2.0]).unwrap_err().to_string(),
        "o.csv: frame has 2 values, expected 1"
    );
    assert_eq!(
        String::from_utf8(w.finish().unwrap()).unwrap(),
        "timestamp_s,x\n10.25,1\n"
    );

    let mut r = reader("Fp1,Fp2\r\n1,2\r\n\r\n3,4\r\n").unwrap();
    assert!(!r.has_timestamps());
    assert_eq!(r.channels(), 2);
    let mut v = [0.0; 2];
    assert_eq!(
        r.read_frame(&mut v).unwrap(),
        Some(CsvFrame {
            timestamp: None,
            line: 2
        })
    );
    assert_eq!(v, [1.0, 2.0]);
    assert_eq!(r.read_frame(&mut v).unwrap().unwrap().line, 4);
    assert_eq!(v, [3.0, 4.0]);
    assert_eq!(r.read_frame(&mut v).unwrap(), None);
    let d = reader("Time, a\n0.5, 1\n").unwrap().read_all().unwrap();
    assert_eq!(d.timestamps, Some(vec![0.5]));
    assert_eq!(d.labels, vec!["a"]);
}

#[test]
fn reader_errors_have_line_and_column() {
    assert_eq!(
        read_err(""),
        "in.csv:1:1: the file is empty; expected a header row"
    );
    assert_eq!(
        read_err("timestamp_s\n"),
        "in.csv:1:1: the header row has no channel columns"
    );
    assert_eq!(
        read_err("timestamp_s,a,b\n0,1,2\n0.1,1,x2\n"),
        "in.csv:3:7: channel \"b\": \"x2\" is not a number"
    );
    assert_eq!(
        read_err("a,b\n1,2,3\n"),
        "in.csv:2:6: expected 2 fields, found 3"
    );
    assert_eq!(
        read_err("time,a,b\n0,1\n"),
        "in.csv:2:4: expected 3 fields, found 2"
    );
    assert_eq!(
        read_err("time,a\n0,\n"),
        "in.csv:2:3: channel \"a\": empty field"
    );
    assert_eq!(
        read_err("time,a\n1,1\n0.5,1\n"),
        "in.csv:3:1: timestamp 0.5 is earlier than the previous one, 1"
    );
    assert_eq!(
        read_err("time,a\nnan,1\n"),
        "in.csv:2:1: timestamp \"nan\" is not finite"
    );
    assert_eq!(
        read_err("\"a,b\n1\n"),
        "in.csv:1:1: quoted field is not closed"
    );
    let bad_utf8 = CsvReader::new(Cursor::new(b"a\n\xff\n".to_vec()), "in.csv")
        .unwrap()
        .read_all();
    assert_eq!(
        bad_utf8.unwrap_err().to_string(),
        "in.csv:2:1: the line is not valid UTF-8"
    );
}

#[test]
fn writer_errors() {
    assert_eq!(
        CsvWriter::new(Vec::new(), "o.csv", &[], 250.0)
            .unwrap_err()
            .to_string(),
        "o.csv: no channel labels"
    );
    assert_eq!(
        CsvWriter::new(Vec::new(), "o.csv", &["a"], 0.0)
            .unwrap_err()
            .to_string(),
        "o.csv: sample rate 0 Hz is not a positive number"
    );
    let mut w = CsvWriter::new(Vec::new(), "o.csv", &["a", "b"], 1.0).unwrap();
    assert_eq!(
        w.write_frames(&[1.0]).unwrap_err().to_string(),
        "o.csv: 1 values are not a whole number of 2-channel frames"
    );
    assert_eq!(
        CsvWriter::create("/nonexistent-dir/o.csv", &["a"], 1.0)
            .unwrap_err()
            .to_string(),
        "/nonexistent-dir/o.csv: creating the file: No such file or directory (os error 2)"
    );
    assert_eq!(
        CsvReader::open("/nonexistent-dir/o.csv")
            .unwrap_err()
            .to_string(),
        "/nonexistent-dir/o.csv: opening the file: No such file or directory (os error 2)"
    );
    let mut r = reader("a\n1\n").unwrap();
    assert_eq!(
        r.read_frame(&mut [0.0; 2]).unwrap_err().to_string(),
        "in.csv: read_frame got room for 2 values, the file has 1 channels"
    );
}

#[test]
fn file_round_trip() {
    let path = crate::test_util::temp_path("frames.csv");
    let mut w = CsvWriter::create(&path, &["x", "y"], 100.0).unwrap();
    w.write_frames(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    w.finish().unwrap();
    let d = CsvReader::open(&path).unwrap().read_all().unwrap();
    assert_eq!(d.frames, vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(d.timestamps, Some(vec![0.0, 0.01]));
}
