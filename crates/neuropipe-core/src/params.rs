//! Stage parameters: their specifications (name, type, default, range, live or not), checks,
//! and typed access for stage factories.

use crate::error::BuildError;
use crate::text::{describe, num, suggestion};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The type and valid range of a parameter.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// `true` / `false`.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// A number in `min..=max`.
    Float {
        /// Smallest valid value.
        min: f64,
        /// Largest valid value.
        max: f64,
    },
    /// A string; if `choices` is not empty, one of them.
    Str {
        /// Valid values (any string if empty).
        choices: Vec<&'static str>,
    },
    /// An array of numbers, each in `min..=max`.
    FloatList {
        /// Smallest valid element.
        min: f64,
        /// Largest valid element.
        max: f64,
    },
    /// An array of strings.
    StrList,
    /// A number applied to every channel, or an array with one number per channel.
    FloatOrList {
        /// Smallest valid element.
        min: f64,
        /// Largest valid element.
        max: f64,
    },
}

/// Specification of one stage parameter, shown by `neuropipe stages` and in the JSON Schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamSpec {
    /// Name in JSON.
    pub name: &'static str,
    /// Type and range.
    #[serde(flatten)]
    pub kind: ParamKind,
    /// Default value; `None` means required (unless `optional`).
    pub default: Option<Value>,
    /// Whether the parameter may be absent with no default.
    pub optional: bool,
    /// Whether it can be changed while running (`UpdateParam`).
    pub live: bool,
    /// What it does.
    pub doc: &'static str,
}

impl ParamSpec {
    /// A parameter of kind `kind`, required, not live, undocumented yet.
    pub fn with_kind(name: &'static str, kind: ParamKind) -> Self {
        ParamSpec {
            name,
            kind,
            default: None,
            optional: false,
            live: false,
            doc: "",
        }
    }
    /// A boolean parameter.
    pub fn bool(name: &'static str) -> Self {
        Self::with_kind(name, ParamKind::Bool)
    }
    /// An integer parameter in `min..=max`.
    pub fn int(name: &'static str, min: i64, max: i64) -> Self {
        Self::with_kind(name, ParamKind::Int { min, max })
    }
    /// A number parameter in `min..=max`.
    pub fn float(name: &'static str, min: f64, max: f64) -> Self {
        Self::with_kind(name, ParamKind::Float { min, max })
    }
    /// A string parameter (any value).
    pub fn string(name: &'static str) -> Self {
        Self::with_kind(name, ParamKind::Str { choices: vec![] })
    }
    /// A string parameter with a fixed set of values.
    pub fn choice(name: &'static str, choices: &[&'static str]) -> Self {
        Self::with_kind(
            name,
            ParamKind::Str {
                choices: choices.to_vec(),
            },
        )
    }
    /// An array-of-numbers parameter.
    pub fn float_list(name: &'static str, min: f64, max: f64) -> Self {
        Self::with_kind(name, ParamKind::FloatList { min, max })
    }
    /// An array-of-strings parameter.
    pub fn string_list(name: &'static str) -> Self {
        Self::with_kind(name, ParamKind::StrList)
    }
    /// A number for all channels or one per channel.
    pub fn float_or_list(name: &'static str, min: f64, max: f64) -> Self {
        Self::with_kind(name, ParamKind::FloatOrList { min, max })
    }
    /// Sets the default value.
    pub fn default(mut self, v: impl Into<Value>) -> Self {
        self.default = Some(v.into());
        self
    }
    /// Marks the parameter as optional (absent is fine, no default).
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
    /// Marks the parameter as changeable while running.
    pub fn live(mut self) -> Self {
        self.live = true;
        self
    }
    /// Sets the documentation.
    pub fn doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    /// Whether the parameter must be given.
    pub fn required(&self) -> bool {
        self.default.is_none() && !self.optional
    }

    /// Checks a value's type and range; the error says what would be valid.
    pub fn check(&self, v: &Value) -> Result<(), String> {
        let name = self.name;
        let got = describe(v);
        match &self.kind {
            ParamKind::Bool => v
                .as_bool()
                .map(|_| ())
                .ok_or_else(|| format!("`{name}` must be true or false, got {got}")),
            ParamKind::Int { min, max } => match v.as_i64() {
                Some(x) if (*min..=*max).contains(&x) => Ok(()),
                Some(x) => Err(format!("`{name}` = {x} is out of range {min}..={max}")),
                None => Err(format!(
                    "`{name}` must be an integer in {min}..={max}, got {got}"
                )),
            },
            ParamKind::Float { min, max } => match v.as_f64() {
                Some(x) if x >= *min && x <= *max => Ok(()),
                Some(x) => Err(format!(
                    "`{name}` = {} is out of range {}..={}",
                    num(x),
                    num(*min),
                    num(*max)
                )),
                None => Err(format!(
                    "`{name}` must be a number in {}..={}, got {got}",
                    num(*min),
                    num(*max)
                )),
            },
            ParamKind::Str { choices } => match v.as_str() {
                Some(s) if choices.is_empty() || choices.contains(&s) => Ok(()),
                Some(s) => Err(format!(
                    "`{name}` = \"{s}\" is not one of {}{}",
                    choices
                        .iter()
                        .map(|c| format!("\"{c}\""))
                        .collect::<Vec<_>>()
                        .join(", "),
                    suggestion(s, choices.iter().copied())
                )),
                None => Err(format!("`{name}` must be a string, got {got}")),
            },
            ParamKind::FloatList { min, max } => check_list(name, v, *min, *max),
            ParamKind::FloatOrList { min, max } => match v.as_f64() {
                Some(x) if x >= *min && x <= *max => Ok(()),
                Some(x) => Err(format!(
                    "`{name}` = {} is out of range {}..={}",
                    num(x),
                    num(*min),
                    num(*max)
                )),
                None if v.is_array() => check_list(name, v, *min, *max),
                None => Err(format!(
                    "`{name}` must be a number or an array of numbers, got {got}"
                )),
            },
            ParamKind::StrList => match v.as_array() {
                Some(a) if a.iter().all(Value::is_string) => Ok(()),
                _ => Err(format!("`{name}` must be an array of strings, got {got}")),
            },
        }
    }

    /// JSON Schema fragment for this parameter.
    pub fn json_schema(&self) -> Value {
        let mut s = match &self.kind {
            ParamKind::Bool => json!({"type": "boolean"}),
            ParamKind::Int { min, max } => {
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
            ParamKind::Float { min, max } => {
                json!({"type": "number", "minimum": min, "maximum": max})
            }
            ParamKind::Str { choices } if choices.is_empty() => json!({"type": "string"}),
            ParamKind::Str { choices } => json!({"type": "string", "enum": choices}),
            ParamKind::FloatList { min, max } => {
                json!({"type": "array", "items": {"type": "number", "minimum": min, "maximum": max}})
            }
            ParamKind::StrList => json!({"type": "array", "items": {"type": "string"}}),
            ParamKind::FloatOrList { min, max } => json!({"oneOf": [
                {"type": "number", "minimum": min, "maximum": max},
                {"type": "array", "items": {"type": "number", "minimum": min, "maximum": max}}
            ]}),
        };
        let obj = s.as_object_mut().expect("schema fragments are objects");
        let live = if self.live { " (live)" } else { "" };
        obj.insert(
            "description".into(),
            Value::from(format!("{}{live}", self.doc)),
        );
        if let Some(d) = &self.default {
            obj.insert("default".into(), d.clone());
        }
        s
    }

    /// Human-readable type, e.g. `number 0..=1000`.
    pub fn type_text(&self) -> String {
        match &self.kind {
            ParamKind::Bool => "bool".into(),
            ParamKind::Int { min, max } => format!("integer {min}..={max}"),
            ParamKind::Float { min, max } => format!("number {}..={}", num(*min), num(*max)),
            ParamKind::Str { choices } if choices.is_empty() => "string".into(),
            ParamKind::Str { choices } => choices.join("|"),
            ParamKind::FloatList { min, max } => format!("[number {min}..={max}]"),
            ParamKind::StrList => "[string]".into(),
            ParamKind::FloatOrList { min, max } => {
                format!("number or [number] {min}..={max}")
            }
        }
    }
}

fn check_list(name: &str, v: &Value, min: f64, max: f64) -> Result<(), String> {
    let Some(a) = v.as_array() else {
        return Err(format!(
            "`{name}` must be an array of numbers, got {}",
            describe(v)
        ));
    };
    for (i, x) in a.iter().enumerate() {
        match x.as_f64() {
            Some(f) if f >= min && f <= max => {}
            Some(f) => return Err(format!("`{name}[{i}]` = {f} is out of range {min}..={max}")),
            None => {
                return Err(format!(
                    "`{name}[{i}]` must be a number, got {}",
                    describe(x)
                ))
            }
        }
    }
    Ok(())
}

/// A stage's validated parameters with defaults filled in, for its factory.
#[derive(Clone, Debug, Default)]
pub struct Params {
    values: Map<String, Value>,
}

impl Params {
    pub(crate) fn new(values: Map<String, Value>) -> Self {
        Params { values }
    }
    /// The raw value, if present.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }
    /// All values.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }
    fn need(&self, name: &str) -> Result<&Value, BuildError> {
        self.values
            .get(name)
            .ok_or_else(|| BuildError::param(name, "missing"))
    }
    /// A number.
    pub fn f64(&self, name: &str) -> Result<f64, BuildError> {
        self.need(name)?
            .as_f64()
            .ok_or_else(|| BuildError::param(name, "must be a number"))
    }
    /// An optional number.
    pub fn opt_f64(&self, name: &str) -> Option<f64> {
        self.values.get(name).and_then(Value::as_f64)
    }
    /// An integer.
    pub fn i64(&self, name: &str) -> Result<i64, BuildError> {
        self.need(name)?
            .as_i64()
            .ok_or_else(|| BuildError::param(name, "must be an integer"))
    }
    /// A non-negative integer.
    pub fn usize(&self, name: &str) -> Result<usize, BuildError> {
        let v = self.i64(name)?;
        usize::try_from(v).map_err(|_| BuildError::param(name, "must not be negative"))
    }
    /// A boolean.
    pub fn bool(&self, name: &str) -> Result<bool, BuildError> {
        self.need(name)?
            .as_bool()
            .ok_or_else(|| BuildError::param(name, "must be true or false"))
    }
    /// A string.
    pub fn str(&self, name: &str) -> Result<&str, BuildError> {
        self.need(name)?
            .as_str()
            .ok_or_else(|| BuildError::param(name, "must be a string"))
    }
    /// An optional string.
    pub fn opt_str(&self, name: &str) -> Option<&str> {
        self.values.get(name).and_then(Value::as_str)
    }
    /// An array of numbers.
    pub fn f64_list(&self, name: &str) -> Result<Vec<f64>, BuildError> {
        match self.need(name)?.as_array() {
            Some(a) => a
                .iter()
                .map(|x| {
                    x.as_f64()
                        .ok_or_else(|| BuildError::param(name, "must be an array of numbers"))
                })
                .collect(),
            None => Err(BuildError::param(name, "must be an array of numbers")),
        }
    }
    /// An array of strings (optional).
    pub fn opt_str_list(&self, name: &str) -> Option<Vec<String>> {
        self.values.get(name)?.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
    }
    /// A number for every channel (`FloatOrList`): one value repeated, or a list that must
    /// have `channels` entries.
    pub fn per_channel(&self, name: &str, channels: usize) -> Result<Vec<f64>, BuildError> {
        let v = self.need(name)?;
        if let Some(x) = v.as_f64() {
            return Ok(vec![x; channels]);
        }
        let list = self.f64_list(name)?;
        if list.len() != channels {
            return Err(BuildError::param(
                name,
                format!(
                    "has {} values but the stream has {channels} channels (give one number, or one per channel)",
                    list.len()
                ),
            ));
        }
        Ok(list)
    }
}
