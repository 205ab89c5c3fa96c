//! Placing pipeline events on a recording's time axis.
//!
//! Events carry a time on the pipeline clock; a recording has its own time axis (seconds of
//! data in an EDF file, or relative timestamps in a CSV file). Packet timestamps cannot link
//! the two: a source running as fast as possible (`realtime: false`) stamps packets with the
//! time of their samples, not with the clock. What does link them is the moment each packet
//! left its source ([`PacketHeader::emitted`](neuropipe_core::PacketHeader::emitted), on the
//! pipeline clock). An event at clock time `T` is placed at the end of the last packet that
//! left its source at or before `T` — plus the time since then, but never past the start of
//! the packet after it (so an event inside a pause lands in the pause, and with contiguous
//! files at the boundary). Events are held back until a packet emitted after them has
//! arrived, because the recorder usually lags its source by a few queued packets.
//!
//! A source that emits a marker right after sending the packet that ends at the marker's
//! sample (as `FileReplay` does) therefore gets it placed exactly at that sample.

use neuropipe_core::{EventKind, EventReceiver, PipelineEvent};
use tokio::sync::broadcast::error::TryRecvError;

/// What a recording knows about one packet it wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Span {
    emitted_ns: u64,
    start_s: f64,
    end_s: f64,
}

/// Spans kept: the recorder needs the last two; a few more cover packets shorter than the
/// source's (split packets).
const SPANS: usize = 8;
/// Events waiting for a later packet; preallocated (more only allocate).
const PENDING: usize = 64;

/// Receives pipeline events and turns them into (onset, text) annotations of a recording.
pub struct Timeline {
    rx: EventReceiver,
    spans: [Span; SPANS],
    /// Number of valid spans (up to `SPANS`); the newest is at `(head + SPANS - 1) % SPANS`.
    len: usize,
    head: usize,
    pending: Vec<PipelineEvent>,
    lagged: u64,
}

impl Timeline {
    /// A timeline reading events from `rx` (subscribe at build time, so nothing is missed).
    pub fn new(rx: EventReceiver) -> Self {
        Timeline {
            rx,
            spans: [Span::default(); SPANS],
            len: 0,
            head: 0,
            pending: Vec::with_capacity(PENDING),
            lagged: 0,
        }
    }

    /// Events lost because the bus overflowed before they were read.
    pub fn lagged(&self) -> u64 {
        self.lagged
    }

    fn span(&self, i: usize) -> &Span {
        // i counts from the oldest valid span.
        &self.spans[(self.head + SPANS - self.len + i) % SPANS]
    }

    /// Records a packet that left its source at `emitted_ns` (pipeline clock) and covers
    /// `start_s..end_s` on the recording's time axis.
    pub fn packet(&mut self, emitted_ns: u64, start_s: f64, end_s: f64) {
        self.spans[self.head] = Span {
            emitted_ns,
            start_s,
            end_s,
        };
        self.head = (self.head + 1) % SPANS;
        self.len = (self.len + 1).min(SPANS);
    }

    /// Where an event at clock time `t_ns` falls on the recording's time axis.
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

    /// Reads new events and passes those that can be placed now — every event older than
    /// the newest packet's departure — to `out` as (onset in seconds, event), in order.
    pub fn place(&mut self, mut out: impl FnMut(f64, &PipelineEvent)) {
        self.drain();
        if self.pending.is_empty() || self.len == 0 {
            return;
        }
        let newest = self.span(self.len - 1).emitted_ns;
        let mut taken = 0;
        for ev in self.pending.iter().take_while(|e| e.time_ns < newest) {
            out(self.locate(ev.time_ns), ev);
            taken += 1;
        }
        self.pending.drain(..taken);
    }

    /// At the end of the recording: places every remaining event.
    pub fn place_all(&mut self, mut out: impl FnMut(f64, &PipelineEvent)) {
        self.drain();
        let pending = std::mem::take(&mut self.pending);
        for ev in &pending {
            out(self.locate(ev.time_ns), ev);
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
        });
    }

    #[test]
    fn events_are_held_until_a_later_packet_and_placed_between_packets() {
        let bus = EventBus::new(16);
        let mut tl = Timeline::new(bus.subscribe());
        // Packets of 0.1 s leaving every 100 ms from t = 100 ms.
        tl.packet(100_000_000, 0.0, 0.1);
        ev(&bus, 150_000_000, EventKind::Paused, "paused");
        let mut got = vec![];
        tl.place(|t, e| got.push((t, annotation_text(e))));
        assert!(got.is_empty(), "held back until a later packet arrives");
        // After a 1 s pause the next packet continues the contiguous file at 0.1 s.
        ev(&bus, 1_100_000_000, EventKind::Resumed, "resumed");
        tl.packet(1_200_000_000, 0.1, 0.2);
        tl.place(|t, e| got.push((t, annotation_text(e))));
        assert_eq!(
            got,
            vec![(0.1, "paused eeg".to_string()), (0.1, "resumed eeg".into())]
        );
    }

    #[test]
    fn gaps_on_a_timestamp_axis_hold_events_inside_them() {
        let bus = EventBus::new(16);
        let mut tl = Timeline::new(bus.subscribe());
        tl.packet(100_000_000, 0.0, 0.1);
        tl.packet(1_200_000_000, 1.1, 1.2); // CSV: timestamps jump over the pause
        assert!((tl.locate(150_000_000) - 0.15).abs() < 1e-9);
        assert_eq!(tl.locate(5_000_000_000), 1.2);
        assert_eq!(tl.locate(50_000_000), 0.0);
    }

    #[test]
    fn marker_after_a_packet_lands_at_its_end_and_skipped_kinds_are_dropped() {
        let bus = EventBus::new(16);
        let mut tl = Timeline::new(bus.subscribe());
        ev(&bus, 1, EventKind::Started, "x");
        tl.packet(10, 0.0, 0.064);
        ev(&bus, 11, EventKind::Marker, "stimulus");
        ev(&bus, 12, EventKind::LostSamples, "lost 3 samples");
        tl.packet(20, 0.064, 0.128);
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
