//! Dynamic prices received on the bus: one versioned JSON message per series on `zw/v1/prices/{series}`
//! (QoS 1, may be retained), published by the `zw-prices` account only.
//!
//! ```json
//! {"v":1,"series":"epex-de-lu","unit":"ct/kWh","net":true,"step_minutes":60,
//!  "intervals":[{"start":"2026-12-08T00:00:00+01:00","price":12.345}, …]}
//! ```
//!
//! * `v` is [`VERSION`]; `series` equals the topic's last level; `unit` is `ct/kWh`; `net` is `true` (net
//!   spot prices: the tariff adds its markup and VAT).
//! * `intervals`: 1 to [`MAX_INTERVALS`], starts in RFC 3339 strictly increasing, prices in ct/kWh with at
//!   most three decimals (negative prices allowed, |price| < [`MAX_ABS_CT`]).
//! * `step_minutes` (15 or 60) is each interval's length; absent, the smallest distance between two
//!   starts, and a single interval needs it.
//! * At most [`MAX_BYTES`], checked before parsing.
//!
//! Every rejection is a [`PriceMessageError`] with its own [`PriceMessageError::reason`] label. Whether the
//! series is one a tariff names, and merging (a newer price for an interval replaces the older), is the
//! receiver's part ([`super::PriceSeries::merge`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::Id;

/// The message schema version.
pub const VERSION: u32 = 1;
/// Largest accepted message, bytes (a year of hourly prices fits; a quarter-hour year does not: send days).
pub const MAX_BYTES: usize = 512 * 1024;
/// Most intervals in one message (a year of hours, a quarter of a year of quarter-hours).
pub const MAX_INTERVALS: usize = 8784;
/// Largest plausible absolute spot price, ct/kWh (the EPEX limits are +400 / −50 ct/kWh).
pub const MAX_ABS_CT: f64 = 1000.0;

/// A valid price message.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceMessage {
    /// The series.
    pub series: Id,
    /// Each interval's length (15 or 60 minutes).
    pub step: TimeDelta,
    /// Interval starts with their net price in milli-cent per kWh, in order.
    pub rows: Vec<(DateTime<Utc>, i64)>,
}

/// Why a price message was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceMessageError {
    /// Larger than [`MAX_BYTES`] or more than [`MAX_INTERVALS`] intervals.
    #[error("price message too large: {0}")]
    TooLarge(String),
    /// Not JSON, or JSON that does not fit the schema.
    #[error("price message malformed: {0}")]
    Malformed(String),
    /// `v` is not [`VERSION`].
    #[error("price message version {0}, expected {VERSION}")]
    Version(u32),
    /// The topic is not `zw/v1/prices/{series}` or names another series than the message.
    #[error("price message for series {series:?} on topic {topic:?}")]
    Topic {
        /// The topic.
        topic: String,
        /// The message's series.
        series: String,
    },
    /// `unit` is not `ct/kWh`.
    #[error("price unit {0:?}; only \"ct/kWh\"")]
    Unit(String),
    /// `net` is not `true`.
    #[error("gross prices; the series carries net spot prices (`\"net\": true`)")]
    Gross,
    /// No intervals.
    #[error("no intervals")]
    Empty,
    /// A start that is not RFC 3339 or not after the one before, or a price that is not plausible.
    #[error("interval {index}: {why}")]
    Interval {
        /// Position in `intervals`.
        index: usize,
        /// What is wrong.
        why: String,
    },
    /// An interval length other than 15 or 60 minutes, or none for a single interval.
    #[error("step: {0}")]
    Step(String),
}

impl PriceMessageError {
    /// The rejection's label for counters (`reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Malformed(_) => "malformed",
            Self::Version(_) => "version",
            Self::Topic { .. } => "topic_mismatch",
            Self::Unit(_) => "unit",
            Self::Gross => "gross",
            Self::Empty => "empty",
            Self::Interval { .. } => "bad_interval",
            Self::Step(_) => "bad_step",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    series: String,
    unit: String,
    net: bool,
    #[serde(default)]
    step_minutes: Option<i64>,
    intervals: Vec<WireInterval>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireInterval {
    start: String,
    price: f64,
}

impl PriceMessage {
    /// Parses and checks a message received on `topic`.
    pub fn from_message(topic: &str, payload: &[u8]) -> Result<Self, PriceMessageError> {
        if payload.len() > MAX_BYTES {
            return Err(PriceMessageError::TooLarge(format!(
                "{} bytes, at most {MAX_BYTES}",
                payload.len()
            )));
        }
        let w: Wire =
            serde_json::from_slice(payload).map_err(|e| PriceMessageError::Malformed(e.to_string()))?;
        if w.v != VERSION {
            return Err(PriceMessageError::Version(w.v));
        }
        let on_topic = crate::topic::parse_prices(topic);
        let series = match Id::new(&w.series) {
            Ok(id) if on_topic.as_ref() == Some(&id) => id,
            _ => {
                return Err(PriceMessageError::Topic {
                    topic: topic.to_owned(),
                    series: w.series,
                });
            }
        };
        if w.unit != "ct/kWh" {
            return Err(PriceMessageError::Unit(w.unit));
        }
        if !w.net {
            return Err(PriceMessageError::Gross);
        }
        if w.intervals.len() > MAX_INTERVALS {
            return Err(PriceMessageError::TooLarge(format!(
                "{} intervals, at most {MAX_INTERVALS}",
                w.intervals.len()
            )));
        }
        if w.intervals.is_empty() {
            return Err(PriceMessageError::Empty);
        }
        let mut rows: Vec<(DateTime<Utc>, i64)> = Vec::with_capacity(w.intervals.len());
        for (index, i) in w.intervals.iter().enumerate() {
            let bad = |why: String| PriceMessageError::Interval { index, why };
            let t = DateTime::parse_from_rfc3339(i.start.trim())
                .map_err(|e| bad(format!("start {:?} is not RFC 3339: {e}", i.start)))?
                .with_timezone(&Utc);
            let m = (i.price * 1000.0).round();
            if !i.price.is_finite() || i.price.abs() >= MAX_ABS_CT || (i.price * 1000.0 - m).abs() > 1e-6 {
                return Err(bad(format!(
                    "price {} must be a number below {MAX_ABS_CT} ct/kWh in size with at most three decimals",
                    i.price
                )));
            }
            if rows.last().is_some_and(|(last, _)| *last >= t) {
                return Err(bad(format!("start {t} is not after the one before")));
            }
            rows.push((t, m as i64));
        }
        let step = match w.step_minutes {
            Some(m) => TimeDelta::minutes(m),
            None => rows
                .windows(2)
                .map(|p| p[1].0 - p[0].0)
                .min()
                .ok_or_else(|| PriceMessageError::Step("a single interval needs step_minutes".into()))?,
        };
        if step != TimeDelta::minutes(15) && step != TimeDelta::hours(1) {
            return Err(PriceMessageError::Step(format!(
                "{} minutes; it must be 15 or 60",
                step.num_minutes()
            )));
        }
        if rows.iter().any(|(t, _)| t.timestamp() % step.num_seconds() != 0) {
            return Err(PriceMessageError::Step(format!(
                "a start is not on the {}-minute grid",
                step.num_minutes()
            )));
        }
        Ok(Self { series, step, rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::PriceSeries;

    const T: &str = "zw/v1/prices/epex-de-lu";

    fn msg(extra: &str, intervals: &str) -> String {
        format!(
            r#"{{"v":1,"series":"epex-de-lu","unit":"ct/kWh","net":true{extra},"intervals":[{intervals}]}}"#
        )
    }

    #[test]
    fn a_valid_message_parses_to_milli_cents_and_merges_newer_over_older() {
        let m = msg(
            "",
            r#"{"start":"2026-12-08T00:00:00+01:00","price":12.345},{"start":"2026-12-08T01:00:00+01:00","price":-0.5}"#,
        );
        let p = PriceMessage::from_message(T, m.as_bytes()).expect("valid");
        assert_eq!(p.series.as_str(), "epex-de-lu");
        assert_eq!(p.step, TimeDelta::hours(1));
        let t0 = DateTime::parse_from_rfc3339("2026-12-07T23:00:00Z")
            .expect("t")
            .to_utc();
        assert_eq!(p.rows, vec![(t0, 12_345), (t0 + TimeDelta::hours(1), -500)]);
        let mut s = PriceSeries::empty(TimeDelta::hours(1));
        assert_eq!(s.merge(&p.rows, p.step), Ok(2));
        assert_eq!(s.merge(&p.rows, p.step), Ok(0), "the same prices change nothing");
        assert_eq!(s.merge(&[(t0, 20_000)], p.step), Ok(1));
        assert_eq!(s.at(t0 + TimeDelta::minutes(59)), Some(20_000));
        assert_eq!(s.at(t0 + TimeDelta::hours(1)), Some(-500));
        assert_eq!(
            s.at(t0 + TimeDelta::hours(2)),
            None,
            "no price past the last interval"
        );
        assert_eq!(s.merge(&p.rows, TimeDelta::minutes(15)), Err(TimeDelta::hours(1)));
        let one = msg(
            r#","step_minutes":15"#,
            r#"{"start":"2026-12-08T00:15:00+01:00","price":1}"#,
        );
        assert_eq!(
            PriceMessage::from_message(T, one.as_bytes()).map(|p| p.step),
            Ok(TimeDelta::minutes(15))
        );
    }

    #[test]
    fn every_rejection_has_its_reason() {
        let i1 = r#"{"start":"2026-12-08T00:00:00+01:00","price":1}"#;
        let i2 = r#"{"start":"2026-12-08T00:00:00+01:00","price":1},{"start":"2026-12-08T01:00:00+01:00","price":2}"#;
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BYTES));
        let cases: Vec<(String, &str, &str)> = vec![
            (big, T, "too_large"),
            ("{".into(), T, "malformed"),
            (msg(r#","extra":1"#, i2), T, "malformed"),
            (msg("", i2).replace(r#""v":1"#, r#""v":2"#), T, "version"),
            (msg("", i2), "zw/v1/prices/other", "topic_mismatch"),
            (msg("", i2), "zw/v1/weather/epex-de-lu", "topic_mismatch"),
            (msg("", i2).replace("ct/kWh", "EUR/MWh"), T, "unit"),
            (msg("", i2).replace(r#""net":true"#, r#""net":false"#), T, "gross"),
            (msg("", ""), T, "empty"),
            (msg("", &i2.replace("01:00:00", "00:00:00")), T, "bad_interval"),
            (
                msg("", &i1.replace("2026-12-08T", "08.12.2026 ")),
                T,
                "bad_interval",
            ),
            (
                msg("", &i1.replace("\"price\":1", "\"price\":1.0001")),
                T,
                "bad_interval",
            ),
            (
                msg("", &i1.replace("\"price\":1", "\"price\":5000")),
                T,
                "bad_interval",
            ),
            (msg("", i1), T, "bad_step"),
            (msg(r#","step_minutes":30"#, i1), T, "bad_step"),
            (
                msg(r#","step_minutes":60"#, &i1.replace("00:00:00", "00:15:00")),
                T,
                "bad_step",
            ),
        ];
        for (payload, topic, want) in cases {
            let e = PriceMessage::from_message(topic, payload.as_bytes()).expect_err(want);
            assert_eq!(e.reason(), want, "{e}");
        }
    }
}
