//! Decoding kernels for brain-computer interfaces: covariance estimators, linear
//! discriminant analysis, logistic regression and cross-validation, numerically as
//! scikit-learn; Riemannian
//! geometry, minimum distance to mean, the tangent space, CSP and xDAWN, as pyRiemann; canonical
//! correlation with sinusoidal references for SSVEP
//! (`tests/decode.rs` checks them against vectors from `scripts/bci/gen_reference.py`).

pub mod cca;
pub mod covariance;
pub mod csp;
pub mod cv;
pub mod lda;
pub mod logreg;
pub mod mdm;
pub mod riemann;
pub mod tangent;
pub mod xdawn;

pub use cca::{fbcca_weight, CcaTargets, CcaWorkspace};
pub use csp::CspModel;
pub use cv::{cross_validate, cross_validate_lda, CrossValidation, Verdict};
pub use lda::{FitError, LdaModel};
pub use logreg::fit_logistic;
pub use mdm::MdmModel;
pub use riemann::{RiemannError, Spd};
pub use tangent::TangentSpaceModel;
pub use xdawn::XdawnModel;
