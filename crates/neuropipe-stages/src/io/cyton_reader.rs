//! The serial side of `CytonSource`: a dedicated thread owning the port.
//!
//! Serial reads block, so they never run on the async runtime: the port belongs to a
//! [`BlockingWorker`] thread, its buffers to a [`Recycler`]. The thread resets the board
//! (`v`, waiting for `$$$`), sets the channel gains if asked, starts streaming (`b`), then
//! reads bytes into a fixed set of preallocated buffers and hands each filled buffer to the
//! stage through a bounded channel; the stage parses it and gives the buffer back. Nothing is
//! allocated per read. If the stage falls so far behind that no buffer is free, the bytes
//! read are dropped and counted — the parser then reports the lost packets as a gap.
//!
//! While the stage is paused the thread reads and discards (the board keeps streaming, so
//! nothing piles up in the OS buffer), and marks the pause and the resumption in the
//! channel so the stage can flag the discontinuity at the right place. On stop it sends `s`
//! and ends.

use neuropipe_core::blocking::{BlockingWorker, Recycler, WorkerError, WorkerLink};
use neuropipe_core::{Clock, StageError};
use neuropipe_io::cyton::{CHANNELS, CMD_RESET, CMD_START, CMD_STOP, RESET_DONE};
use serialport::{ClearBuffer, SerialPort};
use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes per read buffer (about 15 Cyton packets).
pub(crate) const CHUNK: usize = 512;
/// Read buffers in circulation: about 2 s of Cyton data.
const BUFFERS: usize = 32;
/// Room in the channel for pause/resume marks besides the data.
const MARKS: usize = 8;

/// One read buffer.
pub(crate) type Buf = Box<[u8; CHUNK]>;

/// What the thread sends to the stage.
pub(crate) enum Msg {
    /// `len` bytes read at clock time `read_ns`.
    Data { buf: Buf, len: usize, read_ns: u64 },
    /// The stage was paused: bytes after this are discarded until `Resumed`.
    Paused,
    /// Streaming data follow again (the board's counter has moved on).
    Resumed,
}

/// The thread takes no jobs: pause and resume are a flag, stop is the worker's.
pub(crate) enum NoJob {}

/// Settings of the serial conversation.
pub(crate) struct ReaderConfig {
    /// Port name, for messages.
    pub(crate) name: String,
    /// ADS1299 gain code (0–6) to set on every channel, or `None` to keep the default (×24).
    pub(crate) gain_code: Option<u8>,
    /// Turn on the ADS1299's AC lead-off current on every channel's P input (impedance
    /// measurement; the signal then carries the 31.25 Hz drive, see `SignalQuality`).
    pub(crate) leadoff: bool,
    /// How long to wait for the answer to `v`.
    pub(crate) reset_timeout: Duration,
    /// The pipeline clock, to time-stamp reads.
    pub(crate) clock: Clock,
}

/// The running reader thread, seen from the stage.
pub(crate) struct Reader {
    pub(crate) worker: BlockingWorker<NoJob, Msg>,
    buffers: Recycler<Buf>,
    discard: Arc<AtomicBool>,
    overflow: Arc<AtomicU64>,
}

impl Reader {
    /// Starts the thread on `port`.
    pub(crate) fn start(
        port: Box<dyn SerialPort>,
        cfg: ReaderConfig,
    ) -> Result<Reader, StageError> {
        let buffers = Recycler::new(BUFFERS, || Box::new([0u8; CHUNK]));
        let discard = Arc::new(AtomicBool::new(false));
        let overflow = Arc::new(AtomicU64::new(0));
        let shared = Shared {
            buffers: buffers.clone(),
            discard: discard.clone(),
            overflow: overflow.clone(),
        };
        let worker = BlockingWorker::spawn("cyton-serial", 1, BUFFERS + MARKS, move |link| {
            read_loop(port, &cfg, &link, &shared)
        })?;
        Ok(Reader {
            worker,
            buffers,
            discard,
            overflow,
        })
    }

    /// Gives a buffer back to the thread.
    pub(crate) fn recycle(&self, buf: Buf) {
        self.buffers.give(buf);
    }

    /// Discard (`true`) or deliver (`false`) what the board sends.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.discard.store(paused, Ordering::Relaxed);
    }

    /// Bytes dropped because every buffer was waiting for the stage.
    pub(crate) fn overflow_bytes(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }
}

struct Shared {
    buffers: Recycler<Buf>,
    discard: Arc<AtomicBool>,
    overflow: Arc<AtomicU64>,
}

fn transient(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::TimedOut | ErrorKind::Interrupted | ErrorKind::WouldBlock
    )
}

/// The thread's body: handshake, then read until stopped; the board is told to stop on
/// every path after the handshake.
fn read_loop(
    mut port: Box<dyn SerialPort>,
    cfg: &ReaderConfig,
    link: &WorkerLink<NoJob, Msg>,
    s: &Shared,
) -> Result<(), WorkerError> {
    handshake(&mut *port, cfg, link)?;
    let r = stream(&mut *port, cfg, link, s);
    let _ = port.write_all(&[CMD_STOP]);
    let _ = port.flush();
    r
}

/// Reads into recycled buffers and hands them to the stage until stopped.
fn stream(
    port: &mut dyn SerialPort,
    cfg: &ReaderConfig,
    link: &WorkerLink<NoJob, Msg>,
    s: &Shared,
) -> Result<(), WorkerError> {
    let mut scratch = [0u8; CHUNK];
    let mut held: Option<Buf> = None;
    let mut discarding = false;
    while !link.stopping() {
        let d = s.discard.load(Ordering::Relaxed);
        if d != discarding {
            discarding = d;
            if !d {
                // Bytes that waited in the OS buffer during the pause are stale.
                let _ = port.clear(ClearBuffer::Input);
            }
            let mark = if d { Msg::Paused } else { Msg::Resumed };
            if !link.send(mark) {
                break;
            }
        }
        if held.is_none() && !discarding {
            held = s.buffers.take();
        }
        let target: &mut [u8] = match (&mut held, discarding) {
            (Some(b), false) => &mut b[..],
            _ => &mut scratch[..],
        };
        match port.read(target) {
            Ok(0) => return Err(format!("serial port {}: the port was closed", cfg.name).into()),
            Ok(len) => {
                let read_ns = cfg.clock.now_ns();
                if discarding {
                    continue;
                }
                match held.take() {
                    Some(buf) => {
                        if !link.send(Msg::Data { buf, len, read_ns }) {
                            break;
                        }
                    }
                    None => {
                        s.overflow.fetch_add(len as u64, Ordering::Relaxed);
                    }
                }
            }
            Err(e) if transient(e.kind()) => {}
            Err(e) => {
                return Err(format!("serial port {} failed: {e} (unplugged?)", cfg.name).into())
            }
        }
    }
    Ok(())
}

/// Resets the board, sets gains, starts streaming.
fn handshake(
    port: &mut dyn SerialPort,
    cfg: &ReaderConfig,
    link: &WorkerLink<NoJob, Msg>,
) -> Result<(), String> {
    let name = &cfg.name;
    let write = |port: &mut dyn SerialPort, bytes: &[u8]| {
        port.write_all(bytes)
            .and_then(|_| port.flush())
            .map_err(|e| format!("cannot write to serial port {name}: {e}"))
    };
    let _ = port.clear(ClearBuffer::All);
    write(port, &[CMD_RESET])?;
    let deadline = Instant::now() + cfg.reset_timeout;
    let mut banner = Vec::with_capacity(256);
    let mut buf = [0u8; 64];
    'reset: loop {
        if link.stopping() {
            return Err("stopped before the board answered".into());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no answer to the reset command `v` from {name} within {} s (is the board switched on and its dongle on GPIO_6? is another program using the port?)",
                cfg.reset_timeout.as_secs_f64()
            ));
        }
        match port.read(&mut buf) {
            Ok(0) => return Err(format!("serial port {name}: the port was closed")),
            Ok(n) => {
                for &b in &buf[..n] {
                    if banner.len() < 4096 {
                        banner.push(b);
                    }
                    if banner.ends_with(RESET_DONE) {
                        break 'reset;
                    }
                }
            }
            Err(e) if transient(e.kind()) => {}
            Err(e) => return Err(format!("serial port {name} failed: {e}")),
        }
    }
    let text = String::from_utf8_lossy(&banner);
    tracing::info!(port = %name, "board reset: {}", text.trim_end_matches('$').trim().replace('\n', "; "));
    let configure = cfg.gain_code.is_some() || cfg.leadoff;
    if let Some(code) = cfg.gain_code {
        // x CHANNEL POWER_DOWN GAIN INPUT_TYPE BIAS SRB2 SRB1 X: powered on, normal input,
        // in the bias, SRB2 on, SRB1 off (the board's defaults), with the requested gain.
        for ch in 1..=CHANNELS {
            let cmd = [
                b'x',
                b'0' + ch as u8,
                b'0',
                b'0' + code,
                b'0',
                b'1',
                b'1',
                b'0',
                b'X',
            ];
            write(port, &cmd)?;
        }
    }
    if cfg.leadoff {
        // z CHANNEL PCHAN NCHAN Z: the 6 nA lead-off current on the P input, not on N.
        for ch in 1..=CHANNELS {
            write(port, &[b'z', b'0' + ch as u8, b'1', b'0', b'Z'])?;
        }
    }
    if configure {
        // Let the board answer (its text would otherwise be skipped as garbage anyway).
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            match port.read(&mut buf) {
                Ok(_) => {}
                Err(e) if transient(e.kind()) => {}
                Err(e) => return Err(format!("serial port {name} failed: {e}")),
            }
        }
    }
    write(port, &[CMD_START])
}
