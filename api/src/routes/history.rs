//! History of one quantity of a device, aggregated per time window, from InfluxDB or VictoriaMetrics
//! ([`zw_influx::read`]).
//!
//! The query selects the device's series *at its inventory site* (site and device tag), so a reading published
//! for the device under another site never shows; and it starts no earlier than the caller's scope
//! ([`zw_model::User::since`], a resident's move-in). The read binds every value (InfluxQL parameters,
//! escaped label values on VictoriaMetrics). The field name and the aggregate
//! come from closed sets ([`Quantity`] and [`Agg`]) and are never taken from the request as text. Windows without data are absent from the answer (`fill(none)`),
//! never reported as 0. The number of windows per request is capped, and so is the range per role
//! ([`crate::bounds`]).

use std::sync::Arc;

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zw_influx::read::{self, Request};
use zw_model::{Quantity, storage};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::{history_range, parse_window};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::json::FastJson;
use crate::routes::devices::visible_device;

/// Largest number of windows one request may ask for.
pub const MAX_POINTS: i64 = 10_000;

/// Aggregate applied per window.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Agg {
    /// Arithmetic mean (power, voltage, moisture).
    #[default]
    Mean,
    /// Minimum.
    Min,
    /// Maximum (peaks).
    Max,
    /// Last value in the window (counters).
    Last,
}

impl Agg {
    fn read(self) -> read::Agg {
        match self {
            Agg::Mean => read::Agg::Mean,
            Agg::Min => read::Agg::Min,
            Agg::Max => read::Agg::Max,
            Agg::Last => read::Agg::Last,
        }
    }
}

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Canonical quantity, e.g. `active_power` (the document lists every one).
    pub quantity: String,
    /// Start (RFC 3339), from 1677-09-22 to 2262-04-10; default 24 h before `to`. At most
    /// `api.max_history_range` before `to` (by default 31 days for residents, 366 days for other roles).
    pub from: Option<DateTime<Utc>>,
    /// End, exclusive (RFC 3339), from 1677-09-22 to 2262-04-10; default now.
    pub to: Option<DateTime<Utc>>,
    /// Window length: a whole number of seconds from `1s` to `366d`, as a number and a unit (`ms`, `s`,
    /// `m`/`min`, `h`, `d`), e.g. `10s`, `15m`, `1h`; default `1m`. At most 10,000 windows per request.
    #[param(pattern = "^[0-9]{1,20}(ms|s|m|min|h|d)$", example = "15m")]
    pub window: Option<String>,
    /// Aggregate per window; default `mean`.
    #[serde(default)]
    pub agg: Agg,
}

/// One aggregated window.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Point {
    /// Window start.
    #[serde(serialize_with = "crate::json::ts")]
    pub ts: DateTime<Utc>,
    /// Aggregated value in the quantity's unit.
    pub value: f64,
}

/// A device's history of one quantity.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    /// Device id.
    pub device: String,
    /// Quantity name.
    pub quantity: String,
    /// Unit symbol.
    pub unit: &'static str,
    /// Start: the requested one, or the start of the caller's scope (a resident's move-in) if later.
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Window length in seconds.
    pub window_seconds: u64,
    /// Aggregate.
    pub agg: Agg,
    /// Windows with data, in time order; windows without data are absent.
    pub points: Vec<Point>,
}

/// A device's quantity over time, aggregated per window.
#[utoipa::path(get, path = "/api/v1/devices/{id}/history", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id"), HistoryParams),
    responses((status = 200, body = History), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> Result<FastJson<History>, ApiError> {
    let (site, dev) = visible_device(&state, &user, &id)?;
    let quantity = Quantity::from_name(&p.quantity)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown quantity {:?}", p.quantity)))?;
    let window = parse_window(p.window.as_deref().unwrap_or("1m"))?;
    let max = state.config.max_history_range.for_role(user.role);
    let (from, to) = history_range(p.from, p.to, Utc::now(), user.role, max)?;
    // Nothing before the user's scope starts (a resident's move-in): the range is clamped to it, and a
    // range wholly before it has no windows.
    let from = user.clamp_start(from).min(to);
    let windows = (to - from).num_seconds() / i64::try_from(window.as_secs()).unwrap_or(i64::MAX).max(1);
    if windows > MAX_POINTS {
        return Err(ApiError::BadRequest(format!(
            "{windows} windows requested, at most {MAX_POINTS}: use a longer window or a shorter range"
        )));
    }
    // Field and function come from closed enums; all values are bound (or escaped label values).
    let request = Request::raw(storage::MEASUREMENT, &[quantity.name()])
        .tag(storage::TAG_SITE, site.id.as_str())
        .tag(storage::TAG_DEVICE, dev.id.as_str())
        .range(from, to)
        .windows(p.agg.read(), window.as_secs());
    let groups = if from < to {
        crate::db::read(&state, "history", &request).await?
    } else {
        Vec::new()
    };
    let points: Vec<Point> = read::points(&groups)
        .into_iter()
        .map(|(ts, value)| Point { ts, value })
        .collect();
    let capacity = 256 + 48 * points.len();
    Ok(FastJson(
        History {
            device: dev.id.to_string(),
            quantity: quantity.name().into(),
            unit: quantity.unit().symbol(),
            from,
            to,
            window_seconds: window.as_secs(),
            agg: p.agg,
            points,
        },
        capacity,
    ))
}
