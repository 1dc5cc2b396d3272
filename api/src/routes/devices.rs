//! Devices the caller may see, and their live values.
//!
//! Scope is enforced where data is read: [`visible_device`] is the only way a handler gets at a device, and
//! it answers "not found" both for unknown ids and for ids outside the caller's scope.

use std::sync::Arc;

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use zw_model::{Device, DeviceSource, Id, Site, SiteKind, User};

use crate::AppState;
use crate::auth::Caller;
use crate::device_health::{self, DeviceHealth, HealthView};
use crate::error::ApiError;
use crate::json::FastJson;

/// A device as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceInfo {
    /// Device id.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Device class.
    pub class: String,
    /// Site id.
    pub site: String,
    /// Site kind: building, household or park.
    #[schema(value_type = String)]
    pub site_kind: SiteKind,
    /// How the device is read: the source `type` from the inventory (modbus, tasmota, shelly, ttn, …).
    pub source: String,
    /// Health: online, degraded or offline as the gateway reports it, `stale` when that report (or the last
    /// reading of a device no gateway polls) is too old, `unknown` before anything arrived; with last seen and
    /// last error.
    pub health: DeviceHealth,
}

/// One live value with its unit.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LiveValue {
    /// The value in the canonical unit.
    pub value: f64,
    /// Unit symbol.
    pub unit: &'static str,
    /// When this value was measured (a device may report quantities in separate messages).
    #[serde(serialize_with = "crate::json::ts")]
    pub ts: DateTime<Utc>,
    /// Seconds since `ts`.
    pub age_seconds: f64,
}

/// The latest reading of a device.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Live {
    /// Device id.
    pub device: String,
    /// Site id.
    pub site: String,
    /// Measurement time of the latest reading; null if none arrived since the API started.
    #[serde(serialize_with = "crate::json::ts_opt")]
    pub ts: Option<DateTime<Utc>>,
    /// Seconds since `ts`.
    pub age_seconds: Option<f64>,
    /// Health state of the device (see `DeviceInfo.health`); `stale` means these values are old.
    pub health: HealthView,
    /// Values by canonical quantity; quantities the device did not report are absent.
    pub values: BTreeMap<&'static str, LiveValue>,
}

/// The API view of a device with its health at `now`.
pub fn info(state: &AppState, site: &Site, dev: &Device, now: DateTime<Utc>) -> DeviceInfo {
    DeviceInfo {
        id: dev.id.to_string(),
        name: dev.name.clone(),
        class: dev.class.clone(),
        site: site.id.to_string(),
        site_kind: site.kind,
        source: source_kind(&dev.source),
        health: device_health::device(state, dev, now),
    }
}

/// The inventory's `type` tag of a source, without matching every variant here.
fn source_kind(source: &DeviceSource) -> String {
    serde_json::to_value(source)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Looks up a device the caller may see; unknown and out-of-scope ids are both "not found".
pub fn visible_device<'a>(
    state: &'a AppState,
    user: &User,
    id: &str,
) -> Result<(&'a Site, &'a Device), ApiError> {
    let id = Id::new(id).map_err(|e| ApiError::BadRequest(format!("invalid device id: {e}")))?;
    state
        .inventory
        .device(id.as_str())
        .filter(|(site, _)| user.sees(site))
        .ok_or_else(|| ApiError::NotFound(format!("device {id}")))
}

/// Devices the caller may see.
#[utoipa::path(get, path = "/api/v1/devices", tag = "devices", security(("bearer" = [])),
    responses((status = 200, body = [DeviceInfo]), (status = 401, body = crate::error::Problem)))]
pub async fn list(State(state): State<Arc<AppState>>, Caller(user): Caller) -> Json<Vec<DeviceInfo>> {
    let now = Utc::now();
    let devices = state.inventory.devices().filter(|(s, _)| user.sees(s));
    Json(devices.map(|(s, d)| info(&state, s, d, now)).collect())
}

/// Latest values of a device, with their timestamp and age.
#[utoipa::path(get, path = "/api/v1/devices/{id}/live", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = Live), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn live(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<FastJson<Live>, ApiError> {
    let (site, dev) = visible_device(&state, &user, &id)?;
    Ok(FastJson(live_view(&state, site, dev, Utc::now()), 2048))
}

/// The live view of one device at `now`.
pub fn live_view(state: &AppState, site: &Site, dev: &Device, now: DateTime<Utc>) -> Live {
    let age = |ts: DateTime<Utc>| (now - ts).num_milliseconds() as f64 / 1000.0;
    let (ts, values) = state.live.with(dev.id.as_str(), |live| {
        let Some(l) = live else {
            return (None, BTreeMap::new());
        };
        let values = l
            .values
            .iter()
            .map(|(q, &(v, ts))| {
                let value = LiveValue {
                    value: v,
                    unit: q.unit().symbol(),
                    ts,
                    age_seconds: age(ts),
                };
                (q.name(), value)
            })
            .collect();
        (Some(l.ts), values)
    });
    Live {
        device: dev.id.to_string(),
        site: site.id.to_string(),
        ts,
        age_seconds: ts.map(age),
        health: device_health::state(state, dev, now),
        values,
    }
}
