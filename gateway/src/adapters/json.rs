//! Generic JSON devices: values found by JSON pointer and converted by a per-field scale and offset.
//!
//! For devices no built-in adapter knows. The mapping comes from the inventory
//! ([`zw_model::inventory::JsonField`]), e.g. `{ pointer = "/sensor/kwh", quantity = "energy_import",
//! scale = 1000 }`. A pointer that finds nothing (or `null`) leaves the quantity absent; a value of the wrong
//! type is a bad field. The optional timestamp pointer accepts RFC 3339 strings and Unix seconds or
//! milliseconds (numbers below 10^11 are seconds).
//!
//! The pointers are split into tokens once, when the mapping is built; a message is then walked once with
//! the [`zw_jsonscan`] scanner, descending only into keys (and array indices) some pointer goes through.
//! Semantics are those of `serde_json::Value::pointer`: mappings of more than 63 pointers are decoded through
//! it ([`ValueMapping`], in `json/by_value.rs`), and the property tests compare both paths.

use chrono::{DateTime, Utc};
use zw_model::inventory::JsonField;
use zw_model::reading::Values;

use super::num::lenient_str;
use zw_jsonscan::{Kind, wrong_type};

use super::{AdapterError, Message, Scanner, reading};

mod by_value;

pub use by_value::ValueMapping;

/// Most pointers (fields and timestamp) the scanner path follows.
const MAX_POINTERS: usize = 63;

/// A device's field mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    fields: Vec<JsonField>,
    timestamp: Option<String>,
    /// Per pointer (fields, then the timestamp): its unescaped tokens.
    tokens: Vec<Vec<Vec<u8>>>,
    /// The `serde_json::Value` path, for mappings of more than [`MAX_POINTERS`] pointers.
    by_value: ValueMapping,
}

/// What a walk found: per field its value, and the timestamp.
struct Found {
    values: [Option<f64>; MAX_POINTERS],
    ts: Option<DateTime<Utc>>,
}

/// RFC 6901 tokens of a pointer (`""` is the whole document: no tokens).
fn tokens(pointer: &str) -> Vec<Vec<u8>> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~").into_bytes())
        .collect()
}

/// An array index token as `Value::pointer` reads it: digits, no leading zero (except `0` itself).
fn index(token: &[u8]) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token[0] == b'0') || token[0] == b'+' {
        return None;
    }
    std::str::from_utf8(token).ok()?.parse().ok()
}

impl Mapping {
    /// A mapping from the inventory's fields and optional timestamp pointer.
    pub fn new(fields: &[JsonField], timestamp: Option<&str>) -> Self {
        let tokens = fields
            .iter()
            .map(|f| f.pointer.as_str())
            .chain(timestamp)
            .map(tokens)
            .collect();
        Self {
            fields: fields.to_vec(),
            timestamp: timestamp.map(str::to_owned),
            tokens,
            by_value: ValueMapping::new(fields, timestamp),
        }
    }

    /// Decodes one message.
    pub fn decode(&self, payload: &[u8]) -> Result<Message, AdapterError> {
        if self.tokens.len() > MAX_POINTERS {
            return self.by_value.decode(payload);
        }
        let mut found = Found {
            values: [None; MAX_POINTERS],
            ts: None,
        };
        let all = (1u64 << self.tokens.len()) - 1;
        let mut s = Scanner::new(payload);
        self.walk(&mut s, 0, all, &mut found)?;
        s.end()?;
        let mut values = Values::new();
        for (f, v) in self.fields.iter().zip(found.values) {
            if let Some(v) = v {
                values.insert(f.quantity, v * f.scale + f.offset);
            }
        }
        reading(found.ts, values)
    }

    /// Reads the value at the cursor for the pointers in `active`, whose first `depth` tokens led here.
    fn walk(
        &self,
        s: &mut Scanner<'_>,
        depth: usize,
        active: u64,
        found: &mut Found,
    ) -> Result<(), AdapterError> {
        // Pointers that end here read this value; the others go deeper.
        let (mut here, mut deeper) = (0u64, 0u64);
        for p in bits(active) {
            if self.tokens[p].len() == depth {
                here |= 1 << p;
            } else {
                deeper |= 1 << p;
            }
        }
        if here != 0 {
            // A value read here is a scalar (or an error): nothing deeper can be found through it.
            return self.read(s, here, found);
        }
        match s.kind()? {
            Kind::Object => s.object(|s, key| {
                let next = self.matching(deeper, depth, |t| t == key);
                if next == 0 {
                    s.skip()
                } else {
                    self.walk(s, depth + 1, next, found)
                }
            }),
            Kind::Array => {
                let mut i = 0usize;
                s.array(|s| {
                    let next = self.matching(deeper, depth, |t| index(t) == Some(i));
                    i += 1;
                    if next == 0 {
                        s.skip()
                    } else {
                        self.walk(s, depth + 1, next, found)
                    }
                })
            }
            _ => s.skip(),
        }
    }

    fn matching(&self, active: u64, depth: usize, hit: impl Fn(&[u8]) -> bool) -> u64 {
        bits(active)
            .filter(|&p| hit(&self.tokens[p][depth]))
            .fold(0, |m, p| m | 1 << p)
    }

    /// Reads the value at the cursor for the pointers in `here` (`null`: absent, but not for a timestamp).
    fn read(&self, s: &mut Scanner<'_>, here: u64, found: &mut Found) -> Result<(), AdapterError> {
        let kind = s.kind()?;
        let (number, text) = match kind {
            Kind::Number => (Some(s.number_value()?), None),
            Kind::String => (None, Some(s.string("")?)),
            _ => (None, None),
        };
        for p in bits(here) {
            if p == self.fields.len() {
                let pointer = self.timestamp.as_deref().unwrap_or_default();
                found.ts = Some(timestamp(pointer, kind, number, text.as_deref())?);
                continue;
            }
            let f = &self.fields[p];
            let x = match (kind, number, text.as_deref()) {
                (Kind::Null, ..) => continue,
                (_, Some(x), _) => x,
                (_, _, Some(t)) if f.numeric_strings => {
                    lenient_str(t).ok_or_else(|| AdapterError::Field {
                        field: f.pointer.clone(),
                        problem: format!("expected a number, got {t:?}"),
                    })?
                }
                (k, ..) => return Err(wrong_type(&f.pointer, "a number", k)),
            };
            if !x.is_finite() {
                return Err(AdapterError::NotFinite(f.pointer.clone()));
            }
            found.values[p] = Some(x);
        }
        if number.is_none() && text.is_none() {
            s.skip()?;
        }
        Ok(())
    }
}

/// The set bits of `m`, lowest first.
fn bits(mut m: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (m != 0).then(|| {
            let b = m.trailing_zeros() as usize;
            m &= m - 1;
            b
        })
    })
}

fn timestamp(
    pointer: &str,
    kind: Kind,
    number: Option<f64>,
    text: Option<&str>,
) -> Result<DateTime<Utc>, AdapterError> {
    let bad = |got: String| AdapterError::Field {
        field: pointer.into(),
        problem: format!("expected an RFC 3339 time or Unix seconds/milliseconds, got {got}"),
    };
    match (number, text) {
        (_, Some(t)) => DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| bad(format!("{t:?}"))),
        (Some(x), _) => Some(x)
            .filter(|x| x.abs() < 1e15)
            .and_then(|x| {
                let ms = if x.abs() < 1e11 { x * 1000.0 } else { x };
                DateTime::from_timestamp_millis(ms.round() as i64)
            })
            .ok_or_else(|| bad(x.to_string())),
        _ => Err(bad(format!("{kind:?}").to_lowercase())),
    }
}

#[cfg(test)]
mod tests;
