//! The live per-reading path: one bus message in, one line-protocol point appended, no heap allocation.
//!
//! [`encode`] accepts exactly what [`zw_model::Reading::from_json`] + [`crate::decode`] accept and writes
//! the same point as [`crate::to_line`] (a property test checks both), but without building a `Reading`:
//! site, device and timestamp are borrowed from the payload, the values land in a fixed array indexed by
//! [`Quantity`] (so they come out in the same sorted order as the `BTreeMap`, and a repeated key keeps the
//! last value, as the map does), the canonical `…Z` timestamp form is parsed by hand (anything else goes
//! through chrono as before), and numbers are formatted with `zmij`/`itoa` straight into the batch buffer.
//! Payloads in the exact layout publishers produce are read by a byte scanner ([`scan`]); anything else
//! (other field order, whitespace, escapes, errors) goes through serde.
//! Allocation happens only on the rejection path (the message text).

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use zw_model::reading::{ReadingError, TimeWindow};
use zw_model::{Id, Quantity, SCHEMA_VERSION, id::MAX_ID_LEN, storage, topic};

use crate::line::{Rejection, push_float};

/// Number of quantities; values are kept in an array of this size.
const N: usize = Quantity::ALL.len();
const _: () = assert!(N <= 64, "the seen-set is a u64 bit mask");

/// The reading as it appears on the wire, borrowing from the payload.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    v: u32,
    #[serde(borrow)]
    site: Cow<'a, str>,
    #[serde(borrow)]
    device: Cow<'a, str>,
    #[serde(borrow)]
    ts: Cow<'a, str>,
    values: Values,
}

/// The `values` object: quantity → number, indexed by the quantity's declaration order.
struct Values {
    set: u64,
    v: [f64; N],
}

/// The acceptance window around the receiver's clock, resolved to bounds once per call site.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
    /// The same as Unix seconds and nanoseconds, for the fused path's comparisons.
    earliest_key: (i64, u32),
    latest_key: (i64, u32),
}

impl Bounds {
    /// The bounds of `window` around `now`.
    pub fn new(now: DateTime<Utc>, window: TimeWindow) -> Self {
        let (earliest, latest) = (now - window.max_age, now + window.max_future);
        let key = |t: DateTime<Utc>| (t.timestamp(), t.timestamp_subsec_nanos());
        Self {
            earliest,
            latest,
            earliest_key: key(earliest),
            latest_key: key(latest),
        }
    }
}

/// Decodes and validates the message `payload` received on `topic` and appends its point to `out`.
/// On error `out` is unchanged and the rejection carries the same reason as [`crate::decode`].
pub fn encode(topic: &str, payload: &[u8], bounds: Bounds, out: &mut String) -> Result<(), Rejection> {
    let start = out.len();
    if let Ok(s) = std::str::from_utf8(payload)
        && let Some(f) = fast::element(s, 0, &bounds, &mut fast::Dates::default(), out)
    {
        match f.verdict {
            // Trailing bytes, or another topic: the general path below finds the reason.
            _ if f.end != payload.len() => {}
            Err(r) => return Err(r),
            Ok(()) if topic_matches(topic, f.site, f.device) => return Ok(()),
            Ok(()) => {}
        }
        out.truncate(start);
    }
    let w = parse(payload)?;
    let matches = topic_matches(topic, &w.site, &w.device);
    // Validation before the topic check, so the reason is the one `decode` gives.
    let ts = validate(&w, bounds)?;
    if !matches {
        return Err(Rejection {
            reason: "topic_mismatch",
            message: format!("reading for {}/{} on topic {topic}", w.site, w.device),
        });
    }
    write(&w, ts, out);
    Ok(())
}

/// Whether `topic` is the readings topic of `site`/`device`.
fn topic_matches(topic: &str, site: &str, device: &str) -> bool {
    topic
        .strip_prefix(topic::ROOT)
        .and_then(|t| t.strip_prefix("/readings/"))
        .and_then(|t| t.split_once('/'))
        .is_some_and(|(s, d)| s == site && d == device)
}

/// [`encode`] for one element of a batch: the same rules, no topic to match.
pub(crate) fn encode_element(payload: &[u8], bounds: Bounds, out: &mut String) -> Result<(), Rejection> {
    let w = parse(payload)?;
    let ts = validate(&w, bounds)?;
    write(&w, ts, out);
    Ok(())
}

/// The canonical layout by the byte scanner, anything else by serde.
fn parse(payload: &[u8]) -> Result<Wire<'_>, Rejection> {
    match scan::scan(payload) {
        Some(c) => Ok(c.into()),
        None => serde_json::from_slice(payload).map_err(|e| malformed(&e)),
    }
}

impl<'a> From<scan::Canonical<'a>> for Wire<'a> {
    fn from(c: scan::Canonical<'a>) -> Self {
        Wire {
            v: SCHEMA_VERSION,
            site: Cow::Borrowed(c.site),
            device: Cow::Borrowed(c.device),
            ts: Cow::Borrowed(c.ts),
            values: c.values,
        }
    }
}

/// The `Reading` rules, in the order `Reading::from_json` applies them; the parsed timestamp if all pass.
fn validate(w: &Wire<'_>, bounds: Bounds) -> Result<DateTime<Utc>, Rejection> {
    check_id("site", &w.site)?;
    check_id("device", &w.device)?;
    let ts = parse_ts(&w.ts)?;
    if w.v != SCHEMA_VERSION {
        return Err(reading_error(ReadingError::Version(w.v)));
    }
    if w.values.set == 0 {
        return Err(reading_error(ReadingError::Empty));
    }
    if let Some(q) = w.values.iter().find(|(_, v)| !v.is_finite()).map(|(q, _)| q) {
        return Err(reading_error(ReadingError::NotFinite(q)));
    }
    if ts < bounds.earliest || ts > bounds.latest {
        return Err(reading_error(ReadingError::Timestamp {
            ts,
            earliest: bounds.earliest,
            latest: bounds.latest,
        }));
    }
    Ok(ts)
}

/// Appends the point of a validated reading.
fn write(w: &Wire<'_>, ts: DateTime<Utc>, out: &mut String) {
    // Tags in key order (device < site), as InfluxDB stores them; ids need no escaping.
    out.reserve(64 + w.site.len() + w.device.len() + 24 * w.values.set.count_ones() as usize);
    out.push_str(storage::MEASUREMENT);
    out.push(',');
    out.push_str(storage::TAG_DEVICE);
    out.push('=');
    out.push_str(&w.device);
    out.push(',');
    out.push_str(storage::TAG_SITE);
    out.push('=');
    out.push_str(&w.site);
    for (i, (q, v)) in w.values.iter().enumerate() {
        out.push(if i == 0 { ' ' } else { ',' });
        out.push_str(q.name());
        out.push('=');
        push_float(out, v);
    }
    out.push(' ');
    out.push_str(itoa::Buffer::new().format(ts.timestamp_millis()));
    out.push('\n');
}

impl Values {
    fn iter(&self) -> impl Iterator<Item = (Quantity, f64)> + '_ {
        Quantity::ALL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.set & (1 << i) != 0)
            .map(|(i, q)| (*q, self.v[i]))
    }
}

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of quantity to number")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values, A::Error> {
                let mut out = Values { set: 0, v: [0.0; N] };
                while let Some(Key(q)) = map.next_key()? {
                    let i = q as usize;
                    out.v[i] = map.next_value()?;
                    out.set |= 1 << i;
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A quantity name as a map key, looked up without allocating.
struct Key(Quantity);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key, E> {
                Quantity::from_name(s)
                    .map(Key)
                    .ok_or_else(|| E::custom(format_args!("unknown quantity `{s}`")))
            }
        }
        d.deserialize_str(V)
    }
}

/// The same check as [`Id::new`], on a borrowed string; the error text comes from `Id::new` itself.
fn check_id(field: &str, s: &str) -> Result<(), Rejection> {
    let b = s.as_bytes();
    let ok_char = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_';
    let valid = !b.is_empty()
        && b.len() <= MAX_ID_LEN
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(ok_char);
    if valid {
        return Ok(());
    }
    let why = Id::new(s)
        .err()
        .map_or_else(|| "invalid id".to_owned(), |e| e.to_string());
    Err(reading_error(ReadingError::Malformed(format!("{field}: {why}"))))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` by hand; any other form goes through chrono's parser, which
/// is what the `Reading` deserializer uses.
fn parse_ts(s: &str) -> Result<DateTime<Utc>, Rejection> {
    if let Some(ts) = parse_canonical_ts(s.as_bytes()) {
        return Ok(ts);
    }
    s.parse::<DateTime<chrono::FixedOffset>>()
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| reading_error(ReadingError::Malformed(format!("ts: {e}"))))
}

fn parse_canonical_ts(b: &[u8]) -> Option<DateTime<Utc>> {
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let seps = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let nanos = match b.len() {
        20 => 0,
        // ".d" up to ".ddddddddd" before the `Z`.
        22..=30 if b[19] == b'.' => {
            let digits = b.len() - 21;
            num(20..b.len() - 1)? * 10u32.pow(9 - digits as u32)
        }
        _ => return None,
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if sec >= 60 {
        // Leap seconds and their chrono rules: leave them to chrono.
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_nano_opt(h, m, sec, nanos)
        .map(|t| t.and_utc())
}

fn malformed(e: &serde_json::Error) -> Rejection {
    reading_error(ReadingError::Malformed(e.to_string()))
}

fn reading_error(e: ReadingError) -> Rejection {
    Rejection {
        reason: e.reason(),
        message: e.to_string(),
    }
}

pub mod batch;
mod fast;
mod scan;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
