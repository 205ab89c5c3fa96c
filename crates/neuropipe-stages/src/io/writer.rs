//! A recorder's writer thread: the only place a recording's file is touched.
//!
//! File writes, seeks and flushes block, so they run on a
//! [`BlockingWorker`](neuropipe_core::blocking::BlockingWorker) of their own, not on the
//! runtime's worker threads. The stage sends [`Job`]s in order (annotations and converted
//! samples, in recycled buffers); the thread creates the file, writes, annotates the samples
//! the format clipped, and finally closes the file. Its first error ends it; the stage then
//! reports that error as `Fatal`, with the cause as its source.

use super::recorder::RecordFile;
use neuropipe_core::blocking::{BlockingWorker, Recycler, WorkerLink};
use neuropipe_core::{Readouts, StageError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the writer thread reports the file's size: `readouts.set(0, column, bytes)`.
pub(crate) struct SizeReport {
    pub(crate) path: PathBuf,
    pub(crate) readouts: Readouts,
    pub(crate) column: usize,
}

impl SizeReport {
    fn update(&self) {
        if let Ok(m) = std::fs::metadata(&self.path) {
            self.readouts.set(0, self.column, m.len() as f64);
        }
    }
}

/// Jobs queued for the writer thread: about 16 packets of slack for a slow disk.
pub(crate) const JOBS: usize = 16;

/// What the stage asks the writer thread to do.
pub(crate) enum Job {
    /// Write `buf[..len]` (frame-major values) starting `t0_ns` after the recording's first
    /// frame, covering `start_s .. start_s + span_s` of the file's time axis.
    Samples {
        buf: Vec<f64>,
        len: usize,
        t0_ns: u64,
        start_s: f64,
        span_s: f64,
    },
    /// The recording's first frame is at `0` ns on the pipeline clock (sent once, before
    /// anything placed relative to it).
    Origin(u64),
    /// Add an annotation (its text already cleaned).
    Note {
        onset_s: f64,
        duration_s: Option<f64>,
        text: String,
    },
    /// Write `buf[..len]` (frame-major, `channels` per frame) to further stream `lane`
    /// (`in2` is 0), its first frame at `t_ns` on the pipeline clock.
    Lane {
        lane: usize,
        buf: Vec<f64>,
        len: usize,
        channels: usize,
        t_ns: u64,
    },
    /// From the next samples on, the main stream (`lane` `None`) or further stream `lane`
    /// carries time stamps corrected by `offset_ns` (see `PacketHeader::clock_offset_ns`).
    ClockOffset { lane: Option<usize>, offset_ns: i64 },
    /// A mark about further stream `lane` at `t_ns` on the pipeline clock (text cleaned).
    LaneNote {
        lane: usize,
        t_ns: u64,
        text: String,
    },
}

/// What the writer thread reports.
pub(crate) enum Done {
    /// The file was created and its header written.
    Created,
    /// The file was completed and closed: its summary for the log.
    Finished(String),
}

/// A recorder's file: not yet opened, being written by its thread, or closed.
pub(crate) enum Writer<F> {
    /// Built; the file is created when the pipeline starts.
    Unstarted(F),
    /// The writer thread owns the file.
    Running(RunningWriter),
    /// Finished or failed.
    Ended,
}

/// The stage's side of a running writer thread.
pub(crate) struct RunningWriter {
    pub(crate) worker: BlockingWorker<Job, Done>,
    /// Samples the format clipped so far (written by the thread).
    clipped: Arc<AtomicU64>,
    /// Clipped samples already reported to the stage's metrics.
    reported: u64,
}

impl RunningWriter {
    /// Samples clipped since the last call.
    pub(crate) fn take_clipped(&mut self) -> u64 {
        let now = self.clipped.load(Ordering::Relaxed);
        let new = now - self.reported;
        self.reported = now;
        new
    }

    /// The thread's error, once it has ended with one (or an error saying it ended).
    pub(crate) async fn end(mut self) -> StageError {
        match self.worker.finish().await {
            Err(e) => e,
            Ok(()) => StageError::fatal("the recording's writer thread ended early"),
        }
    }
}

/// Starts stage `id`'s writer thread on `file` (`channels` per frame); buffers go back to
/// `buffers` once written.
pub(crate) fn spawn_writer<F: RecordFile>(
    file: F,
    id: &str,
    channels: usize,
    buffers: Recycler<Vec<f64>>,
    size: SizeReport,
) -> Result<RunningWriter, StageError> {
    let clipped = Arc::new(AtomicU64::new(0));
    let counter = clipped.clone();
    let stage = id.to_string();
    let worker = BlockingWorker::spawn(format!("{id} writer"), JOBS, 2, move |link| {
        write_loop(file, link, channels, &buffers, &counter, &stage, &size)
    })?;
    Ok(RunningWriter {
        worker,
        clipped,
        reported: 0,
    })
}

/// The thread's body: create, write what comes, finish.
fn write_loop<F: RecordFile>(
    mut file: F,
    mut link: WorkerLink<Job, Done>,
    channels: usize,
    buffers: &Recycler<Vec<f64>>,
    clipped: &AtomicU64,
    stage: &str,
    size: &SizeReport,
) -> Result<(), neuropipe_core::blocking::WorkerError> {
    file.create()?;
    size.update();
    link.send(Done::Created);
    // The file's size for the console, read at most once a second.
    let mut next_size = Instant::now() + Duration::from_secs(1);
    while let Some(job) = link.recv() {
        if Instant::now() >= next_size {
            size.update();
            next_size = Instant::now() + Duration::from_secs(1);
        }
        match job {
            Job::Samples {
                buf,
                len,
                t0_ns,
                start_s,
                span_s,
            } => {
                let written = file.write(&buf[..len], channels, t0_ns);
                buffers.give(buf);
                written?;
                let total = file.clipped();
                let before = clipped.load(Ordering::Relaxed);
                if total > before {
                    let text = format!(
                        "BAD_clipped: {} samples outside {} clipped",
                        total - before,
                        file.range()
                    );
                    annotate(&mut file, start_s, Some(span_s), &text, stage);
                    clipped.store(total, Ordering::Relaxed);
                }
            }
            Job::Lane {
                lane,
                buf,
                len,
                channels,
                t_ns,
            } => {
                let written = file.write_lane(lane, &buf[..len], channels, t_ns);
                buffers.give(buf);
                written?;
            }
            Job::LaneNote { lane, t_ns, text } => {
                // As annotations: a rejected mark is worth a warning, not the recording.
                if let Err(e) = file.annotate_lane(lane, t_ns, &text) {
                    tracing::warn!(stage, "mark {text:?} of stream {}: {e}", lane + 2);
                }
            }
            Job::Origin(ns) => file.origin(ns),
            Job::ClockOffset { lane, offset_ns } => file.clock_offset(lane, offset_ns)?,
            Job::Note {
                onset_s,
                duration_s,
                text,
            } => annotate(&mut file, onset_s, duration_s, &text, stage),
        }
    }
    let summary = file.finish()?;
    size.update();
    link.send(Done::Finished(summary));
    Ok(())
}

fn annotate<F: RecordFile>(
    file: &mut F,
    onset_s: f64,
    duration_s: Option<f64>,
    text: &str,
    stage: &str,
) {
    // Annotations only queue in memory: a rejected one is worth a warning, not the recording.
    if let Err(e) = file.annotate(onset_s, duration_s, text) {
        tracing::warn!(stage, "annotation {text:?} at {onset_s:.3} s: {e}");
    }
}
