//! Test support shared by neuropipe's crates: a counting global allocator that proves code
//! paths do not allocate (and [`allocations_while_running`] for a whole pipeline), and
//! [`stages`], the test stages every crate's tests use (a numbered
//! source, an in-place adder, a probing sink). To run one stage alone, use
//! [`neuropipe_core::testing::Harness`].
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: neuropipe_testkit::CountingAllocator = neuropipe_testkit::CountingAllocator;
//!
//! let before = neuropipe_testkit::total_allocations();
//! hot_path();
//! assert_eq!(neuropipe_testkit::total_allocations() - before, 0);
//! ```
#![deny(missing_docs)]
// The counting allocator is the only unsafe code: each block argued in a `SAFETY:` comment.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod running;
pub mod stages;

pub use running::{allocations_while_running, assert_mostly_waiting, check_frames, Counted};

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Forwards to the system allocator, counting allocations process-wide and per thread, and
/// tracking live and peak bytes per thread.
pub struct CountingAllocator;

static TOTAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping uses atomics and
// `try_with` on thread-locals (no allocation, no panic during thread teardown).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        TOTAL.fetch_add(1, Relaxed);
        let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        let _ = LIVE.try_with(|l| {
            let now = l.get() + layout.size();
            l.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Memory freed on another thread than it was allocated on can make a thread's count
        // dip: saturate rather than wrap.
        let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(layout.size())));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations (including reallocations) by every thread since the process started.
pub fn total_allocations() -> u64 {
    TOTAL.load(Relaxed)
}

/// Allocations made by the calling thread so far.
pub fn thread_allocations() -> u64 {
    CALLS.with(Cell::get)
}

/// Allocations made by the calling thread while `f` runs.
pub fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = thread_allocations();
    f();
    thread_allocations() - before
}

/// Bytes the calling thread has allocated and not freed.
pub fn thread_live_bytes() -> usize {
    LIVE.with(Cell::get)
}

/// Peak of [`thread_live_bytes`] since the last [`reset_thread_peak`].
pub fn thread_peak_bytes() -> usize {
    PEAK.with(Cell::get)
}

/// Starts a new peak measurement from the current live bytes.
pub fn reset_thread_peak() {
    PEAK.with(|p| p.set(LIVE.with(Cell::get)));
}

/// The workspace root (where `.venv`, `scripts/` and `pipelines/` are).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with the pinned packages (SciPy, MNE, pyedflib, edfio, pylsl):
/// `NEUROPIPE_PYTHON`, else the workspace's `.venv`. Without it the caller skips, except
/// under `CI` or `NEUROPIPE_REQUIRE_PYTHON`, where a missing Python is a failure (panic).
pub fn python() -> Option<std::path::PathBuf> {
    let p = std::env::var_os("NEUROPIPE_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "no Python at {} (run `bash scripts/venv.sh` or set NEUROPIPE_PYTHON)",
        p.display()
    );
    if std::env::var_os("CI").is_some() || std::env::var_os("NEUROPIPE_REQUIRE_PYTHON").is_some() {
        panic!("{msg}");
    }
    eprintln!("SKIPPED python checks: {msg}");
    None
}
