//! Generic JSON through `serde_json::Value` and `Value::pointer`: the decoder for mappings of more pointers
//! than the scanner path follows (see [`super::Mapping`]), and the reference the property tests compare the
//! scanner path with (`differential_tests.rs`): the one serde_json decoder that is production code.

use chrono::{DateTime, Utc};
use serde_json::Value;
use zw_model::inventory::JsonField;
use zw_model::reading::Values;

use crate::adapters::{AdapterError, Message, number, reading};

/// A device's field mapping, decoded through `serde_json::Value`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMapping {
    fields: Vec<JsonField>,
    timestamp: Option<String>,
}

impl ValueMapping {
    /// A mapping from the inventory's fields and optional timestamp pointer.
    pub fn new(fields: &[JsonField], timestamp: Option<&str>) -> Self {
        Self {
            fields: fields.to_vec(),
            timestamp: timestamp.map(str::to_owned),
        }
    }

    /// Decodes one message.
    pub fn decode(&self, payload: &[u8]) -> Result<Message, AdapterError> {
        let root: Value = serde_json::from_slice(payload).map_err(|e| AdapterError::from_serde(&e))?;
        let mut values = Values::new();
        for f in &self.fields {
            match root.pointer(&f.pointer) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    let x = number(v, &f.pointer, f.numeric_strings)? * f.scale + f.offset;
                    values.insert(f.quantity, x);
                }
            }
        }
        let ts = match self
            .timestamp
            .as_deref()
            .and_then(|p| Some((p, root.pointer(p)?)))
        {
            None => None,
            Some((p, v)) => Some(timestamp(p, v)?),
        };
        reading(ts, values)
    }
}

fn timestamp(pointer: &str, v: &Value) -> Result<DateTime<Utc>, AdapterError> {
    let t = match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite() && x.abs() < 1e15)
            .and_then(|x| {
                let ms = if x.abs() < 1e11 { x * 1000.0 } else { x };
                DateTime::from_timestamp_millis(ms.round() as i64)
            }),
        _ => None,
    };
    t.ok_or_else(|| AdapterError::Field {
        field: pointer.into(),
        problem: format!("expected an RFC 3339 time or Unix seconds/milliseconds, got {v}"),
    })
}
