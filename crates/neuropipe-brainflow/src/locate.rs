//! Where `libBoardController` is: the stage's `library` parameter, the `BRAINFLOW_LIB`
//! environment variable, or the installed `brainflow` Python package (whose wheel ships the
//! native libraries for Linux, macOS and Windows in `brainflow/lib/`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The library's file name on this platform.
pub const LIBRARY_FILE: &str = if cfg!(target_os = "windows") {
    "BoardController.dll"
} else if cfg!(target_os = "macos") {
    "libBoardController.dylib"
} else {
    "libBoardController.so"
};

/// The interpreter hosting neuropipe, when it runs inside Python (its `sys.executable`).
static HOST_PYTHON: OnceLock<PathBuf> = OnceLock::new();

/// Tells [`find_library`] which Python runs this process (the Python package does, on
/// import), so the `brainflow` package installed next to neuropipe is found first.
pub fn set_host_python(executable: PathBuf) {
    let _ = HOST_PYTHON.set(executable);
}

/// A path given as the library itself or as the directory holding it.
fn as_library(p: &Path) -> PathBuf {
    if p.is_dir() {
        p.join(LIBRARY_FILE)
    } else {
        p.to_path_buf()
    }
}

/// Asks `python` where the `brainflow` package is; its `lib/` directory.
fn from_python(python: &Path) -> Result<PathBuf, String> {
    let out = Command::new(python)
        .args([
            "-c",
            "import os, brainflow; print(os.path.dirname(brainflow.__file__))",
        ])
        .output()
        .map_err(|e| format!("cannot run: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("").trim().to_string();
        return Err(if last.is_empty() {
            format!("exited with {}", out.status)
        } else {
            last
        });
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(Path::new(&dir).join("lib").join(LIBRARY_FILE))
}

/// Finds the library: `explicit` (the `library` parameter) if given — it must exist —, else
/// `BRAINFLOW_LIB`, else the `brainflow` package of the Python running this process (in the
/// Python package), of `NEUROPIPE_PYTHON`, `$VIRTUAL_ENV/bin/python`, `./.venv/bin/python`, `python3` and `python`. The error lists every place searched and
/// what was found there.
pub fn find_library(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        let lib = as_library(p);
        return if lib.is_file() {
            Ok(lib)
        } else {
            Err(format!("{} does not exist", lib.display()))
        };
    }
    let mut searched = vec![];
    if let Some(p) = std::env::var_os("BRAINFLOW_LIB") {
        let lib = as_library(Path::new(&p));
        if lib.is_file() {
            return Ok(lib);
        }
        searched.push(format!("BRAINFLOW_LIB: {} does not exist", lib.display()));
    } else {
        searched.push("BRAINFLOW_LIB: not set".to_string());
    }
    let mut pythons: Vec<(String, PathBuf)> = vec![];
    // Inside the Python package, the interpreter running neuropipe comes first.
    if let Some(exe) = HOST_PYTHON.get() {
        pythons.push(("the Python running neuropipe".into(), exe.clone()));
    }
    if let Some(p) = std::env::var_os("NEUROPIPE_PYTHON") {
        pythons.push(("NEUROPIPE_PYTHON".into(), PathBuf::from(p)));
    }
    if let Some(v) = std::env::var_os("VIRTUAL_ENV") {
        pythons.push(("VIRTUAL_ENV".into(), Path::new(&v).join("bin/python")));
    }
    // The venv `scripts/venv.sh` makes in the working directory (the README's setup).
    let local = Path::new(".venv/bin/python");
    if local.exists() {
        pythons.push(("./.venv".into(), local.to_path_buf()));
    }
    for name in ["python3", "python"] {
        pythons.push(("PATH".into(), PathBuf::from(name)));
    }
    for (why, python) in pythons {
        match from_python(&python) {
            Ok(lib) if lib.is_file() => return Ok(lib),
            Ok(lib) => searched.push(format!(
                "{} ({why}): brainflow is installed but {} is missing",
                python.display(),
                lib.display()
            )),
            Err(e) => searched.push(format!("{} ({why}): {e}", python.display())),
        }
    }
    Err(format!(
        "BrainFlow's {LIBRARY_FILE} was not found. Searched: {}. Install BrainFlow's Python package (`pip install brainflow==5.23.0`), or give the library's path in the stage's `library` parameter or in BRAINFLOW_LIB",
        searched.join("; ")
    ))
}
