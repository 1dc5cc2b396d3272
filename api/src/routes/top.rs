//! The top consumers of a site over the requested periods, with their share of the site's energy.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::energy::{EnergyParams, Ranked, quantity, site_meters, site_range, visible_site};

/// One device's consumption in the range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consumer {
    /// Device id.
    pub device: String,
    /// Device class.
    pub class: String,
    /// Energy imported in the range, Wh; null when unknown.
    pub wh: Option<f64>,
    /// The range is fully covered by data (a running period: up to the latest readings).
    pub complete: bool,
    /// Share of the site's energy (0–1); null when either is unknown.
    pub share: Option<f64>,
}

/// Top consumers of a site.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TopConsumers {
    /// Site id.
    pub site: String,
    /// The site's energy in the range (main meters, or all devices), Wh.
    pub site_wh: Option<f64>,
    /// Devices by consumption, largest first; unknown last. Main meters are not listed.
    pub consumers: Vec<Consumer>,
}

/// Devices of a site ranked by energy over the periods requested (current periods only).
#[utoipa::path(get, path = "/api/v1/sites/{id}/top", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), EnergyParams),
    responses((status = 200, body = TopConsumers), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn top(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<EnergyParams>,
) -> Result<Json<TopConsumers>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    // Consumers are ranked by the electricity they import; anything else asked for is an error, not ignored.
    let medium = p.medium.unwrap_or(zw_model::report::Medium::Electricity);
    if quantity(medium, p.direction.as_deref())?.1 != "import"
        || medium != zw_model::report::Medium::Electricity
    {
        return Err(ApiError::BadRequest(
            "top consumers are ranked by imported electricity only: medium=electricity, direction=import"
                .into(),
        ));
    }
    let r = site_range(&state, &p, &user)?;
    let total = Ranked::total(&state, (&site.id, &site_meters(site)), &r).await?;
    let mut consumers = Vec::new();
    for dev in site.devices.iter().filter(|d| d.class != "main_meter") {
        let t = Ranked::total(&state, (&site.id, &[dev]), &r).await?;
        let share = match (t.wh, total.wh) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        consumers.push(Consumer {
            device: dev.id.to_string(),
            class: dev.class.clone(),
            wh: t.wh,
            complete: t.complete,
            share,
        });
    }
    consumers.sort_by(|a, b| {
        b.wh.unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.wh.unwrap_or(f64::NEG_INFINITY))
    });
    Ok(Json(TopConsumers {
        site: site.id.to_string(),
        site_wh: total.wh,
        consumers,
    }))
}
