//! The prediction stream every decoder sends (`Lda`, `Mdm`): per epoch one frame of class
//! probabilities labelled with the predicted class, with the epoch's timestamp, frame index
//! and emission time (so sinks measure closed-loop latency), counted per class in the
//! readouts and, with `events`, published as a `prediction` event on the epoch's marker
//! sample (`left (p = 0.93)`), which recorders annotate and `LslOutlet` sends as markers.
//! Also the decoders' shared drop path for an epoch they cannot decode.

use neuropipe_core::prelude::*;

/// A decoder's output port, pool, counts and readouts.
pub(super) struct Predictions {
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    classes: Vec<String>,
    counts: Vec<u64>,
    dropped: u64,
    readouts: Readouts,
    events: bool,
    /// The epochs' start relative to their event (ns, ≤ 0 for marker-locked epochs).
    tmin_ns: f64,
}

impl Predictions {
    /// The output `out` of a decoder of feature stream `info` into `classes`, with its
    /// readouts (epochs predicted per class, epochs dropped).
    pub(super) fn build(
        b: &mut StageBuilder<'_>,
        info: &StreamInfo,
        classes: &[String],
        events: bool,
    ) -> Result<Predictions, BuildError> {
        let mut out_info = info.derived();
        out_info.kind = "Prediction".to_string();
        out_info.channels = classes
            .iter()
            .map(|c| ChannelInfo {
                label: c.clone(),
                unit: String::new(),
                kind: "Probability".to_string(),
                range: Some([0.0, 1.0]),
            })
            .collect();
        let mut rows = classes.to_vec();
        rows.push("(dropped)".to_string());
        let readouts = b.readouts(
            &[ReadoutColumn::number(
                "predicted",
                "",
                "epochs predicted as this class; (dropped): epochs that could not be decoded",
            )],
            rows,
        );
        for row in 0..=classes.len() {
            readouts.set(row, 0, 0.0);
        }
        readouts.publish();
        let tmin_ns = info.epochs.as_ref().map_or(0.0, |e| e.tmin_s * 1e9);
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
            tmin_ns,
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
        self.readouts.publish();
        if self.events {
            ctx.emit_event_at(
                self.event_ns(&h),
                EventKind::Prediction,
                format!("{} (p = {:.3})", self.classes[class], out.samples()[class]),
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
        self.readouts.set_status(&format!(
            "{total} predictions ({}){dropped}",
            per.join(", ")
        ));
    }
}
