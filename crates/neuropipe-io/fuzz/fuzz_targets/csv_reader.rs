//! Fuzz the CSV reader: any bytes give frames or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuropipe_io::csv::CsvReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = CsvReader::new(std::io::Cursor::new(data), "<fuzz>") {
        let _ = r.read_all();
    }
});
