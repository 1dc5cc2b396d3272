//! The town ranking: every building in the caller's scope by its energy over the requested periods, with kWh
//! per m² of floor area where the site's `floor_area_m2` (or, as a fallback, `api.floor_area_m2`) names it. Each building's energy is its energy report's
//! total (main meters, or all devices; exact, complete-flagged, the running period up to the latest
//! readings), read from the rollups where they answer, several buildings at a time.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::{BoxFuture, FutureExt as _};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use zw_model::{Quantity, Site, SiteKind, User};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::{Compare, Period};
use crate::routes::energy::{EnergyParams, intervals, site_meters, site_range};

/// Buildings read at the same time.
const CONCURRENCY: usize = 8;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RankingParams {
    /// `day`, `week`, `month` or `year`; default `month`.
    pub period: Option<Period>,
    /// Number of periods summed (default 1; at most 366).
    #[param(minimum = 1, maximum = 366)]
    pub count: Option<u32>,
    /// A local date in the last period (default today).
    pub until: Option<NaiveDate>,
    /// `energy_import` (default) or `energy_export`.
    #[param(pattern = "^(energy_import|energy_export)$")]
    pub quantity: Option<String>,
    /// Order by `wh` (default) or `wh_per_m2` (buildings without a floor area last).
    #[param(pattern = "^(wh|wh_per_m2)$")]
    pub by: Option<String>,
}

/// One building's place.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RankedSite {
    /// 1 for the largest; null when its energy (or, ordered by `wh_per_m2`, its floor area) is unknown.
    pub rank: Option<u32>,
    /// Site id.
    pub site: String,
    /// Site name.
    pub name: String,
    /// Energy over the periods, Wh; null when unknown.
    pub wh: Option<f64>,
    /// No gap, reset or missing data in the periods (a running one: up to the latest readings).
    pub complete: bool,
    /// Floor area (the site's `floor_area_m2`, else `api.floor_area_m2`), m²; null when not configured.
    pub floor_area_m2: Option<f64>,
    /// `wh / 1000 / floor_area_m2`; null when either is unknown.
    pub kwh_per_m2: Option<f64>,
}

/// The ranking.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ranking {
    /// Granularity of the periods summed.
    pub period: Period,
    /// First local date of the first period.
    pub start: NaiveDate,
    /// `energy_import` or `energy_export`.
    pub quantity: String,
    /// What the buildings are ordered by: `wh` or `wh_per_m2`.
    pub by: String,
    /// Buildings, largest first, unknown last.
    pub sites: Vec<RankedSite>,
}

/// A building's energy (Wh) and whether it is complete.
type Total = (Option<f64>, bool);

/// A building's energy over `[edges[0], edges[1])` and whether it is complete.
async fn total(
    state: &AppState,
    user: &User,
    site: &Site,
    q: Quantity,
    edges: &[DateTime<Utc>; 2],
) -> Result<Total, ApiError> {
    let meters = site_meters(site);
    let b = intervals(state, (&site.id, &meters), q, edges, user).await?;
    Ok(b.first().map_or((None, false), |b| (b.wh, b.complete)))
}

/// Every building in the caller's scope ranked by energy (or kWh per m²) over the requested periods.
#[utoipa::path(get, path = "/api/v1/ranking", tag = "energy", security(("bearer" = [])),
    params(RankingParams),
    responses((status = 200, body = Ranking), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn ranking(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<RankingParams>,
) -> Result<Json<Ranking>, ApiError> {
    let q = match p.quantity.as_deref().unwrap_or("energy_import") {
        "energy_import" => Quantity::EnergyImport,
        "energy_export" => Quantity::EnergyExport,
        other => {
            return Err(ApiError::BadRequest(format!(
                "quantity must be energy_import or energy_export, got {other:?}"
            )));
        }
    };
    let by = p.by.as_deref().unwrap_or("wh");
    if !matches!(by, "wh" | "wh_per_m2") {
        return Err(ApiError::BadRequest(format!(
            "by must be wh or wh_per_m2, got {by:?}"
        )));
    }
    let period = p.period.unwrap_or(Period::Month);
    let params = EnergyParams {
        period,
        count: Some(p.count.unwrap_or(1)),
        until: p.until,
        direction: None,
        medium: None,
        compare: Compare::Previous,
        cost: None,
    };
    let r = site_range(&state, &params, &user)?;
    let (start, edges) = r.span();
    let sites: Vec<_> = state
        .inventory
        .sites
        .iter()
        .filter(|s| s.kind == SiteKind::Building && user.sees(s))
        .collect();
    // Boxed first: a stream mapping sites to futures that borrow them is not `Send` for every lifetime.
    let reads: Vec<BoxFuture<'_, Result<Total, ApiError>>> = sites
        .iter()
        .map(|site| total(&state, &user, site, q, &edges).boxed())
        .collect();
    let totals: Vec<Total> = futures_util::stream::iter(reads)
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut ranked: Vec<RankedSite> = sites
        .iter()
        .zip(totals)
        .map(|(site, (wh, complete))| {
            let area = site
                .floor_area_m2
                .or_else(|| state.config.floor_area_m2.get(site.id.as_str()).copied());
            RankedSite {
                rank: None,
                site: site.id.to_string(),
                name: site.name.clone(),
                wh,
                complete,
                floor_area_m2: area,
                kwh_per_m2: wh.zip(area).map(|(w, a)| w / 1000.0 / a),
            }
        })
        .collect();
    let key = |s: &RankedSite| if by == "wh" { s.wh } else { s.kwh_per_m2 };
    ranked.sort_by(|a, b| {
        key(b)
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&key(a).unwrap_or(f64::NEG_INFINITY))
            .then_with(|| a.site.cmp(&b.site))
    });
    let mut n = 0;
    for s in &mut ranked {
        if key(s).is_some() {
            n += 1;
            s.rank = Some(n);
        }
    }
    Ok(Json(Ranking {
        period,
        start,
        quantity: q.name().to_string(),
        by: by.to_string(),
        sites: ranked,
    }))
}
