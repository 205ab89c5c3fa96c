//! Run-time choice of the instruction set for the hot kernels.
//!
//! The kernels are written once, portably; on x86-64 CPUs with AVX2 the same code is also
//! compiled for AVX2 (wider vectors over channels), the FIR, SOS and decimator kernels for AVX-512 too, and
//! the widest the CPU has is chosen at run time. Only plain multiplies and adds are used and Rust
//! never contracts them into fused multiply-adds, so every build computes the same operations
//! in the same order: bit-identical output (tested).
//!
//! `NEUROPIPE_SIMD=portable` or `NEUROPIPE_SIMD=avx2` in the environment caps the choice (read
//! once), for comparisons and benchmarks.

use std::sync::OnceLock;

/// The `NEUROPIPE_SIMD` cap, lower-cased (read once).
fn cap() -> &'static str {
    static CAP: OnceLock<String> = OnceLock::new();
    CAP.get_or_init(|| {
        std::env::var("NEUROPIPE_SIMD")
            .unwrap_or_default()
            .to_ascii_lowercase()
    })
}

/// Whether the AVX2 build of the kernels is used (detected once).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2() -> bool {
    static USE: OnceLock<bool> = OnceLock::new();
    *USE.get_or_init(|| cap() != "portable" && std::arch::is_x86_feature_detected!("avx2"))
}

/// Whether the AVX-512 build of the FIR, SOS and decimator kernels is used (detected once;
/// implies AVX2).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> bool {
    static USE: OnceLock<bool> = OnceLock::new();
    *USE.get_or_init(|| avx2() && cap() != "avx2" && std::arch::is_x86_feature_detected!("avx512f"))
}

/// Whether the AVX-512 build of the FIR, SOS and decimator kernels is used (never on this
/// architecture).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn avx512() -> bool {
    false
}

/// Whether the AVX2 build of the kernels is used (never on this architecture).
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn avx2() -> bool {
    false
}

/// The instruction set the kernels run with: `"avx512"` (the FIR, SOS and decimator kernels;
/// the others AVX2), `"avx2"` or `"portable"`.
pub fn kernel_isa() -> &'static str {
    if avx512() {
        "avx512"
    } else if avx2() {
        "avx2"
    } else {
        "portable"
    }
}

/// The builds of the kernels this CPU can run, the portable one first (for the tests that
/// compare them).
#[cfg(test)]
pub(crate) fn builds() -> Vec<&'static str> {
    let mut b = vec!["portable"];
    if avx2() {
        b.push("avx2");
    } else {
        eprintln!("no AVX2 on this CPU: only the portable build is tested");
    }
    if avx512() {
        b.push("avx512");
    } else {
        eprintln!("no AVX-512 on this CPU: its build is not tested");
    }
    b
}
