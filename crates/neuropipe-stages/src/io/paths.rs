//! File names in pipeline parameters.
//!
//! * **One rule** for every file name in a pipeline (files to replay, recordings): a relative
//!   path is relative to the pipeline file's directory, so a pipeline and its data move
//!   together; a pipeline built in code resolves against the working directory. Stages call
//!   `StageBuilder::resolve_path` (see `PipelineConfig::resolve_path`). Paths given on the
//!   command line (`--record`) are relative to the working directory.
//! * **Outputs** (recordings): [`OutputFile::probe`]
//!   checks at build time that the file can be written — so `neuropipe validate` reports an
//!   unwritable path with the parameter's JSON path — without destroying an existing file.
//!   An existing file is never replaced unless asked (`overwrite`); names may hold the
//!   template fields of [`expand_template`] (`{date}`, `{time}`, `{n}`), so a session never
//!   clobbers the last one.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// An output file checked at build time and created for real when the pipeline starts.
///
/// The check opens an existing file for writing without truncating it, or creates a missing
/// one. If the pipeline never runs (e.g. `neuropipe validate`), a file created by the check
/// is removed again when the stage is dropped, and an existing one is left untouched.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    created_by_probe: bool,
    used: bool,
}

impl OutputFile {
    /// Checks that `path` can be written, and that it does not exist unless `overwrite`.
    /// The error says why not, naming the file.
    pub fn probe(path: &str, overwrite: bool) -> Result<OutputFile, String> {
        if path.trim().is_empty() {
            return Err("the file name is empty".into());
        }
        let p = PathBuf::from(path);
        if p.is_dir() {
            return Err(format!("{path} is a directory, not a file name"));
        }
        if !overwrite && p.exists() {
            return Err(format!(
                "{path} exists and would be replaced: set \"overwrite\": true (`neuropipe run --overwrite`), or name recordings with a template such as \"rec_{{date}}_{{time}}_{{n}}.bdf\""
            ));
        }
        let created = match OpenOptions::new().write(true).open(&p) {
            Ok(_) => false,
            Err(e) if e.kind() == ErrorKind::NotFound => match File::create(&p) {
                Ok(_) => true,
                Err(e) => return Err(format!("cannot create {path}: {e}")),
            },
            Err(e) => return Err(format!("cannot write {path}: {e}")),
        };
        Ok(OutputFile {
            path: p,
            created_by_probe: created,
            used: false,
        })
    }

    /// The path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks the file as really written (it is kept whatever happens next).
    pub fn mark_used(&mut self) {
        self.used = true;
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.created_by_probe && !self.used {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Expands the template fields of an output file name: `{date}` (UTC, `YYYY-MM-DD`),
/// `{time}` (UTC, `HHMMSS`), and `{n}`, the smallest number from 1 that gives a name no file
/// has yet (so `session_{n}.bdf` never replaces an earlier session). A name without fields is
/// returned as it is.
pub fn expand_template(path: &str) -> String {
    if !path.contains('{') {
        return path.to_string();
    }
    let now = neuropipe_io::datetime::DateTime::now_utc();
    let d = now.date;
    let fixed = path
        .replace(
            "{date}",
            &format!("{:04}-{:02}-{:02}", d.year, d.month, d.day),
        )
        .replace(
            "{time}",
            &format!("{:02}{:02}{:02}", now.hour, now.minute, now.second),
        );
    if !fixed.contains("{n}") {
        return fixed;
    }
    (1..=1_000_000u32)
        .map(|n| fixed.replace("{n}", &n.to_string()))
        .find(|name| !Path::new(name).exists())
        .unwrap_or_else(|| fixed.replace("{n}", "1000001"))
}

/// Makes a header text field from free text: printable ASCII only (others become `_`,
/// `µ` becomes `u`), at most `width` characters.
pub fn ascii_field(s: &str, width: usize) -> String {
    s.chars()
        .map(|c| match c {
            'µ' | 'μ' => 'u',
            c if (' '..='~').contains(&c) => c,
            _ => '_',
        })
        .take(width)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_fields() {
        assert_eq!(ascii_field("µV", 8), "uV");
        assert_eq!(ascii_field("Fp1 – ref", 16), "Fp1 _ ref");
        assert_eq!(
            ascii_field("a very long label indeed", 16),
            "a very long labe"
        );
    }

    #[test]
    fn templates_never_name_an_existing_file() {
        let dir = std::env::temp_dir().join(format!("np-tmpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let t = format!("{}/s_{{n}}.bdf", dir.display());
        assert_eq!(expand_template(&t), format!("{}/s_1.bdf", dir.display()));
        std::fs::write(dir.join("s_1.bdf"), b"x").unwrap();
        std::fs::write(dir.join("s_2.bdf"), b"x").unwrap();
        assert_eq!(expand_template(&t), format!("{}/s_3.bdf", dir.display()));
        let dated = expand_template("r_{date}_{time}.edf");
        assert_eq!(dated.len(), "r_2026-12-01_070809.edf".len(), "{dated}");
        assert!(!dated.contains('{'));
        assert_eq!(expand_template("plain.edf"), "plain.edf");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn probe_creates_then_cleans_up_and_never_truncates() {
        let dir = std::env::temp_dir().join(format!("np-paths-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let new = dir.join("new.bdf");
        let probe = OutputFile::probe(new.to_str().unwrap(), false).unwrap();
        assert!(new.exists());
        drop(probe);
        assert!(!new.exists(), "an unused probe removes the file it created");

        let old = dir.join("old.bdf");
        std::fs::write(&old, b"precious").unwrap();
        let err = OutputFile::probe(old.to_str().unwrap(), false).unwrap_err();
        assert!(err.contains("exists and would be replaced"), "{err}");
        drop(OutputFile::probe(old.to_str().unwrap(), true).unwrap());
        assert_eq!(std::fs::read(&old).unwrap(), b"precious");

        let err =
            OutputFile::probe(dir.join("no/such/dir/x.bdf").to_str().unwrap(), false).unwrap_err();
        assert!(err.starts_with("cannot create"), "{err}");
        let err = OutputFile::probe(dir.to_str().unwrap(), false).unwrap_err();
        assert!(err.contains("is a directory"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
