//! `FileReplay`'s reader thread: the only place a replayed file is read.
//!
//! File reads block, so they run on a
//! [`BlockingWorker`](neuropipe_core::blocking::BlockingWorker), not on the runtime's worker
//! threads. The thread reads ahead into a few recycled [`Chunk`]s (the stage hands each one
//! back once copied into a packet), cuts them at annotation onsets so that every marker falls
//! at a packet end, and starts the file over at its end when looping. A read error ends the
//! thread; the stage reports it as `Fatal`, with the cause as its source.

use super::replay_source::ReplaySource;
use neuropipe_core::blocking::{BlockingWorker, WorkerError, WorkerLink};
use neuropipe_core::StageError;

/// Chunks read ahead.
pub(crate) const CHUNKS: usize = 4;

/// Frames read from the file, with what the reader noticed about them.
pub(crate) struct Chunk {
    /// Frame-major values, decoded in `f64` (capacity: one packet).
    pub(crate) data: Vec<f64>,
    /// Frames in `data`.
    pub(crate) frames: usize,
    /// The frames follow a gap in the file's time axis.
    pub(crate) discontinuity: bool,
    /// The gap's length in seconds, when the file says (CSV time column).
    pub(crate) gap_s: Option<f64>,
    /// Samples at the ends of their declared physical range.
    pub(crate) railed: u64,
}

impl Chunk {
    /// An empty chunk for `frames × channels` values (at build time).
    pub(crate) fn new(frames: usize, channels: usize) -> Self {
        Chunk {
            data: vec![0.0; frames * channels],
            frames: 0,
            discontinuity: false,
            gap_s: None,
            railed: 0,
        }
    }
}

/// What the reader sends the stage, in file order.
pub(crate) enum Read {
    /// The next frames.
    Chunk(Chunk),
    /// The end of the file: the thread ends unless looping, in which case it starts over
    /// (a file that yielded no frame in a pass ends anyway).
    EndOfPass,
}

/// How the reader cuts and repeats the file.
pub(crate) struct ReadPlan {
    /// Frames per packet at most.
    pub(crate) frames: usize,
    pub(crate) channels: usize,
    /// Frames (from the file's start) where a packet must end: the annotations' onsets, sorted.
    pub(crate) cuts: Vec<u64>,
    /// Start over at the end.
    pub(crate) looping: bool,
}

/// Starts the reader thread for `file` (named in errors).
pub(crate) fn spawn_reader(
    source: ReplaySource,
    plan: ReadPlan,
    file: &str,
) -> Result<BlockingWorker<Chunk, Read>, StageError> {
    BlockingWorker::spawn(
        format!("replay of {file}"),
        CHUNKS,
        CHUNKS + 1,
        move |link| read_loop(source, &plan, link),
    )
}

/// The thread's body: read a chunk whenever the stage gives one back.
fn read_loop(
    mut source: ReplaySource,
    plan: &ReadPlan,
    mut link: WorkerLink<Chunk, Read>,
) -> Result<(), WorkerError> {
    let mut read_pos = 0u64; // frames read in this pass
    let mut next_cut = 0usize; // first cut beyond `read_pos`
    let mut spare: Option<Chunk> = None;
    loop {
        let Some(mut c) = spare.take().or_else(|| link.recv()) else {
            return Ok(()); // the stage has finished
        };
        while plan.cuts.get(next_cut).is_some_and(|&m| m <= read_pos) {
            next_cut += 1;
        }
        let want = match plan.cuts.get(next_cut) {
            Some(&m) => plan.frames.min((m - read_pos) as usize),
            None => plan.frames,
        };
        let n = source.read(&mut c.data[..want * plan.channels], want)?;
        if n == 0 {
            let empty_pass = read_pos == 0;
            if !link.send(Read::EndOfPass) || !plan.looping || empty_pass {
                return Ok(());
            }
            source.rewind()?;
            read_pos = 0;
            next_cut = 0;
            spare = Some(c);
            continue;
        }
        c.frames = n;
        c.discontinuity = source.take_discontinuity();
        c.gap_s = source.take_gap();
        c.railed = source.take_railed();
        read_pos += n as u64;
        if !link.send(Read::Chunk(c)) {
            return Ok(());
        }
    }
}
