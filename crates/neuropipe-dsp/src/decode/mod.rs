//! Decoding kernels for brain-computer interfaces: covariance estimators, linear
//! discriminant analysis and its cross-validation, numerically as scikit-learn (`tests/decode.rs` checks them against
//! vectors from `scripts/bci/gen_reference.py`).

pub mod covariance;
pub mod cv;
pub mod lda;

pub use cv::{cross_validate_lda, CrossValidation};
pub use lda::{FitError, LdaModel};
