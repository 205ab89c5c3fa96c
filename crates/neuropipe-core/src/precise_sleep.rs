//! Sleeping to a deadline to a fraction of a millisecond, for paced sources, where a stage
//! has no timer of its own ([`stage_timer`](crate::stage_timer): not Linux, no `timerfd`, or
//! a stage sleeping twice at once).
//!
//! tokio's timer counts whole milliseconds: a deadline is rounded up to the next tick and an
//! idle worker parks with a millisecond timeout, so a task woken by it runs 0.5–2 ms after
//! its deadline. A simulated or replayed source paced that way sends each packet that much
//! late, which shows in every latency measured downstream (an LSL consumer sees it). Here one
//! thread per process waits on a condition variable for the earliest registered deadline
//! (the kernel's timer: tens of microseconds late) and wakes the task that registered it.
//!
//! Nothing allocates once the thread runs: the deadlines live in a list with room for
//! [`CAPACITY`] sleepers (beyond that the list grows, once), and a task's waker is cloned
//! into it (a reference count for tokio's wakers). A dropped sleep removes its deadline, so
//! a sleep cancelled by a `select!` leaves nothing behind.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Sleepers the list holds without growing (stages pacing at once, in every pipeline of the
/// process).
pub(crate) const CAPACITY: usize = 256;

/// A registered deadline.
struct Entry {
    id: u64,
    deadline: Instant,
    waker: Waker,
}

#[derive(Default)]
struct State {
    entries: Vec<Entry>,
    next_id: u64,
}

struct Timer {
    state: Mutex<State>,
    /// Signalled when a deadline earlier than every other one is registered.
    earlier: Condvar,
}

impl Timer {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the list inconsistent (each change is
        // one push or one removal): carry on with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The timer thread: wakes every sleeper whose deadline has come, then waits for the
    /// earliest one left (or for a new, earlier one).
    fn run(&self) {
        let mut st = self.lock();
        loop {
            let now = Instant::now();
            // The sleepers whose deadline has come, earliest first.
            while let Some((i, _)) = st
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.deadline <= now)
                .min_by_key(|(_, e)| e.deadline)
            {
                st.entries.swap_remove(i).waker.wake();
            }
            st = match st.entries.iter().map(|e| e.deadline).min() {
                None => self.earlier.wait(st).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let wait = d.saturating_duration_since(now);
                    self.earlier
                        .wait_timeout(st, wait)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

/// The process's timer, its thread started on first use (`None` if the thread could not be
/// started: callers then fall back to tokio's timer).
fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            state: Mutex::new(State {
                entries: Vec::with_capacity(CAPACITY),
                next_id: 0,
            }),
            earlier: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("neuropipe-timer".into())
            .spawn(move || t.run())
            .ok()
            .map(|_| t)
    })
}

/// Completes at `deadline` (see the module docs); falls back to tokio's timer if the timer
/// thread cannot be started. Cancel-safe: dropping it removes the deadline.
pub(crate) fn sleep_until(deadline: Instant) -> PreciseSleep {
    PreciseSleep {
        deadline,
        id: None,
        fallback: None,
    }
}

/// The future returned by [`sleep_until`].
pub(crate) struct PreciseSleep {
    deadline: Instant,
    /// The registration in the timer's list, once polled.
    id: Option<u64>,
    /// tokio's timer, when the timer thread could not be started.
    fallback: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for PreciseSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.unregister();
            return Poll::Ready(());
        }
        let Some(t) = timer() else {
            let deadline = self.deadline;
            let sleep = self
                .fallback
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
            return sleep.as_mut().poll(cx);
        };
        let mut st = t.lock();
        if let Some(e) = self
            .id
            .and_then(|id| st.entries.iter_mut().find(|e| e.id == id))
        {
            if !e.waker.will_wake(cx.waker()) {
                e.waker = cx.waker().clone();
            }
            return Poll::Pending;
        }
        // Not registered yet (or woken early and removed: register again).
        let earliest = st.entries.iter().all(|e| e.deadline > self.deadline);
        let id = st.next_id;
        st.next_id += 1;
        st.entries.push(Entry {
            id,
            deadline: self.deadline,
            waker: cx.waker().clone(),
        });
        drop(st);
        self.id = Some(id);
        if earliest {
            t.earlier.notify_one();
        }
        Poll::Pending
    }
}

impl PreciseSleep {
    fn unregister(&mut self) {
        if let (Some(id), Some(t)) = (self.id.take(), timer()) {
            let mut st = t.lock();
            if let Some(i) = st.entries.iter().position(|e| e.id == id) {
                st.entries.swap_remove(i);
            }
        }
    }
}

impl Drop for PreciseSleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn is_registered(id: u64) -> bool {
        timer().is_some_and(|t| t.lock().entries.iter().any(|e| e.id == id))
    }

    #[tokio::test]
    async fn never_completes_before_its_deadline() {
        let t0 = Instant::now();
        let mut tasks = vec![];
        // Deadlines spread over 30 ms, some already past.
        for k in 0..20u64 {
            let deadline = t0 + Duration::from_micros(k * 7_919 % 30_000);
            tasks.push(tokio::spawn(async move {
                sleep_until(deadline).await;
                Instant::now() >= deadline
            }));
        }
        for t in tasks {
            assert!(t.await.unwrap());
        }
    }

    #[tokio::test]
    async fn a_cancelled_sleep_leaves_nothing_behind() {
        let mut far = Box::pin(sleep_until(Instant::now() + Duration::from_secs(3600)));
        std::future::poll_fn(|cx| {
            assert!(far.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        let id = far.id.expect("registered when first polled");
        assert!(is_registered(id));
        drop(far);
        assert!(!is_registered(id));
    }
}
