//! Placing pipeline events on a recording's time axis.
//!
//! Events carry a time on the pipeline clock; a recording has its own time axis (seconds of
//! data in an EDF file, or relative timestamps in a CSV file). Two kinds of events are placed
//! two ways:
//!
//! * **Sample events** ([`PipelineEvent::on_sample`]: LSL markers with their capture time,
//!   replayed annotations) carry the timestamp of a sample, in the time base of the packets'
//!   own timestamps. Each is placed on the sample whose timestamp it matches (nearest frame of
//!   the packet that covers it, at the stream's nominal rate), sample-exact whatever the
//!   packet or sender chunk sizes. It is held back until data at or after its time has
//!   arrived (markers usually arrive before their data), and placed against the last
//!   64 packets (a marker arriving later than that is placed by extrapolating from the
//!   oldest packet kept, still exact on a contiguous stream).
//! * **Clock events** (pause, resume, parameter changes, markers injected through the API)
//!   happened at a moment, not on a sample. Packet timestamps cannot link the two axes (a
//!   source running as fast as possible stamps packets with the time of their samples, not
//!   with the clock); what does is the moment each packet left its source
//!   ([`PacketHeader::emitted`](neuropipe_core::PacketHeader::emitted)). Such an event at
//!   clock time `T` is placed at the end of the last packet that left its source at or before
//!   `T` — plus the time since then, but never past the start of the packet after it (so an
//!   event inside a pause lands in the pause, and with contiguous files at the boundary).
//!   Events are held back until a packet emitted after them has arrived.
//!
//! Nothing is dropped silently: events the bus could not keep for this recorder are counted
//! ([`Timeline::take_lagged`]) so the recorder annotates and reports the loss.

use neuropipe_core::{EventKind, EventReceiver, PipelineEvent};
use tokio::sync::broadcast::error::TryRecvError;

/// What a recording knows about one packet it wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Span {
    /// When the packet left its source (pipeline clock).
    emitted_ns: u64,
    /// Timestamp of its first frame (the data's time base).
    ts_ns: u64,
    /// Frames in the packet.
    frames: u64,
    /// Where it starts and ends on the recording's time axis (s).
    start_s: f64,
    end_s: f64,
}

/// Packets remembered for placing events (a ring; no allocation per packet).
const SPANS: usize = 64;
/// Events waiting for their data; preallocated (more only allocate).
const PENDING: usize = 256;

/// Receives pipeline events and turns them into (onset, text) annotations of a recording.
pub struct Timeline {
    rx: EventReceiver,
    rate: f64,
    spans: [Span; SPANS],
    /// Number of valid spans (up to `SPANS`); the newest is at `(head + SPANS - 1) % SPANS`.
    len: usize,
    head: usize,
    pending: Vec<PipelineEvent>,
    lagged: u64,
}

impl Timeline {
    /// A timeline reading events from `rx` (subscribe at build time, so nothing is missed)
    /// for a stream of `rate` Hz.
    pub fn new(rx: EventReceiver, rate: f64) -> Self {
        Timeline {
            rx,
            rate,
            spans: [Span::default(); SPANS],
            len: 0,
            head: 0,
            pending: Vec::with_capacity(PENDING),
            lagged: 0,
        }
    }

    /// Starts over for a new file: forgets the packets seen and every event so far (they
    /// happened before the file).
    pub fn restart(&mut self) {
        self.len = 0;
        self.head = 0;
        self.discard();
    }

    /// While nothing is recorded: reads and forgets new events.
    pub fn discard(&mut self) {
        self.drain();
        self.pending.clear();
    }

    /// Events lost because the bus overflowed before they were read, since the last call.
    pub fn take_lagged(&mut self) -> u64 {
        std::mem::take(&mut self.lagged)
    }

    fn span(&self, i: usize) -> &Span {
        // i counts from the oldest valid span.
        &self.spans[(self.head + SPANS - self.len + i) % SPANS]
    }

    /// Records a packet of `frames` frames stamped `ts_ns` that left its source at
    /// `emitted_ns` (pipeline clock) and covers `start_s..end_s` on the recording's time axis.
    pub fn packet(&mut self, emitted_ns: u64, ts_ns: u64, frames: u64, start_s: f64, end_s: f64) {
        self.spans[self.head] = Span {
            emitted_ns,
            ts_ns,
            frames,
            start_s,
            end_s,
        };
        self.head = (self.head + 1) % SPANS;
        self.len = (self.len + 1).min(SPANS);
    }

    /// Where a clock event at `t_ns` falls on the recording's time axis.
    pub fn locate(&self, t_ns: u64) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let Some(k) = (0..self.len)
            .rev()
            .find(|&i| self.span(i).emitted_ns <= t_ns)
        else {
            return self.span(0).start_s.max(0.0);
        };
        let s = self.span(k);
        let mut t = s.end_s;
        if k + 1 < self.len {
            let next_start = self.span(k + 1).start_s;
            let since = (t_ns - s.emitted_ns) as f64 / 1e9;
            t = (s.end_s + since).min(next_start).max(s.end_s);
        }
        t.max(0.0)
    }

    /// Where a sample event stamped `t_ns` (data time base) falls: on the nearest frame of the
    /// packet covering it; in a gap between packets, at the first frame after the gap.
    pub fn locate_sample(&self, t_ns: u64) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let frame_s = 1.0 / self.rate;
        let Some(k) = (0..self.len).rev().find(|&i| self.span(i).ts_ns <= t_ns) else {
            // Before every packet kept: extrapolate back from the oldest.
            let s = self.span(0);
            let back = ((s.ts_ns - t_ns) as f64 * self.rate / 1e9).round();
            return (s.start_s - back * frame_s).max(0.0);
        };
        let s = self.span(k);
        let frame = ((t_ns - s.ts_ns) as f64 * self.rate / 1e9).round();
        let mut t = s.start_s + frame * frame_s;
        if frame >= s.frames as f64 && k + 1 < self.len {
            t = t.min(self.span(k + 1).start_s);
        }
        t.max(0.0)
    }

    /// Whether the data for `ev` has arrived, so it can be placed for good.
    fn placeable(&self, ev: &PipelineEvent) -> bool {
        if self.len == 0 {
            return false;
        }
        let newest = self.span(self.len - 1);
        if ev.on_sample {
            let end_ns = newest.ts_ns as f64 + newest.frames as f64 * 1e9 / self.rate;
            (ev.time_ns as f64) < end_ns
        } else {
            ev.time_ns < newest.emitted_ns
        }
    }

    fn onset(&self, ev: &PipelineEvent) -> f64 {
        if ev.on_sample {
            self.locate_sample(ev.time_ns)
        } else {
            self.locate(ev.time_ns)
        }
    }

    fn drain(&mut self) {
        loop {
            match self.rx.try_recv() {
                Ok(ev) if annotated(ev.kind) => self.pending.push(ev),
                Ok(_) => {}
                Err(TryRecvError::Lagged(n)) => {
                    self.lagged += n;
                    tracing::warn!("recorder missed {n} pipeline events (event bus overflow)");
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// Reads new events and passes those that can be placed now to `out` as (onset in
    /// seconds, event), in the order they were published.
    pub fn place(&mut self, mut out: impl FnMut(f64, &PipelineEvent)) {
        self.drain();
        if self.pending.is_empty() || self.len == 0 {
            return;
        }
        let mut i = 0;
        while i < self.pending.len() {
            if self.placeable(&self.pending[i]) {
                let ev = self.pending.remove(i);
                out(self.onset(&ev), &ev);
            } else {
                i += 1;
            }
        }
    }

    /// At the end of the recording: places every remaining event.
    pub fn place_all(&mut self, mut out: impl FnMut(f64, &PipelineEvent)) {
        self.drain();
        let pending = std::mem::take(&mut self.pending);
        for ev in &pending {
            out(self.onset(ev), ev);
        }
    }
}

/// Whether an event kind becomes an annotation. Lost samples are annotated from the packets'
/// [`FLAG_LOST_SAMPLES`](neuropipe_core::FLAG_LOST_SAMPLES) instead (exact position);
/// `Started` and rejected control messages are left out.
fn annotated(kind: EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Started | EventKind::Rejected | EventKind::LostSamples
    )
}

/// The annotation text of an event: `paused eeg`, `resumed eeg`, `eeg: alpha_uv = 5`, a
/// marker's own text, `failed eeg: …`, `stop requested`.
pub fn annotation_text(ev: &PipelineEvent) -> String {
    match ev.kind {
        EventKind::Paused => format!("paused {}", ev.stage),
        EventKind::Resumed => format!("resumed {}", ev.stage),
        EventKind::ParamChanged => format!("{}: {}", ev.stage, ev.text),
        EventKind::Marker if ev.text.is_empty() => "marker".to_string(),
        EventKind::Marker => ev.text.clone(),
        EventKind::Failed => format!("failed {}: {}", ev.stage, ev.text),
        EventKind::Prediction => format!("prediction: {}", ev.text),
        EventKind::Selection => format!("selection: {}", ev.text),
        EventKind::EpochDropped | EventKind::Calibration => format!("{}: {}", ev.stage, ev.text),
        _ if ev.text.is_empty() => format!("{:?}", ev.kind).to_lowercase(),
        _ => ev.text.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuropipe_core::EventBus;

    fn ev(bus: &EventBus, t: u64, kind: EventKind, text: &str) {
        bus.publish(PipelineEvent {
            time_ns: t,
            stage: "eeg".into(),
            kind,
            text: text.into(),
            on_sample: false,
        });
    }

    fn sample_ev(bus: &EventBus, t: u64, text: &str) {
        bus.publish(PipelineEvent {
            time_ns: t,
            stage: "lsl".into(),
            kind: EventKind::Marker,
            text: text.into(),
            on_sample: true,
        });
    }

    /// Packets of `n` frames at 500 Hz from timestamp 1 s, contiguous on the file axis,
    /// leaving their source 30 ms after their last frame (a sender's chunking delay).
    fn packets_500hz(tl: &mut Timeline, first: u64, count: u64, n: u64) {
        for p in first..first + count {
            let f0 = p * n;
            let ts = 1_000_000_000 + f0 * 2_000_000;
            let emitted = ts + n * 2_000_000 + 30_000_000;
            tl.packet(emitted, ts, n, f0 as f64 / 500.0, (f0 + n) as f64 / 500.0);
        }
    }

    #[test]
    fn sample_events_land_on_their_sample_for_any_chunking() {
        for n in [1u64, 7, 25, 50, 100] {
            let bus = EventBus::new(64);
            let mut tl = Timeline::new(bus.subscribe(), 500.0);
            let mut got = vec![];
            // Markers on samples 500, 1000, 1500 arrive before their data.
            for k in [500u64, 1000, 1500] {
                sample_ev(&bus, 1_000_000_000 + k * 2_000_000, &format!("m{k}"));
            }
            let packets = 2000 / n;
            for p in 0..packets {
                packets_500hz(&mut tl, p, 1, n);
                tl.place(|t, e| got.push(((t * 500.0).round() as u64, e.text.clone())));
            }
            assert_eq!(
                got,
                vec![
                    (500, "m500".into()),
                    (1000, "m1000".into()),
                    (1500, "m1500".into())
                ],
                "chunk size {n}"
            );
        }
    }

    #[test]
    fn late_sample_events_are_extrapolated_from_the_oldest_packet() {
        let bus = EventBus::new(64);
        let mut tl = Timeline::new(bus.subscribe(), 500.0);
        packets_500hz(&mut tl, 0, 200, 10); // 2000 frames, only the last 64 packets kept
        sample_ev(&bus, 1_000_000_000 + 3 * 2_000_000, "late");
        let mut got = vec![];
        tl.place(|t, e| got.push(((t * 500.0).round() as u64, e.text.clone())));
        assert_eq!(got, vec![(3, "late".into())]);
    }

    #[test]
    fn lagged_events_are_counted() {
        let bus = EventBus::new(4);
        let mut tl = Timeline::new(bus.subscribe(), 500.0);
        for i in 0..10 {
            sample_ev(&bus, i, "x");
        }
        packets_500hz(&mut tl, 0, 1, 10);
        let mut got = 0;
        tl.place(|_, _| got += 1);
        assert_eq!(got + tl.take_lagged(), 10);
        assert_eq!(tl.take_lagged(), 0);
    }

    #[test]
    fn events_are_held_until_a_later_packet_and_placed_between_packets() {
        let bus = EventBus::new(16);
        let mut tl = Timeline::new(bus.subscribe(), 10.0);
        // Packets of 0.1 s leaving every 100 ms from t = 100 ms.
        tl.packet(100_000_000, 0, 1, 0.0, 0.1);
        ev(&bus, 150_000_000, EventKind::Paused, "paused");
        let mut got = vec![];
        tl.place(|t, e| got.push((t, annotation_text(e))));
        assert!(got.is_empty(), "held back until a later packet arrives");
        // After a 1 s pause the next packet continues the contiguous file at 0.1 s.
        ev(&bus, 1_100_000_000, EventKind::Resumed, "resumed");
        tl.packet(1_200_000_000, 0, 1, 0.1, 0.2);
        tl.place(|t, e| got.push((t, annotation_text(e))));
        assert_eq!(
            got,
            vec![(0.1, "paused eeg".to_string()), (0.1, "resumed eeg".into())]
        );
    }

    #[test]
    fn gaps_on_a_timestamp_axis_hold_events_inside_them() {
        let bus = EventBus::new(16);
        let mut tl = Timeline::new(bus.subscribe(), 10.0);
        tl.packet(100_000_000, 0, 1, 0.0, 0.1);
        tl.packet(1_200_000_000, 0, 1, 1.1, 1.2); // CSV: timestamps jump over the pause
        assert!((tl.locate(150_000_000) - 0.15).abs() < 1e-9);
        assert_eq!(tl.locate(5_000_000_000), 1.2);
        assert_eq!(tl.locate(50_000_000), 0.0);
    }

    #[test]
    fn marker_after_a_packet_lands_at_its_end_and_skipped_kinds_are_dropped() {
        let bus = EventBus::new(16);
        let mut tl = Timeline::new(bus.subscribe(), 10.0);
        ev(&bus, 1, EventKind::Started, "x");
        tl.packet(10, 0, 1, 0.0, 0.064);
        ev(&bus, 11, EventKind::Marker, "stimulus");
        ev(&bus, 12, EventKind::LostSamples, "lost 3 samples");
        tl.packet(20, 0, 1, 0.064, 0.128);
        ev(&bus, 30, EventKind::Stopping, "stop requested");
        let mut got = vec![];
        tl.place(|t, e| got.push((t, annotation_text(e))));
        tl.place_all(|t, e| got.push((t, annotation_text(e))));
        assert_eq!(
            got,
            vec![
                (0.064, "stimulus".to_string()),
                (0.128, "stop requested".into())
            ]
        );
    }
}
