//! Device and site health as the API shows it, including when the information is too old to trust.
//!
//! * A device polled by a gateway has the gateway's retained status ([`DeviceStatus`]): `online`,
//!   `degraded` or `offline`. When that status is older than two of its refresh periods the gateway itself
//!   is gone, so the API answers `stale` (the last reported state stays visible as `reported_state`).
//! * A device nobody polls (MQTT plugs, LoRaWAN sensors) has no status; its health comes from its last
//!   reading: `online` while that is younger than `api.device_stale_after`, `stale` after.
//! * `unknown`: neither a status nor a reading arrived since the API started.
//!
//! A site's health summarises its devices: `online` if all are, `unknown`/`stale` if none is reporting at
//! all, `offline` if none works but some say so, `degraded` otherwise.

use chrono::{DateTime, Utc};
use serde::Serialize;
use zw_model::Device;
use zw_model::status::{DeviceStatus, HealthState};

use crate::AppState;

/// The health state the API reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthView {
    /// Working, and the information is current.
    Online,
    /// Partly working, or failing for a short while.
    Degraded,
    /// Not reachable.
    Offline,
    /// The last status or reading is too old: the device or its gateway stopped reporting.
    Stale,
    /// Nothing arrived yet.
    #[default]
    Unknown,
}

impl From<HealthState> for HealthView {
    fn from(s: HealthState) -> Self {
        match s {
            HealthState::Online => HealthView::Online,
            HealthState::Degraded => HealthView::Degraded,
            HealthState::Offline => HealthView::Offline,
        }
    }
}

/// The most recent failure of a device.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErrorView {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// `timeout`, `transport`, `exception` or `decode`.
    pub kind: String,
    /// What went wrong.
    pub message: String,
}

/// Health of one device.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeviceHealth {
    /// The state to show: `stale` and `unknown` override what was last reported.
    pub state: HealthView,
    /// The state the gateway last reported, even if stale; null for devices no gateway polls.
    pub reported_state: Option<HealthView>,
    /// Since when the device has been in `reported_state`.
    pub since: Option<DateTime<Utc>>,
    /// When the gateway produced its last status.
    pub updated: Option<DateTime<Utc>>,
    /// Last sign of life: the newer of the gateway's last successful poll and the last reading received.
    pub last_seen: Option<DateTime<Utc>>,
    /// Seconds since `last_seen`.
    pub last_seen_age_seconds: Option<f64>,
    /// The most recent failure the gateway reported.
    pub last_error: Option<ErrorView>,
    /// Failed polls in a row.
    pub consecutive_failures: Option<u32>,
}

/// Health of a site: an overall state and how many devices are in each.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SiteHealth {
    /// Overall state (see the module documentation); `unknown` for a site without devices.
    pub state: HealthView,
    /// Devices online.
    pub online: u32,
    /// Devices degraded.
    pub degraded: u32,
    /// Devices offline.
    pub offline: u32,
    /// Devices whose information is too old.
    pub stale: u32,
    /// Devices nothing is known about yet.
    pub unknown: u32,
}

/// The state only: the cheap part of [`device`], for the live view.
pub fn state(state: &AppState, dev: &Device, now: DateTime<Utc>) -> HealthView {
    let status = state
        .views
        .status
        .read()
        .ok()
        .and_then(|m| m.get(dev.id.as_str()).map(|s| (s.state, s.is_stale(now))));
    match status {
        Some((_, true)) => HealthView::Stale,
        Some((s, false)) => s.into(),
        None => from_reading(state, dev, now),
    }
}

fn from_reading(state: &AppState, dev: &Device, now: DateTime<Utc>) -> HealthView {
    match state.live.last_seen(dev.id.as_str()) {
        None => HealthView::Unknown,
        Some(ts) if too_old(state, ts, now) => HealthView::Stale,
        Some(_) => HealthView::Online,
    }
}

fn too_old(state: &AppState, ts: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (now - ts)
        .to_std()
        .is_ok_and(|age| age > state.config.device_stale_after)
}

/// The full health of `dev` at `now`.
pub fn device(state: &AppState, dev: &Device, now: DateTime<Utc>) -> DeviceHealth {
    let status: Option<DeviceStatus> = state
        .views
        .status
        .read()
        .ok()
        .and_then(|m| m.get(dev.id.as_str()).cloned());
    let reading = state.live.last_seen(dev.id.as_str());
    let last_seen = match (status.as_ref().and_then(|s| s.last_success), reading) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let shown = match &status {
        Some(s) if s.is_stale(now) => HealthView::Stale,
        Some(s) => s.state.into(),
        None => from_reading(state, dev, now),
    };
    DeviceHealth {
        state: shown,
        reported_state: status.as_ref().map(|s| s.state.into()),
        since: status.as_ref().map(|s| s.since),
        updated: status.as_ref().map(|s| s.updated),
        last_seen,
        last_seen_age_seconds: last_seen.map(|t| (now - t).num_milliseconds() as f64 / 1000.0),
        last_error: status
            .as_ref()
            .and_then(|s| s.last_error.as_ref())
            .map(|e| ErrorView {
                at: e.at,
                kind: serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                message: e.message.clone(),
            }),
        consecutive_failures: status.as_ref().map(|s| s.consecutive_failures),
    }
}

/// Summarises device states into a site's health.
pub fn site<I: IntoIterator<Item = HealthView>>(states: I) -> SiteHealth {
    let mut h = SiteHealth::default();
    for s in states {
        *match s {
            HealthView::Online => &mut h.online,
            HealthView::Degraded => &mut h.degraded,
            HealthView::Offline => &mut h.offline,
            HealthView::Stale => &mut h.stale,
            HealthView::Unknown => &mut h.unknown,
        } += 1;
    }
    let total = h.online + h.degraded + h.offline + h.stale + h.unknown;
    h.state = if total == 0 {
        HealthView::Unknown
    } else if h.online == total {
        HealthView::Online
    } else if h.online + h.degraded > 0 {
        HealthView::Degraded
    } else if h.offline > 0 {
        HealthView::Offline
    } else if h.stale > 0 {
        HealthView::Stale
    } else {
        HealthView::Unknown
    };
    h
}

#[cfg(test)]
mod tests {
    use super::HealthView::*;
    use super::*;

    #[test]
    fn site_state_summarises_devices() {
        assert_eq!(site([Online, Online]).state, Online);
        assert_eq!(site([Online, Stale]).state, Degraded);
        assert_eq!(site([Offline, Stale, Unknown]).state, Offline);
        assert_eq!(site([Stale, Unknown]).state, Stale);
        assert_eq!(site([Unknown]).state, Unknown);
        assert_eq!(site([]).state, Unknown);
        let h = site([Online, Degraded, Stale, Stale]);
        assert_eq!((h.online, h.degraded, h.stale), (1, 1, 2));
    }
}
