//! [`StageTimer`]: a paced stage's own timer, woken by the runtime worker that runs the stage.
//!
//! A paced source sleeps to each packet's due time. The process's timer thread
//! ([`precise_sleep`](crate::precise_sleep)) is precise to tens of microseconds, but it wakes the
//! stage from outside the runtime: one more thread to wake per packet (two more context
//! switches), and the woken source — and every stage it sends to — then runs on whichever
//! worker picks it up, often not the one its consumers last ran on.
//!
//! On Linux each stage that sleeps gets a `timerfd` instead (made at its first sleep, one file
//! descriptor, closed with the stage), registered with the runtime's I/O driver. The worker
//! waiting for I/O is woken at the deadline by the kernel's high-resolution timer (no
//! millisecond rounding, unlike tokio's timer) and runs the stage itself; the packets it sends
//! wake their consumers on that same worker. Per packet: one `timerfd_settime`, the worker's
//! own wake-up and one `read`. Elsewhere, when the timer cannot be made, or when one stage
//! sleeps twice at once, the timer thread is used.
//!
//! Needs a runtime with its I/O driver (`enable_all()` or `enable_io()` on tokio's builder), as
//! every runtime neuropipe makes has.

use std::time::Instant;

/// One stage's timer (see the module docs).
#[derive(Default)]
pub(crate) struct StageTimer {
    #[cfg(target_os = "linux")]
    fd: linux::TimerFd,
}

impl StageTimer {
    /// Completes at `deadline` (a few tens of microseconds after it; never before).
    /// Cancel-safe: a dropped sleep leaves no wake-up behind that could end the next one early.
    pub(crate) async fn sleep_until(&self, deadline: Instant) {
        #[cfg(target_os = "linux")]
        if self.fd.sleep_until(deadline).await {
            return;
        }
        crate::precise_sleep::sleep_until(deadline).await
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io;
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use rustix::time::{
        timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
        TimerfdTimerFlags, Timespec,
    };
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    /// A `timerfd` registered with the runtime's I/O driver, made on first use.
    #[derive(Default)]
    pub(super) struct TimerFd {
        /// `None` if it could not be made (the caller falls back to the timer thread).
        fd: OnceLock<Option<AsyncFd<OwnedFd>>>,
        /// A sleep is using the timer (a second one at once falls back).
        busy: AtomicBool,
    }

    /// Releases [`TimerFd::busy`] when the sleep ends or is dropped.
    struct Busy<'a>(&'a AtomicBool);

    impl Drop for Busy<'_> {
        fn drop(&mut self) {
            self.0.store(false, Ordering::Release);
        }
    }

    impl TimerFd {
        /// Sleeps to `deadline` on the timer; `false` if the caller must use another timer
        /// (no `timerfd`, a sleep already running on it, or an error from the kernel).
        pub(super) async fn sleep_until(&self, deadline: Instant) -> bool {
            let Some(fd) = self.fd.get_or_init(open) else {
                return false;
            };
            if self.busy.swap(true, Ordering::Acquire) {
                return false;
            }
            let _busy = Busy(&self.busy);
            if deadline > Instant::now() {
                // Let the stages this one just sent to run first: arming the timer costs a
                // system call (on a virtual machine often an exit to the hypervisor, several
                // microseconds), which would otherwise delay every packet's hand-off.
                tokio::task::yield_now().await;
            }
            wait(fd, deadline).await.is_ok()
        }

        /// Whether the `timerfd` was made.
        #[cfg(test)]
        pub(super) fn is_open(&self) -> bool {
            matches!(self.fd.get(), Some(Some(_)))
        }
    }

    /// Arms the timer for `deadline` and waits for its expiry.
    async fn wait(fd: &AsyncFd<OwnedFd>, deadline: Instant) -> io::Result<()> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        // Setting the timer also zeroes its count of expiries (timerfd_create(2): `read`
        // counts them "since its settings were last modified"), so a dropped sleep's expiry
        // cannot end this one early; only tokio's readiness may be left over.
        timerfd_settime(fd, TimerfdTimerFlags::empty(), &spec(left))?;
        loop {
            let mut ready = fd.readable().await?;
            match ready.try_io(read_expiry) {
                Ok(result) => return result,
                // Readiness left from before (the read found no expiry): wait again.
                Err(_would_block) => continue,
            }
        }
    }

    /// A non-blocking monotonic `timerfd` registered for reading, or `None`.
    fn open() -> Option<AsyncFd<OwnedFd>> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )
        .ok()?;
        // SAFETY: `register_with_interest` requires the descriptor `as_raw_fd` returns to stay
        // open, refer to the same timer and be the same number for the `AsyncFd`'s whole life.
        // The `AsyncFd` owns the `OwnedFd`, whose `as_raw_fd` always returns the number it was
        // made with and which closes it only when dropped, with the `AsyncFd` (after
        // deregistering); this module never takes it out (`get_mut`/`into_inner`).
        unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()
    }

    /// Reads the expiry count (`WouldBlock` if the timer has not expired).
    fn read_expiry(fd: &AsyncFd<OwnedFd>) -> io::Result<()> {
        let mut count = [0u8; 8];
        rustix::io::read(fd, &mut count)?;
        Ok(())
    }

    /// A one-shot timer `after` from now.
    fn spec(after: Duration) -> Itimerspec {
        Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: after.as_secs().try_into().unwrap_or(i64::MAX),
                // Below 10⁹: fits every platform's `c_long`.
                tv_nsec: after.subsec_nanos() as _,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::time::Duration;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn never_completes_before_its_deadline() {
        rt().block_on(async {
            let t = StageTimer::default();
            for us in [0u64, 1, 50, 300, 1_000, 2_500] {
                let deadline = Instant::now() + Duration::from_micros(us);
                t.sleep_until(deadline).await;
                assert!(Instant::now() >= deadline, "{us} µs");
            }
            // A deadline in the past completes at once.
            t.sleep_until(Instant::now() - Duration::from_millis(5))
                .await;
        });
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_stage_sleeps_on_its_own_timerfd() {
        rt().block_on(async {
            let t = StageTimer::default();
            t.sleep_until(Instant::now() + Duration::from_micros(200))
                .await;
            assert!(t.fd.is_open(), "the timerfd was made and used");
        });
    }

    #[test]
    fn a_dropped_sleep_cannot_end_the_next_one_early() {
        rt().block_on(async {
            let t = StageTimer::default();
            // Polled once (the timer armed), dropped before its deadline; the timer then
            // expires unread.
            {
                let short = Instant::now() + Duration::from_millis(2);
                let mut sleep = std::pin::pin!(t.sleep_until(short));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                assert!(sleep.as_mut().poll(&mut cx).is_pending());
            }
            std::thread::sleep(Duration::from_millis(5));
            let long = Instant::now() + Duration::from_millis(20);
            t.sleep_until(long).await;
            assert!(Instant::now() >= long);
        });
    }

    #[test]
    fn two_sleeps_of_one_stage_at_once_both_complete_at_their_deadlines() {
        rt().block_on(async {
            let t = StageTimer::default();
            let a = Instant::now() + Duration::from_millis(3);
            let b = Instant::now() + Duration::from_millis(6);
            tokio::join!(t.sleep_until(b), t.sleep_until(a));
            assert!(Instant::now() >= b);
        });
    }
}
