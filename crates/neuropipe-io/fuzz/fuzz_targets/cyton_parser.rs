//! Fuzz the Cyton parser: any byte stream, split anywhere, must be accounted
//! for exactly (33 bytes per packet plus the skipped bytes), never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuropipe_io::cyton::{CytonEvent, CytonParser, PACKET_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else {
        return;
    };
    let mut parser = CytonParser::default();
    let (mut samples, mut garbage) = (0u64, 0u64);
    let mut count = |e: CytonEvent| match e {
        CytonEvent::Sample(_) => samples += 1,
        CytonEvent::Garbage { bytes } => garbage += bytes as u64,
        CytonEvent::Gap { missing } => assert!((1..256).contains(&missing)),
    };
    for chunk in bytes.chunks(usize::from(split).max(1)) {
        parser.push(chunk, &mut count);
    }
    parser.flush(&mut count);
    assert_eq!(samples * PACKET_LEN as u64 + garbage, bytes.len() as u64);
});
