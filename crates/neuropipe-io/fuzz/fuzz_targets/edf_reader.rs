//! Fuzz the EDF/BDF reader: any bytes must give a file or an error, never a
//! panic, and an accepted file must read completely.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuropipe_io::edf::EdfReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = EdfReader::from_bytes(data.to_vec()) {
        let _ = r.record_onsets();
        for ch in 0..r.signals().len() {
            let n = r.num_samples(ch);
            let s = r.read_signal(ch).expect("an accepted file reads");
            assert_eq!(s.len() as u64, n);
        }
        let _ = r.read_frames();
    }
});
