//! BrainFlow's board-controller C API (`board_controller.h`), loaded at run time. Private to
//! this crate; [`board`](crate::board) is the safe layer the stage uses.
//!
//! The library is opened with `libloading` once per path and never closed: BrainFlow keeps
//! threads and global sessions alive inside it, and unloading code a thread still runs is
//! undefined behaviour. The [`Api`] of a path is therefore `&'static`.
//!
//! Every function takes plain integers, doubles, NUL-terminated strings and caller-owned
//! buffers whose sizes the caller states (or, for `get_board_data`, implies: see
//! [`Api::get_board_data`]). Each `unsafe` block argues what it relies on in a `// SAFETY:`
//! comment; the signatures are those of BrainFlow 5.x's `board_controller.h` (the ctypes
//! declarations of the pinned `brainflow` 5.23.0 Python package are the same).

use libloading::Library;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

type SessionFn = unsafe extern "C" fn(c_int, *const c_char) -> c_int;
type StartStreamFn = unsafe extern "C" fn(c_int, *const c_char, c_int, *const c_char) -> c_int;
type CountFn = unsafe extern "C" fn(c_int, *mut c_int, c_int, *const c_char) -> c_int;
type DataFn = unsafe extern "C" fn(c_int, c_int, *mut f64, c_int, *const c_char) -> c_int;
type MarkerFn = unsafe extern "C" fn(f64, c_int, c_int, *const c_char) -> c_int;
type DescrFn = unsafe extern "C" fn(c_int, c_int, *mut c_char, *mut c_int, c_int) -> c_int;
type VersionFn = unsafe extern "C" fn(*mut c_char, *mut c_int, c_int) -> c_int;
type LogLevelFn = unsafe extern "C" fn(c_int) -> c_int;

/// The functions of one loaded `libBoardController`.
pub(crate) struct Api {
    /// Kept so the functions below stay mapped (never dropped: see the module docs).
    _lib: Library,
    path: PathBuf,
    prepare_session: SessionFn,
    start_stream: StartStreamFn,
    stop_stream: SessionFn,
    release_session: SessionFn,
    get_board_data_count: CountFn,
    get_board_data: DataFn,
    insert_marker: MarkerFn,
    get_board_descr: DescrFn,
    get_version: VersionFn,
    set_log_level: LogLevelFn,
}

/// Loads (once per path) the library at `path`.
pub(crate) fn load(path: &Path) -> Result<&'static Api, String> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, &'static Api>>> = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(api) = loaded.get(path) {
        return Ok(api);
    }
    let api: &'static Api = Box::leak(Box::new(open(path)?));
    // Quiet by default: BrainFlow's logger writes to stderr from its own threads; its errors
    // reach the user as this crate's messages. 4 = spdlog's "warn" level.
    // SAFETY: takes an int and touches no caller memory.
    unsafe { (api.set_log_level)(4) };
    loaded.insert(path.to_path_buf(), api);
    Ok(api)
}

fn open(path: &Path) -> Result<Api, String> {
    // SAFETY: loading runs the library's initialisers. `libBoardController` is BrainFlow's own
    // build (the user pointed at it, or it is the installed `brainflow` package's); its
    // initialisers set up loggers and the boards table and have no preconditions on us.
    let lib = unsafe { Library::new(path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    macro_rules! sym {
        ($name:literal) => {{
            // SAFETY: the symbol's type is the one `board_controller.h` declares for it (see
            // the type aliases above); the copied function pointer stays valid because the
            // library is never unloaded.
            let s = unsafe { lib.get(concat!($name, "\0").as_bytes()) }.map_err(|e| {
                format!(
                    "{} is not BrainFlow's board controller (no `{}`: {e})",
                    path.display(),
                    $name
                )
            })?;
            *s
        }};
    }
    let api = Api {
        path: path.to_path_buf(),
        prepare_session: sym!("prepare_session"),
        start_stream: sym!("start_stream"),
        stop_stream: sym!("stop_stream"),
        release_session: sym!("release_session"),
        get_board_data_count: sym!("get_board_data_count"),
        get_board_data: sym!("get_board_data"),
        insert_marker: sym!("insert_marker"),
        get_board_descr: sym!("get_board_descr"),
        get_version: sym!("get_version_board_controller"),
        set_log_level: sym!("set_log_level_board_controller"),
        _lib: lib,
    };
    Ok(api)
}

/// Copies what BrainFlow wrote into a text buffer: `len` bytes, clamped to the buffer.
fn text(buf: &[c_char], len: c_int) -> String {
    let n = usize::try_from(len).unwrap_or(0).min(buf.len());
    let bytes: Vec<u8> = buf[..n].iter().map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Api {
    /// The file this API was loaded from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `prepare_session(board_id, params)`.
    pub(crate) fn prepare_session(&self, board: c_int, params: &CStr) -> c_int {
        // SAFETY: `params` is a NUL-terminated string alive for the call; BrainFlow copies it.
        unsafe { (self.prepare_session)(board, params.as_ptr()) }
    }

    /// `start_stream(buffer_size, "", board_id, params)`: no streamer.
    pub(crate) fn start_stream(&self, buffer: c_int, board: c_int, params: &CStr) -> c_int {
        // SAFETY: both strings are NUL-terminated and alive for the call (an empty streamer
        // string means "no streamer" in BrainFlow).
        unsafe { (self.start_stream)(buffer, c"".as_ptr(), board, params.as_ptr()) }
    }

    /// `stop_stream(board_id, params)`.
    pub(crate) fn stop_stream(&self, board: c_int, params: &CStr) -> c_int {
        // SAFETY: as `prepare_session`.
        unsafe { (self.stop_stream)(board, params.as_ptr()) }
    }

    /// `release_session(board_id, params)`.
    pub(crate) fn release_session(&self, board: c_int, params: &CStr) -> c_int {
        // SAFETY: as `prepare_session`.
        unsafe { (self.release_session)(board, params.as_ptr()) }
    }

    /// `get_board_data_count(preset, &count, board_id, params)`.
    pub(crate) fn get_board_data_count(
        &self,
        preset: c_int,
        board: c_int,
        params: &CStr,
    ) -> Result<usize, c_int> {
        let mut count: c_int = 0;
        // SAFETY: `count` is a valid, writable int for the call; `params` as above.
        let ec = unsafe { (self.get_board_data_count)(preset, &mut count, board, params.as_ptr()) };
        if ec == 0 {
            Ok(usize::try_from(count).unwrap_or(0))
        } else {
            Err(ec)
        }
    }

    /// `get_board_data(n, preset, buf, board_id, params)`: takes `n` samples out of the
    /// session's ring buffer into `buf`, row-major (`rows` rows of `n` values). `n` must not
    /// exceed what `get_board_data_count` reported (BrainFlow then writes `n × rows` values;
    /// only this session's reader thread takes data out, so the count cannot shrink
    /// meanwhile), and `rows` must be the session's `num_rows`.
    pub(crate) fn get_board_data(
        &self,
        n: usize,
        rows: usize,
        preset: c_int,
        buf: &mut [f64],
        board: c_int,
        params: &CStr,
    ) -> c_int {
        let Ok(count) = c_int::try_from(n) else {
            return 13; // INVALID_ARGUMENTS_ERROR
        };
        match n.checked_mul(rows) {
            Some(need) if need <= buf.len() => {}
            _ => return 13,
        }
        // SAFETY: BrainFlow writes (at most) `n × num_rows` doubles to `buf`, which holds at
        // least `n × rows` (checked above); the caller guarantees `rows` is the session's
        // `num_rows` (it comes from the same board description BrainFlow sizes its buffer
        // from) and that `n` samples are available.
        unsafe { (self.get_board_data)(count, preset, buf.as_mut_ptr(), board, params.as_ptr()) }
    }

    /// `insert_marker(value, preset, board_id, params)`.
    pub(crate) fn insert_marker(
        &self,
        value: f64,
        preset: c_int,
        board: c_int,
        params: &CStr,
    ) -> c_int {
        // SAFETY: plain values and a NUL-terminated string alive for the call.
        unsafe { (self.insert_marker)(value, preset, board, params.as_ptr()) }
    }

    /// `get_board_descr(board_id, preset, …)`: the board's description (JSON).
    pub(crate) fn board_descr(&self, board: c_int, preset: c_int) -> Result<String, c_int> {
        let mut buf = vec![0 as c_char; 1 << 16];
        let mut len: c_int = 0;
        let max = c_int::try_from(buf.len()).unwrap_or(c_int::MAX);
        // SAFETY: BrainFlow writes at most `max` bytes (the buffer's length) and the length
        // written into `len`; both are valid and writable for the call.
        let ec = unsafe { (self.get_board_descr)(board, preset, buf.as_mut_ptr(), &mut len, max) };
        if ec == 0 {
            Ok(text(&buf, len))
        } else {
            Err(ec)
        }
    }

    /// `get_version_board_controller`: BrainFlow's version.
    pub(crate) fn version(&self) -> String {
        let mut buf = [0 as c_char; 64];
        let mut len: c_int = 0;
        // SAFETY: as `board_descr`, with a 64-byte buffer.
        let ec = unsafe { (self.get_version)(buf.as_mut_ptr(), &mut len, 64) };
        if ec == 0 {
            text(&buf, len)
        } else {
            "unknown".to_string()
        }
    }
}
