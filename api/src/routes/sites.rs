//! Sites the caller may see, and the live values of all devices of a site in one call.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use serde::Serialize;
use zw_model::{Id, SiteKind};

use crate::AppState;
use crate::auth::Caller;
use crate::device_health::{self, SiteHealth};
use crate::error::ApiError;
use crate::json::FastJson;
use crate::routes::devices::{DeviceInfo, Live, info, live_view};

/// A site with its devices.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SiteInfo {
    /// Site id.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Building, household or park.
    #[schema(value_type = String)]
    pub kind: SiteKind,
    /// Overall health and devices per state.
    pub health: SiteHealth,
    /// The site's devices.
    pub devices: Vec<DeviceInfo>,
}

/// Live values of every device of a site.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SiteLive {
    /// Site id.
    pub site: String,
    /// One entry per device, in inventory order.
    pub devices: Vec<Live>,
}

/// Sites the caller may see.
#[utoipa::path(get, path = "/api/v1/sites", tag = "sites", security(("bearer" = [])),
    responses((status = 200, body = [SiteInfo]), (status = 401, body = crate::error::Problem)))]
pub async fn list(State(state): State<Arc<AppState>>, Caller(user): Caller) -> Json<Vec<SiteInfo>> {
    let now = Utc::now();
    let sites = state.inventory.sites.iter().filter(|s| user.sees(s));
    Json(
        sites
            .map(|s| {
                let devices: Vec<DeviceInfo> = s.devices.iter().map(|d| info(&state, s, d, now)).collect();
                SiteInfo {
                    id: s.id.to_string(),
                    name: s.name.clone(),
                    kind: s.kind,
                    health: device_health::site(devices.iter().map(|d| d.health.state)),
                    devices,
                }
            })
            .collect(),
    )
}

/// Live values of all devices of a site.
#[utoipa::path(get, path = "/api/v1/sites/{id}/live", tag = "sites", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = SiteLive), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn live(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<FastJson<SiteLive>, ApiError> {
    let id = Id::new(id).map_err(|e| ApiError::BadRequest(format!("invalid site id: {e}")))?;
    let site = state
        .inventory
        .site(id.as_str())
        .filter(|s| user.sees(s))
        .ok_or_else(|| ApiError::NotFound(format!("site {id}")))?;
    let now = Utc::now();
    Ok(FastJson(
        SiteLive {
            site: site.id.to_string(),
            devices: site
                .devices
                .iter()
                .map(|d| live_view(&state, site, d, now))
                .collect(),
        },
        2048 * site.devices.len().max(1),
    ))
}
