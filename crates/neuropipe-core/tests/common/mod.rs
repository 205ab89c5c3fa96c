//! The runtime's integration tests use the shared test stages of `neuropipe-testkit`.
#![allow(unused_imports)]

pub use neuropipe_testkit::stages::{assert_continuous, build, errors, probe, registry, Probe};
