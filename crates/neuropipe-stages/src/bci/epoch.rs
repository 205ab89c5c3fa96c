//! `Epoch`: marker-locked windows of a continuous stream, as `mne.Epochs` cuts them.
//!
//! # What it does
//!
//! For every marker whose text matches one of `markers` (a class each; `"stim/*"` matches any
//! text starting with `stim/`), the stage sends one packet holding the frames from
//! `round(tmin · fs)` to `round(tmax · fs)` (both included) around the marker's sample: the
//! frame whose timestamp is nearest the marker's (ties to even, as MNE's
//! `events_from_annotations`), whatever the packet boundaries. Markers come from the event
//! bus: a replayed file's annotations, an LSL marker stream, `neuropipe ctl mark` (placed by
//! its arrival on the pipeline clock, which matches a live source's timestamps).
//!
//! Markers matching `unlabelled` (e.g. `"flash:*"`) start epochs too, sent without a label:
//! the class is unknown on line (a free-spelling session decoded with a model trained on
//! cued `target`/`nontarget` epochs); the stream's classes stay `markers`'.
//!
//! * **Baseline** `[a, b]` (s): each channel's mean over the frames whose time `t` satisfies
//!   `a <= t <= b` is subtracted (MNE's `baseline=(a, b)`, "mean" mode, computed in f64).
//! * **Rejection** `reject: ["EEG:150"]`: an epoch whose peak-to-peak amplitude on any
//!   channel of that type exceeds the threshold (in the channel's unit) is dropped; `flat`
//!   drops those below it. As MNE's `reject`/`flat` dicts, in the stream's units (µV).
//! * **Nothing silently lost**: a dropped epoch — rejected, holding non-finite samples or a
//!   break in the stream (pause, lost samples), its marker arriving after its data left the
//!   buffer (`max_delay_s`), or its window running past the end of the stream — is counted per
//!   class in the stage's readouts (`/api/metrics`, the dashboard) and published as an
//!   `epoch_dropped` event that recorders annotate. If the stage falls so far behind that
//!   the event bus drops events for it, their classes are unknown: the loss is published as
//!   an event and counted in the stage's status line.
//!
//! Markers usually arrive before their data (an LSL marker stream, a replayed file): each is
//! held until the data covering its window has arrived. The buffer holds the window plus
//! `max_delay_s`; markers later than that are counted as `late`.
//!
//! # Output stream
//!
//! An epoch stream ([`EpochLayout`]): one packet per epoch, `times × channels` frame-major,
//! same channels, units and sample type as the input; `label` the index of the class in
//! `markers`; `timestamp` and `first_frame` those of the epoch's first frame; `sequence`
//! counts epochs sent.

use super::frames::{FrameRing, Placed, Spans};
use super::thresholds::{peak_to_peak_check, Thresholds};
use neuropipe_core::prelude::*;
use tokio::sync::broadcast::error::TryRecvError;

/// Parameters of `Epoch`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct EpochParams {
    /// marker texts that start an epoch, one class each in label order; a trailing * matches any text with that prefix (e.g. "stim/*")
    pub markers: Vec<String>,
    /// marker texts that start an epoch of unknown class (no label), e.g. ["flash:*"] for a free-spelling session decoded with a model trained on the markers' classes
    pub unlabelled: Option<Vec<String>>,
    /// start of the window relative to the marker (s), e.g. -0.2
    #[param(default = -0.2, min = -60.0, max = 60.0)]
    pub tmin: f64,
    /// end of the window relative to the marker (s), included
    #[param(default = 0.5, min = -60.0, max = 60.0)]
    pub tmax: f64,
    /// baseline interval [start, end] (s, relative to the marker) whose mean is subtracted per channel, e.g. [-0.2, 0]; none if absent
    pub baseline: Option<Vec<f64>>,
    /// drop epochs whose peak-to-peak amplitude exceeds a threshold, per channel type, in the channels' unit: ["EEG:150", "EOG:250"]
    pub reject: Option<Vec<String>>,
    /// drop epochs whose peak-to-peak amplitude is below a threshold (a flat channel), per channel type: ["EEG:1"]
    pub flat: Option<Vec<String>>,
    /// how late a marker may arrive after the end of its window (s) and still be cut; later ones are counted as late
    #[param(default = 2.0, min = 0.0, max = 600.0)]
    pub max_delay_s: f64,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Epoch",
        "Marker-locked epochs (as mne.Epochs): one packet per matching marker, tmin..tmax around its sample, with baseline correction and amplitude rejection",
        build,
    )
    .input(PortSpec::any("in").doc("continuous f32 or f64 samples; markers from the event bus"))
    .output(PortSpec::any("out").epochs().doc("epochs: one packet of times x channels per marker, labelled with its class"))
    .params::<EpochParams>()
    .with_pool()
}

/// A class: a marker text, or a prefix (`"stim/*"`).
#[derive(Clone, Debug)]
struct Class {
    name: String,
    prefix: bool,
}

impl Class {
    fn matches(&self, text: &str) -> bool {
        if self.prefix {
            text.starts_with(&self.name[..self.name.len() - 1])
        } else {
            text == self.name
        }
    }
}

/// Why an epoch was not sent: its readout column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Sent = 0,
    Rejected = 1,
    BadData = 2,
    Late = 3,
    Unfinished = 4,
}

const COLUMNS: [ReadoutColumn; 5] = [
    ReadoutColumn::number("epochs", "", "epochs sent"),
    ReadoutColumn::number(
        "rejected",
        "",
        "dropped by the reject/flat peak-to-peak thresholds",
    ),
    ReadoutColumn::number(
        "bad_data",
        "",
        "dropped: non-finite samples, a break in the stream (pause, lost samples) inside the window, or a window starting before the stream",
    ),
    ReadoutColumn::number(
        "late",
        "",
        "dropped: the marker arrived after its data had left the buffer (max_delay_s), or found 1024 markers already waiting",
    ),
    ReadoutColumn::number(
        "unfinished",
        "",
        "dropped: the stream ended before the window was complete",
    ),
];

/// A marker waiting for its data.
#[derive(Clone, Copy, Debug)]
struct Pending {
    t_ns: u64,
    class: u32,
}

/// Markers waiting at once before more are counted as late (preallocated).
const MAX_PENDING: usize = 1024;

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?.clone();
    let p: EpochParams = b.parse_params()?;
    let fs = info.sample_rate;
    if p.markers.is_empty() {
        return Err(BuildError::param(
            "markers",
            "is empty: name the marker texts to epoch, e.g. [\"target\", \"nontarget\"]",
        ));
    }
    // The classes, then the unlabelled patterns (epochs sent without a label).
    let unlabelled = p.unlabelled.clone().unwrap_or_default();
    let mut classes: Vec<Class> = Vec::with_capacity(p.markers.len() + unlabelled.len());
    let all: Vec<(&str, usize, &String)> = p
        .markers
        .iter()
        .enumerate()
        .map(|(i, m)| ("markers", i, m))
        .chain(
            unlabelled
                .iter()
                .enumerate()
                .map(|(i, m)| ("unlabelled", i, m)),
        )
        .collect();
    for (k, &(param, i, m)) in all.iter().enumerate() {
        if m.is_empty() || m == "*" {
            return Err(BuildError::param(
                param,
                format!("[{i}]: \"{m}\" would match every marker; name a text or a prefix like \"stim/*\""),
            ));
        }
        if all[..k].iter().any(|(_, _, n)| *n == m) {
            return Err(BuildError::param(
                param,
                format!("[{i}]: \"{m}\" is listed twice"),
            ));
        }
        classes.push(Class {
            name: m.clone(),
            prefix: m.ends_with('*'),
        });
    }
    if p.tmin > p.tmax {
        return Err(BuildError::param(
            "tmax",
            format!("{} s is before tmin = {} s", p.tmax, p.tmin),
        ));
    }
    // As mne.Epochs: round(tmin·fs)..=round(tmax·fs) (Python's round: ties to even).
    let i0 = (p.tmin * fs).round_ties_even() as i64;
    let i1 = (p.tmax * fs).round_ties_even() as i64;
    let times = (i1 - i0 + 1) as usize;
    let baseline = match &p.baseline {
        None => None,
        Some(bl) => Some(baseline_range(bl, i0, times, fs)?),
    };
    let reject = Thresholds::parse("reject", p.reject.as_deref(), &info)?;
    let flat = Thresholds::parse("flat", p.flat.as_deref(), &info)?;
    let delay = (p.max_delay_s * fs).ceil() as usize;
    let ring_frames = times + delay + info.frames_per_packet.max(1);
    let channels = info.channel_count();
    let mut out_info = info.derived();
    out_info.frames_per_packet = times;
    out_info.epochs = Some(EpochLayout {
        tmin_s: i0 as f64 / fs,
        times,
        classes: p.markers.clone(),
    });
    let rows: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
    let n_classes = classes.len();
    let readouts = b.readouts(&COLUMNS, rows);
    // Counts start at zero (a cell never set reads "not measured").
    for row in 0..classes.len() {
        for col in 0..COLUMNS.len() {
            readouts.set(row, col, 0.0);
        }
    }
    readouts.publish();
    let events = b.events();
    let labels: Vec<String> = info.channels.iter().map(|c| c.label.clone()).collect();
    let unit = info
        .channels
        .first()
        .map(|c| c.unit.clone())
        .unwrap_or_default();
    with_float!(kind, S => {
        let input = b.input::<Samples<S>>("in")?;
        let pool = b.pool::<Samples<S>>(times, channels)?;
        let out = b.output::<Samples<S>>("out", out_info)?;
        Ok(BoxedStage::new(Epoch::<S> {
            input,
            out,
            pool,
            events,
            classes,
            i0,
            times,
            baseline,
            reject,
            flat,
            ring: FrameRing::new(ring_frames, channels),
            spans: Spans::new(fs, ring_frames),
            pending: Vec::with_capacity(MAX_PENDING),
            readouts,
            counts: vec![[0; 5]; n_classes],
            scratch: vec![0.0; 2 * channels],
            labelled: p.markers.len(),
            sequence: 0,
            lost_events: 0,
            completed_at: 0,
            channels,
            labels,
            unit,
        }))
    })
}

/// Frame indices within the epoch of MNE's baseline interval: the frames whose time
/// `(i0 + k) / fs` lies in `[a, b]`.
fn baseline_range(
    bl: &[f64],
    i0: i64,
    times: usize,
    fs: f64,
) -> Result<(usize, usize), BuildError> {
    let [a, b] = bl else {
        return Err(BuildError::param(
            "baseline",
            format!(
                "has {} values; give [start, end] in seconds, e.g. [-0.2, 0]",
                bl.len()
            ),
        ));
    };
    let t = |k: usize| (i0 + k as i64) as f64 / fs;
    let (tmin, tmax) = (t(0), t(times - 1));
    if a > b {
        return Err(BuildError::param(
            "baseline",
            format!("starts at {a} s, after its end {b} s"),
        ));
    }
    // MNE accepts an interval up to one sample outside the epoch.
    if *a < tmin - 1.0 / fs || *b > tmax + 1.0 / fs {
        return Err(BuildError::param(
            "baseline",
            format!("[{a}, {b}] s is outside the epoch ({tmin} to {tmax} s)"),
        ));
    }
    let lo = (0..times).find(|&k| t(k) >= *a);
    let hi = (0..times).rev().find(|&k| t(k) <= *b);
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo <= hi => Ok((lo, hi + 1)),
        _ => Err(BuildError::param(
            "baseline",
            format!("[{a}, {b}] s holds no sample of the epoch at {fs} Hz"),
        )),
    }
}

/// The `Epoch` stage.
pub struct Epoch<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
    pool: MemoryPool<Samples<S>>,
    events: EventReceiver,
    classes: Vec<Class>,
    /// Per-channel scratch (baseline means; peak-to-peak ranges), `2 × channels`.
    scratch: Vec<f64>,
    /// The first `labelled` classes label their epochs; the rest (`unlabelled`) do not.
    labelled: usize,
    i0: i64,
    times: usize,
    baseline: Option<(usize, usize)>,
    reject: Thresholds,
    flat: Thresholds,
    ring: FrameRing<S>,
    spans: Spans,
    pending: Vec<Pending>,
    readouts: Readouts,
    /// Per class, per [`Fate`].
    counts: Vec<[u64; 5]>,
    sequence: u64,
    /// Events lost on the bus (the stage fell behind): markers among them are not epoched.
    lost_events: u64,
    /// `emitted` of the newest packet: the one completing the windows cut now.
    completed_at: u64,
    channels: usize,
    labels: Vec<String>,
    unit: String,
}

impl<S: FloatSample> Epoch<S>
where
    Samples<S>: Payload,
{
    /// `12 epochs sent (target 3, nontarget 9); dropped: 1 rejected, 2 unfinished`.
    fn summary(&self) -> String {
        let col = |f: Fate| self.counts.iter().map(|c| c[f as usize]).sum::<u64>();
        let per_class: Vec<String> = self
            .classes
            .iter()
            .zip(&self.counts)
            .map(|(c, n)| format!("{} {}", c.name, n[Fate::Sent as usize]))
            .collect();
        let mut s = format!("{} epochs sent ({})", col(Fate::Sent), per_class.join(", "));
        let drops: Vec<String> = [
            (Fate::Rejected, "rejected"),
            (Fate::BadData, "bad data"),
            (Fate::Late, "late"),
            (Fate::Unfinished, "unfinished"),
        ]
        .into_iter()
        .filter(|(f, _)| col(*f) > 0)
        .map(|(f, name)| format!("{} {name}", col(f)))
        .collect();
        if !drops.is_empty() {
            s += &format!("; dropped: {}", drops.join(", "));
        }
        if self.lost_events > 0 {
            s += &format!("; {} events lost on the bus", self.lost_events);
        }
        s
    }

    /// Reads new markers into `pending`.
    fn read_markers(&mut self, ctx: &StageContext) {
        loop {
            match self.events.try_recv() {
                Ok(ev) if ev.kind == EventKind::Marker => {
                    let Some(class) = self.classes.iter().position(|c| c.matches(&ev.text)) else {
                        continue;
                    };
                    if self.pending.len() == MAX_PENDING {
                        self.count(class, Fate::Late);
                        ctx.emit_event_at(
                            ev.time_ns,
                            EventKind::EpochDropped,
                            format!(
                                "epoch of `{}` dropped: {MAX_PENDING} markers already wait for their data",
                                ev.text
                            ),
                        );
                        continue;
                    }
                    self.pending.push(Pending {
                        t_ns: ev.time_ns,
                        class: class as u32,
                    });
                }
                Ok(_) => {}
                Err(TryRecvError::Lagged(n)) => {
                    // Their classes are unknown: reported, and counted in the status line.
                    self.lost_events += n;
                    ctx.emit_event(
                        EventKind::EpochDropped,
                        format!("{n} events lost on the event bus (the stage fell behind): their epochs, if any, are missing"),
                    );
                }
                Err(_) => break,
            }
        }
    }

    fn count(&mut self, class: usize, fate: Fate) {
        self.counts[class][fate as usize] += 1;
        self.readouts.set(
            class,
            fate as usize,
            self.counts[class][fate as usize] as f64,
        );
        self.readouts.publish();
    }

    fn drop_epoch(&mut self, ctx: &StageContext, m: Pending, fate: Fate, why: &str) {
        self.count(m.class as usize, fate);
        ctx.emit_event_at(
            m.t_ns,
            EventKind::EpochDropped,
            format!(
                "epoch of `{}` dropped: {why}",
                self.classes[m.class as usize].name
            ),
        );
    }

    /// Cuts every pending epoch whose data is complete; drops those that cannot be cut.
    async fn cut_ready(&mut self, ctx: &StageContext) -> Result<(), StageError> {
        let mut i = 0;
        while i < self.pending.len() {
            let m = self.pending[i];
            let first = match self.spans.place(m.t_ns) {
                Placed::Later => {
                    i += 1;
                    continue;
                }
                Placed::InGap => {
                    self.pending.remove(i);
                    self.drop_epoch(
                        ctx,
                        m,
                        Fate::BadData,
                        "its marker falls in a break of the stream (no sample there)",
                    );
                    continue;
                }
                Placed::BeforeStream => {
                    self.pending.remove(i);
                    self.drop_epoch(ctx, m, Fate::BadData, "its window starts before the stream");
                    continue;
                }
                Placed::Frame(f) => f as i64 + self.i0,
            };
            if first < 0 {
                self.pending.remove(i);
                self.drop_epoch(ctx, m, Fate::BadData, "its window starts before the stream");
                continue;
            }
            let first = first as u64;
            if first + self.times as u64 > self.ring.end() {
                i += 1;
                continue;
            }
            self.pending.remove(i);
            if self.spans.breaks_within(first, self.times as u64) {
                self.drop_epoch(
                    ctx,
                    m,
                    Fate::BadData,
                    "a break in the stream (pause or lost samples) inside the window",
                );
                continue;
            }
            if first < self.ring.oldest() {
                self.drop_epoch(
                    ctx,
                    m,
                    Fate::Late,
                    "its marker arrived after the data had left the buffer (raise max_delay_s)",
                );
                continue;
            }
            self.cut(ctx, m, first).await?;
        }
        Ok(())
    }

    async fn cut(&mut self, ctx: &StageContext, m: Pending, first: u64) -> Result<(), StageError> {
        let mut pkt = self.pool.acquire().await;
        pkt.set_shape(self.times, self.channels)?;
        self.ring.copy_to(first, pkt.samples_mut());
        let data = pkt.samples_mut();
        if !data.iter().all(|x| x.is_finite()) {
            drop(pkt);
            self.drop_epoch(
                ctx,
                m,
                Fate::BadData,
                "non-finite (missing) samples in the window",
            );
            return Ok(());
        }
        let c = self.channels;
        if let Some((lo, hi)) = self.baseline {
            // Per channel, the frames summed in order (as one channel at a time would), in
            // one pass over memory.
            let means = &mut self.scratch[..c];
            means.fill(0.0);
            for frame in data[lo * c..hi * c].chunks_exact(c) {
                for (m, x) in means.iter_mut().zip(frame) {
                    *m += x.to_f64();
                }
            }
            let n = (hi - lo) as f64;
            means.iter_mut().for_each(|m| *m /= n);
            for frame in data.chunks_exact_mut(c) {
                for (x, m) in frame.iter_mut().zip(means.iter()) {
                    *x = S::from_f64(x.to_f64() - m);
                }
            }
        }
        if let Some(why) = peak_to_peak_check(data, c, &self.reject, &self.flat, &mut self.scratch)
        {
            drop(pkt);
            let why = why.describe(&self.labels, &self.unit);
            self.drop_epoch(ctx, m, Fate::Rejected, &why);
            return Ok(());
        }
        let h = &mut pkt.header;
        h.sequence = self.sequence;
        h.first_frame = first;
        h.timestamp = self.spans.time_of(first);
        // When the data completing the window left its source: sinks measure the closed
        // loop (last sample in → epoch, features, prediction out) from here.
        h.emitted = self.completed_at;
        h.label = ((m.class as usize) < self.labelled).then_some(m.class);
        self.sequence += 1;
        self.count(m.class as usize, Fate::Sent);
        self.out.send(pkt).await
    }
}

impl<S: FloatSample> DataPlaneStage for Epoch<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        self.read_markers(ctx);
        let h = pkt.header;
        self.completed_at = h.emitted;
        let gap = h.flags & (FLAG_DISCONTINUITY | FLAG_LOST_SAMPLES) != 0 || h.lost_frames > 0;
        let contiguous = self.ring.push(h.first_frame, pkt.samples());
        self.spans.push(
            h.first_frame,
            h.frames() as u64,
            h.timestamp,
            gap || !contiguous,
        );
        drop(pkt);
        self.cut_ready(ctx).await
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        self.read_markers(ctx);
        self.cut_ready(ctx).await?;
        while let Some(m) = self.pending.pop() {
            self.drop_epoch(
                ctx,
                m,
                Fate::Unfinished,
                "the stream ended before its window was complete",
            );
        }
        self.readouts.set_status(&self.summary());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_indices_follow_mne() {
        // 250 Hz, tmin -0.2 s: i0 = -50; baseline (-0.2, 0) = frames 0..=50.
        assert_eq!(
            baseline_range(&[-0.2, 0.0], -50, 176, 250.0).unwrap(),
            (0, 51)
        );
        // An interval between two samples.
        assert!(baseline_range(&[0.001, 0.002], -50, 176, 250.0).is_err());
        assert!(baseline_range(&[-0.5, 0.0], -50, 176, 250.0).is_err());
        assert!(baseline_range(&[0.0], -50, 176, 250.0).is_err());
    }

    #[test]
    fn prefix_classes_match_by_prefix() {
        let c = Class {
            name: "stim/*".into(),
            prefix: true,
        };
        assert!(c.matches("stim/left") && !c.matches("stimulus"));
        let c = Class {
            name: "target".into(),
            prefix: false,
        };
        assert!(c.matches("target") && !c.matches("target2"));
    }
}
