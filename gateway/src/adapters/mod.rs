//! Device MQTT payload adapters: vendor JSON in, canonical values out.
//!
//! Adapters are pure: a function of the payload bytes (and, for Shelly, of the device's last known status,
//! kept in a plain struct). They never guess: a field with the wrong type is an error with a reason, a field
//! that is absent stays absent (never 0), and numbers sent as strings are accepted only where the vendor is
//! known to send strings (Dragino's decoder) or a mapping allows it. Every value is checked to be finite.
//!
//! | adapter | topics | module |
//! |---|---|---|
//! | Tasmota | `tele/<topic>/SENSOR`, `STATE`, `LWT` (FullTopic layout configurable, [`fulltopic`]) | [`tasmota`] |
//! | Tasmota SML | the SENSOR meter section, OBIS fields mapped by configuration | [`tasmota`] |
//! | Shelly Gen2/Gen3 | `<prefix>/status/switch:N`, `status/em:0`, `status/emdata:0`, `status/em1:N`, `status/em1data:N`, `events/rpc`, `online` | [`shelly`] |
//! | The Things Stack v3 | `v3/{app}@{tenant}/devices/{id}/up`: Dragino LSE01, Decentlab DL-TRS21 | [`ttn`] |
//! | Generic JSON | any topic or topic pattern (`sensors/+/state`), JSON pointers → quantities | [`json`] |
//!
//! Decoding speed matters (thousands of devices on one gateway): payloads are read by a validating,
//! allocation-free scanner ([`zw_jsonscan`]) that reads only the mapped fields; the serde_json decoders it replaced
//! stay, test-only, in `reference` for the differential tests and the benchmark. See `benches/adapters.rs` and BENCHMARKS.md.

pub mod fulltopic;
pub mod json;
mod num;
#[cfg(any(test, feature = "serde-reference"))]
pub mod reference;
pub mod shelly;
pub mod tasmota;
pub mod ttn;

use chrono::{DateTime, Utc};
use zw_model::reading::Values;

/// The JSON scanner, returning the adapters' errors (its own convert into them).
pub(crate) type Scanner<'a> = zw_jsonscan::Scanner<'a, AdapterError>;

/// Values decoded from one device message.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The device's own measurement time, if the payload carries a trustworthy one.
    pub ts: Option<DateTime<Utc>>,
    /// Canonical values, all finite.
    pub values: Values,
}

/// What one device message means.
#[derive(Debug, Clone, PartialEq)]
// `Values` is a fixed-size map, kept inline on purpose: the decoders build the reading in the returned
// message without allocating (a `Box` would cost an allocation per message on the hot path).
#[allow(clippy::large_enum_variant)]
pub enum Message {
    /// Values to publish as a canonical reading.
    Reading(Decoded),
    /// The device (or its last will) says whether it is connected: Tasmota `LWT`, Shelly `online`.
    Availability(bool),
    /// A sign of life without values (Tasmota `STATE`, a Shelly event).
    Alive,
}

/// Why a device message was rejected. [`AdapterError::reason`] is the metrics label.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdapterError {
    /// Not valid JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A known field has the wrong type (e.g. a number sent as a string) or an unparsable value.
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
    /// The payload exceeds the configured size (`gateway.max_payload_bytes`).
    #[error("payload of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The payload is over the bus's application limit (`bus.max_message_bytes`): rejected before routing
    /// or parsing, whatever the topic.
    #[error("payload of {size} bytes is over bus.max_message_bytes ({limit})")]
    Oversized {
        /// The payload's size in bytes.
        size: usize,
        /// `bus.max_message_bytes`.
        limit: usize,
    },
    /// A binary frame that does not decode.
    #[error("frame: {0}")]
    Frame(String),
    /// The device's timestamp lies too far in the past or the future.
    #[error("timestamp {0} is outside the accepted window")]
    Timestamp(DateTime<Utc>),
    /// The topic belongs to no configured device.
    #[error("no device is configured for this topic")]
    UnknownTopic,
}

impl From<zw_jsonscan::ScanError> for AdapterError {
    fn from(e: zw_jsonscan::ScanError) -> Self {
        match e {
            zw_jsonscan::ScanError::Json(m) => AdapterError::Json(m),
            zw_jsonscan::ScanError::Field { field, problem } => AdapterError::Field { field, problem },
        }
    }
}

impl AdapterError {
    /// A short, stable label for metrics and the dead-letter topic.
    pub fn reason(&self) -> &'static str {
        match self {
            AdapterError::Json(_) => "malformed_json",
            AdapterError::Field { .. } => "bad_field",
            AdapterError::NotFinite(_) => "not_finite",
            AdapterError::NoValues => "no_values",
            AdapterError::TooLarge(_) => "too_large",
            AdapterError::Oversized { .. } => "oversized",
            AdapterError::Frame(_) => "bad_frame",
            AdapterError::Timestamp(_) => "timestamp",
            AdapterError::UnknownTopic => "unknown_topic",
        }
    }

    /// Classifies a serde_json error: syntax → malformed JSON, a type mismatch → a bad field.
    pub(crate) fn from_serde(e: &serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Data => AdapterError::Field {
                field: format!("at column {}", e.column()),
                problem: e.to_string(),
            },
            _ => AdapterError::Json(e.to_string()),
        }
    }
}

/// A reading from `values`, or `NoValues` if empty, or `NotFinite` if any value is NaN or infinite.
/// Inlined: `values` is then built in the returned message, not copied into it.
#[inline(always)]
pub(crate) fn reading(ts: Option<DateTime<Utc>>, values: Values) -> Result<Message, AdapterError> {
    if let Some((q, _)) = values.iter().find(|(_, v)| !v.is_finite()) {
        return Err(AdapterError::NotFinite(q.name().into()));
    }
    if values.is_empty() {
        return Err(AdapterError::NoValues);
    }
    Ok(Message::Reading(Decoded { ts, values }))
}

/// Reads a JSON value as a finite f64; with `lenient`, also a numeric string such as `"24.1"` or `"3.6 V"`.
pub(crate) fn number(v: &serde_json::Value, field: &str, lenient: bool) -> Result<f64, AdapterError> {
    let x = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) if lenient => num::lenient_str(s),
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

/// A payload that must be one of two plain words (`Online`/`Offline`, `true`/`false`).
pub(crate) fn availability(payload: &[u8], on: &str, off: &str) -> Result<Message, AdapterError> {
    match payload.trim_ascii() {
        p if p == on.as_bytes() => Ok(Message::Availability(true)),
        p if p == off.as_bytes() => Ok(Message::Availability(false)),
        p => Err(AdapterError::Field {
            field: "payload".into(),
            problem: format!(
                "expected {on:?} or {off:?}, got {:?}",
                String::from_utf8_lossy(&p[..p.len().min(32)])
            ),
        }),
    }
}

#[cfg(test)]
mod differential_tests;

/// Arbitrary JSON documents for property tests.
#[cfg(test)]
pub(crate) fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    zw_jsonscan::test_support::json_value()
}
