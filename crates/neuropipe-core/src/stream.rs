//! Stream-level facts fixed when the pipeline is built, like an LSL stream info.

use crate::payload::PayloadKind;
use serde::{Deserialize, Serialize};

/// One channel of a stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// Label, e.g. `Fp1` or `Ch3`.
    pub label: String,
    /// Physical unit, e.g. `uV` or `counts`.
    pub unit: String,
    /// Signal type, e.g. `EEG`, `EMG`, `AUX`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The physical range the source can measure, `[min, max]` in `unit` (an amplifier's
    /// ADC limits, an EDF signal's physical minimum and maximum); values at its ends are
    /// railed or clipped. `None` when unknown, and after any stage that changes the values
    /// (a filter's output is not bounded by the amplifier's range).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
}

/// What every stage knows about the stream on a port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Stream name (LSL name, recording title).
    pub name: String,
    /// Content type, e.g. `EEG`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Nominal sample rate in Hz (frames per second).
    pub sample_rate: f64,
    /// Channels in frame order.
    pub channels: Vec<ChannelInfo>,
    /// Most frames a packet on this stream carries.
    pub frames_per_packet: usize,
    /// Payload type of the packets.
    pub payload: PayloadKind,
    /// UTC start of the stream, nanoseconds since the Unix epoch (the pipeline clock's origin).
    pub start_unix_ns: u128,
    /// Filters applied upstream, in order, in EDF+ "prefilter" notation (`HP:1Hz`,
    /// `LP:40Hz`, `N:50Hz`, `BS:48-52Hz`): each filter stage appends its own, so recorders
    /// can write what was done to the signal.
    #[serde(default)]
    pub filters: Vec<String>,
    /// For raw ADC counts: the amplifier (PGA) gain the source recorded with, so a converter
    /// to volts uses the same scale (a mismatch is a build error, not a silent 2× error).
    #[serde(default)]
    pub adc_gain: Option<f64>,
    /// `Some` for a stream of epochs (windows cut from a continuous stream: each packet is
    /// one epoch of [`EpochLayout::times`] frames); `None` for a continuous stream, whose
    /// packets follow each other in time. Stages that process a continuous signal refuse
    /// epochs at build time ([`StageBuilder::input`](crate::StageBuilder::input)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<EpochLayout>,
    /// The device or program the stream comes from, stable across its restarts (LSL's and
    /// XDF's `source_id`: a serial number, a board and its port); empty when unknown. Kept
    /// by every stage downstream, so a recording says which amplifier made it.
    #[serde(default)]
    pub source_id: String,
    /// Who made that device (LSL/XDF `desc/manufacturer`, e.g. `OpenBCI`); empty when
    /// unknown.
    #[serde(default)]
    pub manufacturer: String,
}

/// The shape of an epoch stream: every packet is one window of `times` frames cut around an
/// event (a marker, or the hop of a sliding window), frame-major like any packet.
///
/// A packet's [`timestamp`](crate::PacketHeader::timestamp) is that of the epoch's first
/// frame, its [`first_frame`](crate::PacketHeader::first_frame) that frame's index in the
/// continuous stream it was cut from, and its [`label`](crate::PacketHeader::label) the
/// index of its class in [`classes`](Self::classes) (`None` for unlabelled windows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLayout {
    /// Time of the first frame relative to the event, in seconds (`-0.2`: 200 ms before the
    /// marker); for sliding windows the event is the window's last frame (the moment a
    /// decision on it can be made), so `−(times − 1) / sample_rate`.
    pub tmin_s: f64,
    /// Frames per epoch.
    pub times: usize,
    /// Class names, in label order (the marker texts an `Epoch` stage matches); empty for
    /// unlabelled windows.
    pub classes: Vec<String>,
}

impl StreamInfo {
    /// A stream of `channels` channels labelled `Ch1..ChN` with unit `unit`.
    pub fn new(
        name: &str,
        sample_rate: f64,
        channels: usize,
        unit: &str,
        frames_per_packet: usize,
        payload: PayloadKind,
    ) -> Self {
        StreamInfo {
            name: name.to_string(),
            kind: "EEG".to_string(),
            sample_rate,
            channels: (1..=channels)
                .map(|i| ChannelInfo {
                    label: format!("Ch{i}"),
                    unit: unit.to_string(),
                    kind: "EEG".to_string(),
                    range: None,
                })
                .collect(),
            frames_per_packet,
            payload,
            start_unix_ns: 0,
            filters: Vec::new(),
            adc_gain: None,
            epochs: None,
            source_id: String::new(),
            manufacturer: String::new(),
        }
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// A copy with another payload kind and unit (e.g. counts → µV).
    pub fn with_payload(&self, payload: PayloadKind, unit: &str) -> Self {
        let mut s = self.clone();
        s.payload = payload;
        for c in &mut s.channels {
            c.unit = unit.to_string();
        }
        s
    }

    /// A copy for a stage's output whose values are computed from the input (filtered,
    /// scaled, re-referenced): the channels' physical ranges no longer apply.
    pub fn derived(&self) -> Self {
        let mut s = self.clone();
        for c in &mut s.channels {
            c.range = None;
        }
        s
    }

    /// Channel labels in order.
    pub fn labels(&self) -> Vec<&str> {
        self.channels.iter().map(|c| c.label.as_str()).collect()
    }
}
