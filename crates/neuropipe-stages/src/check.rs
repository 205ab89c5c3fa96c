//! `ContinuityCheck`: a sink that verifies sample continuity — every frame index exactly once,
//! in order, with non-decreasing timestamps — and reports what it saw.

use neuropipe_core::prelude::*;

/// Parameters of `ContinuityCheck`.
#[derive(StageParams)]
pub struct ContinuityCheckParams {
    /// a gap, duplicate or reordering is a Fatal error (false: count and log it)
    #[param(default = true)]
    pub fail_on_gap: bool,
    /// Fatal at end of stream unless exactly this many frames arrived
    #[param(min = 0)]
    pub expect_frames: Option<u64>,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "ContinuityCheck",
        "Sink that checks no frame is lost or duplicated and timestamps never go back",
        build,
    )
    .input(PortSpec::any("in").doc("any samples"))
    .params::<ContinuityCheckParams>()
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let ContinuityCheckParams {
        fail_on_gap,
        expect_frames: expect,
    } = b.parse_params()?;
    with_sample!(b.input_kind("in")?, S => {
        let input = b.input::<Samples<S>>("in")?;
        Ok(BoxedStage::new(ContinuityCheck::<Samples<S>> {
            input,
            fail_on_gap,
            expect,
            next_frame: 0,
            last_ts: 0,
            frames: 0,
            packets: 0,
            gaps: 0,
            device_lost: 0,
        }))
    })
}

/// The `ContinuityCheck` stage.
pub struct ContinuityCheck<T: Payload> {
    input: Input<T>,
    fail_on_gap: bool,
    expect: Option<u64>,
    next_frame: u64,
    last_ts: u64,
    frames: u64,
    packets: u64,
    gaps: u64,
    device_lost: u64,
}

impl<T: Payload> DataPlaneStage for ContinuityCheck<T> {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(pkt) = self.input.recv().await? else {
            return Ok(());
        };
        let h = pkt.header;
        let mut problem = None;
        let expected = self.next_frame
            + if h.flags & FLAG_LOST_SAMPLES != 0 {
                h.lost_frames as u64
            } else {
                0
            };
        if h.flags & FLAG_LOST_SAMPLES != 0 {
            self.device_lost += h.lost_frames as u64;
        }
        if h.first_frame != expected {
            self.gaps += 1;
            problem = Some(format!(
                "packet {} starts at frame {} but frame {} was expected ({})",
                h.sequence,
                h.first_frame,
                expected,
                if h.first_frame > expected {
                    "frames lost"
                } else {
                    "frames duplicated or reordered"
                }
            ));
        } else if h.timestamp < self.last_ts {
            self.gaps += 1;
            problem = Some(format!(
                "packet {} has a timestamp earlier than the previous one",
                h.sequence
            ));
        }
        self.next_frame = h.first_frame + h.batch_size as u64;
        self.last_ts = h.timestamp;
        self.frames += h.batch_size as u64;
        self.packets += 1;
        if let Some(p) = problem {
            if self.fail_on_gap {
                return Err(StageError::fatal(p));
            }
            tracing::warn!(stage = ctx.id(), "{p}");
        }
        Ok(())
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let (packets, frames, gaps, lost) =
            (self.packets, self.frames, self.gaps, self.device_lost);
        if gaps > 0 || lost > 0 {
            tracing::warn!(
                stage = ctx.id(),
                packets,
                frames,
                gaps,
                device_lost = lost,
                "continuity problems"
            );
        } else {
            tracing::debug!(
                stage = ctx.id(),
                packets,
                frames,
                "continuity check: every frame once, in order"
            );
        }
        match self.expect {
            Some(n) if n != self.frames => Err(StageError::fatal(format!(
                "expected {n} frames, received {}",
                self.frames
            ))),
            _ => Ok(()),
        }
    }
}
