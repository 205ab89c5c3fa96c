//! Tests of the Cyton parser, scaling and simulator.

use super::*;

fn samples(events: &[CytonEvent]) -> Vec<CytonSample> {
    events
        .iter()
        .filter_map(|e| match e {
            CytonEvent::Sample(s) => Some(*s),
            _ => None,
        })
        .collect()
}

#[test]
fn scale_factors() {
    assert!((uv_per_count(Gain::X24) - 0.022_351_744_455_307_063).abs() < 1e-15);
    assert!((uv_per_count(Gain::X1) - 0.536_441_866_927_369_5).abs() < 1e-13);
    assert_eq!(Gain::from_factor(12), Some(Gain::X12));
    assert_eq!(Gain::from_factor(3), None);
    assert_eq!(Gain::ALL.map(Gain::factor), [1, 2, 4, 6, 8, 12, 24]);
}

#[test]
fn i24_codec() {
    for v in [0, 1, -1, 8_388_607, -8_388_608, 123_456, -654_321] {
        assert_eq!(decode_i24_be(encode_i24_be(v)), v);
    }
    assert_eq!(decode_i24_be([0xFF, 0xFF, 0xFE]), -2);
    assert_eq!(decode_i24_be([0x80, 0, 0]), -8_388_608);
}

#[test]
fn decodes_a_known_packet() {
    let mut p = [0u8; PACKET_LEN];
    p[0] = HEADER;
    p[1] = 7;
    p[2..5].copy_from_slice(&[0x00, 0x00, 0x64]); // ch1 = 100
    p[5..8].copy_from_slice(&[0xFF, 0xFF, 0x9C]); // ch2 = -100
    p[26..28].copy_from_slice(&[0x1F, 0x40]); // accel X = 8000
    p[32] = 0xC0;
    let mut parser = CytonParser::new(Gain::X24);
    let mut events = parser.parse(&p);
    parser.flush(&mut |e| events.push(e));
    let s = samples(&events)[0];
    assert_eq!(s.counter, 7);
    assert_eq!(s.raw[..3], [100, -100, 0]);
    assert!((s.uv[0] - 2.235_174_445_530_706_3).abs() < 1e-12);
    assert_eq!(s.accel_raw(), Some([8000, 0, 0]));
    assert_eq!(parser.stats().packets, 1);
}

#[test]
fn clean_stream_matches_the_simulator() {
    let mut sim = CytonSimulator::new(SimulatorConfig::default());
    let mut bytes = Vec::new();
    sim.generate(600, &mut bytes);
    assert_eq!(bytes.len(), 600 * PACKET_LEN);
    let mut parser = CytonParser::default();
    let mut events = Vec::new();
    // Feed in awkward chunk sizes.
    for chunk in bytes.chunks(7) {
        parser.push(chunk, &mut |e| events.push(e));
    }
    parser.flush(&mut |e| events.push(e));
    assert_eq!(events.len(), 600, "only samples: {:?}", &events[..3]);
    for (n, s) in samples(&events).iter().enumerate() {
        assert_eq!(s.counter, n as u8);
        assert_eq!(s.raw, sim.expected_counts(n as u64));
        assert_eq!(s.uv, sim.expected_uv(n as u64));
    }
    assert_eq!(
        parser.stats(),
        CytonStats {
            packets: 600,
            ..Default::default()
        }
    );
}

#[test]
fn garbage_and_drops_are_reported() {
    let config = SimulatorConfig {
        garbage_every: 50,
        garbage_len: 11,
        drop_every: 70,
        ..Default::default()
    };
    let mut sim = CytonSimulator::new(config);
    let mut bytes = b"OpenBCI banner text\n".to_vec();
    sim.generate(700, &mut bytes);
    let mut parser = CytonParser::default();
    let mut events = parser.parse(&bytes);
    parser.flush(&mut |e| events.push(e));
    let got = samples(&events);
    assert_eq!(got.len(), 700 - 10);
    assert_eq!(sim.packets_dropped(), 10);
    let expected: Vec<u64> = (0..700u64).filter(|n| (n + 1) % 70 != 0).collect();
    for (s, &n) in got.iter().zip(&expected) {
        assert_eq!(s.counter, n as u8);
        assert_eq!(s.raw, sim.expected_counts(n));
    }
    // The last packet (n = 699) is dropped with nothing after it: no gap shows.
    let gaps: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, CytonEvent::Gap { .. }))
        .collect();
    assert_eq!(gaps.len(), 9);
    assert!(gaps.iter().all(|g| **g == CytonEvent::Gap { missing: 1 }));
    let garbage: usize = events
        .iter()
        .map(|e| match e {
            CytonEvent::Garbage { bytes } => *bytes,
            _ => 0,
        })
        .sum();
    assert_eq!(garbage, 20 + 14 * 11);
    let stats = parser.stats();
    assert_eq!(stats.skipped_bytes, garbage as u64);
    assert_eq!(stats.lost_packets, 9);
    assert_eq!(stats.gaps, 9);
    // Garbage is reported right before the packet that follows it.
    assert_eq!(events[0], CytonEvent::Garbage { bytes: 20 });
}

#[test]
fn garbage_after_every_packet_still_locks_on() {
    let config = SimulatorConfig {
        garbage_every: 1,
        garbage_len: 3,
        ..Default::default()
    };
    let mut sim = CytonSimulator::new(config);
    let mut bytes = Vec::new();
    sim.generate(100, &mut bytes);
    let mut parser = CytonParser::default();
    let mut events = parser.parse(&bytes);
    parser.flush(&mut |e| events.push(e));
    let got = samples(&events);
    // The very first packet cannot be confirmed (garbage follows it, and no
    // counter precedes it); every later one is.
    assert_eq!(got.len(), 99);
    assert_eq!(got[0].counter, 1);
}

#[test]
fn counter_wraps_without_gap() {
    let mut sim = CytonSimulator::new(SimulatorConfig::default());
    let mut bytes = Vec::new();
    sim.generate(520, &mut bytes);
    let mut parser = CytonParser::default();
    let events = parser.parse(&bytes);
    assert!(events.iter().all(|e| matches!(e, CytonEvent::Sample(_))));
    assert_eq!(parser.stats().lost_packets, 0);
}

#[test]
fn corrupted_footer_resyncs() {
    let sim = CytonSimulator::new(SimulatorConfig::default());
    let mut bytes = Vec::new();
    for n in 0..10 {
        bytes.extend_from_slice(&sim.packet(n));
    }
    bytes[5 * PACKET_LEN + 32] = 0x00; // packet 5 loses its footer
    let mut parser = CytonParser::default();
    let mut events = parser.parse(&bytes);
    parser.flush(&mut |e| events.push(e));
    let counters: Vec<u8> = samples(&events).iter().map(|s| s.counter).collect();
    assert_eq!(counters, vec![0, 1, 2, 3, 4, 6, 7, 8, 9]);
    assert!(events.contains(&CytonEvent::Gap { missing: 1 }));
    assert!(events.contains(&CytonEvent::Garbage { bytes: 33 }));
}

#[test]
fn per_channel_gain() {
    let mut gains = [Gain::X24; CHANNELS];
    gains[3] = Gain::X1;
    let sim = CytonSimulator::new(SimulatorConfig::default());
    let mut parser = CytonParser::with_gains(gains);
    let mut events = parser.parse(&sim.packet(1));
    parser.flush(&mut |e| events.push(e));
    let s = samples(&events)[0];
    assert_eq!(s.uv[3], f64::from(s.raw[3]) * uv_per_count(Gain::X1));
    parser.set_gain(3, Gain::X24);
    parser.reset();
    let mut events = parser.parse(&sim.packet(2));
    parser.flush(&mut |e| events.push(e));
    assert_eq!(
        samples(&events)[0].uv[3],
        f64::from(samples(&events)[0].raw[3]) * uv_per_count(Gain::X24)
    );
}

#[test]
fn simulator_commands() {
    let mut sim = CytonSimulator::new(SimulatorConfig::default());
    let mut out = Vec::new();
    assert!(!sim.is_streaming());
    sim.handle_command(CMD_START, &mut out);
    assert!(sim.is_streaming());
    sim.generate(3, &mut out);
    sim.handle_command(CMD_STOP, &mut out);
    assert!(!sim.is_streaming());
    out.clear();
    sim.handle_command(CMD_RESET, &mut out);
    assert!(out.ends_with(RESET_DONE));
    assert_eq!(out, RESET_BANNER);
    assert_eq!(sim.samples_generated(), 0);
    sim.handle_command(b'x', &mut out);
    assert_eq!(out, RESET_BANNER);
    assert_eq!(CMD_START, b'b');
    assert_eq!(CMD_STOP, b's');
    assert_eq!(CMD_RESET, b'v');
}

#[test]
fn binary_garbage_rarely_fools_the_parser() {
    let config = SimulatorConfig {
        garbage_every: 3,
        garbage_len: 40,
        garbage_binary: true,
        seed: 42,
        ..Default::default()
    };
    let mut sim = CytonSimulator::new(config);
    let mut bytes = Vec::new();
    sim.generate(3000, &mut bytes);
    let mut parser = CytonParser::default();
    let mut events = parser.parse(&bytes);
    parser.flush(&mut |e| events.push(e));
    let got = samples(&events);
    let bogus = got.iter().filter(|s| {
        s.raw != sim.expected_counts(u64::from(s.counter)) && {
            // counters wrap: compare against every sample with that counter
            (0..3000u64)
                .filter(|n| *n as u8 == s.counter)
                .all(|n| s.raw != sim.expected_counts(n))
        }
    });
    // ~156 stray 0xA0 bytes, each accepted with probability ~1/2048.
    assert!(bogus.count() <= 2);
    assert!(got.len() >= 2990, "kept {} of 3000", got.len());
}
