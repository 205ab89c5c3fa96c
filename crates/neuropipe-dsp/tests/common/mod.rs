//! Test helpers: the "refpack" reader for SciPy reference data written by
//! `scripts/dsp/gen_reference.py`, and comparison helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One stored array, converted to `f64` (exact for `f32` data).
#[derive(Debug, Clone)]
pub struct Array {
    pub dims: Vec<usize>,
    pub data: Vec<f64>,
    pub is_f32: bool,
}

impl Array {
    /// Rows of a 2-D array (or the whole array as one row).
    pub fn rows(&self) -> Vec<&[f64]> {
        let cols = if self.dims.len() >= 2 {
            self.dims[1..].iter().product()
        } else {
            self.data.len()
        };
        self.data.chunks(cols.max(1)).collect()
    }

    /// Second dimension of a 2-D array (channels of a `(frames, channels)` signal), 1 for 1-D.
    pub fn cols(&self) -> usize {
        if self.dims.len() >= 2 {
            self.dims[1]
        } else {
            1
        }
    }
}

/// A whole reference file: name → array.
pub struct Pack {
    name: String,
    arrays: BTreeMap<String, Array>,
}

impl Pack {
    /// Loads `tests/data/<file>`.
    pub fn load(file: &str) -> Pack {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            &bytes[..8],
            b"NPREF\x01\x00\x00",
            "{}: bad magic",
            path.display()
        );
        let mut r = Reader { b: &bytes, i: 8 };
        let mut arrays = BTreeMap::new();
        while r.i < bytes.len() {
            let n = r.u16() as usize;
            let name = String::from_utf8(r.take(n).to_vec()).unwrap();
            let dtype = r.u8();
            let ndim = r.u8() as usize;
            let dims: Vec<usize> = (0..ndim).map(|_| r.u32() as usize).collect();
            let count: usize = dims.iter().product();
            let data = match dtype {
                0 => r
                    .take(count * 8)
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                    .collect(),
                1 => r
                    .take(count * 4)
                    .chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
                    .collect(),
                d => panic!("unknown dtype {d}"),
            };
            arrays.insert(
                name,
                Array {
                    dims,
                    data,
                    is_f32: dtype == 1,
                },
            );
        }
        Pack {
            name: file.to_string(),
            arrays,
        }
    }

    /// The array called `key`.
    pub fn get(&self, key: &str) -> &Array {
        self.arrays
            .get(key)
            .unwrap_or_else(|| panic!("{}: no record {key}", self.name))
    }

    /// Whether a record exists.
    pub fn has(&self, key: &str) -> bool {
        self.arrays.contains_key(key)
    }

    /// Distinct `<id>` of the records named `<prefix>/<id>/...`, in numeric order.
    pub fn ids(&self, prefix: &str) -> Vec<usize> {
        let p = format!("{prefix}/");
        let mut ids: Vec<usize> = self
            .arrays
            .keys()
            .filter_map(|k| k.strip_prefix(&p))
            .filter_map(|rest| rest.split('/').next()?.parse().ok())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.i..self.i + n];
        self.i += n;
        s
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take(2).try_into().unwrap())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
}

/// Largest absolute value.
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `max |got − want| / max |want|` (0 when both are all zero).
pub fn rel_max_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let scale = max_abs(want);
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
    if scale == 0.0 {
        err
    } else {
        err / scale
    }
}

/// `sqrt(Σ (got − want)²) / sqrt(Σ want²)`.
pub fn rel_rms_err(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "length mismatch");
    let num: f64 = got.iter().zip(want).map(|(g, w)| (g - w) * (g - w)).sum();
    let den: f64 = want.iter().map(|w| w * w).sum();
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

thread_local! {
    static WORST: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// Prints (with `--nocapture`) and resets the worst error seen by [`assert_rel`] on this thread.
pub fn report_worst(what: &str) {
    let worst = WORST.with(|w| w.replace(0.0));
    eprintln!("{what}: worst relative error {worst:.1e}");
}

/// Asserts `rel_max_err(got, want) <= tol`.
pub fn assert_rel(got: &[f64], want: &[f64], tol: f64, ctx: &str) {
    let e = rel_max_err(got, want);
    WORST.with(|w| w.set(w.get().max(e)));
    assert!(
        e <= tol,
        "{ctx}: relative error {e:e} > {tol:e}\n got  {got:?}\n want {want:?}"
    );
}
