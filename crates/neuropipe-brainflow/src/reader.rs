//! The BrainFlow side of `BrainFlowSource`: a dedicated thread owning the [`Session`].
//!
//! BrainFlow's own threads read the device into its ring buffer; this thread starts the
//! stream, then polls `get_board_data_count` every `poll` (half a packet's duration, between
//! 1 and 20 ms) and takes what is there into a recycled buffer (row-major, as BrainFlow
//! writes it) that it hands to the stage. Nothing is allocated per read on this side either.
//! When every buffer is waiting for the stage, the thread stops taking and BrainFlow keeps
//! buffering (`buffer_s`); beyond that BrainFlow overwrites its oldest samples, which the
//! stage sees as a jump of the package number (counted, flagged, reported).
//!
//! Markers to insert come as jobs. While the stage is paused the thread takes and discards,
//! marking the pause and the resumption in the channel. On stop it stops the stream and
//! releases the session (dropping it).

use crate::board::Session;
use neuropipe_core::blocking::{BlockingWorker, Recycler, WorkerError, WorkerLink};
use neuropipe_core::{Clock, StageError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Buffers in circulation between the thread and the stage.
const BUFFERS: usize = 16;
/// Room in the channel for pause/resume marks besides the data.
const MARKS: usize = 8;
/// Queued markers to insert.
const JOBS: usize = 64;

/// Samples taken from BrainFlow at once, row-major: `rows` rows of `n` values.
pub(crate) struct Chunk {
    pub(crate) data: Vec<f64>,
    pub(crate) n: usize,
    /// When they were taken (pipeline clock, ns).
    pub(crate) read_ns: u64,
}

/// From the thread to the stage.
pub(crate) enum Msg {
    /// Samples.
    Data(Chunk),
    /// The stage was paused: samples after this are discarded until `Resumed`.
    Paused,
    /// Samples follow again (the package number has moved on).
    Resumed,
}

/// From the stage to the thread.
pub(crate) enum Job {
    /// `insert_marker(value)`.
    Marker(f64),
}

/// How the thread runs.
pub(crate) struct ReaderConfig {
    pub(crate) rows: usize,
    /// Samples per buffer.
    pub(crate) capacity: usize,
    /// BrainFlow's ring buffer, in samples.
    pub(crate) ring: usize,
    pub(crate) poll: Duration,
    pub(crate) clock: Clock,
}

/// The running thread, seen from the stage.
pub(crate) struct Reader {
    pub(crate) worker: BlockingWorker<Job, Msg>,
    buffers: Recycler<Vec<f64>>,
    discard: Arc<AtomicBool>,
    /// UNIX time minus pipeline time (ns) when the stream started; 0 until then.
    pub(crate) unix_offset_ns: Arc<AtomicU64>,
    /// Markers BrainFlow refused.
    pub(crate) markers_failed: Arc<AtomicU64>,
}

/// UNIX time now, in ns.
fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Reader {
    /// Starts the thread, which starts the stream of `session`.
    pub(crate) fn start(mut session: Session, cfg: ReaderConfig) -> Result<Reader, StageError> {
        let (rows, capacity) = (cfg.rows, cfg.capacity);
        let buffers = Recycler::new(BUFFERS, || vec![0.0; rows * capacity]);
        let discard = Arc::new(AtomicBool::new(false));
        let unix_offset_ns = Arc::new(AtomicU64::new(0));
        let markers_failed = Arc::new(AtomicU64::new(0));
        let (b, d, o, m) = (
            buffers.clone(),
            discard.clone(),
            unix_offset_ns.clone(),
            markers_failed.clone(),
        );
        let worker = BlockingWorker::spawn("brainflow", JOBS, BUFFERS + MARKS, move |mut link| {
            session.start(cfg.ring)?;
            // The pipeline clock is monotonic, BrainFlow's stamps are UNIX time: the offset
            // between them, read once with the pipeline reading bracketed by two UNIX ones.
            let a = unix_now_ns();
            let p = cfg.clock.now_ns();
            let z = unix_now_ns();
            o.store((a / 2 + z / 2).saturating_sub(p), Ordering::Relaxed);
            let r = poll_loop(&session, &cfg, &mut link, &b, &d, &m);
            session.stop()?;
            drop(session);
            r
        })?;
        Ok(Reader {
            worker,
            buffers,
            discard,
            unix_offset_ns,
            markers_failed,
        })
    }

    /// Gives a buffer back to the thread.
    pub(crate) fn recycle(&self, buf: Vec<f64>) {
        self.buffers.give(buf);
    }

    /// Discard (`true`) or deliver (`false`) what the board sends.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.discard.store(paused, Ordering::Relaxed);
    }
}

fn poll_loop(
    session: &Session,
    cfg: &ReaderConfig,
    link: &mut WorkerLink<Job, Msg>,
    buffers: &Recycler<Vec<f64>>,
    discard: &AtomicBool,
    markers_failed: &AtomicU64,
) -> Result<(), WorkerError> {
    let mut discarding = false;
    let mut scratch = vec![0.0; cfg.rows * cfg.capacity];
    while !link.stopping() {
        while let Some(Job::Marker(v)) = link.try_recv() {
            if let Err(e) = session.insert_marker(v) {
                markers_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("marker {v} not inserted: {e}");
            }
        }
        let d = discard.load(Ordering::Relaxed);
        if d != discarding {
            discarding = d;
            if !link.send(if d { Msg::Paused } else { Msg::Resumed }) {
                break;
            }
        }
        let available = session.available()?;
        if available == 0 {
            std::thread::sleep(cfg.poll);
            continue;
        }
        let n = available.min(cfg.capacity);
        if discarding {
            session.take(n, cfg.rows, &mut scratch)?;
            continue;
        }
        let Some(mut data) = buffers.take() else {
            // Every buffer is waiting for the stage: BrainFlow keeps buffering meanwhile.
            std::thread::sleep(cfg.poll);
            continue;
        };
        session.take(n, cfg.rows, &mut data)?;
        let read_ns = cfg.clock.now_ns();
        if !link.send(Msg::Data(Chunk { data, n, read_ns })) {
            break;
        }
        if n < cfg.capacity {
            std::thread::sleep(cfg.poll);
        }
    }
    Ok(())
}
