//! `Accumulator`: the decision of a P300 speller, from its decoder's predictions of single
//! flashes.
//!
//! # What it does
//!
//! A speller flashes its symbols (one at a time, or rows and columns of a matrix) and the
//! stimulus program announces each flash with a marker naming what was shown,
//! `flash:<symbol>[,<symbol>…]` (`flash_prefix`), and each new selection with
//! `trial:` (`trial_prefix`; `trial:B` when the program cues the symbol to spell, which is
//! then scored). A decoder (`Lda`, `Mdm`, `Onnx`) predicts every flash's epoch; this stage
//! pairs each prediction with its flash marker (the marker within half a sample period of
//! the epoch's event) and accumulates the evidence per symbol, as Bayesian dynamic stopping
//! does: a flash whose probability of showing the attended symbol (`class`, default
//! `target`) is `p` adds the log-likelihood ratio `logit(p) − logit(k / N)` to each of the
//! `k` symbols it showed (`k / N`, the chance that a flash of `k` of the `N` symbols shows
//! the attended one, is the prior the decoder learned). The posterior over symbols is the
//! softmax of these sums. Once every symbol has been flashed `min_repetitions` times, the
//! leading symbol is selected as soon as its posterior reaches `threshold`; after
//! `max_repetitions` it is selected whatever its posterior; a new `trial:` marker ends an
//! undecided selection with the evidence so far.
//!
//! Each selection is one packet on `out` (the posterior of every symbol, labelled with the
//! selected one, stamped at the last flash used, carrying the last prediction's emission
//! time so a sink measures closed-loop latency) and a `selection` event
//! (`B (p = 0.972 after 4 repetitions)`) that recorders annotate and an `LslOutlet` with
//! `markers: true` publishes. After a selection, the flashes until the next `trial:` marker
//! are ignored (counted); without trial markers, the next selection starts at once.
//!
//! Nothing is dropped silently: predictions without a flash marker, flashes whose epoch was
//! not decoded (rejected), flashes after a selection and markers naming unknown symbols are
//! counted in the readouts and the run summary. Allocates nothing per prediction (a
//! selection's event text is the only allocation).

use neuropipe_core::prelude::*;
use std::collections::VecDeque;
use tokio::sync::broadcast::error::TryRecvError;

/// Parameters of `Accumulator`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct AccumulatorParams {
    /// the speller's symbols, as its flash markers name them (e.g. ["A", "B", "C"]; 2 to 128)
    pub items: Vec<String>,
    /// the decoder class whose probability says that a flash showed the attended symbol
    #[param(default = "target")]
    pub class: String,
    /// prefix of the markers naming what a flash showed: "flash:A", or "flash:A,B,C" for a row
    #[param(default = "flash:")]
    pub flash_prefix: String,
    /// prefix of the markers starting a selection; "trial:B" names the cued symbol (scored)
    #[param(default = "trial:")]
    pub trial_prefix: String,
    /// posterior probability of the leading symbol that selects it
    #[param(default = 0.9, min = 0.5, max = 1.0, live)]
    pub threshold: f64,
    /// repetitions (flashes of every symbol) before a selection may be made
    #[param(default = 2, min = 1, max = 10_000)]
    pub min_repetitions: usize,
    /// repetitions after which the leading symbol is selected whatever its posterior
    #[param(default = 10, min = 1, max = 10_000)]
    pub max_repetitions: usize,
    /// publish each selection as a `selection` event (recorders annotate it; LslOutlet markers)
    #[param(default = true)]
    pub events: bool,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Accumulator",
        "A P300 speller's selection: each flash's prediction (paired with its flash marker) accumulated per symbol until one is probable enough",
        build,
    )
    .input(
        PortSpec::of("in", PayloadKind::F64)
            .doc("a decoder's predictions of flash epochs (Lda, Mdm, Onnx)"),
    )
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame per selection: the posterior of every symbol, labelled with the selected one"),
    )
    .params::<AccumulatorParams>()
    .with_pool()
}

/// Markers waiting for their prediction, at most.
const MAX_PENDING: usize = 4096;

/// Symbols at most (a bit each in a `u128`).
const MAX_ITEMS: usize = 128;

/// Readout rows after the symbols.
const EXTRA_ROWS: [&str; 6] = [
    "(cued)",
    "(right)",
    "(unmatched)",
    "(undecoded)",
    "(ignored)",
    "(unknown)",
];

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let (_, info, layout) = super::epoch_input_stream(b)?;
    let p: AccumulatorParams = b.parse_params()?;
    if !(2..=MAX_ITEMS).contains(&p.items.len()) {
        return Err(BuildError::param(
            "items",
            format!("{} symbols: give 2 to {MAX_ITEMS}", p.items.len()),
        ));
    }
    if let Some((i, s)) = p
        .items
        .iter()
        .enumerate()
        .find(|(i, s)| s.is_empty() || s.contains(',') || p.items[..*i].contains(s))
    {
        return Err(BuildError::param(
            "items",
            format!("symbol {i} ({s:?}) is empty, holds a comma or is given twice"),
        ));
    }
    if p.min_repetitions > p.max_repetitions {
        return Err(BuildError::param(
            "min_repetitions",
            format!(
                "{} is more than max_repetitions ({})",
                p.min_repetitions, p.max_repetitions
            ),
        ));
    }
    if info.kind != "Prediction" || layout.times != 1 {
        return Err(BuildError::stage(
            "its input is not a decoder's predictions: feed it from Lda, Mdm or Onnx",
        ));
    }
    let class = info
        .channels
        .iter()
        .position(|c| c.label == p.class)
        .ok_or_else(|| {
            BuildError::param(
                "class",
                format!(
                    "the decoder predicts {:?}, not {:?}",
                    info.labels(),
                    p.class
                ),
            )
        })?;
    let n = p.items.len();
    let mut out_info = info.derived();
    out_info.kind = "Selection".to_string();
    out_info.channels = p
        .items
        .iter()
        .map(|s| ChannelInfo {
            label: s.clone(),
            unit: String::new(),
            kind: "Probability".to_string(),
            range: Some([0.0, 1.0]),
        })
        .collect();
    out_info.epochs = Some(EpochLayout {
        tmin_s: 0.0,
        times: 1,
        classes: p.items.clone(),
    });
    let mut rows = p.items.clone();
    rows.extend(EXTRA_ROWS.map(String::from));
    let readouts = b.readouts(
        &[ReadoutColumn::number(
            "selected",
            "",
            "selections of this symbol; (cued): selections of trials that named their symbol; (right): of those, the cued symbol; (unmatched): predictions without a flash marker; (undecoded): flashes whose epoch was not predicted (rejected); (ignored): predictions after a selection, before the next trial; (unknown): markers naming no symbol",
        )],
        rows,
    );
    for row in 0..n + EXTRA_ROWS.len() {
        readouts.set(row, 0, 0.0);
    }
    readouts.publish();
    let input = b.epochs_input::<Samples<f64>>("in")?;
    let pool = b.pool::<Samples<f64>>(1, n)?;
    let out = b.output::<Samples<f64>>("out", out_info)?;
    Ok(BoxedStage::new(Accumulator {
        input,
        out,
        pool,
        events: b.events(),
        class,
        tmin_ns: layout.tmin_s * 1e9,
        tol_ns: 0.5e9 / info.sample_rate + 1e3,
        pending: VecDeque::with_capacity(MAX_PENDING),
        score: vec![0.0; n],
        flashes: vec![0; n],
        decided: false,
        saw_trial: false,
        cue: None,
        last_flash_ns: 0,
        counts: Counts {
            selected: vec![0; n],
            ..Counts::default()
        },
        readouts,
        p,
    }))
}

/// A marker waiting for its prediction.
#[derive(Clone, Copy, Debug)]
enum Mark {
    /// A flash of the symbols in `mask` (`k` of them).
    Flash { mask: u128, k: u32 },
    /// A new selection, with its cued symbol if named.
    Trial { cue: Option<usize> },
}

#[derive(Default)]
struct Counts {
    selected: Vec<u64>,
    cued: u64,
    right: u64,
    unmatched: u64,
    undecoded: u64,
    ignored: u64,
    unknown: u64,
    repetitions: u64,
    lost_events: u64,
}

/// The `Accumulator` stage.
pub struct Accumulator {
    input: Input<Samples<f64>>,
    out: Output<Samples<f64>>,
    pool: MemoryPool<Samples<f64>>,
    events: EventReceiver,
    p: AccumulatorParams,
    /// Index of `p.class` among the decoder's outputs.
    class: usize,
    /// The predictions' epoch start relative to their event.
    tmin_ns: f64,
    /// How far a flash marker may be from its epoch's event (half a sample period).
    tol_ns: f64,
    /// Markers (with their times) in arrival order.
    pending: VecDeque<(u64, Mark)>,
    /// Per symbol: the summed log-likelihood ratio, flashes so far.
    score: Vec<f64>,
    flashes: Vec<u32>,
    /// A selection was made; waiting for the next trial marker.
    decided: bool,
    saw_trial: bool,
    cue: Option<usize>,
    last_flash_ns: u64,
    counts: Counts,
    readouts: Readouts,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    (p / (1.0 - p)).ln()
}

impl Accumulator {
    /// The symbol index named `name`.
    fn item(&self, name: &str) -> Option<usize> {
        self.p.items.iter().position(|s| s == name.trim())
    }

    /// Reads new flash and trial markers into `pending`.
    fn read_markers(&mut self, ctx: &StageContext) {
        loop {
            let ev = match self.events.try_recv() {
                Ok(ev) => ev,
                Err(TryRecvError::Lagged(n)) => {
                    self.counts.lost_events += n;
                    ctx.emit_event(
                        EventKind::EpochDropped,
                        format!("{n} events lost on the event bus (the stage fell behind): flashes among them are missing from the selection"),
                    );
                    continue;
                }
                Err(_) => return,
            };
            if ev.kind != EventKind::Marker {
                continue;
            }
            let mark = if let Some(rest) = ev.text.strip_prefix(self.p.flash_prefix.as_str()) {
                let (mut mask, mut k) = (0u128, 0u32);
                for name in rest.split(',') {
                    match self.item(name) {
                        Some(i) if mask & (1u128 << i) == 0 => {
                            mask |= 1u128 << i;
                            k += 1;
                        }
                        Some(_) => {}
                        None => self.counts.unknown += 1,
                    }
                }
                if k == 0 {
                    self.publish_counts();
                    continue;
                }
                Mark::Flash { mask, k }
            } else if let Some(rest) = ev.text.strip_prefix(self.p.trial_prefix.as_str()) {
                let cue = self.item(rest);
                if cue.is_none() && !rest.trim().is_empty() {
                    self.counts.unknown += 1;
                    self.publish_counts();
                }
                Mark::Trial { cue }
            } else {
                continue;
            };
            if self.pending.len() == MAX_PENDING {
                // Far more flashes than predictions: the oldest never had one.
                if let Some((_, Mark::Flash { .. })) = self.pending.pop_front() {
                    self.counts.undecoded += 1;
                }
            }
            self.pending.push_back((ev.time_ns, mark));
        }
    }

    /// Starts a new selection (a trial marker, or the end of the last one).
    fn reset(&mut self) {
        self.score.fill(0.0);
        self.flashes.fill(0);
    }

    /// The leading symbol and its posterior.
    fn leader(&self) -> (usize, f64) {
        let best = super::predict::argmax(&self.score);
        let m = self.score[best];
        let sum: f64 = self.score.iter().map(|s| (s - m).exp()).sum();
        (best, 1.0 / sum)
    }

    /// Selects the leading symbol: the packet, the event, the counts.
    async fn select(&mut self, ctx: &mut StageContext, h: &PacketHeader) -> Result<(), StageError> {
        let best = super::predict::argmax(&self.score);
        let reps = self.flashes.iter().copied().min().unwrap_or(0);
        let mut out = self.pool.acquire().await;
        out.set_shape(1, self.score.len())?;
        let m = self.score[best];
        let sum: f64 = self.score.iter().map(|s| (s - m).exp()).sum();
        for (o, s) in out.samples_mut().iter_mut().zip(&self.score) {
            *o = (s - m).exp() / sum;
        }
        let p = out.samples()[best];
        let c = &mut self.counts;
        out.header.sequence = c.selected.iter().sum();
        out.header.first_frame = h.first_frame;
        out.header.timestamp = self.last_flash_ns;
        out.header.emitted = h.emitted;
        out.header.label = Some(best as u32);
        c.selected[best] += 1;
        c.repetitions += u64::from(reps);
        if let Some(cue) = self.cue {
            c.cued += 1;
            c.right += u64::from(cue == best);
        }
        self.publish_counts();
        if self.p.events {
            let cued = match self.cue {
                Some(c) => format!("; cued {}", self.p.items[c]),
                None => String::new(),
            };
            ctx.emit_event_at(
                self.last_flash_ns,
                EventKind::Selection,
                format!(
                    "{} (p = {p:.3} after {reps} repetitions{cued})",
                    self.p.items[best]
                ),
            );
        }
        self.reset();
        self.decided = self.saw_trial;
        self.out.send(out).await
    }

    fn publish_counts(&self) {
        let c = &self.counts;
        let n = self.p.items.len();
        for (i, v) in c.selected.iter().enumerate() {
            self.readouts.set(i, 0, *v as f64);
        }
        for (k, v) in [
            c.cued,
            c.right,
            c.unmatched,
            c.undecoded,
            c.ignored,
            c.unknown,
        ]
        .into_iter()
        .enumerate()
        {
            self.readouts.set(n + k, 0, v as f64);
        }
        self.readouts.publish();
    }

    /// Counts flash `mask` in the current selection (unless one was made).
    fn count_flash(&mut self, mask: u128) {
        for (i, f) in self.flashes.iter_mut().enumerate() {
            if mask & (1u128 << i) != 0 {
                *f += 1;
            }
        }
    }
}

impl DataPlaneStage for Accumulator {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(pred) = self.input.recv().await? else {
            return Ok(());
        };
        let h = pred.header;
        let prob = pred.samples()[self.class];
        drop(pred);
        self.read_markers(ctx);
        let event_ns = (h.timestamp as f64 - self.tmin_ns).max(0.0);
        let mut matched = None;
        while let Some(&(t, mark)) = self.pending.front() {
            if t as f64 > event_ns + self.tol_ns {
                break;
            }
            self.pending.pop_front();
            match mark {
                Mark::Trial { cue } => {
                    if !self.decided && self.flashes.iter().any(|&f| f > 0) {
                        // The program moved on: select with the evidence so far.
                        self.select(ctx, &h).await?;
                    }
                    self.reset();
                    self.decided = false;
                    self.saw_trial = true;
                    self.cue = cue;
                }
                Mark::Flash { mask, k } => {
                    let t_ns = t;
                    if (t_ns as f64 - event_ns).abs() <= self.tol_ns && matched.is_none() {
                        matched = Some((mask, k, t_ns));
                    } else {
                        // Its epoch was not decoded (rejected): flashed, without evidence.
                        self.counts.undecoded += 1;
                        if !self.decided {
                            self.count_flash(mask);
                        }
                    }
                }
            }
        }
        self.publish_counts();
        let Some((mask, k, t_ns)) = matched else {
            self.counts.unmatched += 1;
            self.publish_counts();
            return Ok(());
        };
        if self.decided {
            self.counts.ignored += 1;
            self.publish_counts();
            return Ok(());
        }
        let n = self.p.items.len() as f64;
        let llr = logit(prob) - logit(f64::from(k) / n);
        for (i, s) in self.score.iter_mut().enumerate() {
            if mask & (1u128 << i) != 0 {
                *s += llr;
            }
        }
        self.count_flash(mask);
        self.last_flash_ns = t_ns;
        let reps = self.flashes.iter().copied().min().unwrap_or(0) as usize;
        let (_, posterior) = self.leader();
        if (reps >= self.p.min_repetitions && posterior >= self.p.threshold)
            || reps >= self.p.max_repetitions
        {
            self.select(ctx, &h).await?;
        }
        Ok(())
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        let Some(u) = msg.update::<AccumulatorParams>()? else {
            return Ok(Handled::Default);
        };
        self.p.apply(&u);
        Ok(Handled::update::<AccumulatorParams>(&u))
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let c = &self.counts;
        let total: u64 = c.selected.iter().sum();
        let mut s = format!("{total} selections");
        if total > 0 {
            s += &format!(
                " (mean {:.1} repetitions)",
                c.repetitions as f64 / total as f64
            );
        }
        if c.cued > 0 {
            s += &format!(
                "; {} of {} cued selections right ({:.1} %)",
                c.right,
                c.cued,
                100.0 * c.right as f64 / c.cued as f64
            );
        }
        if !self.decided && self.flashes.iter().any(|&f| f > 0) {
            s += "; a selection unfinished at the end of the stream";
        }
        for (what, v) in [
            ("predictions without a flash marker", c.unmatched),
            ("flashes not decoded", c.undecoded),
            ("predictions after a selection", c.ignored),
            ("markers naming no symbol", c.unknown),
            ("events lost", c.lost_events),
        ] {
            if v > 0 {
                s += &format!("; {v} {what}");
            }
        }
        self.readouts.set_status(&s);
        Ok(())
    }
}
