//! What a household's page needs beyond energy and cost (`GET /api/v1/sites/{id}/household`): the year's
//! advance payments (Abschlag, `[[advance_payments]]`) the projected bill is set against, and how often each
//! of its devices is read where the inventory says so (a polled meter's interval; devices that send on their
//! own, such as Tasmota, Shelly or an SML head, have none: the page measures their spacing from the readings).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{Datelike, Utc};
use serde::{Deserialize, Serialize};
use zw_model::DeviceSource;
use zw_model::inventory::advance;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::routes::energy::visible_site;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HouseholdParams {
    /// Calendar year of the advance payments, 2000 to 2100; default this year.
    #[param(minimum = 2000, maximum = 2100)]
    pub year: Option<i32>,
}

/// The year's advance payments.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Advance {
    /// Gross amount of one payment.
    pub gross_per_month: f64,
    /// Payments in the year.
    pub months: u8,
    /// `gross_per_month × months`.
    pub year_gross: f64,
}

/// How often a device is read, as configured.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Resolution {
    /// Device id.
    pub device: String,
    /// How it is read (the source `type`).
    pub source: String,
    /// The configured poll interval in seconds (Modbus, wired M-Bus); null for a device that sends on its
    /// own.
    pub interval_s: Option<u64>,
}

/// A household's advance payments and its devices' resolution.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HouseholdInfo {
    /// Site id.
    pub site: String,
    /// The year of `advance`.
    pub year: i32,
    /// The currency of the amounts (the flat tariff's; a site's `[[tariffs]]` use the same).
    pub currency: String,
    /// The year's advance payments; null when none are configured.
    pub advance: Option<Advance>,
    /// Every device of the site.
    pub devices: Vec<Resolution>,
}

/// A site's advance payments for a year and how often its devices are read.
#[utoipa::path(get, path = "/api/v1/sites/{id}/household", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), HouseholdParams),
    responses((status = 200, body = HouseholdInfo), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<HouseholdParams>,
) -> Result<Json<HouseholdInfo>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let tz = state.config.timezone();
    let year = p.year.unwrap_or_else(|| Utc::now().with_timezone(&tz).year());
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::BadRequest(format!("year {year} is not 2000 to 2100")));
    }
    let advance =
        advance::for_year(&state.inventory.advance_payments, site.id.as_str(), year).map(|a| Advance {
            gross_per_month: a.gross_per_month,
            months: a.months,
            year_gross: a.year_total(),
        });
    let devices = site
        .devices
        .iter()
        .map(|d| Resolution {
            device: d.id.to_string(),
            source: d.source.kind().into(),
            interval_s: match &d.source {
                DeviceSource::Modbus { interval, .. } | DeviceSource::Mbus { interval, .. } => {
                    Some(interval.as_secs().max(1))
                }
                _ => None,
            },
        })
        .collect();
    Ok(Json(HouseholdInfo {
        site: site.id.to_string(),
        year,
        currency: state.config.tariff.currency.clone(),
        advance,
        devices,
    }))
}
