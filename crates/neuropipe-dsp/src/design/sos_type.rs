//! [`Sos`]: a validated cascade of second-order sections.

use std::ops::Deref;

use super::DesignError;

/// One second-order section `[b0, b1, b2, a0, a1, a2]` with `a0 == 1`, SciPy's row layout:
///
/// `H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)`.
pub type Section = [f64; 6];

/// A non-empty cascade of second-order sections (SciPy's `sos` array, shape `(n, 6)`).
///
/// Invariants: at least one section, every coefficient finite, every `a0 == 1`.
/// Dereferences to `[Section]`, so `sos.len()`, `sos[i]` and `sos.iter()` work.
#[derive(Debug, Clone, PartialEq)]
pub struct Sos(Vec<Section>);

impl Sos {
    /// Validates user-supplied sections. Sections whose `a0` is not 1 are normalised by `a0`
    /// (like `scipy.signal.lfilter` does with `a[0]`).
    ///
    /// # Errors
    /// [`DesignError::Empty`] for no sections, [`DesignError::Coefficient`] for a non-finite
    /// coefficient or `a0 == 0` (or a normalisation that overflows).
    pub fn new(sections: Vec<Section>) -> Result<Sos, DesignError> {
        if sections.is_empty() {
            return Err(DesignError::Empty { name: "sos" });
        }
        let mut out = sections;
        for (s, section) in out.iter_mut().enumerate() {
            for (i, &c) in section.iter().enumerate() {
                if !c.is_finite() {
                    return Err(coefficient_error(s * 6 + i, c, "must be finite"));
                }
            }
            let a0 = section[3];
            if a0 == 0.0 {
                return Err(coefficient_error(s * 6 + 3, a0, "a0 must be non-zero"));
            }
            if a0 != 1.0 {
                for c in section.iter_mut() {
                    *c /= a0;
                }
                section[3] = 1.0;
                if section.iter().any(|c| !c.is_finite()) {
                    return Err(coefficient_error(
                        s * 6 + 3,
                        a0,
                        "normalising by a0 overflows",
                    ));
                }
            }
        }
        Ok(Sos(out))
    }

    /// Wraps sections produced by this crate's design functions (already normalised).
    pub(crate) fn from_designed(sections: Vec<Section>) -> Sos {
        debug_assert!(!sections.is_empty());
        Sos(sections)
    }

    /// The sections, first applied first.
    pub fn sections(&self) -> &[Section] {
        &self.0
    }

    /// Consumes the cascade and returns its sections.
    pub fn into_sections(self) -> Vec<Section> {
        self.0
    }

    /// The cascade `self` followed by `other` (filtering with the result equals filtering with
    /// `self` then with `other`).
    #[must_use]
    pub fn then(mut self, other: &Sos) -> Sos {
        self.0.extend_from_slice(&other.0);
        self
    }
}

impl Deref for Sos {
    type Target = [Section];
    fn deref(&self) -> &[Section] {
        &self.0
    }
}

impl AsRef<[Section]> for Sos {
    fn as_ref(&self) -> &[Section] {
        &self.0
    }
}

fn coefficient_error(index: usize, value: f64, reason: &'static str) -> DesignError {
    DesignError::Coefficient {
        name: "sos",
        index,
        value,
        reason,
    }
}
