//! Device MQTT payload adapters: vendor JSON in, canonical values out.
//!
//! Adapters are pure functions of the payload bytes (and, where a payload carries no usable clock, the
//! receive time passed in). They never guess: a field with the wrong type is an error with a reason, a field
//! that is absent stays absent (never 0), and numbers sent as strings are accepted only where the vendor is
//! known to send strings.

pub mod tasmota;
pub mod ttn;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use zw_model::Quantity;

/// Values decoded from one device message.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The device's own measurement time, if the payload carries a trustworthy one.
    pub ts: Option<DateTime<Utc>>,
    /// Canonical values.
    pub values: BTreeMap<Quantity, f64>,
}

/// Why a device message was rejected. [`AdapterError::reason`] is the metrics label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdapterError {
    /// Not valid JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A known field has the wrong type or an unparsable value.
    #[error("field {field}: {problem}")]
    Field {
        /// JSON path of the field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// A value is NaN or infinite.
    #[error("field {0} is not a finite number")]
    NotFinite(String),
    /// The message is well-formed but holds no values we map.
    #[error("no known values in message")]
    NoValues,
    /// The payload exceeds the configured size.
    #[error("payload of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// A binary frame that does not decode.
    #[error("frame: {0}")]
    Frame(String),
}

impl AdapterError {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            AdapterError::Json(_) => "malformed_json",
            AdapterError::Field { .. } => "bad_field",
            AdapterError::NotFinite(_) => "not_finite",
            AdapterError::NoValues => "no_values",
            AdapterError::TooLarge(_) => "too_large",
            AdapterError::Frame(_) => "bad_frame",
        }
    }
}

/// Reads a JSON number (or, if `lenient`, a numeric string such as `"24.1"` or `"3.6 V"`) as a finite f64.
pub(crate) fn number(v: &serde_json::Value, field: &str, lenient: bool) -> Result<f64, AdapterError> {
    let x = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) if lenient => {
            let head = s.split_whitespace().next().unwrap_or("");
            head.parse::<f64>().ok()
        }
        _ => None,
    };
    let x = x.ok_or_else(|| AdapterError::Field {
        field: field.into(),
        problem: format!("expected a number, got {v}"),
    })?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(AdapterError::NotFinite(field.into()))
    }
}
