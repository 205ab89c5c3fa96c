//! Run-time choice of the instruction set for the hot kernels.
//!
//! The kernels are written once, portably; on x86-64 CPUs with AVX2 the same code is also
//! compiled for AVX2 (wider vectors over channels) and chosen at run time. Only plain
//! multiplies and adds are used and Rust never contracts them into fused multiply-adds, so both
//! builds compute the same operations in the same order: bit-identical output (tested).
//!
//! `NEUROPIPE_SIMD=portable` in the environment forces the portable build (read once), for
//! comparisons and benchmarks.

use std::sync::OnceLock;

/// Whether the AVX2 build of the kernels is used (detected once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    static USE: OnceLock<bool> = OnceLock::new();
    *USE.get_or_init(|| {
        let forced_portable =
            std::env::var("NEUROPIPE_SIMD").is_ok_and(|v| v.eq_ignore_ascii_case("portable"));
        !forced_portable && std::arch::is_x86_feature_detected!("avx2")
    })
}

/// Whether the AVX2 build of the kernels is used (never on this architecture).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn avx2() -> bool {
    false
}

/// The instruction set the kernels run with: `"avx2"` or `"portable"`.
pub fn kernel_isa() -> &'static str {
    if avx2() {
        "avx2"
    } else {
        "portable"
    }
}
