//! `Cca` and `Fbcca`: training-free SSVEP decoders. Each epoch (from `Epoch` after the
//! stimulation cue, or `Window` for continuous selection) is compared with sinusoidal
//! references at each target's flicker frequency and its harmonics; the target whose
//! references it correlates with best is predicted.
//!
//! * `Cca` (Lin et al., 2006): per target, the largest canonical correlation `ρ_k` between the
//!   epoch's channels and the references ([`neuropipe_dsp::decode::cca`]); the prediction
//!   stream carries the `ρ_k`.
//! * `Fbcca` (Chen et al., 2015): the epoch is band-passed into `subbands` sub-bands (lower
//!   edges `band_low_hz + (m − 1) band_step_hz`, upper edge `band_high_hz`; Butterworth order
//!   4, run forward from the steady state of the epoch's first frame, as
//!   `sosfilt(sos, x, zi=sosfilt_zi(sos) * x[0])`; Chen et al. used Chebyshev type I
//!   filters run forward and backward), CCA runs per sub-band, and the target's score is
//!   `Σ_m w_m ρ_{m,k}²` with `w_m = m^-1.25 + 0.25`: harmonics above the fundamental's band
//!   count too, which helps short epochs.
//!
//! Classes are the targets, named `<f>Hz` (`12Hz`, the markers of `SimulatedEeg`'s ssvep
//! task) unless `labels` names them; epochs labelled with those names are scored on line
//! (right / labelled in the readouts). Everything is computed when the stage is built
//! (references, their bases, filters, buffers): nothing is allocated per epoch (without
//! `events`).

use super::predict::{argmax, Predictions, Scores};
use neuropipe_core::prelude::*;
use neuropipe_dsp::decode::{fbcca_weight, CcaTargets, CcaWorkspace};
use neuropipe_dsp::design::{butter, Band};
use neuropipe_dsp::SosFilter;

/// Parameters of `Cca`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct CcaParams {
    /// the targets' flicker frequencies (Hz), one class each
    pub frequencies: Vec<f64>,
    /// harmonics in each target's references (sin and cos of each)
    #[param(default = 3, min = 1, max = 10)]
    pub harmonics: usize,
    /// class names of the targets in order (default: each frequency followed by Hz, "8Hz", "12.5Hz", as SimulatedEeg's ssvep markers)
    pub labels: Option<Vec<String>>,
    /// publish each prediction as an event (recorders annotate it)
    #[param(default = true)]
    pub events: bool,
}

/// Parameters of `Fbcca`.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct FbccaParams {
    /// the targets' flicker frequencies (Hz), one class each
    pub frequencies: Vec<f64>,
    /// harmonics in each target's references (sin and cos of each)
    #[param(default = 5, min = 1, max = 10)]
    pub harmonics: usize,
    /// class names of the targets in order (default: each frequency followed by Hz, "8Hz", "12.5Hz")
    pub labels: Option<Vec<String>>,
    /// number of sub-bands
    #[param(default = 5, min = 1, max = 10)]
    pub subbands: usize,
    /// lower edge of the first sub-band (Hz)
    #[param(default = 6.0, min = 0.1, max = 1000.0)]
    pub band_low_hz: f64,
    /// step between the sub-bands' lower edges (Hz)
    #[param(default = 8.0, min = 0.1, max = 1000.0)]
    pub band_step_hz: f64,
    /// upper edge of every sub-band (Hz)
    #[param(default = 88.0, min = 1.0, max = 10000.0)]
    pub band_high_hz: f64,
    /// publish each prediction as an event (recorders annotate it)
    #[param(default = true)]
    pub events: bool,
}

/// Stage type specification of `Cca`.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "Cca",
        "SSVEP decoder, training-free: each epoch's largest canonical correlation with sin/cos references at each target's frequency and harmonics; the best target predicted",
        build_cca,
    )
    .input(PortSpec::any("in").doc("epochs (Epoch after the cue, or Window)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of canonical correlations per epoch, labelled with the best target"),
    )
    .params::<CcaParams>()
    .with_pool()
}

/// Stage type specification of `Fbcca`.
pub fn fbcca_spec() -> StageSpec {
    StageSpec::new(
        "Fbcca",
        "SSVEP decoder, training-free: filter-bank CCA (sub-band correlations weighted m^-1.25 + 0.25); the best target predicted",
        build_fbcca,
    )
    .input(PortSpec::any("in").doc("epochs (Epoch after the cue, or Window)"))
    .output(
        PortSpec::of("out", PayloadKind::F64)
            .epochs()
            .doc("one frame of filter-bank scores per epoch, labelled with the best target"),
    )
    .params::<FbccaParams>()
    .with_pool()
}

/// Class names of the targets.
fn class_names(freqs: &[f64], labels: Option<Vec<String>>) -> Result<Vec<String>, BuildError> {
    if freqs.len() < 2 {
        return Err(BuildError::param(
            "frequencies",
            "give two or more target frequencies",
        ));
    }
    match labels {
        None => Ok(freqs.iter().map(|f| format!("{f}Hz")).collect()),
        Some(l) if l.len() == freqs.len() => Ok(l),
        Some(l) => Err(BuildError::param(
            "labels",
            format!(
                "{} labels for {} frequencies: one per target",
                l.len(),
                freqs.len()
            ),
        )),
    }
}

/// What both stages share: the epoch stream, the targets, the prediction output.
struct Common {
    kind: FloatKind,
    channels: usize,
    targets: CcaTargets,
    predictions: Predictions,
}

fn common(
    b: &mut StageBuilder<'_>,
    freqs: &[f64],
    harmonics: usize,
    labels: Option<Vec<String>>,
    events: bool,
    scores: Scores,
) -> Result<Common, BuildError> {
    let (kind, info, layout) = super::epoch_input_stream(b)?;
    let classes = class_names(freqs, labels)?;
    let targets = CcaTargets::new(freqs, harmonics, info.sample_rate, layout.times)
        .map_err(|e| BuildError::param("frequencies", e.to_string()))?;
    let predictions = Predictions::build(b, &info, &classes, events, scores)?;
    Ok(Common {
        kind,
        channels: info.channel_count(),
        targets,
        predictions,
    })
}

fn build_cca(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: CcaParams = b.parse_params()?;
    let c = common(
        b,
        &p.frequencies,
        p.harmonics,
        p.labels,
        p.events,
        Scores {
            kind: "Correlation",
            range: Some([0.0, 1.0]),
            symbol: "rho",
        },
    )?;
    let ws = c.targets.workspace(c.channels);
    let x = vec![0.0; c.targets.frames() * c.channels];
    let rho = vec![0.0; c.targets.len()];
    with_float!(c.kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Cca::<S> { input, predictions: c.predictions, targets: c.targets, ws, x, rho, bank: None }))
    })
}

fn build_fbcca(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: FbccaParams = b.parse_params()?;
    let c = common(
        b,
        &p.frequencies,
        p.harmonics,
        p.labels,
        p.events,
        Scores {
            kind: "Score",
            range: None,
            symbol: "score",
        },
    )?;
    let fs = b.input_stream("in")?.sample_rate;
    let mut filters = vec![];
    for m in 0..p.subbands {
        let low = p.band_low_hz + m as f64 * p.band_step_hz;
        if low >= p.band_high_hz || p.band_high_hz >= fs / 2.0 {
            return Err(BuildError::param(
                "band_high_hz",
                format!(
                    "sub-band {} would be {low}-{} Hz: its lower edge must be below the upper one, and the upper below Nyquist ({} Hz); use fewer subbands, a smaller band_step_hz or a lower band_high_hz",
                    m + 1,
                    p.band_high_hz,
                    fs / 2.0
                ),
            ));
        }
        let sos = butter(4, Band::Bandpass(low, p.band_high_hz), fs)
            .map_err(|e| BuildError::param("band_low_hz", e.to_string()))?;
        let f = SosFilter::<f64>::new(&sos, c.channels)
            .map_err(|e| BuildError::param("band_low_hz", e.to_string()))?;
        filters.push(f);
    }
    let ws = c.targets.workspace(c.channels);
    let n = c.targets.frames() * c.channels;
    let bank = Bank {
        weights: (1..=p.subbands).map(fbcca_weight).collect(),
        filters,
        band: vec![0.0; n],
        rho: vec![0.0; c.targets.len()],
    };
    let rho = vec![0.0; c.targets.len()];
    with_float!(c.kind, S => {
        let input = b.epochs_input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(Cca::<S> { input, predictions: c.predictions, targets: c.targets, ws, x: vec![0.0; n], rho, bank: Some(bank) }))
    })
}

/// The filter bank of `Fbcca`.
struct Bank {
    filters: Vec<SosFilter<f64>>,
    weights: Vec<f64>,
    /// The epoch in one sub-band.
    band: Vec<f64>,
    /// Correlations in one sub-band.
    rho: Vec<f64>,
}

/// The `Cca` and `Fbcca` stages.
pub struct Cca<S: 'static>
where
    Samples<S>: Payload,
{
    input: Input<Samples<S>>,
    predictions: Predictions,
    targets: CcaTargets,
    ws: CcaWorkspace,
    /// The epoch in f64.
    x: Vec<f64>,
    /// Per target: ρ (Cca) or the weighted sum of ρ² (Fbcca).
    rho: Vec<f64>,
    bank: Option<Bank>,
}

impl<S: FloatSample> DataPlaneStage for Cca<S>
where
    Samples<S>: Payload,
{
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(h) = super::recv_f64(&mut self.input, &mut self.x).await? else {
            return Ok(());
        };
        let channels = self.x.len() / self.targets.frames();
        match &mut self.bank {
            None => self
                .targets
                .correlations_into(&self.x, &mut self.ws, &mut self.rho),
            Some(bank) => {
                self.rho.fill(0.0);
                for (f, w) in bank.filters.iter_mut().zip(&bank.weights) {
                    bank.band.copy_from_slice(&self.x);
                    f.reset();
                    f.init_steady_state(&bank.band[..channels]);
                    f.process(&mut bank.band);
                    self.targets
                        .correlations_into(&bank.band, &mut self.ws, &mut bank.rho);
                    for (s, r) in self.rho.iter_mut().zip(&bank.rho) {
                        *s += w * r * r;
                    }
                }
            }
        }
        let best = argmax(&self.rho);
        let rho = &self.rho;
        self.predictions
            .send(ctx, h, best, |out| out.copy_from_slice(rho))
            .await
    }

    async fn finish(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        self.predictions.finish();
        Ok(())
    }
}
