//! Alerts: what analytics found, about whom, since when, and why.
//!
//! Analytics publishes every alert retained on `zw/v1/alerts/{id}` ([`crate::topic::alert`]) as the JSON form of
//! [`Alert`]; an empty retained payload removes it. The API and dashboards read them from there; the API
//! acknowledges one by publishing an [`AckCommand`] on `zw/v1/commands/alerts/ack`.
//!
//! ```json
//! {"v":1,"id":"high_consumption.rathaus.rathaus-main","kind":"high_consumption","category":"energy",
//!  "site":"rathaus","subject":{"device":"rathaus-main"},"state":"open","severity":"warning",
//!  "opened_at":"2026-05-12T00:45:00Z","updated_at":"2026-05-12T01:30:00Z",
//!  "explanation":{"observed":4300.0,"expected":1100.0,"threshold":1900.0,"unit":"W",
//!   "baseline":"learned normal for Tuesday 02:00","since":"2026-05-12T00:45:00Z",
//!   "text":"4.3 kW, 3.2 kW above the usual 1.1 kW for Tuesday 02:00, for 45 min"}}
//! ```
//!
//! Guarantees: an alert's [`AlertId`] is a pure function of kind, site and subject ([`AlertId::of`]), so the
//! same problem always maps to the same alert (deduplication) and the id is safe in topics and URLs.
//! `acknowledged_*` and `resolved_at` are absent until they happen.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Id;

/// Schema version of [`Alert`] and [`AckCommand`].
pub const ALERT_SCHEMA_VERSION: u32 = 1;

/// What kind of problem an alert reports. The serialised name is part of the [`AlertId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A device or site draws more than its static limit or its learned normal.
    HighConsumption,
    /// A building's night or weekend baseload is above its normal.
    Baseload,
    /// A device (e.g. a plug) draws power outside usage hours.
    LeftOn,
    /// A tree needs water (critical soil state, or forecast to be critical soon).
    TreeWater,
    /// A sensor is broken: stuck, silent, low battery or impossible values.
    SensorFault,
    /// A site's year-end forecast exceeds its yearly budget (`[[budgets]]`).
    Budget,
    /// A running quarter hour is forecast to set a new peak of the billing year (demand charge).
    Peak,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: &'static [AlertKind] = &[
        AlertKind::HighConsumption,
        AlertKind::Baseload,
        AlertKind::LeftOn,
        AlertKind::TreeWater,
        AlertKind::SensorFault,
        AlertKind::Budget,
        AlertKind::Peak,
    ];

    /// The serialised name (`high_consumption`, …).
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::HighConsumption => "high_consumption",
            AlertKind::Baseload => "baseload",
            AlertKind::LeftOn => "left_on",
            AlertKind::TreeWater => "tree_water",
            AlertKind::SensorFault => "sensor_fault",
            AlertKind::Budget => "budget",
            AlertKind::Peak => "peak",
        }
    }

    /// Who acts on this kind.
    pub fn category(self) -> Category {
        match self {
            AlertKind::HighConsumption
            | AlertKind::Baseload
            | AlertKind::LeftOn
            | AlertKind::Budget
            | AlertKind::Peak => Category::Energy,
            AlertKind::TreeWater => Category::Watering,
            AlertKind::SensorFault => Category::Maintenance,
        }
    }
}

/// Who acts on an alert: facility managers (energy), the parks department (watering), technicians
/// (maintenance). Watering and maintenance alerts are kept apart: a broken sensor never asks for water.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Energy use.
    Energy,
    /// Trees that need water.
    Watering,
    /// Broken or silent sensors.
    Maintenance,
}

impl Category {
    /// The serialised name (`energy`, `watering`, `maintenance`).
    pub fn name(self) -> &'static str {
        match self {
            Category::Energy => "energy",
            Category::Watering => "watering",
            Category::Maintenance => "maintenance",
        }
    }
}

/// Lifecycle: `open` → `acknowledged` (a person saw it) → `resolved` (the condition ended). A resolved alert
/// whose condition returns opens again under the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds and nobody acknowledged it yet.
    Open,
    /// The condition holds and a person acknowledged it.
    Acknowledged,
    /// The condition ended.
    Resolved,
}

impl AlertState {
    /// The serialised name (`open`, `acknowledged`, `resolved`).
    pub fn name(self) -> &'static str {
        match self {
            AlertState::Open => "open",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }
}

/// How bad it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look.
    Info,
    /// Needs action soon.
    Warning,
    /// Needs action now.
    Critical,
}

impl Severity {
    /// The serialised name (`info`, `warning`, `critical`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What an alert is about, below its site. Both absent: the whole site.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The device (meter, plug, sensor), if the alert is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<Id>,
    /// The tree, if the alert is about one (a sensor fault names both the sensor and its tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree: Option<Id>,
}

/// Why the alert exists, in numbers and in words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Explanation {
    /// The observed value (e.g. smoothed power, tension, days without data).
    pub observed: f64,
    /// The usual or expected value it was compared with (the learned median, the limit, the band edge).
    pub expected: f64,
    /// The value beyond which the condition holds.
    pub threshold: f64,
    /// Unit of the three numbers (`W`, `kPa`, `%`, `V`, `h`).
    pub unit: String,
    /// What the expected value is: "learned normal for Tuesday 02:00", "limit for class plug", ….
    pub baseline: String,
    /// Since when the condition holds.
    pub since: DateTime<Utc>,
    /// One sentence for people, e.g. "4.3 kW, 3.2 kW above the usual 1.1 kW for Tuesday 02:00, for 45 min".
    pub text: String,
}

/// An alert as published retained on `zw/v1/alerts/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// Schema version, [`ALERT_SCHEMA_VERSION`].
    pub v: u32,
    /// Stable id: kind + site + subject, see [`AlertId::of`].
    pub id: AlertId,
    /// What kind of problem.
    pub kind: AlertKind,
    /// Who acts on it (derived from `kind`).
    pub category: Category,
    /// The site (building, household, park) the alert belongs to; the API filters visibility by it.
    pub site: Id,
    /// Device and/or tree concerned; empty for a whole-site alert.
    pub subject: Subject,
    /// Lifecycle state.
    pub state: AlertState,
    /// How bad.
    pub severity: Severity,
    /// When this occurrence opened.
    pub opened_at: DateTime<Utc>,
    /// Last change of state or explanation.
    pub updated_at: DateTime<Utc>,
    /// When the condition ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who acknowledged it (user name from the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// When it was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Observed vs expected, baseline, since when.
    pub explanation: Explanation,
}

impl Alert {
    /// Parses a retained alert payload; `Ok(None)` for the empty payload that clears an alert.
    pub fn from_json(bytes: &[u8]) -> Result<Option<Alert>, serde_json::Error> {
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(bytes).map(Some)
    }

    /// The wire form.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs of strings, numbers and timestamps cannot fail to serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Whether the condition still holds (open or acknowledged).
    pub fn is_active(&self) -> bool {
        self.state != AlertState::Resolved
    }
}

/// Longest alert id, in bytes.
pub const MAX_ALERT_ID_LEN: usize = 160;

/// A stable alert id: `{kind}.{site}[.{device or tree}]`, e.g. `left_on.hh-12.hh-12-plug`,
/// `baseload.rathaus`, `tree_water.park-nord.t-0042`, `sensor_fault.park-nord.lse01-7`. The alphabet is that
/// of [`Id`] plus `.`, so it is safe as a topic level and in a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AlertId(String);

impl AlertId {
    /// The id of the alert of `kind` about `subject` at `site`. A device wins over a tree (sensor faults are
    /// per sensor); trees and devices never share a kind, so they cannot collide.
    pub fn of(kind: AlertKind, site: &Id, subject: &Subject) -> AlertId {
        match subject.device.as_ref().or(subject.tree.as_ref()) {
            Some(s) => AlertId(format!("{}.{site}.{s}", kind.name())),
            None => AlertId(format!("{}.{site}", kind.name())),
        }
    }

    /// Validates an id received from outside (topic, command).
    pub fn parse(s: &str) -> Option<AlertId> {
        let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.');
        (!s.is_empty() && s.len() <= MAX_ALERT_ID_LEN && s.bytes().all(ok)).then(|| AlertId(s.to_string()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AlertId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AlertId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        AlertId::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid alert id {s:?}")))
    }
}

/// The acknowledge command the API publishes on `zw/v1/commands/alerts/ack` (QoS 1, not retained):
/// `{"alert":"left_on.hh-12.hh-12-plug","by":"fm","ts":"2026-05-12T07:58:00Z"}`.
/// Acknowledging an unknown or resolved alert does nothing; acknowledging twice keeps the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckCommand {
    /// The alert to acknowledge.
    pub alert: AlertId,
    /// The user name of whoever acknowledged it.
    pub by: Id,
    /// When they did.
    pub ts: DateTime<Utc>,
}

#[cfg(test)]
mod tests;
