//! Figures a stage publishes for its hosts while it runs: [`Readouts`].
//!
//! Counters (packets, drops, latency) are the runtime's; some stages have figures of their
//! own that an operator watches: per-channel signal quality, the file a recorder is writing
//! and its size. A stage declares them once at build time
//! ([`StageBuilder::readouts`](crate::StageBuilder::readouts)) as a small table (rows, e.g.
//! channels, × [`ReadoutColumn`]s) plus a one-line status, and updates them as it runs:
//! numbers are relaxed atomic stores (no lock, no allocation: fine on the hot path); the
//! status line takes a short lock, for changes made at control time (a new file), not per
//! packet. Hosts read them in the stage's metrics snapshot (`/api/metrics`, `/metrics`, the
//! dashboard), never locking anything the numbers' writer uses.

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One column of a stage's readouts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReadoutColumn {
    /// Name, e.g. `rms`.
    pub name: &'static str,
    /// Unit, e.g. `uV`, `Hz`, `s`, `bytes`; empty for a ratio or a count.
    pub unit: &'static str,
    /// What it means, one line.
    pub doc: &'static str,
    /// For a set of flags: the name of each bit, lowest first (the value is their sum;
    /// 0 means none is set). Empty for a number.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub flags: &'static [&'static str],
}

impl ReadoutColumn {
    /// A numeric column.
    pub const fn number(name: &'static str, unit: &'static str, doc: &'static str) -> Self {
        ReadoutColumn {
            name,
            unit,
            doc,
            flags: &[],
        }
    }
    /// A column of flags, bit `i` named `flags[i]`.
    pub const fn flags(
        name: &'static str,
        doc: &'static str,
        flags: &'static [&'static str],
    ) -> Self {
        ReadoutColumn {
            name,
            unit: "",
            doc,
            flags,
        }
    }
    /// Names of the flags set in `value`.
    pub fn flag_names(&self, value: f64) -> Vec<&'static str> {
        let bits = if value.is_finite() && value >= 0.0 {
            value as u64
        } else {
            0
        };
        self.flags
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

struct Inner {
    columns: Vec<ReadoutColumn>,
    rows: Vec<String>,
    /// Row-major `f64` bits.
    values: Box<[AtomicU64]>,
    /// Completed updates (see [`Readouts::publish`]).
    updates: AtomicU64,
    status: Mutex<String>,
}

/// A stage's figures for hosts: a table of numbers (rows × columns) and a status line.
/// Cheap to clone (shared); the stage keeps one, the runtime another.
#[derive(Clone)]
pub struct Readouts(Arc<Inner>);

impl std::fmt::Debug for Readouts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readouts")
            .field("columns", &self.0.columns)
            .field("rows", &self.0.rows)
            .finish_non_exhaustive()
    }
}

impl Readouts {
    /// A table of `rows` × `columns`, every value NaN ("not yet measured").
    pub fn new(columns: &[ReadoutColumn], rows: Vec<String>) -> Self {
        let values = (0..rows.len() * columns.len())
            .map(|_| AtomicU64::new(f64::NAN.to_bits()))
            .collect();
        Readouts(Arc::new(Inner {
            columns: columns.to_vec(),
            rows,
            values,
            updates: AtomicU64::new(0),
            status: Mutex::new(String::new()),
        }))
    }

    /// Sets the value of `row`, `col` (out-of-range indices are ignored). Lock-free.
    #[inline]
    pub fn set(&self, row: usize, col: usize, value: f64) {
        let n = self.0.columns.len();
        if col < n {
            if let Some(v) = self.0.values.get(row * n + col) {
                v.store(value.to_bits(), Ordering::Relaxed);
            }
        }
    }

    /// The value of `row`, `col` (NaN if never set or out of range).
    pub fn get(&self, row: usize, col: usize) -> f64 {
        let n = self.0.columns.len();
        if col >= n {
            return f64::NAN;
        }
        self.0
            .values
            .get(row * n + col)
            .map_or(f64::NAN, |v| f64::from_bits(v.load(Ordering::Relaxed)))
    }

    /// Marks one update complete (hosts show how many there were). A row read while the
    /// stage writes it may mix figures of two consecutive updates.
    pub fn publish(&self) {
        self.0.updates.fetch_add(1, Ordering::Release);
    }

    /// Replaces the status line (takes a short lock: call it when something changes, not
    /// per packet).
    pub fn set_status(&self, status: &str) {
        if let Ok(mut s) = self.0.status.lock() {
            s.clear();
            s.push_str(status);
        }
    }

    /// The columns.
    pub fn columns(&self) -> &[ReadoutColumn] {
        &self.0.columns
    }

    /// The row labels.
    pub fn rows(&self) -> &[String] {
        &self.0.rows
    }

    /// Everything right now, for hosts.
    pub fn snapshot(&self) -> ReadoutSnapshot {
        let n = self.0.columns.len();
        let values = (0..self.0.rows.len())
            .map(|r| {
                (0..n)
                    .map(|c| Some(self.get(r, c)).filter(|v| v.is_finite()))
                    .collect()
            })
            .collect();
        ReadoutSnapshot {
            status: self.0.status.lock().map(|s| s.clone()).unwrap_or_default(),
            updates: self.0.updates.load(Ordering::Acquire),
            columns: self.0.columns.clone(),
            rows: self.0.rows.clone(),
            values,
        }
    }
}

/// A stage's readouts at one moment (part of its [`StageSnapshot`](crate::StageSnapshot)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReadoutSnapshot {
    /// The status line (empty if none).
    pub status: String,
    /// Completed updates so far.
    pub updates: u64,
    /// The columns.
    pub columns: Vec<ReadoutColumn>,
    /// Row labels (e.g. channel labels).
    pub rows: Vec<String>,
    /// `values[row][col]`; `None` for not measured (or not finite).
    pub values: Vec<Vec<Option<f64>>>,
}

impl ReadoutSnapshot {
    /// The value in `row` (by label) and column `col` (by name).
    pub fn value(&self, row: &str, col: &str) -> Option<f64> {
        let r = self.rows.iter().position(|x| x == row)?;
        let c = self.columns.iter().position(|x| x.name == col)?;
        self.values.get(r)?.get(c).copied().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [ReadoutColumn; 2] = [
        ReadoutColumn::number("rms", "uV", "root mean square"),
        ReadoutColumn::flags("problems", "what is wrong", &["flat", "railed"]),
    ];

    #[test]
    fn values_start_unmeasured_and_are_set_per_cell() {
        let r = Readouts::new(&COLS, vec!["Fp1".into(), "Fp2".into()]);
        assert_eq!(r.snapshot().value("Fp1", "rms"), None);
        r.set(1, 0, 12.5);
        r.set(1, 1, 2.0);
        r.set(5, 0, 1.0); // ignored
        r.set(0, 9, 1.0); // ignored
        r.publish();
        r.set_status("ok");
        let s = r.snapshot();
        assert_eq!(s.value("Fp2", "rms"), Some(12.5));
        assert_eq!(s.value("Fp1", "rms"), None);
        assert_eq!(s.updates, 1);
        assert_eq!(s.status, "ok");
        assert_eq!(
            COLS[1].flag_names(s.value("Fp2", "problems").unwrap_or(0.0)),
            ["railed"]
        );
        assert_eq!(COLS[1].flag_names(3.0), ["flat", "railed"]);
        assert!(COLS[1].flag_names(0.0).is_empty());
    }
}
