//! Typed stage parameters: one struct per stage, declared once with
//! `#[derive(StageParams)]`, from which the specs, the typed parse and the live-update
//! dispatch are generated.
//!
//! ```
//! use neuropipe_core::prelude::*;
//!
//! #[derive(StageParams)]
//! struct GainParams {
//!     /// Factor applied to every sample.
//!     #[param(default = 1.0, min = -1e6, max = 1e6, live)]
//!     gain: f64,
//!     /// Channel labels to leave untouched.
//!     skip: Option<Vec<String>>,
//! }
//!
//! let specs = GainParams::specs();
//! assert_eq!(specs[0].name, "gain");
//! assert!(specs[0].live && !specs[1].live && specs[1].optional);
//! // A live change arrives typed; an unknown key is not this struct's.
//! let u = GainParams::decode("gain", &serde_json::json!(2.5)).unwrap();
//! assert_eq!(u, Some(GainParamsUpdate::Gain(2.5)));
//! assert_eq!(GainParams::decode("other", &serde_json::json!(1)).unwrap(), None);
//! ```
//!
//! A misspelled parameter is a compile error wherever the stage names it:
//!
//! ```compile_fail,E0599
//! use neuropipe_core::prelude::*;
//!
//! #[derive(StageParams)]
//! struct GainParams {
//!     /// Factor applied to every sample.
//!     #[param(default = 1.0, live)]
//!     gain: f64,
//! }
//! fn on_update(u: GainParamsUpdate) -> f64 {
//!     match u {
//!         GainParamsUpdate::Gian(g) => g, // typo: no such parameter
//!     }
//! }
//! ```

use crate::error::{BuildError, StageError};
use crate::params::{ParamKind, ParamSpec, Params};
use crate::payload::FloatKind;
use serde_json::Value;

/// A Rust type usable as a parameter field: how it appears in JSON, and how it is read.
pub trait ParamValue: Sized + Clone {
    /// Whether the parameter may be absent with no default (true for `Option<T>`).
    const OPTIONAL: bool = false;
    /// The JSON type and range, from the field's `min`/`max`/`choices`.
    fn kind(min: Option<f64>, max: Option<f64>, choices: &'static [&'static str]) -> ParamKind;
    /// Reads a value (already checked against the spec); `None` if of the wrong type.
    fn from_json(v: &Value) -> Option<Self>;
    /// The value as JSON (for replies and `describe`).
    fn to_json(&self) -> Value;
    /// What a valid value looks like, for messages (`"a number"`).
    fn expected() -> &'static str;
}

impl ParamValue for f64 {
    fn kind(min: Option<f64>, max: Option<f64>, _: &'static [&'static str]) -> ParamKind {
        ParamKind::Float {
            min: min.unwrap_or(f64::MIN),
            max: max.unwrap_or(f64::MAX),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        v.as_f64()
    }
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn expected() -> &'static str {
        "a number"
    }
}

macro_rules! int_param {
    ($($t:ty),*) => {$(
        impl ParamValue for $t {
            fn kind(min: Option<f64>, max: Option<f64>, _: &'static [&'static str]) -> ParamKind {
                // The widest range both the type and a JSON integer (i64) hold.
                let lo = (<$t>::MIN as i128).max(i64::MIN as i128) as i64;
                let hi = (<$t>::MAX as i128).min(i64::MAX as i128) as i64;
                ParamKind::Int {
                    min: min.map_or(lo, |m| m as i64).max(lo),
                    max: max.map_or(hi, |m| m as i64).min(hi),
                }
            }
            fn from_json(v: &Value) -> Option<Self> {
                v.as_i64().and_then(|x| <$t>::try_from(x).ok())
            }
            fn to_json(&self) -> Value {
                Value::from(*self)
            }
            fn expected() -> &'static str {
                "an integer"
            }
        }
    )*};
}
int_param!(i64, i32, u32, u64, usize);

impl ParamValue for bool {
    fn kind(_: Option<f64>, _: Option<f64>, _: &'static [&'static str]) -> ParamKind {
        ParamKind::Bool
    }
    fn from_json(v: &Value) -> Option<Self> {
        v.as_bool()
    }
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
    fn expected() -> &'static str {
        "true or false"
    }
}

impl ParamValue for String {
    fn kind(_: Option<f64>, _: Option<f64>, choices: &'static [&'static str]) -> ParamKind {
        ParamKind::Str {
            choices: choices.to_vec(),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        v.as_str().map(str::to_string)
    }
    fn to_json(&self) -> Value {
        Value::from(self.as_str())
    }
    fn expected() -> &'static str {
        "a string"
    }
}

impl ParamValue for Vec<f64> {
    fn kind(min: Option<f64>, max: Option<f64>, _: &'static [&'static str]) -> ParamKind {
        ParamKind::FloatList {
            min: min.unwrap_or(f64::MIN),
            max: max.unwrap_or(f64::MAX),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        v.as_array()?.iter().map(Value::as_f64).collect()
    }
    fn to_json(&self) -> Value {
        Value::from(self.clone())
    }
    fn expected() -> &'static str {
        "an array of numbers"
    }
}

impl ParamValue for Vec<String> {
    fn kind(_: Option<f64>, _: Option<f64>, _: &'static [&'static str]) -> ParamKind {
        ParamKind::StrList
    }
    fn from_json(v: &Value) -> Option<Self> {
        v.as_array()?
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect()
    }
    fn to_json(&self) -> Value {
        Value::from(self.clone())
    }
    fn expected() -> &'static str {
        "an array of strings"
    }
}

impl<T: ParamValue> ParamValue for Option<T> {
    const OPTIONAL: bool = true;
    fn kind(min: Option<f64>, max: Option<f64>, choices: &'static [&'static str]) -> ParamKind {
        T::kind(min, max, choices)
    }
    fn from_json(v: &Value) -> Option<Self> {
        if v.is_null() {
            Some(None)
        } else {
            T::from_json(v).map(Some)
        }
    }
    fn to_json(&self) -> Value {
        self.as_ref().map_or(Value::Null, T::to_json)
    }
    fn expected() -> &'static str {
        T::expected()
    }
}

/// A number for every channel, or one number per channel (JSON: `3` or `[1, 2, 3]`).
#[derive(Clone, Debug, PartialEq)]
pub enum PerChannel {
    /// The same value for every channel.
    All(f64),
    /// One value per channel, in channel order.
    Each(Vec<f64>),
}

impl PerChannel {
    /// One value per channel of a stream with `channels` channels; a list of the wrong
    /// length is an error naming the parameter.
    pub fn resolve(&self, name: &str, channels: usize) -> Result<Vec<f64>, BuildError> {
        match self {
            PerChannel::All(x) => Ok(vec![*x; channels]),
            PerChannel::Each(v) if v.len() == channels => Ok(v.clone()),
            PerChannel::Each(v) => Err(BuildError::param(
                name,
                format!(
                    "has {} values but the stream has {channels} channels (give one number, or one per channel)",
                    v.len()
                ),
            )),
        }
    }
}

impl ParamValue for PerChannel {
    fn kind(min: Option<f64>, max: Option<f64>, _: &'static [&'static str]) -> ParamKind {
        ParamKind::FloatOrList {
            min: min.unwrap_or(f64::MIN),
            max: max.unwrap_or(f64::MAX),
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v.as_f64() {
            Some(x) => Some(PerChannel::All(x)),
            None => Vec::<f64>::from_json(v).map(PerChannel::Each),
        }
    }
    fn to_json(&self) -> Value {
        match self {
            PerChannel::All(x) => Value::from(*x),
            PerChannel::Each(v) => Value::from(v.clone()),
        }
    }
    fn expected() -> &'static str {
        "a number or an array of numbers"
    }
}

/// A source's `sample_type` parameter: `"f32"` (the default) or `"f64"`.
impl ParamValue for FloatKind {
    fn kind(_: Option<f64>, _: Option<f64>, _: &'static [&'static str]) -> ParamKind {
        ParamKind::Str {
            choices: vec!["f32", "f64"],
        }
    }
    fn from_json(v: &Value) -> Option<Self> {
        match v.as_str()? {
            "f32" => Some(FloatKind::F32),
            "f64" => Some(FloatKind::F64),
            _ => None,
        }
    }
    fn to_json(&self) -> Value {
        Value::from(self.name())
    }
    fn expected() -> &'static str {
        "\"f32\" or \"f64\""
    }
}

/// A stage's parameters as one typed struct. Derive it with `#[derive(StageParams)]`
/// (attributes `default`, `min`, `max`, `choices`, `live`, `name`; a `///` doc on every
/// field is required); the runtime uses [`specs`](Self::specs) for
/// `neuropipe stages`, the schema and validation, the factory calls
/// [`StageBuilder::parse_params`](crate::StageBuilder::parse_params), and a stage reads a live
/// change with [`ControlMsg::update`](crate::ControlMsg::update).
pub trait StageParams: Sized {
    /// The live changes: one variant per `live` parameter, carrying the new value.
    type Update: Clone + std::fmt::Debug;
    /// The parameters' specifications, in declaration order.
    fn specs() -> Vec<ParamSpec>;
    /// The typed values (types, ranges and defaults were checked and filled in before).
    fn from_params(params: &Params) -> Result<Self, BuildError>;
    /// Decodes a live change of `key`; `Ok(None)` if `key` is not one of these parameters'
    /// live ones.
    fn decode(key: &str, value: &Value) -> Result<Option<Self::Update>, StageError>;
    /// Stores a live change in the struct.
    fn apply(&mut self, update: &Self::Update);
    /// The JSON name of the parameter a change is for.
    fn update_name(update: &Self::Update) -> &'static str;
    /// A change's new value as JSON.
    fn update_value(update: &Self::Update) -> Value;
}

impl ParamSpec {
    /// The spec of a parameter of Rust type `T` (used by `#[derive(StageParams)]`).
    pub fn typed<T: ParamValue>(
        name: &'static str,
        min: Option<f64>,
        max: Option<f64>,
        choices: &'static [&'static str],
    ) -> Self {
        let spec = ParamSpec::with_kind(name, T::kind(min, max, choices));
        if T::OPTIONAL {
            spec.optional()
        } else {
            spec
        }
    }
}

impl Params {
    /// The value of `name` as `T`: absent is `None` for an optional `T`, an error otherwise.
    pub fn typed<T: ParamValue>(&self, name: &str) -> Result<T, BuildError> {
        let v = self.get(name).unwrap_or(&Value::Null);
        if v.is_null() && !T::OPTIONAL {
            return Err(BuildError::param(name, "missing"));
        }
        T::from_json(v).ok_or_else(|| BuildError::param(name, format!("must be {}", T::expected())))
    }
}
