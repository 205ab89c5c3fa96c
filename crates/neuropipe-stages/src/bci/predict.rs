//! The prediction stream every decoder sends (`Lda`, `Mdm`): per epoch one frame of class
//! probabilities labelled with the predicted class, with the epoch's timestamp, frame index
//! and emission time (so sinks measure closed-loop latency), counted per class in the
//! readouts and, with `events`, published as a `prediction` event on the epoch's marker
//! sample (`left (p = 0.93)`), which recorders annotate and `LslOutlet` sends as markers.
//! Epochs that carry a label naming one of the decoder's classes (a simulated or replayed
//! session with its cues) are scored on line: how many were predicted right shows in the
//! readouts and the run summary. Also the decoders' shared drop path for an epoch they
//! cannot decode.

use neuropipe_core::prelude::*;

/// The index of the largest value (the first of equals): the class a decoder predicts from
/// its per-class scores.
pub(super) fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (k, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = k;
        }
    }
    best
}

/// What a decoder's per-class values are.
#[derive(Clone, Copy, Debug)]
pub(super) struct Scores {
    /// Channel kind of the prediction stream (`Probability`, `Correlation`, `Score`).
    pub kind: &'static str,
    /// Their range, if bounded.
    pub range: Option<[f64; 2]>,
    /// The symbol in a prediction event (`p`, `ρ`, `score`).
    pub symbol: &'static str,
}

impl Scores {
    /// Class probabilities.
    pub(super) const PROBABILITY: Scores = Scores {
        kind: "Probability",
        range: Some([0.0, 1.0]),
        symbol: "p",
    };
}

/// A decoder's output port, pool, counts and readouts.
pub(super) struct Predictions {
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    classes: Vec<String>,
    counts: Vec<u64>,
    dropped: u64,
    readouts: Readouts,
    events: bool,
    symbol: &'static str,
    /// The epochs' start relative to their event (ns, ≤ 0 for marker-locked epochs).
    tmin_ns: f64,
    /// Per input label: the class of the same name, if any.
    truth: Vec<Option<usize>>,
    labelled: u64,
    right: u64,
    /// Appended to the final status line (a calibration's report).
    note: String,
}

impl Predictions {
    /// The output `out` of a decoder of feature stream `info` into `classes`, with its
    /// readouts (epochs predicted per class, epochs dropped).
    pub(super) fn build(
        b: &mut StageBuilder<'_>,
        info: &StreamInfo,
        classes: &[String],
        events: bool,
        scores: Scores,
    ) -> Result<Predictions, BuildError> {
        let mut out_info = info.derived();
        out_info.kind = "Prediction".to_string();
        out_info.channels = classes
            .iter()
            .map(|c| ChannelInfo {
                label: c.clone(),
                unit: String::new(),
                kind: scores.kind.to_string(),
                range: scores.range,
            })
            .collect();
        let mut rows = classes.to_vec();
        rows.extend(["(dropped)", "(labelled)", "(right)", "(calibration)"].map(String::from));
        let readouts = b.readouts(
            &[ReadoutColumn::number(
                "predicted",
                "",
                "epochs predicted as this class; (dropped): epochs that could not be decoded; (labelled): epochs labelled with one of the classes (a session with its cues); (right): of those, predicted as their label; (calibration): epochs collected by a calibration in the pipeline",
            )],
            rows,
        );
        for row in 0..classes.len() + 4 {
            readouts.set(row, 0, 0.0);
        }
        readouts.publish();
        let tmin_ns = info.epochs.as_ref().map_or(0.0, |e| e.tmin_s * 1e9);
        let truth = info
            .epochs
            .as_ref()
            .map(|e| {
                e.classes
                    .iter()
                    .map(|c| classes.iter().position(|k| k == c))
                    .collect()
            })
            .unwrap_or_default();
        let pool = b.pool::<Samples<f64>>(1, classes.len())?;
        let out = b.output::<Samples<f64>>("out", out_info)?;
        Ok(Predictions {
            out,
            pool,
            classes: classes.to_vec(),
            counts: vec![0; classes.len()],
            dropped: 0,
            readouts,
            events,
            symbol: scores.symbol,
            tmin_ns,
            truth,
            labelled: 0,
            right: 0,
            note: String::new(),
        })
    }

    /// Sends the prediction of class `class` for the epoch with header `h`, `fill` writing
    /// the class probabilities.
    pub(super) async fn send(
        &mut self,
        ctx: &mut StageContext,
        h: PacketHeader,
        class: usize,
        fill: impl FnOnce(&mut [f64]),
    ) -> Result<(), StageError> {
        let mut out = self.pool.acquire().await;
        out.set_shape(1, self.classes.len())?;
        fill(out.samples_mut());
        out.header.sequence = h.sequence;
        out.header.first_frame = h.first_frame;
        out.header.timestamp = h.timestamp;
        out.header.emitted = h.emitted;
        out.header.label = Some(class as u32);
        self.counts[class] += 1;
        self.readouts.set(class, 0, self.counts[class] as f64);
        if let Some(&Some(truth)) = h.label.and_then(|l| self.truth.get(l as usize)) {
            self.labelled += 1;
            self.right += u64::from(truth == class);
            let k = self.classes.len();
            self.readouts.set(k + 1, 0, self.labelled as f64);
            self.readouts.set(k + 2, 0, self.right as f64);
        }
        self.readouts.publish();
        if self.events {
            ctx.emit_event_at(
                self.event_ns(&h),
                EventKind::Prediction,
                format!(
                    "{} ({} = {:.3})",
                    self.classes[class],
                    self.symbol,
                    out.samples()[class]
                ),
            );
        }
        self.out.send(out).await
    }

    /// Counts and reports an epoch that cannot be decoded (`why`), instead of predicting.
    pub(super) fn drop_epoch(&mut self, ctx: &mut StageContext, h: &PacketHeader, why: String) {
        self.dropped += 1;
        self.readouts
            .set(self.classes.len(), 0, self.dropped as f64);
        self.readouts.publish();
        ctx.emit_event_at(self.event_ns(h), EventKind::EpochDropped, why);
    }

    /// The epoch's event (marker) time.
    fn event_ns(&self, h: &PacketHeader) -> u64 {
        (h.timestamp as f64 - self.tmin_ns).max(0.0) as u64
    }

    /// Epochs a calibration has collected, in the readouts (allocation-free).
    pub(super) fn calibration_progress(&self, collected: usize) {
        self.readouts
            .set(self.classes.len() + 3, 0, collected as f64);
        self.readouts.publish();
    }

    /// Text appended to the final status line.
    pub(super) fn set_note(&mut self, note: &str) {
        self.note = note.to_string();
    }

    /// Sets the readouts' status line (a calibration's progress).
    pub(super) fn status(&self, text: &str) {
        self.readouts.set_status(text);
    }

    /// The run's totals as the readouts' status line.
    pub(super) fn finish(&mut self) {
        let total: u64 = self.counts.iter().sum();
        let per: Vec<String> = self
            .classes
            .iter()
            .zip(&self.counts)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let dropped = if self.dropped > 0 {
            format!("; {} epochs dropped", self.dropped)
        } else {
            String::new()
        };
        let right = if self.labelled > 0 {
            format!(
                "; {} of {} labelled epochs right ({:.1} %)",
                self.right,
                self.labelled,
                100.0 * self.right as f64 / self.labelled as f64
            )
        } else {
            String::new()
        };
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!("; {}", self.note)
        };
        self.readouts.set_status(&format!(
            "{total} predictions ({}){dropped}{right}{note}",
            per.join(", ")
        ));
    }
}
