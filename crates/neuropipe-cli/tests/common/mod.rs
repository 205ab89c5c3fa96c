//! Helpers shared by the CLI's process tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};

/// The `neuropipe` binary, quiet, with no token in its environment.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_neuropipe"));
    c.env("RUST_LOG", "warn")
        .env_remove("NEUROPIPE_TOKEN")
        .env_remove("NEUROPIPE_READ_TOKEN");
    c
}

/// `neuropipe ctl --addr ADDR ARGS…`.
pub fn ctl(addr: &str, args: &[&str]) -> Output {
    bin()
        .args(["ctl", "--addr", addr])
        .args(args)
        .output()
        .unwrap()
}

/// A loopback port free right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// Starts `run --serve` with `args` and `env`; returns the child and its stderr lines up to
/// and including `serving ...` (or all of them if it exits first).
pub fn serve(args: &[&str], env: &[(&str, &str)]) -> (Child, Vec<String>) {
    let mut c = bin();
    c.args(["run", "--quiet", "--duration", "30"]).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut lines = vec![];
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        let serving = line.starts_with("serving ");
        lines.push(line.trim_end().to_string());
        if serving {
            // Keep the remaining lines flowing (and readable by later checks).
            std::thread::spawn(move || {
                let mut rest = String::new();
                let _ = err.read_to_string(&mut rest);
            });
            break;
        }
    }
    (child, lines)
}

/// Starts the built-in default pipeline (8 channels, 250 Hz) recording to `path` (the format
/// from its extension).
pub fn record_default(path: &std::path::Path) -> Child {
    bin()
        .args(["run", "--quiet", "--record"])
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends signal `sig` to `child`.
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}
