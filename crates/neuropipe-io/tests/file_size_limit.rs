//! A write that fails half-way through a data record (here: the file-size
//! limit, as a full disk would) leaves a valid file holding every complete
//! record. Alone in its test binary because the limit is process-wide.

use neuropipe_io::datetime::DateTime;
use neuropipe_io::edf::{EdfFormat, EdfReader, EdfSpec, EdfWriter, SignalSpec};

fn set_file_size_limit(bytes: libc::rlim_t) {
    // SAFETY: plain system calls with valid arguments; this binary holds one test.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut lim = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = bytes.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

#[test]
fn failed_write_is_truncated_to_the_last_complete_record() {
    let signals = (0..4)
        .map(|c| SignalSpec::new(format!("ch{c}"), 256.0, -100.0, 100.0))
        .collect();
    let spec = EdfSpec::new(
        EdfFormat::Bdf,
        DateTime::new(2024, 1, 1, 0, 0, 0).unwrap(),
        signals,
    );
    let dir = std::env::temp_dir().join(format!("neuropipe-io-fsize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("limited.bdf");
    let mut w = EdfWriter::create(&path, &spec).unwrap();
    let header = 256 * 6;
    let record = w.record_bytes() as u64;
    let frames = vec![1.0; 4 * 256];
    set_file_size_limit(header + 2 * record + record / 2);
    w.write_frames(&frames, 4).unwrap();
    w.write_frames(&frames, 4).unwrap();
    let err = w.write_frames(&frames, 4).unwrap_err();
    set_file_size_limit(libc::RLIM_INFINITY);
    assert_eq!(
        err.to_string(),
        format!(
            "{}: writing data record 3: File too large (os error 27)",
            path.display()
        )
    );
    drop(w); // a failed writer does not try to write again
    assert_eq!(std::fs::metadata(&path).unwrap().len(), header + 2 * record);
    let mut r = EdfReader::open(&path).unwrap();
    assert_eq!(r.num_records(), 2);
    assert_eq!(r.trailing_bytes(), 0);
    assert_eq!(r.read_signal(3).unwrap().len(), 512);
    std::fs::remove_dir_all(&dir).unwrap();
}
