//! Property tests: the EDF reader and the Cyton parser never panic, whatever
//! bytes they get, and the parser accounts for every byte.

mod common;

use neuropipe_io::cyton::{CytonEvent, CytonParser, CytonSimulator, SimulatorConfig, PACKET_LEN};
use neuropipe_io::edf::EdfFormat;
use proptest::prelude::*;

fn header_field_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[-+0-9. ]{0,8}".prop_map(String::into_bytes),
        Just(b"99999999".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"9999".to_vec()),
        Just(b"0".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn edf_reader_survives_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        common::exercise_reader(bytes);
    }

    #[test]
    fn edf_reader_survives_mutated_files(
        bdf in any::<bool>(),
        plus_d in any::<bool>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        fields in proptest::collection::vec((any::<prop::sample::Index>(), header_field_text()), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let format = if bdf { EdfFormat::Bdf } else { EdfFormat::Edf };
        let mut bytes = common::valid_file(format, plus_d);
        let header_len = 256 * 4;
        for (at, text) in fields {
            // Overwrite the start of some header field-sized window with numeric-looking text.
            let pos = at.index(header_len - 8);
            bytes[pos..pos + text.len()].copy_from_slice(&text);
        }
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        common::exercise_reader(bytes);
    }

    #[test]
    fn cyton_parser_survives_arbitrary_bytes(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..20)
    ) {
        let mut parser = CytonParser::default();
        let mut total = 0u64;
        let mut garbage = 0u64;
        let mut samples = 0u64;
        let mut count = |e: CytonEvent| match e {
            CytonEvent::Sample(_) => samples += 1,
            CytonEvent::Garbage { bytes } => garbage += bytes as u64,
            CytonEvent::Gap { missing } => assert!(missing > 0 && missing < 256),
        };
        for c in &chunks {
            total += c.len() as u64;
            parser.push(c, &mut count);
        }
        parser.flush(&mut count);
        let stats = parser.stats();
        prop_assert_eq!(stats.packets, samples);
        prop_assert_eq!(stats.skipped_bytes, garbage);
        prop_assert_eq!(samples * PACKET_LEN as u64 + garbage, total);
    }

    #[test]
    fn cyton_parser_recovers_after_ascii_garbage_and_drops(
        garbage_every in 1u64..20,
        garbage_len in 1usize..60,
        drop_every in prop_oneof![Just(0u64), 2u64..30],
        split in 1usize..80,
    ) {
        let config = SimulatorConfig { garbage_every, garbage_len, drop_every, ..Default::default() };
        let mut sim = CytonSimulator::new(config);
        let mut bytes = Vec::new();
        sim.generate(300, &mut bytes);
        let mut parser = CytonParser::default();
        let mut got = Vec::new();
        for c in bytes.chunks(split) {
            parser.push(c, &mut |e| if let CytonEvent::Sample(s) = e { got.push(s) });
        }
        parser.flush(&mut |e| if let CytonEvent::Sample(s) = e { got.push(s) });
        let expected: Vec<u64> =
            (0..300u64).filter(|n| drop_every == 0 || (n + 1) % drop_every != 0).collect();
        // Every sample decoded is a real one, in order. A packet can be lost
        // only when it cannot be confirmed: garbage follows it and its
        // counter does not follow the previous packet's (the first packet,
        // or one right after a dropped packet).
        let mut rest = expected.iter();
        for s in &got {
            let n = rest.by_ref().find(|&&n| n as u8 == s.counter);
            prop_assert!(n.is_some(), "sample with counter {} out of order", s.counter);
            prop_assert_eq!(s.raw, sim.expected_counts(*n.unwrap()));
        }
        let lost = expected.len() - got.len();
        prop_assert!(lost as u64 <= 1 + sim.packets_dropped(), "lost {} packets", lost);
        if drop_every == 0 {
            prop_assert!(lost <= 1, "lost {} packets", lost);
        }
    }
}
