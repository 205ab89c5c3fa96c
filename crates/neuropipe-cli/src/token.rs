//! Where a token comes from, without putting it on a command line (`/proc/PID/cmdline` is
//! readable by every local user): `--token-file FILE` (owner-only permissions) or the
//! `NEUROPIPE_TOKEN` environment variable; `--token VALUE` still works, with a warning.

use clap::Args;
use std::path::{Path, PathBuf};

/// The environment variable holding a token.
pub const ENV: &str = "NEUROPIPE_TOKEN";
/// The environment variable holding a read-only token.
pub const READ_ENV: &str = "NEUROPIPE_READ_TOKEN";

/// The read-only token of `run --serve`: from `file` if given, else `$NEUROPIPE_READ_TOKEN`.
pub fn read_only(file: Option<&Path>) -> Result<Option<String>, String> {
    match file {
        Some(f) => read_token_file(f).map(Some),
        None => Ok(std::env::var(READ_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty())),
    }
}

/// Token options shared by `run`, `ctl` and `top`.
#[derive(Args, Clone, Debug, Default)]
pub struct TokenArgs {
    /// Token on the command line (visible to every local user in the process list: prefer
    /// --token-file or $NEUROPIPE_TOKEN).
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
    /// Read the token from FILE (first line; the file must not be readable by other users).
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
}

impl TokenArgs {
    /// The token: `--token`, else `--token-file`, else `$NEUROPIPE_TOKEN`; `Ok(None)` if none
    /// is given. `Err` names the file and the problem.
    pub fn resolve(&self) -> Result<Option<String>, String> {
        if let Some(t) = &self.token {
            eprintln!(
                "warning: --token is visible to every local user in the process list; prefer --token-file FILE or ${ENV}"
            );
            return Ok(Some(t.clone()));
        }
        if let Some(path) = &self.token_file {
            return read_token_file(path).map(Some);
        }
        Ok(std::env::var(ENV).ok().filter(|t| !t.trim().is_empty()))
    }
}

/// The token in `path`: its first line, trimmed. On Unix the file must be readable by its
/// owner only (mode 600 or 400), as ssh requires of private keys.
pub fn read_token_file(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("token file {shown}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "token file {shown} is readable by other users (mode {mode:03o}): run `chmod 600 {shown}`"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(|e| format!("token file {shown}: {e}"))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        return Err(format!("token file {shown} is empty"));
    }
    Ok(token)
}
