//! [`FilterStage`]: the in-place filter stage shared by the IIR (`Bandpass`, …, `Notch`) and
//! FIR (`Fir`) stages — start-up state, bypass on `Pause`, live redesign (see the
//! [module docs](super)).

use neuropipe_core::prelude::*;
use neuropipe_dsp::design::DesignError;
use neuropipe_dsp::{Sos, SosFilter};
use serde_json::Value;

/// The parameters every filter stage has, before its own (design) parameters.
#[derive(Clone, Debug, PartialEq, StageParams)]
pub struct FilterParams {
    /// false bypasses the filter (samples pass unchanged), like Pause; true filters again from the steady state of the next packet
    #[param(default = true, live)]
    pub enabled: bool,
    /// start from the steady state of the first frame (no ringing from a DC offset of tens of mV); false: zero initial state, as scipy.signal.sosfilt/lfilter
    #[param(default = true)]
    pub steady_state: bool,
}

/// The streaming filter inside a [`FilterStage`].
pub trait Kernel<S>: Send + 'static {
    /// The stage's own parameters (after [`FilterParams`]); the live ones reach
    /// [`update`](Self::update).
    type Params: StageParams;
    /// Filters frame-major samples in place. Must not allocate.
    fn process(&mut self, data: &mut [S]);
    /// Sets the state to the steady state of a constant input equal to `first_frame`.
    fn init_steady_state(&mut self, first_frame: &[S]);
    /// Channel restarts after non-finite input since the last call (filters whose state
    /// cannot hold a NaN for long, like FIR, report 0).
    fn take_resets(&mut self) -> u64 {
        0
    }
    /// Applies a live parameter change (control path: may allocate). `Ok(reset)`: applied, and
    /// `reset` asks for the state to be re-initialised from the next packet's first frame;
    /// `Err`: the new design is invalid, nothing changed.
    fn update(
        &mut self,
        update: &<Self::Params as StageParams>::Update,
        fs: f64,
    ) -> Result<bool, DesignError>;
    /// Whether a live change keeps the filter able to run in real time; `Err` says why not
    /// (the change is then rejected as `BadParam` and nothing changes). Default: always.
    fn admit(&self, update: &<Self::Params as StageParams>::Update, fs: f64) -> Result<(), String> {
        let _ = (update, fs);
        Ok(())
    }
    /// The filter in EDF+ prefilter notation (`HP:1Hz`, `LP:40Hz HP:1Hz`, `N:50Hz`), for the
    /// stream's [`filters`](neuropipe_core::StreamInfo::filters).
    fn prefilter(&self) -> String;
    /// Replaces the coefficients (`UpdateCoefficients`). `Ok(None)`: not supported.
    fn set_coefficients(&mut self, coefficients: &[f64]) -> Result<Option<bool>, StageError> {
        let _ = coefficients;
        Ok(None)
    }
}

/// An in-place filter stage: `f32` or `f64` packets in, the same packets filtered out.
pub struct FilterStage<S: FloatSample, K> {
    kernel: K,
    fs: f64,
    channels: usize,
    enabled: bool,
    /// Initialise the state from the next packet's first frame.
    init_pending: bool,
    input: Input<Samples<S>>,
    out: Output<Samples<S>>,
}

impl<S: FloatSample, K: Kernel<S>> FilterStage<S, K> {
    /// Opens the ports (`in` → `out`, same stream) and reads `enabled` and `steady_state`.
    pub(crate) fn build(b: &mut StageBuilder<'_>, kernel: K) -> Result<Self, BuildError> {
        let FilterParams {
            enabled,
            steady_state,
        } = b.parse_params()?;
        let input = b.input::<Samples<S>>("in")?;
        let mut info = input.stream().derived();
        if enabled {
            info.filters.push(kernel.prefilter());
        }
        let out = b.output::<Samples<S>>("out", info.clone())?;
        Ok(FilterStage {
            kernel,
            fs: info.sample_rate,
            channels: info.channel_count(),
            enabled,
            init_pending: steady_state,
            input,
            out,
        })
    }

    fn set_enabled(&mut self, on: bool) {
        if on && !self.enabled {
            // The state from before the bypass does not match the signal any more.
            self.init_pending = true;
        }
        self.enabled = on;
    }
}

impl<S: FloatSample, K: Kernel<S>> DataPlaneStage for FilterStage<S, K> {
    async fn run(&mut self, _: &mut StageContext) -> Result<(), StageError> {
        let Some(mut pkt) = self.input.recv().await? else {
            return Ok(());
        };
        if self.enabled && !pkt.header.is_empty() {
            let c = pkt.header.channels as usize;
            if c != self.channels {
                return Err(StageError::fatal(format!(
                    "packet {} has {c} channels but the stream has {}",
                    pkt.header.sequence, self.channels
                )));
            }
            let data = pkt.samples_mut();
            if std::mem::take(&mut self.init_pending) {
                self.kernel.init_steady_state(&data[..c]);
            }
            self.kernel.process(data);
            if self.kernel.take_resets() > 0 {
                // A channel restarted after a non-finite sample (NaN in the output there).
                pkt.header.flags |= FLAG_NONFINITE | FLAG_DISCONTINUITY;
            }
        }
        self.out.send(pkt).await
    }

    fn control(&mut self, msg: &ControlMsg, _: &mut StageContext) -> Result<Handled, StageError> {
        let (key, value) = match msg {
            // Bypass rather than suspend: downstream keeps receiving the (unfiltered) signal.
            ControlMsg::Pause => {
                self.set_enabled(false);
                return Ok(Handled::AppliedWith(
                    Value::from("bypassed"),
                    vec![("enabled", Value::from(false))],
                ));
            }
            ControlMsg::Resume => {
                self.set_enabled(true);
                return Ok(Handled::AppliedWith(
                    Value::from("filtering"),
                    vec![("enabled", Value::from(true))],
                ));
            }
            ControlMsg::UpdateCoefficients(c) => {
                return Ok(match self.kernel.set_coefficients(c)? {
                    Some(reset) => {
                        self.init_pending |= reset;
                        Handled::Applied(Value::from(c.len()))
                    }
                    None => Handled::Default,
                });
            }
            ControlMsg::UpdateParam(k, v) => (k, v),
        };
        if let Some(u) = msg.update::<FilterParams>()? {
            match &u {
                FilterParamsUpdate::Enabled(on) => self.set_enabled(*on),
            }
            return Ok(Handled::update::<FilterParams>(&u));
        }
        let Some(u) = msg.update::<K::Params>()? else {
            return Ok(Handled::Default);
        };
        self.kernel
            .admit(&u, self.fs)
            .map_err(|e| StageError::bad_param(format!("`{key}` = {value}: {e}")))?;
        let reset = self
            .kernel
            .update(&u, self.fs)
            .map_err(|e| StageError::bad_param(format!("`{key}` = {value}: {e}")))?;
        self.init_pending |= reset;
        Ok(Handled::update::<K::Params>(&u))
    }
}

/// The ports and the `enabled` / `steady_state` parameters every filter stage has.
pub(crate) fn filter_spec(
    type_name: &'static str,
    summary: &'static str,
    factory: neuropipe_core::StageFactory,
) -> StageSpec {
    StageSpec::new(type_name, summary, factory)
        .input(
            PortSpec::any("in")
                .in_place()
                .doc("f32 or f64 samples (raw i32 counts need a RawToVoltage first)"),
        )
        .output(PortSpec::any("out").doc("the same packets, filtered in place"))
        .params::<FilterParams>()
}

/// How an IIR stage designs its second-order sections from its parameters: implemented by
/// the stage's parameter struct (after [`FilterParams`]), whose live changes redesign it.
pub trait IirDesign: StageParams + Clone + Send + 'static {
    /// Designs the cascade for sample rate `fs`.
    fn design(&self, fs: f64) -> Result<Sos, DesignError>;
    /// The parameter a design error is about (for build errors with a JSON path); `None` for
    /// the stage as a whole.
    fn param_of(&self, e: &DesignError) -> Option<&'static str>;
    /// The design in EDF+ prefilter notation.
    fn prefilter(&self) -> String;
}

/// A [`Kernel`] running an [`SosFilter`] designed by `D`.
pub struct IirKernel<S, D> {
    design: D,
    filter: SosFilter<S>,
}

impl<S: FloatSample, D: IirDesign> Kernel<S> for IirKernel<S, D> {
    type Params = D;

    #[inline]
    fn process(&mut self, data: &mut [S]) {
        self.filter.process(data);
    }

    fn init_steady_state(&mut self, first_frame: &[S]) {
        self.filter.init_steady_state(first_frame);
    }

    fn take_resets(&mut self) -> u64 {
        self.filter.take_resets()
    }

    fn prefilter(&self) -> String {
        self.design.prefilter()
    }

    fn update(
        &mut self,
        update: &<D as StageParams>::Update,
        fs: f64,
    ) -> Result<bool, DesignError> {
        let mut design = self.design.clone();
        design.apply(update);
        let sos = design.design(fs)?;
        let reset = sos.len() != self.filter.sections();
        // Same section count: `set_sos` keeps the state. Otherwise it zeroes it (and the stage
        // re-initialises it from the next packet's first frame).
        self.filter.set_sos(&sos)?;
        self.design = design;
        Ok(reset)
    }
}

/// Builds an IIR filter stage for the design `design` (errors in it are reported at the
/// parameter [`IirDesign::param_of`] names, e.g. `$.stages[2].params.high_hz`).
pub(crate) fn build_iir<D: IirDesign>(
    b: &mut StageBuilder<'_>,
    design: D,
) -> Result<BoxedStage, BuildError> {
    let kind = b.float_input("in")?;
    let info = b.input_stream("in")?;
    let (fs, channels) = (info.sample_rate, info.channel_count());
    let sos = design
        .design(fs)
        .map_err(|e| design_build_error(design.param_of(&e), &e))?;
    with_float!(kind, S => {
        let filter = SosFilter::<S>::new(&sos, channels)
            .map_err(|e| BuildError::stage(e.to_string()))?;
        let stage = FilterStage::build(b, IirKernel { design, filter })?;
        Ok(BoxedStage::new(stage))
    })
}

/// A design error at build time, at parameter `param` if known.
pub(crate) fn design_build_error(param: Option<&str>, e: &DesignError) -> BuildError {
    match param {
        Some(p) => BuildError::param(p, e.to_string()),
        None => BuildError::stage(e.to_string()),
    }
}
