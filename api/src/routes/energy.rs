//! Energy per local day, week or month, with cost and the comparison with the previous periods, for a device
//! or a site; and a site's top consumers with their share.
//!
//! Consumption comes from the cumulative `energy_import`/`energy_export` counters through the shared counter
//! component (`zw_model::counter`), so reboots, meter swaps and gaps never become phantom or negative kWh: an
//! unknown period is `null`, a partly covered one is marked incomplete, and the running one (`ongoing`) is the
//! energy so far, measured up to each device's latest reading. A site's energy is the sum of its main
//! meters (device class `main_meter`) if it has any, else of all its devices, so sub-meters are not counted
//! twice. Costs use the configured flat tariff. The span a report reads is bounded per role and by what
//! InfluxDB can store ([`crate::bounds`]), checked before any query.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use zw_model::counter::{Bucket, CounterConfig, consumption};
use zw_model::{Device, Id, Quantity, Role, Site, storage};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::{shifted, storable_date, within};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::{Period, edge_dates, local_midnight, measured_edges, ongoing};
use crate::routes::devices::visible_device;

/// Largest number of periods per report.
pub const MAX_PERIODS: u32 = 366;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnergyParams {
    /// `day`, `week` or `month`; default `day`.
    #[serde(default)]
    pub period: Period,
    /// Number of periods (default 7 days, 4 weeks or 3 months; at most 366). The periods and as many before
    /// them may span at most `api.max_energy_range` (by default 732 days for residents, 3660 days for other
    /// roles).
    #[param(minimum = 1, maximum = 366)]
    pub count: Option<u32>,
    /// A local date in the last period (default today), from 1677-09-22 to 2262-04-10.
    pub until: Option<NaiveDate>,
    /// `import` (default) or `export`.
    #[param(pattern = "^(import|export)$")]
    pub direction: Option<String>,
}

/// Energy of one period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodEnergy {
    /// First local date of the period.
    pub start: NaiveDate,
    /// Energy in Wh; null when unknown.
    pub wh: Option<f64>,
    /// The whole period is covered by data (a running period: up to now); when false `wh` is a lower bound.
    pub complete: bool,
    /// The period has not ended: `wh` is the energy so far (up to the latest readings).
    pub ongoing: bool,
    /// Cost in the tariff's currency; null when `wh` is.
    pub cost: Option<f64>,
}

/// An energy report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnergyReport {
    /// Device or site id.
    pub subject: String,
    /// `import` or `export`.
    pub direction: String,
    /// Granularity.
    pub period: Period,
    /// Currency of `cost`.
    pub currency: String,
    /// Price per kWh used for `cost`.
    pub price_per_kwh: f64,
    /// The requested periods, oldest first.
    pub periods: Vec<PeriodEnergy>,
    /// The same number of periods just before, for comparison.
    pub previous: Vec<PeriodEnergy>,
    /// Sum of `periods`.
    pub total: PeriodEnergy,
    /// Sum of `previous`.
    pub previous_total: PeriodEnergy,
    /// `total / previous_total − 1` when both are complete and the current periods have ended; else null.
    pub change_ratio: Option<f64>,
}

pub(crate) struct Range {
    dates: Vec<NaiveDate>,
    edges: Vec<DateTime<Utc>>,
    count: usize,
    /// When the report is made: periods after it are measured up to the latest readings.
    now: DateTime<Utc>,
}

fn range(state: &AppState, p: &EnergyParams, role: Role) -> Result<Range, ApiError> {
    let count = p.count.unwrap_or_else(|| p.period.default_count());
    if !(1..=MAX_PERIODS).contains(&count) {
        return Err(ApiError::BadRequest(format!("count must be 1..={MAX_PERIODS}")));
    }
    let tz = state.config.timezone();
    let until = p
        .until
        .unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive());
    let until = storable_date("`until`", until)?;
    let dates =
        edge_dates(p.period, count, until).ok_or_else(|| ApiError::BadRequest("date out of range".into()))?;
    let edges: Option<Vec<_>> = dates.iter().map(|d| local_midnight(tz, *d)).collect();
    let edges = edges.ok_or_else(|| ApiError::BadRequest("date out of range".into()))?;
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
        return Err(ApiError::BadRequest("date out of range".into()));
    };
    let max = state.config.max_energy_range.for_role(role);
    within(
        "energy (the periods asked for and as many before them)",
        role,
        first,
        last,
        max,
    )?;
    // The query reaches one counter gap beyond the edges (`buckets_for`): that must be storable too.
    let gap = CounterConfig::default().max_gap;
    shifted("the first period", first, -gap)?;
    shifted("the last period", last, gap)?;
    Ok(Range {
        dates,
        edges,
        count: count as usize,
        now: Utc::now(),
    })
}

fn quantity(direction: Option<&str>) -> Result<(Quantity, &'static str), ApiError> {
    match direction.unwrap_or("import") {
        "import" => Ok((Quantity::EnergyImport, "import")),
        "export" => Ok((Quantity::EnergyExport, "export")),
        other => Err(ApiError::BadRequest(format!(
            "direction must be import or export, got {other:?}"
        ))),
    }
}

/// Counter points of a device, thinned in InfluxDB to the first value per window (≤ ~20,000 points).
async fn counter_points(
    state: &AppState,
    device: &Id,
    q: Quantity,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, f64)>, ApiError> {
    let window = ((to - from).num_seconds() / 20_000).max(60);
    // Only the field name (a closed enum) is spliced; every value is bound.
    let query = format!(
        "SELECT first(\"{f}\") FROM \"{m}\" WHERE \"{t}\" = $device AND time >= $from AND time < $to \
         GROUP BY time({window}s) fill(none)",
        f = q.name(),
        m = storage::MEASUREMENT,
        t = storage::TAG_DEVICE,
    );
    let (f, t) = (from.to_rfc3339(), to.to_rfc3339());
    let params = [("device", device.as_str()), ("from", &f), ("to", &t)];
    let series = crate::db::query(state, "energy", &query, &params).await?;
    // The first value of a window is dated at the window's start. The gateway polls on a wall-clock grid, so
    // for whole-minute intervals that is exact; otherwise at most one window's consumption moves across a
    // period boundary (≤ 1 minute for ranges up to two weeks).
    Ok(series
        .first()
        .map(|s| {
            s.values
                .iter()
                .filter_map(|row| {
                    let start = DateTime::from_timestamp_millis(row.first()?.as_i64()?)?;
                    Some((start, row.get(1)?.as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default())
}

async fn buckets_for(
    state: &AppState,
    devices: &[&Device],
    q: Quantity,
    r: &Range,
) -> Result<Vec<Bucket>, ApiError> {
    let cfg = CounterConfig::default();
    let end = r.edges[r.edges.len() - 1].min(r.now);
    // Checked in `range` already, so these never fail.
    let from = shifted("the first period", r.edges[0], -cfg.max_gap)?;
    let to = shifted("the last period", end, cfg.max_gap)?;
    let mut sum: Option<Vec<Bucket>> = None;
    for dev in devices {
        let points = counter_points(state, &dev.id, q, from, to).await?;
        let latest = points.iter().map(|p| p.0).max();
        let edges = measured_edges(&r.edges, r.now, latest, cfg.max_gap);
        let b = consumption(&points, &edges, &cfg);
        sum = Some(match sum {
            None => b,
            Some(acc) => acc.into_iter().zip(b).map(|(a, b)| add(a, b)).collect(),
        });
    }
    Ok(sum.unwrap_or_default())
}

/// Sum of two buckets of the same span: unknown only if both are; complete only if both are.
fn add(a: Bucket, b: Bucket) -> Bucket {
    let wh = match (a.wh, b.wh) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or(0.0) + y.unwrap_or(0.0)),
    };
    Bucket {
        wh,
        complete: a.complete && b.complete,
        coverage: a.coverage.min(b.coverage),
        ..a
    }
}

fn report(
    state: &AppState,
    subject: &str,
    direction: &str,
    p: &EnergyParams,
    r: &Range,
    b: &[Bucket],
) -> EnergyReport {
    let tariff = &state.config.tariff;
    let cost = |wh: Option<f64>| wh.map(|w| w / 1000.0 * tariff.price_per_kwh);
    let entries: Vec<PeriodEnergy> = b
        .iter()
        .zip(&r.dates)
        .zip(r.edges.windows(2))
        .map(|((b, d), w)| PeriodEnergy {
            start: *d,
            wh: b.wh,
            complete: b.complete,
            ongoing: ongoing(w[0], w[1], r.now),
            cost: cost(b.wh),
        })
        .collect();
    let total = |items: &[PeriodEnergy], start: NaiveDate| {
        let known: Vec<f64> = items.iter().filter_map(|e| e.wh).collect();
        let wh = (!known.is_empty()).then(|| known.iter().sum());
        PeriodEnergy {
            start,
            wh,
            complete: items.iter().all(|e| e.complete),
            ongoing: items.iter().any(|e| e.ongoing),
            cost: cost(wh),
        }
    };
    let (previous, current) = entries.split_at(r.count.min(entries.len()));
    let t = total(current, r.dates[r.count]);
    let pt = total(previous, r.dates[0]);
    // A running period against a whole one would read as a drop: no ratio until it has ended.
    let change_ratio = match (t.complete && pt.complete && !t.ongoing, t.wh, pt.wh) {
        (true, Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    };
    EnergyReport {
        subject: subject.into(),
        direction: direction.into(),
        period: p.period,
        currency: tariff.currency.clone(),
        price_per_kwh: tariff.price_per_kwh,
        total: t,
        previous_total: pt,
        change_ratio,
        previous: previous.iter().map(clone_entry).collect(),
        periods: current.iter().map(clone_entry).collect(),
    }
}

fn clone_entry(e: &PeriodEnergy) -> PeriodEnergy {
    PeriodEnergy {
        start: e.start,
        wh: e.wh,
        complete: e.complete,
        ongoing: e.ongoing,
        cost: e.cost,
    }
}

/// A device's energy per period, with cost and the previous periods for comparison.
#[utoipa::path(get, path = "/api/v1/devices/{id}/energy", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id"), EnergyParams),
    responses((status = 200, body = EnergyReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn device(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<EnergyParams>,
) -> Result<Json<EnergyReport>, ApiError> {
    let (_, dev) = visible_device(&state, &user, &id)?;
    let (q, direction) = quantity(p.direction.as_deref())?;
    let r = range(&state, &p, user.role)?;
    let b = buckets_for(&state, &[dev], q, &r).await?;
    Ok(Json(report(&state, dev.id.as_str(), direction, &p, &r, &b)))
}

/// The devices whose sum is the site's energy: its main meters, or all devices if it has none.
pub fn site_meters(site: &Site) -> Vec<&Device> {
    let main: Vec<&Device> = site.devices.iter().filter(|d| d.class == "main_meter").collect();
    if main.is_empty() {
        site.devices.iter().collect()
    } else {
        main
    }
}

pub(crate) fn visible_site<'a>(
    state: &'a AppState,
    user: &zw_model::User,
    id: &str,
) -> Result<&'a Site, ApiError> {
    let id = Id::new(id).map_err(|e| ApiError::BadRequest(format!("invalid site id: {e}")))?;
    state
        .inventory
        .site(id.as_str())
        .filter(|s| user.sees(s))
        .ok_or_else(|| ApiError::NotFound(format!("site {id}")))
}

/// A site's energy per period (sum of its main meters, or of all devices without one).
#[utoipa::path(get, path = "/api/v1/sites/{id}/energy", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), EnergyParams),
    responses((status = 200, body = EnergyReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<EnergyParams>,
) -> Result<Json<EnergyReport>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let (q, direction) = quantity(p.direction.as_deref())?;
    let r = range(&state, &p, user.role)?;
    let b = buckets_for(&state, &site_meters(site), q, &r).await?;
    Ok(Json(report(&state, site.id.as_str(), direction, &p, &r, &b)))
}

/// The current periods of a report, for rankings.
pub(crate) fn site_range(state: &AppState, p: &EnergyParams, role: Role) -> Result<Range, ApiError> {
    let mut r = range(state, p, role)?;
    r.edges.drain(..r.count);
    r.dates.drain(..r.count);
    Ok(r)
}

/// Total imported energy of some devices over a range.
pub(crate) struct Ranked {
    pub(crate) wh: Option<f64>,
    pub(crate) complete: bool,
}

impl Ranked {
    pub(crate) async fn total(state: &AppState, devices: &[&Device], r: &Range) -> Result<Self, ApiError> {
        let b = buckets_for(state, devices, Quantity::EnergyImport, r).await?;
        let known: Vec<f64> = b.iter().filter_map(|b| b.wh).collect();
        Ok(Self {
            wh: (!known.is_empty()).then(|| known.iter().sum()),
            complete: b.iter().all(|b| b.complete),
        })
    }
}
