//! [`CytonSimulator`]: a pure, deterministic Cyton board for tests.

use super::{
    encode_i24_be, uv_per_count, Gain, CHANNELS, CMD_RESET, CMD_START, CMD_STOP, FOOTER_ACCEL,
    HEADER, PACKET_LEN, SAMPLE_RATE,
};

/// Options of the simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// Gain used to turn the µV test signal into counts.
    pub gain: Gain,
    /// Peak amplitude of the test signal in µV.
    pub amplitude_uv: f64,
    /// Insert garbage after every `garbage_every`-th sample (0: never).
    pub garbage_every: u64,
    /// Bytes of garbage each time.
    pub garbage_len: usize,
    /// Garbage may hold any byte value (including `0xA0`) instead of
    /// printable ASCII (like the board's text messages).
    pub garbage_binary: bool,
    /// Leave out every `drop_every`-th packet (0: never); its counter value is skipped.
    pub drop_every: u64,
    /// Seed of the garbage generator.
    pub seed: u64,
}

impl Default for SimulatorConfig {
    /// Gain 24, 100 µV, no garbage, no drops.
    fn default() -> Self {
        SimulatorConfig {
            gain: Gain::X24,
            amplitude_uv: 100.0,
            garbage_every: 0,
            garbage_len: 7,
            garbage_binary: false,
            drop_every: 0,
            seed: 1,
        }
    }
}

/// The text a Cyton answers to `v` (soft reset).
pub const RESET_BANNER: &[u8] =
    b"OpenBCI V3 8-16 channel\nOn Board ADS1299 Device ID: 0x3E\nLIS3DH Device ID: 0x33\nFirmware: v3.1.2\n$$$";

/// Frequencies (Hz) of the test sine on each channel.
const FREQS: [f64; CHANNELS] = [1.0, 2.0, 5.0, 10.0, 12.5, 20.0, 31.25, 50.0];

/// Generates the byte stream of a Cyton board from a deterministic signal.
///
/// Sample `n` of channel `ch` is
/// `amplitude · (ch + 1)/8 · sin(2π · FREQS[ch] · n/250 + ch/2)` µV, rounded
/// to counts; [`expected_counts`](Self::expected_counts) and
/// [`expected_uv`](Self::expected_uv) give what a parser must decode.
/// The packet counter is `n mod 256`. Every 10th packet carries an
/// accelerometer reading (0, 0, +1 g), the others zero aux bytes.
#[derive(Debug, Clone)]
pub struct CytonSimulator {
    config: SimulatorConfig,
    next: u64,
    streaming: bool,
    rng: u64,
    dropped: u64,
}

impl CytonSimulator {
    /// A simulator that is not streaming yet (send it [`CMD_START`]).
    pub fn new(config: SimulatorConfig) -> Self {
        let rng = config.seed | 1;
        CytonSimulator {
            config,
            next: 0,
            streaming: false,
            rng,
            dropped: 0,
        }
    }

    /// Whether the last start/stop command was a start.
    pub fn is_streaming(&self) -> bool {
        self.streaming
    }

    /// Samples generated so far (dropped ones included).
    pub fn samples_generated(&self) -> u64 {
        self.next
    }

    /// Packets left out so far.
    pub fn packets_dropped(&self) -> u64 {
        self.dropped
    }

    /// Answers a command byte like the board: `b` starts, `s` stops, `v`
    /// stops, restarts the sample numbering and writes [`RESET_BANNER`].
    /// Other bytes are ignored.
    pub fn handle_command(&mut self, cmd: u8, out: &mut Vec<u8>) {
        match cmd {
            CMD_START => self.streaming = true,
            CMD_STOP => self.streaming = false,
            CMD_RESET => {
                self.streaming = false;
                self.next = 0;
                out.extend_from_slice(RESET_BANNER);
            }
            _ => {}
        }
    }

    /// Raw counts of sample `n`.
    pub fn expected_counts(&self, n: u64) -> [i32; CHANNELS] {
        let scale = uv_per_count(self.config.gain);
        let t = n as f64 / SAMPLE_RATE;
        std::array::from_fn(|ch| {
            let amp = self.config.amplitude_uv * (ch + 1) as f64 / CHANNELS as f64;
            let uv = amp * (std::f64::consts::TAU * FREQS[ch] * t + ch as f64 / 2.0).sin();
            (uv / scale).round().clamp(-8_388_608.0, 8_388_607.0) as i32
        })
    }

    /// µV values a parser with the same gain decodes for sample `n`.
    pub fn expected_uv(&self, n: u64) -> [f64; CHANNELS] {
        let scale = uv_per_count(self.config.gain);
        self.expected_counts(n).map(|c| f64::from(c) * scale)
    }

    /// The packet of sample `n`.
    pub fn packet(&self, n: u64) -> [u8; PACKET_LEN] {
        let mut p = [0u8; PACKET_LEN];
        p[0] = HEADER;
        p[1] = n as u8;
        for (ch, c) in self.expected_counts(n).into_iter().enumerate() {
            p[2 + 3 * ch..5 + 3 * ch].copy_from_slice(&encode_i24_be(c));
        }
        if n.is_multiple_of(10) {
            // 1 g on Z: 0.002/16 g per count.
            p[30..32].copy_from_slice(&8000i16.to_be_bytes());
        }
        p[PACKET_LEN - 1] = FOOTER_ACCEL;
        p
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Appends the bytes of the next `samples` sample periods to `out`
    /// (whether or not streaming is on: pacing and start/stop are the caller's).
    pub fn generate(&mut self, samples: usize, out: &mut Vec<u8>) {
        for _ in 0..samples {
            let n = self.next;
            self.next += 1;
            let k = n + 1;
            if self.config.drop_every > 0 && k.is_multiple_of(self.config.drop_every) {
                self.dropped += 1;
            } else {
                out.extend_from_slice(&self.packet(n));
            }
            if self.config.garbage_every > 0 && k.is_multiple_of(self.config.garbage_every) {
                for _ in 0..self.config.garbage_len {
                    let r = (self.next_random() >> 32) as u8;
                    let b = if self.config.garbage_binary {
                        r
                    } else {
                        0x20 + r % 95
                    };
                    out.push(b);
                }
            }
        }
    }
}
