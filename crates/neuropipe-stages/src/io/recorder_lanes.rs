//! A recorder's further streams (`in2` … `in8`): for formats that hold several streams in
//! one file (XDF), each further input is recorded as a stream of its own, with its own rate,
//! channels, sample type and timestamps, as its packets arrive.
//!
//! * The stage waits on its main input `in` and on every further input at once
//!   ([`ready_any`]), so a stream that stops sending (an unplugged accelerometer, a lost LSL
//!   stream) never holds the others up, and none is read ahead of the file.
//! * A further stream's packets are written with their own timestamps (pipeline clock, the
//!   same as the main stream's), in recycled buffers: nothing is allocated per packet.
//! * What a packet reports is written next to it: lost samples, a discontinuity (with the
//!   gap), non-finite values (counted in the stage's metrics), each as a marker naming the
//!   stream.
//! * A further input that ends is logged and left; the recording goes on with the others.
//!   When the main input ends first, the further streams are recorded to their own end.

use super::recorder::clean_text;
use super::writer::Job;
use neuropipe_core::{
    BuildError, Input, Packet, PacketHeader, PayloadKind, Sample, Samples, StageBuilder,
    StreamInfo, FLAG_DISCONTINUITY, FLAG_LOST_SAMPLES,
};

/// The further input ports, in stream order.
pub(crate) const LANE_PORTS: [&str; 7] = ["in2", "in3", "in4", "in5", "in6", "in7", "in8"];

/// Packets taken from one further input per wake-up at most (the main input is not starved
/// by a stream sent flat out).
const BURST: usize = 16;

/// A further input, typed by what arrives on it.
enum LaneInput {
    I32(Input<Samples<i32>>),
    F32(Input<Samples<f32>>),
    F64(Input<Samples<f64>>),
}

/// A packet from a further input.
pub(crate) enum LanePacket {
    I32(Packet<Samples<i32>>),
    F32(Packet<Samples<f32>>),
    F64(Packet<Samples<f64>>),
}

impl LanePacket {
    /// The packet's header.
    pub(crate) fn header(&self) -> &PacketHeader {
        match self {
            LanePacket::I32(p) => &p.header,
            LanePacket::F32(p) => &p.header,
            LanePacket::F64(p) => &p.header,
        }
    }

    /// Copies frame-major values from frame `from` into `dst` as `f64` (as many whole frames
    /// as fit); returns the frames copied and the non-finite values among them.
    pub(crate) fn copy_to(&self, from: usize, channels: usize, dst: &mut [f64]) -> (usize, u64) {
        fn copy<S: Sample>(src: &[S], from: usize, ch: usize, dst: &mut [f64]) -> (usize, u64) {
            let frames = (src.len() / ch).saturating_sub(from).min(dst.len() / ch);
            let src = &src[from * ch..(from + frames) * ch];
            let mut bad = 0;
            for (d, s) in dst.iter_mut().zip(src) {
                *d = s.to_f64();
                bad += u64::from(!d.is_finite());
            }
            (frames, bad)
        }
        match self {
            LanePacket::I32(p) => copy(p.samples(), from, channels, dst),
            LanePacket::F32(p) => copy(p.samples(), from, channels, dst),
            LanePacket::F64(p) => copy(p.samples(), from, channels, dst),
        }
    }
}

/// One further input being recorded.
pub(crate) struct Lane {
    /// Its port (`in2` …).
    pub(crate) port: &'static str,
    /// The stream arriving on it.
    pub(crate) info: StreamInfo,
    input: LaneInput,
    /// Its input ended.
    closed: bool,
    /// Timestamp and frames of its previous packet (for the gap at a discontinuity).
    prev: Option<(u64, usize)>,
    /// The clock offset last told the writer (see `RecordFile::clock_offset`).
    pub(crate) sent_offset: Option<i64>,
}

/// Opens every linked further input of the recorder being built: a continuous stream with
/// a sample rate and channels (errors name the port).
pub(crate) fn open_lanes(b: &mut StageBuilder<'_>) -> Result<Vec<Lane>, BuildError> {
    let mut lanes = vec![];
    for port in LANE_PORTS {
        if !b.is_input_linked(port) {
            continue;
        }
        let info = b.input_stream(port)?.clone();
        let rate = info.sample_rate;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(BuildError::stage(format!(
                "input `{port}` (stream \"{}\") has no sample rate ({rate} Hz); a recorder needs one",
                info.name
            )));
        }
        if info.channel_count() == 0 {
            return Err(BuildError::stage(format!(
                "input `{port}` (stream \"{}\") has no channels",
                info.name
            )));
        }
        let input = match b.input_kind(port)? {
            PayloadKind::I32 => LaneInput::I32(b.input(port)?),
            PayloadKind::F32 => LaneInput::F32(b.input(port)?),
            PayloadKind::F64 => LaneInput::F64(b.input(port)?),
        };
        lanes.push(Lane {
            port,
            info,
            input,
            closed: false,
            prev: None,
            sent_offset: None,
        });
    }
    Ok(lanes)
}

/// Completes when any open further input has a packet queued or has ended (never, if none
/// is open). Cancel-safe.
pub(crate) async fn ready_any(lanes: &[Lane]) {
    let lane = |i: usize| async move {
        match lanes.get(i).filter(|l| !l.closed) {
            Some(l) => l.ready().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = lane(0) => {},
        _ = lane(1) => {},
        _ = lane(2) => {},
        _ = lane(3) => {},
        _ = lane(4) => {},
        _ = lane(5) => {},
        _ = lane(6) => {},
    }
}

impl Lane {
    async fn ready(&self) {
        match &self.input {
            LaneInput::I32(i) => i.ready().await,
            LaneInput::F32(i) => i.ready().await,
            LaneInput::F64(i) => i.ready().await,
        }
    }

    /// Whether its input has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Channels per frame.
    pub(crate) fn channels(&self) -> usize {
        self.info.channel_count()
    }

    /// Frames per packet it declared (for the size of the recorder's buffers).
    pub(crate) fn buffer_len(&self) -> usize {
        self.info.frames_per_packet.clamp(1, 4096) * self.channels()
    }

    /// The next queued packet, up to [`BURST`] per call (`None`: nothing now, or the
    /// input ended; it is then logged once and left).
    pub(crate) fn take(&mut self, taken: &mut usize, stage: &str) -> Option<LanePacket> {
        if self.closed || *taken >= BURST {
            return None;
        }
        let got = match &mut self.input {
            LaneInput::I32(i) => i.try_recv().map(|p| p.map(LanePacket::I32)),
            LaneInput::F32(i) => i.try_recv().map(|p| p.map(LanePacket::F32)),
            LaneInput::F64(i) => i.try_recv().map(|p| p.map(LanePacket::F64)),
        };
        match got {
            Ok(p) => {
                *taken += usize::from(p.is_some());
                p
            }
            Err(_) => {
                self.closed = true;
                tracing::info!(stage, port = self.port, stream = %self.info.name, "input ended: the other streams are still recorded");
                None
            }
        }
    }

    /// Marks for what packet `h` reports (lost samples, a discontinuity), as jobs for stream
    /// `lane` of the file; remembers the packet for the next gap.
    pub(crate) fn packet_notes(&mut self, lane: usize, h: &PacketHeader, notes: &mut Vec<Job>) {
        let rate = self.info.sample_rate;
        let name = &self.info.name;
        if h.flags & FLAG_LOST_SAMPLES != 0 && h.lost_frames > 0 {
            let text = format!("{name}: lost {} samples", h.lost_frames);
            notes.push(lane_note(lane, h.timestamp, &text));
        }
        if h.flags & FLAG_DISCONTINUITY != 0 {
            let gap_s = self.prev.map_or(0.0, |(ts, frames)| {
                (h.timestamp as f64 - (ts as f64 + frames as f64 * 1e9 / rate)) / 1e9
            });
            let text = if gap_s >= 0.001 {
                format!("{name}: discontinuity: {gap_s:.3} s gap")
            } else {
                format!("{name}: discontinuity")
            };
            notes.push(lane_note(lane, h.timestamp, &text));
        }
        self.prev = Some((h.timestamp, h.frames()));
    }
}

/// A mark at pipeline-clock time `t_ns` about further stream `lane`.
pub(crate) fn lane_note(lane: usize, t_ns: u64, text: &str) -> Job {
    Job::LaneNote {
        lane,
        t_ns,
        text: clean_text(text),
    }
}
