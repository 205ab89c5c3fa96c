//! Header bookkeeping shared by the stages that change the frame rate by `up / down`
//! (`Decimate`, `Resample`): output frame indices, gaps in the input's frame indices carried
//! over in output frames, and input flags carried to the next output packet.

use neuropipe_core::prelude::*;

/// What the output headers of a rate-changing stage need to know about its input.
pub(crate) struct RateChange {
    up: u64,
    down: u64,
    /// `first_frame` the next input packet should have.
    expected_in: Option<u64>,
    /// `first_frame` of the next output frame.
    next_out: u64,
    /// Input flags to carry to the next output packet.
    pending_flags: u32,
    /// Input frames missing (index gaps) so far, and the output frames skipped for them: the
    /// jump is rounded on the total, so small gaps add up instead of vanishing.
    gap_in: u64,
    gap_out: u64,
    /// Whether the input flagged a gap as lost samples.
    pending_lost: bool,
}

impl RateChange {
    /// For an output rate of input rate · `up` / `down`.
    pub(crate) fn new(up: usize, down: usize) -> Self {
        RateChange {
            up: up as u64,
            down: down as u64,
            expected_in: None,
            next_out: 0,
            pending_flags: 0,
            gap_in: 0,
            gap_out: 0,
            pending_lost: false,
        }
    }

    /// Notes an input packet: the first sets where the output frame indices start (the input's
    /// first `first_frame · up / down`); a jump in the indices is a gap.
    pub(crate) fn input(&mut self, h: &PacketHeader) {
        match self.expected_in {
            None => self.next_out = h.first_frame * self.up / self.down,
            Some(e) if h.first_frame > e => {
                self.gap_in += h.first_frame - e;
                self.pending_lost |= h.flags & FLAG_LOST_SAMPLES != 0;
            }
            Some(_) => {}
        }
        self.expected_in = Some(h.first_frame + h.frames() as u64);
        self.pending_flags |= h.flags & !FLAG_LOST_SAMPLES;
    }

    /// Fills the flags, `lost_frames` and `first_frame` of an output packet of `frames` frames:
    /// carried input flags, `FLAG_NONFINITE` if `nonfinite`, a pending gap moved on by the gap in
    /// output frames (rounded; flagged as lost if the input flagged it).
    pub(crate) fn output(&mut self, oh: &mut PacketHeader, frames: usize, nonfinite: bool) {
        oh.flags = std::mem::take(&mut self.pending_flags);
        if nonfinite {
            oh.flags |= FLAG_NONFINITE;
        }
        oh.lost_frames = 0;
        let jump = (self.gap_in * self.up + self.down / 2) / self.down - self.gap_out;
        if jump > 0 {
            self.gap_out += jump;
            self.next_out += jump;
            if std::mem::take(&mut self.pending_lost) {
                oh.flags |= FLAG_LOST_SAMPLES;
                oh.lost_frames = u32::try_from(jump).unwrap_or(u32::MAX);
            }
        }
        oh.first_frame = self.next_out;
        self.next_out += frames as u64;
    }
}
