//! OpenBCI Cyton protocol: packet parser, scaling, commands and a simulator.
//!
//! The Cyton streams 250 samples per second at 115200 baud as 33-byte packets:
//!
//! | byte   | content                                                     |
//! |--------|-------------------------------------------------------------|
//! | 0      | header `0xA0`                                               |
//! | 1      | sample counter, wrapping at 256                             |
//! | 2–25   | 8 channels × 24-bit big-endian two's complement             |
//! | 26–31  | 6 aux bytes (with footer `0xC0`: accelerometer X, Y, Z as i16 BE) |
//! | 32     | footer `0xC0`–`0xCF`                                        |
//!
//! One count is 4.5 V / (2²³ − 1) / gain, in µV × 1e6 ([`uv_per_count`]).
//! Commands are single bytes: [`CMD_START`] (`b`), [`CMD_STOP`] (`s`) and
//! [`CMD_RESET`] (`v`, answered by a text ending in `$$$`).

mod parser;
mod simulator;

pub use parser::{CytonParser, CytonStats};
pub use simulator::{CytonSimulator, SimulatorConfig, RESET_BANNER};

/// Bytes per packet.
pub const PACKET_LEN: usize = 33;
/// First byte of every packet.
pub const HEADER: u8 = 0xA0;
/// Footer bytes are `0xC0`–`0xCF`; `0xC0` means the aux bytes hold accelerometer data.
pub const FOOTER_ACCEL: u8 = 0xC0;
/// Number of EEG channels.
pub const CHANNELS: usize = 8;
/// Sample rate in Hz.
pub const SAMPLE_RATE: f64 = 250.0;
/// Serial baud rate.
pub const BAUD_RATE: u32 = 115_200;
/// Command: start streaming.
pub const CMD_START: u8 = b'b';
/// Command: stop streaming.
pub const CMD_STOP: u8 = b's';
/// Command: soft reset; the board answers with text ending in [`RESET_DONE`].
pub const CMD_RESET: u8 = b'v';
/// The end of the board's answer to [`CMD_RESET`].
pub const RESET_DONE: &[u8] = b"$$$";
/// Accelerometer scale with footer `0xC0`: g per count.
pub const ACCEL_G_PER_COUNT: f64 = 0.002 / 16.0;

/// Whether `b` is a valid packet footer.
pub fn is_footer(b: u8) -> bool {
    (0xC0..=0xCF).contains(&b)
}

/// Programmable gain of the ADS1299 channel amplifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Gain {
    /// ×1.
    X1,
    /// ×2.
    X2,
    /// ×4.
    X4,
    /// ×6.
    X6,
    /// ×8.
    X8,
    /// ×12.
    X12,
    /// ×24 (the board's default).
    #[default]
    X24,
}

impl Gain {
    /// All gains, ascending.
    pub const ALL: [Gain; 7] = [
        Gain::X1,
        Gain::X2,
        Gain::X4,
        Gain::X6,
        Gain::X8,
        Gain::X12,
        Gain::X24,
    ];

    /// The gain for a factor (1, 2, 4, 6, 8, 12 or 24).
    pub fn from_factor(factor: u32) -> Option<Gain> {
        Gain::ALL.into_iter().find(|g| g.factor() == factor)
    }

    /// The amplification factor.
    pub fn factor(self) -> u32 {
        match self {
            Gain::X1 => 1,
            Gain::X2 => 2,
            Gain::X4 => 4,
            Gain::X6 => 6,
            Gain::X8 => 8,
            Gain::X12 => 12,
            Gain::X24 => 24,
        }
    }
}

/// Microvolts per ADC count: 4.5 V / (2²³ − 1) / gain × 1e6.
pub fn uv_per_count(gain: Gain) -> f64 {
    4.5 / f64::from((1u32 << 23) - 1) / f64::from(gain.factor()) * 1e6
}

/// Decodes a 24-bit big-endian two's complement value.
pub fn decode_i24_be(b: [u8; 3]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], 0]) >> 8
}

/// Encodes the low 24 bits of `v` big-endian (`v` must be in −2²³..2²³).
pub fn encode_i24_be(v: i32) -> [u8; 3] {
    let b = v.to_be_bytes();
    [b[1], b[2], b[3]]
}

/// One decoded packet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CytonSample {
    /// The packet's sample counter.
    pub counter: u8,
    /// Raw ADC counts per channel.
    pub raw: [i32; CHANNELS],
    /// Channel values in µV.
    pub uv: [f64; CHANNELS],
    /// The 6 aux bytes.
    pub aux: [u8; 6],
    /// The footer byte (`0xC0`–`0xCF`).
    pub footer: u8,
}

impl CytonSample {
    /// Accelerometer X, Y, Z counts when the footer is `0xC0` (multiply by
    /// [`ACCEL_G_PER_COUNT`] for g). The board sends all zeros between its
    /// 25 Hz accelerometer readings.
    pub fn accel_raw(&self) -> Option<[i16; 3]> {
        (self.footer == FOOTER_ACCEL).then(|| {
            let a = self.aux;
            [
                i16::from_be_bytes([a[0], a[1]]),
                i16::from_be_bytes([a[2], a[3]]),
                i16::from_be_bytes([a[4], a[5]]),
            ]
        })
    }
}

/// What the parser reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CytonEvent {
    /// A valid packet.
    Sample(CytonSample),
    /// Packets were lost: the counter skipped `missing` values
    /// (modulo 256: losing a multiple of 256 packets is invisible).
    Gap {
        /// Number of packets missing before the next `Sample`.
        missing: u32,
    },
    /// Bytes that were not part of any packet were skipped (reported just
    /// before the next packet).
    Garbage {
        /// Number of bytes skipped.
        bytes: usize,
    },
}

#[cfg(test)]
mod tests;
