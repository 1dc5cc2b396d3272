//! Devices: list, create, read, change (or move to another site), retire. A device is written as in the
//! TOML inventory (`{"id":…, "name":…, "class":…, "source":{"type":…, …}}`) with its `site`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use zw_model::Device;
use zw_store::{DeviceRecord, Stored};

use super::sites::checked_id;
use super::{Admin, AdminError, Body, Lifecycle, ListParams, applied};
use crate::AppState;
use crate::extract::ApiQuery;

/// A device with its site, as the admin API reads and writes it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceInput {
    /// The site the device belongs to.
    pub site: String,
    /// Globally unique device id; in a change it may be left out (the path names it).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Device class (`main_meter`, `plug`, `heat_pump`, `heat_meter`, `water_meter`, `soil_sensor`, …).
    pub class: String,
    /// How the gateway reads it, as in the TOML inventory: `{"type":"modbus","endpoint":…,"profile":…}`,
    /// `{"type":"mbus","endpoint":…,"secondary":…}`, `{"type":"wmbus","manufacturer":…,"id":…}`, ….
    #[schema(value_type = Object)]
    pub source: Value,
}

/// A stored device.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// The device.
    #[serde(flatten)]
    pub device: DeviceInput,
    /// Its lifecycle.
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
}

impl From<&Stored<DeviceRecord>> for DeviceView {
    fn from(s: &Stored<DeviceRecord>) -> Self {
        let d = &s.value.device;
        Self {
            device: DeviceInput {
                site: s.value.site.to_string(),
                id: d.id.to_string(),
                name: d.name.clone(),
                class: d.class.clone(),
                source: serde_json::to_value(&d.source).unwrap_or(Value::Null),
            },
            lifecycle: s.into(),
        }
    }
}

/// The record of a device body (an object with `site` and the device's own fields) as `id` (the path's,
/// or the body's); every problem found is a 422.
pub(crate) fn record(body: Value, path_id: Option<&str>) -> Result<DeviceRecord, AdminError> {
    let Value::Object(mut fields) = body else {
        return Err(AdminError::Invalid(vec!["device: must be a JSON object".into()]));
    };
    let site = match fields.remove("site") {
        Some(Value::String(s)) => checked_id("device.site", None, Some(&s)),
        Some(_) => Err(AdminError::Invalid(vec!["device.site: must be a string".into()])),
        None => Err(AdminError::Invalid(vec!["device.site: missing".into()])),
    };
    let body_id = fields.get("id").and_then(Value::as_str).map(str::to_owned);
    let id = checked_id("device.id", path_id, body_id.as_deref());
    if let Ok(id) = &id {
        fields.insert("id".into(), Value::String(id.to_string()));
    }
    let device = serde_json::from_value::<Device>(Value::Object(fields))
        .map_err(|e| AdminError::Invalid(vec![format!("device: {e}")]));
    match (site, id, device) {
        (Ok(site), Ok(_), Ok(device)) => Ok(DeviceRecord { site, device }),
        (site, id, device) => Err(AdminError::Invalid(
            [site.err(), id.err(), device.err()]
                .into_iter()
                .flatten()
                .flat_map(|e| match e {
                    AdminError::Invalid(errors) => errors,
                    _ => Vec::new(),
                })
                .collect(),
        )),
    }
}

/// Every device, in inventory order within each site.
#[utoipa::path(get, path = "/api/v1/admin/devices", tag = "admin", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = [DeviceView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    admin: Admin,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<DeviceView>>, AdminError> {
    let devices = admin.store.devices(p.retired).await?;
    Ok(Json(devices.iter().map(DeviceView::from).collect()))
}

/// One device, live or retired.
#[utoipa::path(get, path = "/api/v1/admin/devices/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = DeviceView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn one(admin: Admin, Path(id): Path<String>) -> Result<Json<DeviceView>, AdminError> {
    view(&admin, &id).await
}

async fn view(admin: &Admin, id: &str) -> Result<Json<DeviceView>, AdminError> {
    let device = admin
        .store
        .device(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("device {id:?}")))?;
    Ok(Json(DeviceView::from(&device)))
}

/// Creates a device at a site.
#[utoipa::path(post, path = "/api/v1/admin/devices", tag = "admin", security(("bearer" = [])),
    request_body = DeviceInput,
    responses((status = 201, body = DeviceView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<DeviceView>), AdminError> {
    let rec = record(body, None)?;
    if admin.store.device(rec.device.id.as_str()).await?.is_some() {
        return Err(AdminError::Conflict(format!(
            "device {:?}",
            rec.device.id.as_str()
        )));
    }
    Ok((StatusCode::CREATED, put(&state, &admin, rec).await?))
}

/// Changes a device, moves it to another site, or brings a retired one back.
#[utoipa::path(put, path = "/api/v1/admin/devices/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")), request_body = DeviceInput,
    responses((status = 200, body = DeviceView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn change(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> Result<Json<DeviceView>, AdminError> {
    if admin.store.device(&id).await?.is_none() {
        return Err(AdminError::NotFound(format!("device {id:?}")));
    }
    put(&state, &admin, record(body, Some(&id))?).await
}

async fn put(state: &AppState, admin: &Admin, rec: DeviceRecord) -> Result<Json<DeviceView>, AdminError> {
    let now = Utc::now();
    admin.store.put_device(admin.stamp(now), &rec).await?;
    applied(state, &admin.store, admin.user.name.as_str(), now).await?;
    view(admin, rec.device.id.as_str()).await
}

/// Retires a device; refused (422) while a tree names it as its sensor.
#[utoipa::path(delete, path = "/api/v1/admin/devices/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, description = "The retired device", body = DeviceView),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = super::InvalidProblem)))]
pub async fn retire(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, AdminError> {
    let now = Utc::now();
    admin.store.retire_device(admin.stamp(now), &id).await?;
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    view(&admin, &id).await
}
