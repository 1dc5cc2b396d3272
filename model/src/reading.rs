//! The canonical reading: one message per device poll, all its values under one timestamp.
//!
//! Wire form (schema version 1), published as JSON on `zw/v1/readings/{site}/{device}`:
//!
//! ```json
//! {"v":1,"site":"rathaus","device":"rathaus-main","ts":"2026-11-21T10:00:00.123Z",
//!  "values":{"active_power":1207.5,"energy_import":12345678.0,"voltage_l1":230.1}}
//! ```
//!
//! * `v`: schema version, always `1` for this layout.
//! * `site`, `device`: [`Id`]s from the inventory.
//! * `ts`: RFC 3339 UTC with millisecond precision, the time the value was measured (or received, for devices
//!   that send no usable clock).
//! * `values`: canonical quantity → finite number in the quantity's unit (see [`Quantity::unit`]). A quantity
//!   the device did not deliver is absent; it is never sent as `0` or `null`.
//!
//! [`Reading::validate`] enforces all of that, plus a plausibility window around the receiver's clock.
//!
//! High-rate producers may instead publish many readings in one message on `zw/v1/batches/{producer}`
//! ([`batch`]); [`for_each_in_message`] reads either form, so consumers have one place that knows both.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::{Id, Quantity};

pub mod batch;
pub use batch::for_each_in_message;
pub mod values;
pub use values::Values;

/// The schema version this crate reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A canonical reading as carried on the bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// The site the device belongs to.
    pub site: Id,
    /// The device that produced the values.
    pub device: Id,
    /// Measurement time, UTC, millisecond precision.
    pub ts: DateTime<Utc>,
    /// The values, keyed by quantity, in canonical units (an inline map, [`Values`]).
    pub values: Values,
}

/// Why a reading was rejected. Each variant is a distinct reason label in metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadingError {
    /// Not JSON, or JSON that does not fit the schema (wrong types, unknown fields or quantities).
    #[error("malformed reading: {0}")]
    Malformed(String),
    /// A schema version this build does not understand.
    #[error("unsupported schema version {0}, expected {SCHEMA_VERSION}")]
    Version(u32),
    /// The reading holds no values at all.
    #[error("reading has no values")]
    Empty,
    /// A value is NaN or infinite.
    #[error("value of {0} is not a finite number")]
    NotFinite(Quantity),
    /// The timestamp lies outside the accepted window around now.
    #[error("timestamp {ts} is outside the accepted window ({earliest} .. {latest})")]
    Timestamp {
        /// The offending timestamp.
        ts: DateTime<Utc>,
        /// Earliest accepted.
        earliest: DateTime<Utc>,
        /// Latest accepted.
        latest: DateTime<Utc>,
    },
    /// A reading on a per-device topic that names another site or device.
    #[error("reading for {site}/{device} on topic {topic}")]
    TopicMismatch {
        /// The reading's site.
        site: Id,
        /// The reading's device.
        device: Id,
        /// The topic it arrived on.
        topic: String,
    },
}

impl ReadingError {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ReadingError::Malformed(_) => "malformed",
            ReadingError::Version(_) => "version",
            ReadingError::Empty => "empty",
            ReadingError::NotFinite(_) => "not_finite",
            ReadingError::Timestamp { .. } => "timestamp",
            ReadingError::TopicMismatch { .. } => "topic_mismatch",
        }
    }
}

/// How far from the receiver's clock a timestamp may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Oldest accepted age (backfill goes through `import`, not the live bus).
    pub max_age: TimeDelta,
    /// Largest accepted lead over the receiver's clock (clock skew).
    pub max_future: TimeDelta,
}

impl Default for TimeWindow {
    fn default() -> Self {
        Self {
            max_age: TimeDelta::days(7),
            max_future: TimeDelta::minutes(5),
        }
    }
}

impl Reading {
    /// Builds a reading for schema version 1, truncating `ts` to milliseconds. `values` is a [`Values`] or
    /// anything that becomes one (an array of pairs, a `BTreeMap<Quantity, f64>`).
    pub fn new(site: Id, device: Id, ts: DateTime<Utc>, values: impl Into<Values>) -> Self {
        Self {
            v: SCHEMA_VERSION,
            site,
            device,
            ts: ts.trunc_subsecs(3),
            values: values.into(),
        }
    }

    /// Parses and validates a reading received at `now`.
    pub fn from_json(bytes: &[u8], now: DateTime<Utc>, window: TimeWindow) -> Result<Self, ReadingError> {
        let reading: Reading =
            serde_json::from_slice(bytes).map_err(|e| ReadingError::Malformed(e.to_string()))?;
        reading.validate(now, window)?;
        Ok(reading)
    }

    /// Serialises the reading to its wire form.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain structs, maps of enums and f64 cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks version, values and timestamp against the window around `now`.
    pub fn validate(&self, now: DateTime<Utc>, window: TimeWindow) -> Result<(), ReadingError> {
        if self.v != SCHEMA_VERSION {
            return Err(ReadingError::Version(self.v));
        }
        if self.values.is_empty() {
            return Err(ReadingError::Empty);
        }
        if let Some((&q, _)) = self.values.iter().find(|(_, v)| !v.is_finite()) {
            return Err(ReadingError::NotFinite(q));
        }
        let (earliest, latest) = (now - window.max_age, now + window.max_future);
        if self.ts < earliest || self.ts > latest {
            return Err(ReadingError::Timestamp {
                ts: self.ts,
                earliest,
                latest,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("valid date")
    }

    fn sample() -> Reading {
        let values = [
            (Quantity::ActivePower, 1207.5),
            (Quantity::EnergyImport, 12_345_678.0),
        ];
        Reading::new(
            Id::new("rathaus").expect("id"),
            Id::new("main").expect("id"),
            now(),
            values,
        )
    }

    #[test]
    fn round_trips_through_json() {
        let r = sample();
        let json = r.to_json();
        let text = String::from_utf8(json.clone()).expect("utf8");
        assert!(text.contains("\"ts\":\"2026-11-21T10:00:00Z\""), "{text}");
        assert!(
            text.contains(r#""values":{"active_power":1207.5,"energy_import":12345678.0}"#),
            "{text}"
        );
        assert_eq!(Reading::from_json(&json, now(), TimeWindow::default()), Ok(r));
    }

    #[test]
    fn rejections_name_their_reason() {
        let w = TimeWindow::default();
        let cases: [(&str, &str); 7] = [
            ("not json", "malformed"),
            (
                r#"{"v":1,"site":"a","device":"b","ts":"2026-11-21T10:00:00Z","values":{"active_power":"1"}}"#,
                "malformed",
            ),
            (
                r#"{"v":1,"site":"a","device":"b","ts":"2026-11-21T10:00:00Z","values":{"watts":1}}"#,
                "malformed",
            ),
            (
                r#"{"v":1,"site":"A","device":"b","ts":"2026-11-21T10:00:00Z","values":{"active_power":1}}"#,
                "malformed",
            ),
            (
                r#"{"v":2,"site":"a","device":"b","ts":"2026-11-21T10:00:00Z","values":{"active_power":1}}"#,
                "version",
            ),
            (
                r#"{"v":1,"site":"a","device":"b","ts":"2026-11-21T10:00:00Z","values":{}}"#,
                "empty",
            ),
            (
                r#"{"v":1,"site":"a","device":"b","ts":"1971-01-01T00:00:00Z","values":{"active_power":1}}"#,
                "timestamp",
            ),
        ];
        for (input, reason) in cases {
            let err = Reading::from_json(input.as_bytes(), now(), w).expect_err(input);
            assert_eq!(err.reason(), reason, "{input}: {err}");
        }
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let mut r = sample();
        r.values.insert(Quantity::VoltageL1, f64::NAN);
        assert_eq!(
            r.validate(now(), TimeWindow::default()),
            Err(ReadingError::NotFinite(Quantity::VoltageL1))
        );
    }

    #[test]
    fn future_timestamps_beyond_skew_are_rejected() {
        let mut r = sample();
        r.ts = now() + TimeDelta::minutes(6);
        assert_eq!(
            r.validate(now(), TimeWindow::default()).map_err(|e| e.reason()),
            Err("timestamp")
        );
        r.ts = now() + TimeDelta::minutes(4);
        assert!(r.validate(now(), TimeWindow::default()).is_ok());
    }
}
