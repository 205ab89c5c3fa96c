//! Blocking work off the async runtime: [`BlockingWorker`], a dedicated thread owned by a
//! stage, and [`Recycler`], the buffers that travel to it and back.
//!
//! Stages run on the runtime's few worker threads. A stage that blocks one (a file write and
//! flush, a serial read, a foreign library's blocking call) stalls every stage scheduled on it,
//! so such work goes to a `BlockingWorker`: an OS thread linked to its stage by two bounded
//! channels allocated at start-up.
//!
//! * **Jobs**, stage → thread: [`send`](BlockingWorker::send) waits asynchronously for room,
//!   so a slow thread backs the stage up like any bounded queue;
//!   [`try_send`](BlockingWorker::try_send) never waits. The thread takes them with
//!   [`WorkerLink::recv`] (blocking) or [`try_recv`](WorkerLink::try_recv).
//! * **Results**, thread → stage: [`WorkerLink::send`] blocks the thread while the stage is
//!   behind ([`try_send`](WorkerLink::try_send) does not); the stage takes them with
//!   [`recv`](BlockingWorker::recv) (waits asynchronously) or
//!   [`try_recv`](BlockingWorker::try_recv).
//!
//! Buffers travel inside the messages and come back through a [`Recycler`], so after start-up
//! nothing is allocated per packet on either side.
//!
//! # Ending
//!
//! The thread's body returns `Result<(), WorkerError>`. When it ends (returning, failing or
//! panicking), the stage's waiting `send`/`recv` wake up and report it, and
//! [`finish`](BlockingWorker::finish) returns the thread's error as a
//! [`StageError::Fatal`] whose source is the cause. A stage ends the thread by calling
//! `finish` (the job channel closes, so `WorkerLink::recv` returns `None` once the queued jobs
//! are done) or by dropping the worker, which also raises [`WorkerLink::stopping`] for threads
//! that loop on a device rather than on jobs, and does not wait for the thread.
//!
//! ```
//! use neuropipe_core::blocking::BlockingWorker;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // A thread that sums what it is sent (a stand-in for writing it to a file).
//! let mut w = BlockingWorker::spawn("adder", 4, 4, |mut link| {
//!     let mut total = 0u64;
//!     while let Some(x) = link.recv() {
//!         total += x;
//!     }
//!     link.send(total);
//!     Ok(())
//! })?;
//! for x in 1..=10u64 {
//!     w.send(x).await?;
//! }
//! w.close_jobs();
//! assert_eq!(w.recv().await, Some(55));
//! w.finish().await?;
//! # Ok::<(), neuropipe_core::StageError>(())
//! # }).unwrap();
//! ```

use crate::error::StageError;
use crossbeam_queue::ArrayQueue;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{Notify, Semaphore};

/// What a worker thread's body returns when it fails: any error, kept as the
/// [`StageError::Fatal`]'s source.
pub type WorkerError = Box<dyn std::error::Error + Send + Sync>;

/// State both ends see.
struct Shared {
    /// Set by the stage when it drops the worker: threads polling a device end their loop.
    stop: AtomicBool,
    /// Free places in the job channel (the stage's asynchronous wait for room). Closed when
    /// the thread ends.
    room: Semaphore,
    /// Wakes the stage when a result arrives or the thread ends.
    ready: Notify,
}

/// The stage's side of a dedicated worker thread: jobs `J` go to it, results `R` come back.
pub struct BlockingWorker<J, R> {
    name: String,
    jobs: Option<SyncSender<J>>,
    results: Receiver<R>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), WorkerError>>>,
}

/// The thread's side of a [`BlockingWorker`]: receives jobs, sends results.
pub struct WorkerLink<J, R> {
    jobs: Receiver<J>,
    results: SyncSender<R>,
    shared: Arc<Shared>,
}

/// Why [`BlockingWorker::try_send`] did not send: the job is handed back.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySend<J> {
    /// The job channel is full (the thread is behind).
    Full(J),
    /// The thread has ended; [`BlockingWorker::finish`] tells why.
    Ended(J),
}

/// Closes the stage's waits when the thread's body ends, on every path (panics included).
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.room.close();
        self.0.ready.notify_one();
    }
}

impl<J: Send + 'static, R: Send + 'static> BlockingWorker<J, R> {
    /// Starts thread `name` running `body`, with room for `jobs` queued jobs and `results`
    /// queued results (both at least 1; allocated now, never again).
    pub fn spawn<F>(
        name: impl Into<String>,
        jobs: usize,
        results: usize,
        body: F,
    ) -> Result<Self, StageError>
    where
        F: FnOnce(WorkerLink<J, R>) -> Result<(), WorkerError> + Send + 'static,
    {
        let name = name.into();
        let (jobs_cap, results_cap) = (jobs.max(1), results.max(1));
        let (job_tx, job_rx) = mpsc::sync_channel(jobs_cap);
        let (result_tx, result_rx) = mpsc::sync_channel(results_cap);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            room: Semaphore::new(jobs_cap),
            ready: Notify::new(),
        });
        let link = WorkerLink {
            jobs: job_rx,
            results: result_tx,
            shared: shared.clone(),
        };
        let guard = EndGuard(shared.clone());
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let _guard = guard;
                body(link)
            })
            .map_err(|e| StageError::fatal_from(format!("cannot start thread `{name}`"), e))?;
        Ok(BlockingWorker {
            name,
            jobs: Some(job_tx),
            results: result_rx,
            shared,
            thread: Some(thread),
        })
    }

    /// Queues `job`, waiting (asynchronously) while the job channel is full. If the thread has
    /// ended, returns its error (as [`finish`](Self::finish) does), or a `Fatal` saying it
    /// ended if it ended without one.
    pub async fn send(&mut self, job: J) -> Result<(), StageError> {
        let room = match self.shared.room.acquire().await {
            // The place is given back by the thread when it takes the job.
            Ok(permit) => {
                permit.forget();
                true
            }
            Err(_) => false,
        };
        if !room {
            return Err(self.ended().await);
        }
        match self.jobs.as_ref().map(|tx| tx.try_send(job)) {
            Some(Ok(())) => Ok(()),
            _ => Err(self.ended().await),
        }
    }

    /// Queues `job` if there is room, without waiting.
    pub fn try_send(&self, job: J) -> Result<(), TrySend<J>> {
        let Some(tx) = self.jobs.as_ref() else {
            return Err(TrySend::Ended(job));
        };
        match self.shared.room.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(tokio::sync::TryAcquireError::NoPermits) => return Err(TrySend::Full(job)),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(TrySend::Ended(job)),
        }
        tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) => TrySend::Full(j),
            TrySendError::Disconnected(j) => TrySend::Ended(j),
        })
    }

    /// The next result, waiting (asynchronously) for one; `None` once the thread has ended
    /// and every result it sent has been taken.
    pub async fn recv(&mut self) -> Option<R> {
        loop {
            match self.results.try_recv() {
                Ok(r) => {
                    self.unpark();
                    return Some(r);
                }
                Err(TryRecvError::Disconnected) => return None,
                // A notification sent between `try_recv` and here is stored, not lost.
                Err(TryRecvError::Empty) => self.shared.ready.notified().await,
            }
        }
    }

    /// The next result if one is waiting. `Err(())` once the thread has ended and every
    /// result it sent has been taken.
    #[allow(clippy::result_unit_err)]
    pub fn try_recv(&mut self) -> Result<Option<R>, ()> {
        match self.results.try_recv() {
            Ok(r) => {
                self.unpark();
                Ok(Some(r))
            }
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }

    /// Closes the job channel: the thread's [`WorkerLink::recv`] returns `None` once the jobs
    /// already queued are taken. Results can still be received.
    pub fn close_jobs(&mut self) {
        self.jobs = None;
    }

    /// Asks the thread to stop ([`WorkerLink::stopping`]) and closes the job channel.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        self.close_jobs();
        self.unpark();
    }

    /// Wakes the thread if it waits for room to send a result.
    fn unpark(&self) {
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }

    /// Closes the job channel, waits for the thread to end (off the runtime's threads) and
    /// returns its outcome: its error as a `Fatal` with the cause as source. Results it sent
    /// and not yet taken can still be received afterwards. Calling it again returns `Ok`.
    pub async fn finish(&mut self) -> Result<(), StageError> {
        self.close_jobs();
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        let joined = if thread.is_finished() {
            thread.join()
        } else {
            match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(j) => j,
                Err(e) => return Err(StageError::fatal_from(&self.name, e)),
            }
        };
        match joined {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StageError::Fatal {
                message: format!("{}: {e}", self.name),
                source: Some(Arc::from(e)),
            }),
            Err(_) => Err(StageError::fatal(format!(
                "{}: the thread panicked",
                self.name
            ))),
        }
    }

    /// The error for a send to a thread that has ended.
    async fn ended(&mut self) -> StageError {
        match self.finish().await {
            Err(e) => e,
            Ok(()) => StageError::fatal(format!("{}: the thread has ended", self.name)),
        }
    }
}

impl<J, R> Drop for BlockingWorker<J, R> {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        // Dropping the sender ends the thread's `recv`; the thread is not waited for.
        self.jobs = None;
        if let Some(t) = &self.thread {
            t.thread().unpark();
        }
    }
}

impl<J, R> WorkerLink<J, R> {
    /// The next job, blocking until one comes; `None` when the stage has closed the job
    /// channel (or dropped the worker) and every queued job was taken.
    pub fn recv(&mut self) -> Option<J> {
        let job = self.jobs.recv().ok()?;
        self.shared.room.add_permits(1);
        Some(job)
    }

    /// The next job if one is queued.
    pub fn try_recv(&mut self) -> Option<J> {
        let job = self.jobs.try_recv().ok()?;
        self.shared.room.add_permits(1);
        Some(job)
    }

    /// The next job, blocking at most `timeout`; `Err(())` when the job channel is closed and
    /// empty, `Ok(None)` on timeout.
    #[allow(clippy::result_unit_err)]
    pub fn recv_timeout(&mut self, timeout: std::time::Duration) -> Result<Option<J>, ()> {
        match self.jobs.recv_timeout(timeout) {
            Ok(job) => {
                self.shared.room.add_permits(1);
                Ok(Some(job))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
        }
    }

    /// Sends a result, blocking while the result channel is full. `false` if the stage has
    /// dropped the worker or asked the thread to stop (the thread should end): a thread
    /// blocked here never keeps a stopping stage waiting.
    pub fn send(&self, result: R) -> bool {
        let mut result = result;
        loop {
            match self.results.try_send(result) {
                Ok(()) => {
                    self.shared.ready.notify_one();
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(r)) => {
                    if self.stopping() {
                        return false;
                    }
                    result = r;
                    // The stage unparks this thread when it takes a result or stops it; the
                    // timeout only bounds a missed wake-up.
                    std::thread::park_timeout(std::time::Duration::from_millis(10));
                }
            }
        }
    }

    /// Sends a result if there is room; hands it back if the channel is full or the stage
    /// has dropped the worker.
    pub fn try_send(&self, result: R) -> Result<(), R> {
        match self.results.try_send(result) {
            Ok(()) => {
                self.shared.ready.notify_one();
                Ok(())
            }
            Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => Err(r),
        }
    }

    /// Whether the stage has dropped the worker or called [`BlockingWorker::stop`]: a thread
    /// that loops on a device should end.
    pub fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }
}

/// A fixed set of buffers handed between a stage and its worker thread and given back after
/// use, so that nothing is allocated per packet. Cloning shares the same set.
pub struct Recycler<B> {
    free: Arc<ArrayQueue<B>>,
}

impl<B> Clone for Recycler<B> {
    fn clone(&self) -> Self {
        Recycler {
            free: self.free.clone(),
        }
    }
}

impl<B> Recycler<B> {
    /// `count` buffers made by `make` (at start-up).
    pub fn new(count: usize, mut make: impl FnMut() -> B) -> Self {
        let free = ArrayQueue::new(count.max(1));
        for _ in 0..count {
            // Cannot fail: the queue holds exactly `count`.
            let _ = free.push(make());
        }
        Recycler {
            free: Arc::new(free),
        }
    }

    /// A free buffer, or `None` if every buffer is in use (the other side is behind).
    pub fn take(&self) -> Option<B> {
        self.free.pop()
    }

    /// Gives a buffer back.
    pub fn give(&self, buf: B) {
        // Only buffers taken from this set come back, so there is always room.
        let _ = self.free.push(buf);
    }

    /// Buffers free now.
    pub fn available(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn jobs_and_results_arrive_in_order() {
        rt().block_on(async {
            let mut w = BlockingWorker::spawn("echo", 2, 2, |mut link| {
                while let Some(x) = link.recv() {
                    if !link.send(x * 10) {
                        break;
                    }
                }
                Ok(())
            })
            .expect("spawn");
            let mut got = Vec::new();
            for x in 0..100u32 {
                w.send(x).await.expect("send");
                while let Ok(Some(r)) = w.try_recv() {
                    got.push(r);
                }
            }
            w.close_jobs();
            while let Some(r) = w.recv().await {
                got.push(r);
            }
            w.finish().await.expect("finish");
            assert_eq!(got, (0..100).map(|x| x * 10).collect::<Vec<_>>());
        });
    }

    #[test]
    fn a_full_job_channel_backs_the_stage_up() {
        rt().block_on(async {
            let gate = Arc::new(std::sync::Barrier::new(2));
            let g = gate.clone();
            let w = BlockingWorker::<u8, ()>::spawn("slow", 2, 1, move |mut link| {
                g.wait(); // take nothing until the test has filled the channel
                while link.recv().is_some() {}
                Ok(())
            })
            .expect("spawn");
            assert_eq!(w.try_send(1), Ok(()));
            assert_eq!(w.try_send(2), Ok(()));
            assert_eq!(w.try_send(3), Err(TrySend::Full(3)));
            gate.wait();
        });
    }

    #[test]
    fn the_threads_error_reaches_the_stage_with_its_source() {
        rt().block_on(async {
            let mut w = BlockingWorker::<u8, u8>::spawn("failing", 1, 1, |mut link| {
                link.recv();
                Err(std::io::Error::other("disk full").into())
            })
            .expect("spawn");
            w.send(1).await.expect("first job is taken");
            // The thread ends after the first job: a later send reports its error.
            let err = loop {
                if let Err(e) = w.send(2).await {
                    break e;
                }
            };
            match &err {
                StageError::Fatal { message, source } => {
                    assert_eq!(message, "failing: disk full");
                    assert!(source.is_some());
                }
                other => panic!("expected Fatal, got {other:?}"),
            }
            assert_eq!(w.recv().await, None);
            assert!(w.finish().await.is_ok(), "the outcome is reported once");
        });
    }

    #[test]
    fn a_panicking_thread_wakes_a_waiting_stage() {
        rt().block_on(async {
            let mut w = BlockingWorker::<u8, u8>::spawn("panicking", 1, 1, |mut link| {
                link.recv();
                panic!("worker bug");
            })
            .expect("spawn");
            w.send(1).await.expect("taken");
            assert_eq!(w.recv().await, None);
            let err = w.finish().await.expect_err("a panic is an error");
            assert!(err.to_string().contains("panicked"), "{err}");
        });
    }

    #[test]
    fn dropping_the_worker_stops_a_device_loop() {
        let (tx, rx) = mpsc::channel();
        let w = BlockingWorker::<(), ()>::spawn("device", 1, 1, move |link| {
            while !link.stopping() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send(());
            Ok(())
        })
        .expect("spawn");
        drop(w);
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the thread saw `stopping` and ended");
    }

    #[test]
    fn stopping_releases_a_thread_blocked_on_a_full_result_channel() {
        rt().block_on(async {
            let mut w = BlockingWorker::<(), u32>::spawn("flood", 1, 2, |link| {
                let mut n = 0;
                while link.send(n) {
                    n += 1;
                }
                Ok(())
            })
            .expect("spawn");
            assert_eq!(w.recv().await, Some(0), "results arrive in order");
            w.stop();
            w.finish().await.expect("the thread ended cleanly");
            // What was sent before the stop is still there, in order.
            let mut rest = Vec::new();
            while let Ok(Some(r)) = w.try_recv() {
                rest.push(r);
            }
            assert!(!rest.is_empty() && rest.len() <= 2, "{rest:?}");
            assert!(rest.windows(2).all(|p| p[1] == p[0] + 1) && rest[0] == 1);
        });
    }

    #[test]
    fn recycled_buffers_come_back() {
        let r = Recycler::new(2, || vec![0u8; 4]);
        let a = r.take().expect("one");
        let b = r.take().expect("two");
        assert!(r.take().is_none());
        assert_eq!(r.available(), 0);
        r.give(a);
        r.clone().give(b);
        assert_eq!(r.available(), 2);
    }
}
