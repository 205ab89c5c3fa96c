//! Reader error paths: every malformed field is rejected with its offset.

use super::*;

fn valid_file() -> Vec<u8> {
    let (bytes, _) = write_to_vec(&spec(EdfFormat::Edf), &frames(512, 3), |w| {
        w.annotate(0.5, None, "a").unwrap();
    });
    bytes
}

fn set(bytes: &mut [u8], offset: usize, width: usize, text: &[u8]) {
    let f = &mut bytes[offset..offset + width];
    f.fill(b' ');
    f[..text.len()].copy_from_slice(text);
}

fn read_err(bytes: Vec<u8>) -> String {
    match EdfReader::from_bytes(bytes) {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn reader_rejects_each_malformed_header_field() {
    let cases: Vec<(usize, usize, &[u8], &str)> = vec![
        (0, 8, b"1", "<memory>: byte 0: field \"version\": \"1       \" is neither \"0\" (EDF) nor 0xFF \"BIOSEMI\" (BDF)"),
        (168, 8, b"32.01.24", "<memory>: byte 168: field \"startdate\": \"32.01.24\" is not a valid date dd.mm.yy"),
        (168, 8, b"05-03-24", "<memory>: byte 168: field \"startdate\": \"05-03-24\" is not a valid date dd.mm.yy"),
        (176, 8, b"24.00.00", "<memory>: byte 176: field \"starttime\": \"24.00.00\" is not a valid time hh.mm.ss"),
        (184, 8, b"abc", "<memory>: byte 184: field \"number of bytes in header record\": \"abc     \" is not an integer"),
        (184, 8, b"1024", "<memory>: byte 184: field \"number of bytes in header record\": 1024 bytes, but 4 signals need 256 × (4 + 1) = 1280"),
        (236, 8, b"abc", "<memory>: byte 236: field \"number of data records\": \"abc     \" is not an integer"),
        (236, 8, b"-5", "<memory>: byte 236: field \"number of data records\": -5 is negative (only -1 means unknown)"),
        (236, 8, b"3", "<memory>: byte 236: field \"number of data records\": 3 records of 2048 bytes need 6144 bytes after the header, but the file has 4096"),
        (244, 8, b"one", "<memory>: byte 244: field \"duration of a data record\": \"one     \" is not a number"),
        (244, 8, b"-1", "<memory>: byte 244: field \"duration of a data record\": -1 s is negative"),
        (244, 8, b"0", "<memory>: byte 256: field \"label\" of signal 1: an ordinary signal needs a data record duration above 0"),
        (252, 4, b"x", "<memory>: byte 252: field \"number of signals\": \"x   \" is not an integer"),
        (252, 4, b"0", "<memory>: byte 252: field \"number of signals\": 0 signals: there must be at least 1"),
        (252, 4, b"99", "<memory>: byte 252: field \"number of signals\": 99 signals need a 25600-byte header but the file has only 5376 bytes"),
        // signal fields (4 signals): physical minimum of signal 2 at 256 + 4·(16+80+8) + 8
        (256 + 4 * 104 + 8, 8, b"1,5", "<memory>: byte 680: field \"physical minimum\" of signal 2: \"1,5     \" is not a number"),
        (256 + 4 * 112 + 8, 8, b"inf", "<memory>: byte 712: field \"physical maximum\" of signal 2: \"inf     \" is not a number"),
        (256 + 4 * 112, 8, b"-3276.8", "<memory>: byte 704: field \"physical maximum\" of signal 1: -3276.8 equals the physical minimum"),
        (256 + 4 * 120, 8, b"-40000", "<memory>: byte 736: field \"digital minimum\" of signal 1: -40000 is outside the sample range -32768..32767"),
        (256 + 4 * 128 + 16, 8, b"-32768", "<memory>: byte 784: field \"digital maximum\" of signal 3: -32768 is not above the digital minimum -32768"),
        (256 + 4 * 120 + 8, 8, b"12.5", "<memory>: byte 744: field \"digital minimum\" of signal 2: \"12.5    \" is not an integer"),
    ];
    for (offset, width, text, msg) in cases {
        let mut b = valid_file();
        set(&mut b, offset, width, text);
        assert_eq!(read_err(b), msg, "patching byte {offset}");
    }
}

#[test]
fn reader_rejects_bad_sample_counts_and_truncation() {
    // samples per record of signal 1 at 256 + 4·(16+80+8·5+80) = 1120
    let mut b = valid_file();
    set(&mut b, 1120, 8, b"0");
    assert_eq!(
        read_err(b),
        "<memory>: byte 1120: field \"number of samples in each data record\" of signal 1: 0 is not positive"
    );
    let mut b = valid_file();
    set(&mut b, 1120, 8, b"99999999");
    assert_eq!(
        read_err(b),
        "<memory>: byte 236: field \"number of data records\": 2 records of 200001534 bytes need 400003068 \
         bytes after the header, but the file has 4096"
    );
    let b = valid_file();
    assert_eq!(
        read_err(b[..100].to_vec()),
        "<memory>: byte 100: the file ends inside the 256-byte header (it has 100 bytes)"
    );
    assert_eq!(read_err(b[..1000].to_vec()), "<memory>: byte 252: field \"number of signals\": 4 signals need a 1280-byte header but the file has only 1000 bytes");
    let short = b[..b.len() - 1].to_vec();
    assert_eq!(
        read_err(short),
        "<memory>: byte 236: field \"number of data records\": 2 records of 2048 bytes need 4096 bytes after the header, but the file has 4095"
    );
    // -1 records: as many as the file holds, the rest ignored.
    let mut b = valid_file();
    set(&mut b, 236, 8, b"-1");
    b.truncate(b.len() - 10);
    let r = EdfReader::from_bytes(b).unwrap();
    assert_eq!(r.num_records(), 1);
    assert_eq!(r.trailing_bytes(), 2038);
}

#[test]
fn reader_rejects_malformed_annotations() {
    let ann = 1280 + 3 * 512; // annotation signal of record 1
    let rec = 2048;
    let mut b = valid_file();
    b[ann] = b'x';
    assert_eq!(
        read_err(b),
        "<memory>: byte 2816: data record 1, annotation signal 4: TAL onset \"x0\" is not a signed decimal number"
    );
    let mut b = valid_file();
    b[ann + rec..ann + rec + 512].fill(b'+');
    assert_eq!(
        read_err(b),
        format!(
            "<memory>: byte 4864: data record 2, annotation signal 4: TAL {:?} is not terminated",
            "+".repeat(40)
        )
    );
    // EDF+D needs the time-keeping TAL.
    let mut b = valid_file();
    b[192..197].copy_from_slice(b"EDF+D");
    b[ann + rec..ann + rec + 512].fill(0);
    assert_eq!(
        read_err(b),
        "<memory>: byte 4864: data record 2 has no time-keeping annotation, which EDF+D needs"
    );
    // Plain EDF+C without it: onsets from the record number.
    let mut b = valid_file();
    b[ann + rec..ann + rec + 512].fill(0);
    assert_eq!(
        EdfReader::from_bytes(b).unwrap().record_onsets(),
        vec![0.0, 1.0]
    );
}

#[test]
fn reader_io_errors_name_the_file() {
    assert_eq!(
        EdfReader::open("/nonexistent-dir/y.edf")
            .unwrap_err()
            .to_string(),
        "/nonexistent-dir/y.edf: opening the file: No such file or directory (os error 2)"
    );
    let mut r = EdfReader::from_bytes(valid_file()).unwrap();
    assert_eq!(
        r.read_signal(3).unwrap_err().to_string(),
        "<memory>: channel 3 does not exist; the file has 3 ordinary signals"
    );
    assert_eq!(
        r.read_record(2).unwrap_err().to_string(),
        "<memory>: data record 2 does not exist; the file has 2"
    );
}

#[test]
fn plain_edf_without_annotations() {
    // Build a plain EDF by hand: 1 signal, 2 samples/record, 2 records.
    let mut h = vec![b' '; 512];
    set(&mut h, 0, 8, b"0");
    set(&mut h, 8, 80, b"free text");
    set(&mut h, 168, 8, b"01.02.99");
    set(&mut h, 176, 8, b"10.20.30");
    set(&mut h, 184, 8, b"512");
    set(&mut h, 236, 8, b"2");
    set(&mut h, 244, 8, b"0.5");
    set(&mut h, 252, 4, b"1");
    set(&mut h, 256, 16, b"ECG");
    set(&mut h, 256 + 104, 8, b"-1");
    set(&mut h, 256 + 112, 8, b"1");
    set(&mut h, 256 + 120, 8, b"-100");
    set(&mut h, 256 + 128, 8, b"100");
    set(&mut h, 256 + 216, 8, b"2");
    for d in [-100i16, 100, 0, 50] {
        h.extend_from_slice(&d.to_le_bytes());
    }
    let mut r = EdfReader::from_bytes(h).unwrap();
    assert_eq!(r.variant(), EdfVariant::Plain);
    assert_eq!(r.start(), DateTime::new(1999, 2, 1, 10, 20, 30).unwrap());
    assert_eq!(r.sample_rate(0), 4.0);
    assert_eq!(r.read_signal(0).unwrap(), vec![-1.0, 1.0, 0.0, 0.5]);
    assert_eq!(r.record_onsets(), vec![0.0, 0.5]);
    assert!(r.annotations().is_empty());
    assert_eq!(r.header().patient, "free text");
    assert_eq!(PatientId::parse(&r.header().patient), None);
    let _ = Date::new(1999, 2, 1);
}

#[test]
fn huge_declared_sizes_do_not_overflow() {
    // 1000 signals of 99 999 999 samples, 99 999 999 records: ~6e20 bytes.
    let ns = 1000;
    let mut h = vec![b' '; 256 * (ns + 1)];
    set(&mut h, 0, 8, b"0");
    set(&mut h, 168, 8, b"01.02.03");
    set(&mut h, 176, 8, b"04.05.06");
    set(&mut h, 184, 8, (256 * (ns + 1)).to_string().as_bytes());
    set(&mut h, 236, 8, b"99999999");
    set(&mut h, 244, 8, b"1");
    set(&mut h, 252, 4, ns.to_string().as_bytes());
    for i in 0..ns {
        set(&mut h, 256 + ns * 104 + 8 * i, 8, b"-1");
        set(&mut h, 256 + ns * 112 + 8 * i, 8, b"1");
        set(&mut h, 256 + ns * 120 + 8 * i, 8, b"-1");
        set(&mut h, 256 + ns * 128 + 8 * i, 8, b"1");
        set(&mut h, 256 + ns * 216 + 8 * i, 8, b"99999999");
    }
    assert_eq!(
        read_err(h),
        "<memory>: byte 236: field \"number of data records\": 99999999 records of 199999998000 bytes \
         need 19999999600000002000 bytes after the header, but the file has 0"
    );
}
