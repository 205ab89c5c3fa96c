//! [`CytonParser`]: turns a serial byte stream into samples, gaps and garbage counts.

use super::{
    decode_i24_be, is_footer, uv_per_count, CytonEvent, CytonSample, Gain, CHANNELS, HEADER,
    PACKET_LEN,
};

/// Running totals of a [`CytonParser`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CytonStats {
    /// Valid packets decoded.
    pub packets: u64,
    /// Bytes skipped while looking for packets.
    pub skipped_bytes: u64,
    /// Packets missing according to the sample counter.
    pub lost_packets: u64,
    /// Number of [`CytonEvent::Gap`] events.
    pub gaps: u64,
}

/// Streaming parser for Cyton packets.
///
/// Synchronisation: while in step with the stream ("locked"), a packet is
/// accepted as soon as its 33 bytes have arrived with header `0xA0` and a
/// footer `0xC0`–`0xCF`. After any skipped byte (and at the start) the parser
/// is "hunting" and accepts a candidate only if it is also confirmed: either
/// its counter follows the last packet seen, or the byte after it is a
/// header. Garbage that happens to contain `0xA0` therefore rarely yields a
/// bogus sample (a 1-in-4096 chance per stray `0xA0`, instead of 1 in 16).
/// The price is that the first packet after a resynchronisation may wait for
/// the first byte of the next one; [`flush`](Self::flush) releases it.
///
/// Nothing is allocated: the parser keeps at most 34 bytes.
#[derive(Debug, Clone)]
pub struct CytonParser {
    buf: [u8; PACKET_LEN + 1],
    len: usize,
    locked: bool,
    /// Counter of the last accepted packet (for gap detection).
    last_counter: Option<u8>,
    /// Counter of the last packet-shaped candidate (for confirmation).
    last_seen: Option<u8>,
    scale: [f64; CHANNELS],
    garbage: usize,
    stats: CytonStats,
}

impl Default for CytonParser {
    fn default() -> Self {
        CytonParser::new(Gain::default())
    }
}

impl CytonParser {
    /// A parser with the same gain on all channels.
    pub fn new(gain: Gain) -> Self {
        CytonParser::with_gains([gain; CHANNELS])
    }

    /// A parser with one gain per channel.
    pub fn with_gains(gains: [Gain; CHANNELS]) -> Self {
        CytonParser {
            buf: [0; PACKET_LEN + 1],
            len: 0,
            locked: false,
            last_counter: None,
            last_seen: None,
            scale: gains.map(uv_per_count),
            garbage: 0,
            stats: CytonStats::default(),
        }
    }

    /// Changes the gain of channel `ch` (0–7) for the following packets.
    ///
    /// # Panics
    /// If `ch` is 8 or more.
    pub fn set_gain(&mut self, ch: usize, gain: Gain) {
        self.scale[ch] = uv_per_count(gain);
    }

    /// Running totals.
    pub fn stats(&self) -> CytonStats {
        self.stats
    }

    /// Forgets buffered bytes and the counter history (after a reset or a
    /// stop/start, where the counter restarts). Totals are kept.
    pub fn reset(&mut self) {
        self.len = 0;
        self.locked = false;
        self.last_counter = None;
        self.last_seen = None;
        self.garbage = 0;
    }

    /// Feeds bytes; calls `out` for every event, in stream order.
    pub fn push(&mut self, bytes: &[u8], out: &mut impl FnMut(CytonEvent)) {
        for &b in bytes {
            self.buf[self.len] = b;
            self.len += 1;
            self.process(out);
        }
    }

    /// Feeds bytes and collects the events (convenience for tests and tools).
    pub fn parse(&mut self, bytes: &[u8]) -> Vec<CytonEvent> {
        let mut events = Vec::new();
        self.push(bytes, &mut |e| events.push(e));
        events
    }

    /// End of input (or a pause): accepts a buffered packet still waiting for
    /// confirmation if it is well-formed, and reports leftover bytes as garbage.
    pub fn flush(&mut self, out: &mut impl FnMut(CytonEvent)) {
        if self.len >= PACKET_LEN && self.buf[0] == HEADER && is_footer(self.buf[PACKET_LEN - 1]) {
            self.emit(out);
            self.consume(PACKET_LEN);
        }
        if self.len > 0 {
            self.skip(self.len);
        }
        if self.garbage > 0 {
            out(CytonEvent::Garbage {
                bytes: self.garbage,
            });
            self.garbage = 0;
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    fn skip(&mut self, n: usize) {
        self.garbage += n;
        self.stats.skipped_bytes += n as u64;
        self.locked = false;
        self.consume(n);
    }

    fn process(&mut self, out: &mut impl FnMut(CytonEvent)) {
        while self.len > 0 {
            if self.buf[0] != HEADER {
                self.skip(1);
                continue;
            }
            if self.len < PACKET_LEN {
                return;
            }
            let shaped = is_footer(self.buf[PACKET_LEN - 1]);
            let counter = self.buf[1];
            let follows = self.last_seen.map(|c| c.wrapping_add(1)) == Some(counter);
            if shaped && (self.locked || follows) {
                self.emit(out);
                self.consume(PACKET_LEN);
                self.locked = true;
                continue;
            }
            if shaped && self.len < PACKET_LEN + 1 {
                return; // wait for the byte that may confirm it
            }
            if shaped && self.buf[PACKET_LEN] == HEADER {
                self.emit(out);
                self.consume(PACKET_LEN);
                self.locked = true;
                continue;
            }
            if shaped {
                self.last_seen = Some(counter);
            }
            self.skip(1);
        }
    }

    fn emit(&mut self, out: &mut impl FnMut(CytonEvent)) {
        let p = &self.buf[..PACKET_LEN];
        let counter = p[1];
        let mut raw = [0i32; CHANNELS];
        let mut uv = [0f64; CHANNELS];
        for ch in 0..CHANNELS {
            let o = 2 + 3 * ch;
            raw[ch] = decode_i24_be([p[o], p[o + 1], p[o + 2]]);
            uv[ch] = f64::from(raw[ch]) * self.scale[ch];
        }
        let mut aux = [0u8; 6];
        aux.copy_from_slice(&p[26..32]);
        let sample = CytonSample {
            counter,
            raw,
            uv,
            aux,
            footer: p[PACKET_LEN - 1],
        };
        if self.garbage > 0 {
            out(CytonEvent::Garbage {
                bytes: self.garbage,
            });
            self.garbage = 0;
        }
        if let Some(last) = self.last_counter {
            let missing = u32::from(counter.wrapping_sub(last).wrapping_sub(1));
            if missing > 0 {
                self.stats.gaps += 1;
                self.stats.lost_packets += u64::from(missing);
                out(CytonEvent::Gap { missing });
            }
        }
        self.last_counter = Some(counter);
        self.last_seen = Some(counter);
        self.stats.packets += 1;
        out(CytonEvent::Sample(sample));
    }
}
