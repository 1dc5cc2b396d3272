//! Device health as published by the gateway: is each polled device working, and since when?
//!
//! Wire form (schema version 1), retained on [`crate::topic::device_status`]
//! (`zw/v1/status/device/{device}`), published when the state or the error changes and refreshed every
//! `refresh_seconds` otherwise:
//!
//! ```json
//! {"v":1,"site":"rathaus","device":"rathaus-main","gateway":"gw1","source":"modbus","state":"degraded",
//!  "since":"2026-11-21T10:00:00Z","updated":"2026-11-21T10:00:05Z","refresh_seconds":60,
//!  "last_success":"2026-11-21T10:00:05Z",
//!  "last_error":{"at":"2026-11-21T10:00:04Z","kind":"exception","message":"illegal data address"},
//!  "consecutive_failures":0,"polls_ok":120,"polls_failed":3,"last_seen":"2026-11-21T10:00:05Z"}
//! ```
//!
//! * `state`: `online` (the last poll delivered every value), `degraded` (values missing from the last poll,
//!   or fewer than the gateway's offline threshold of failed polls in a row), `offline` (that many failed
//!   polls in a row, or never reached).
//! * `updated` + `refresh_seconds`: a consumer treats a status whose `updated` is older than two refresh
//!   periods as stale (the gateway itself is gone), not as the device's state.
//! * `last_seen`: when the device was last heard of at all: any answer to a poll (also an exception), any
//!   accepted device MQTT message (values, signs of life, `online`/LWT) and any rejected one. Absent until
//!   the first, and in statuses from gateways older than this field.
//! * `last_error.kind`: `timeout`, `transport` (connection refused, reset, serial error), `exception` (the
//!   device answered with a Modbus exception), `decode` (a value did not decode and was dropped).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Id;

/// The status schema version.
pub const STATUS_VERSION: u32 = 1;

/// Coarse health of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// The last poll delivered every value.
    Online,
    /// Partly working, or failing for a short while.
    Degraded,
    /// Not reachable.
    Offline,
}

impl HealthState {
    /// The state's wire name, also a metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Online => "online",
            HealthState::Degraded => "degraded",
            HealthState::Offline => "offline",
        }
    }
}

/// What kind of failure a device last had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No answer within the request timeout.
    Timeout,
    /// The connection or serial port failed (refused, reset, cannot open).
    Transport,
    /// The device answered with a Modbus exception.
    Exception,
    /// A value did not decode (short response, NaN) and was dropped.
    Decode,
}

/// The most recent failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LastError {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Its kind.
    pub kind: ErrorKind,
    /// A human-readable description (never contains credentials).
    pub message: String,
}

/// A device's health, as published retained on the status topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceStatus {
    /// Schema version, [`STATUS_VERSION`].
    pub v: u32,
    /// The device's site.
    pub site: Id,
    /// The device.
    pub device: Id,
    /// The gateway instance polling it.
    pub gateway: String,
    /// How it is read (`modbus`).
    pub source: String,
    /// The coarse state.
    pub state: HealthState,
    /// Since when the device has been in `state`.
    pub since: DateTime<Utc>,
    /// When this status was produced.
    pub updated: DateTime<Utc>,
    /// How often an unchanged status is republished; older than twice this means stale.
    pub refresh_seconds: u64,
    /// The last poll that delivered at least one value.
    pub last_success: Option<DateTime<Utc>>,
    /// The most recent failure, if any since the gateway started.
    pub last_error: Option<LastError>,
    /// Failed polls in a row (0 after a success).
    pub consecutive_failures: u32,
    /// Polls that delivered values since the gateway started.
    pub polls_ok: u64,
    /// Polls that delivered nothing since the gateway started.
    pub polls_failed: u64,
    /// When the device was last heard of (any answer or message, see the module docs); `None` before that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}

impl DeviceStatus {
    /// Serialises to the wire form.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs, strings and timestamps cannot fail to serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses the wire form; rejects other schema versions.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let s: DeviceStatus = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if s.v != STATUS_VERSION {
            return Err(format!("unsupported status version {}", s.v));
        }
        Ok(s)
    }

    /// Whether the status is older than two refresh periods at `now` (the publisher is gone).
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        let limit = i64::try_from(self.refresh_seconds.saturating_mul(2)).unwrap_or(i64::MAX);
        (now - self.updated).num_seconds() > limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("timestamp")
            .with_timezone(&Utc)
    }

    #[test]
    fn round_trips_and_detects_staleness() {
        let s = DeviceStatus {
            v: STATUS_VERSION,
            site: Id::new("rathaus").expect("id"),
            device: Id::new("rathaus-main").expect("id"),
            gateway: "gw1".into(),
            source: "modbus".into(),
            state: HealthState::Degraded,
            since: at("2026-11-21T10:00:00Z"),
            updated: at("2026-11-21T10:00:05Z"),
            refresh_seconds: 60,
            last_success: Some(at("2026-11-21T10:00:05Z")),
            last_error: Some(LastError {
                at: at("2026-11-21T10:00:04Z"),
                kind: ErrorKind::Exception,
                message: "illegal data address".into(),
            }),
            consecutive_failures: 0,
            polls_ok: 1,
            polls_failed: 0,
            last_seen: Some(at("2026-11-21T10:00:05Z")),
        };
        let json = String::from_utf8(s.to_json()).expect("utf8");
        assert!(json.contains("\"state\":\"degraded\""), "{json}");
        assert!(json.contains("\"kind\":\"exception\""), "{json}");
        assert_eq!(DeviceStatus::from_json(json.as_bytes()), Ok(s.clone()));
        assert!(!s.is_stale(at("2026-11-21T10:02:05Z")));
        assert!(s.is_stale(at("2026-11-21T10:02:06Z")));
        assert!(json.contains("\"last_seen\":\"2026-11-21T10:00:05Z\""), "{json}");
        // Statuses of gateways that predate `last_seen` still parse.
        let old = json.replace(",\"last_seen\":\"2026-11-21T10:00:05Z\"", "");
        assert_eq!(
            DeviceStatus::from_json(old.as_bytes()).map(|s| s.last_seen),
            Ok(None)
        );
        let v2 = json.replace("\"v\":1", "\"v\":2");
        assert!(DeviceStatus::from_json(v2.as_bytes()).is_err());
    }
}
