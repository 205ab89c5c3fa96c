//! Network safety for LSL tests: every LSL test runs inside a private network namespace
//! (`unshare -n`, only `lo`, brought up) with the loopback-only `lsl_api.cfg` — never on the
//! machine's real network.
//!
//! A test calls [`enter_netns`] first. Outside the namespace it re-executes the test binary with
//! the same test (`--exact`) under `unshare -n sh -c 'ip link set lo up && exec "$@"'` with
//! `NEUROPIPE_LSL_NETNS=1`, asserts that run passed and returns `false` (the outer test is done).
//! Inside it checks that only `lo` exists and returns `true`. Without `unshare` (or the right
//! to use it: root or CAP_SYS_ADMIN) the test fails with a clear message.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The loopback-only liblsl configuration committed with the crate.
pub fn lsl_api_cfg() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lsl_api.cfg")
}

/// Interfaces of this process's network namespace (from /proc/self/net/dev).
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .unwrap_or_default()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect()
}

/// `true`: we are inside the private namespace, run the test body. `false`: the test ran in
/// a child process inside the namespace and passed (it panics if it failed).
pub fn enter_netns(test: &str) -> bool {
    if std::env::var_os("NEUROPIPE_LSL_NETNS").is_some() {
        let ifs = interfaces();
        assert!(
            ifs.iter().all(|i| i == "lo"),
            "NEUROPIPE_LSL_NETNS is set but this network namespace has interfaces {ifs:?}: \
             refusing to run LSL outside a private namespace"
        );
        assert!(
            std::env::var_os("LSLAPICFG").is_some(),
            "LSLAPICFG must point at the loopback-only lsl_api.cfg"
        );
        return true;
    }
    let probe = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "LSL tests must run in a private network namespace, but `unshare -n` failed \
             ({}; needs root or CAP_SYS_ADMIN, and `ip` from iproute2). Refusing to run LSL on \
             the real network.",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!(
            "LSL tests must run in a private network namespace, but `unshare` could not be \
             started ({e}; it is in util-linux). Refusing to run LSL on the real network."
        ),
    }
    let exe = std::env::current_exe().expect("test binary path");
    let status = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"])
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("NEUROPIPE_LSL_NETNS", "1")
        .env("LSLAPICFG", lsl_api_cfg())
        .status()
        .expect("run the test inside unshare -n");
    assert!(
        status.success(),
        "test `{test}` failed inside the private network namespace ({status})"
    );
    false
}

#[allow(unused_imports)] // not every test binary that includes this module uses it
pub use neuropipe_testkit::python;
