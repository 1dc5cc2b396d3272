//! A site's or device's billing-year peak: the highest 15-minute average power so far, what the demand
//! charge (Leistungspreis, [`zw_model::tariff::demand`]) costs on it so far and for the whole billing year,
//! the running quarter hour, and the year's top 10 quarter hours with the energy of the site's devices in
//! each (what ran).
//!
//! Quarter hours are the UTC quarter-hour grid ([`zw_model::counter::quarter_hours`]) from the counters
//! (`energy_import`) of the site's main meters (or all its electricity devices without one, as the energy
//! report sums them). They are read from the quarter-hour rollups where those cover the year, and from the
//! raw readings elsewhere (the running part after the rollups' watermark, a span never rolled up), at most
//! [`MAX_RAW_READINGS`] per device and request; a quarter hour with a gap, a reset or a device without
//! readings is missing, never 0, and a quarter before the caller's scope (a resident's move-in) is
//! withheld. The billing year starts in the month of the site's demand tariff (`demand_billing`,
//! January without one); `year` names the calendar year it starts in. Scope and span are the energy
//! report's: an unknown or invisible site or device is a 404, a year beyond the role's span a 400.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use zw_model::counter::CounterConfig;
use zw_model::counter::quarter_hours::{self, QuarterHour};
use zw_model::counter::rollup::QUARTER;
use zw_model::tariff::demand::Money;
use zw_model::tariff::{DemandBilling, Peak, Schedule, Tariff};
use zw_model::{Device, Id, Site, User};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::within;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::local_midnight;
use crate::routes::devices::visible_device;
use crate::routes::energy::{measures_electricity, site_meters, visible_site};

mod quarters;

pub(crate) use quarters::Peaks;
pub use quarters::{MAX_DEMAND_DAYS, MAX_RAW_READINGS};
use quarters::{Reader, quarter_floor_now, site_quarters};

/// How many quarter hours the report ranks.
pub const TOP: usize = 10;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeakParams {
    /// The calendar year the billing year starts in (default: the billing year holding today), 1970–2200.
    #[param(minimum = 1970, maximum = 2200)]
    pub year: Option<i32>,
}

/// One quarter hour of the report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Quarter {
    /// Start (UTC; :00, :15, :30 or :45).
    pub start: DateTime<Utc>,
    /// Energy in it, Wh.
    pub wh: f64,
    /// Average power, kW (`wh` × 4 / 1000).
    pub kw: f64,
}

impl Quarter {
    fn of(q: &QuarterHour) -> Option<Self> {
        let wh = q.wh?;
        Some(Self {
            start: q.start,
            wh,
            kw: wh * 4.0 / 1000.0,
        })
    }
}

/// A device's energy in one of the top quarter hours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceQuarter {
    /// Device id.
    pub device: String,
    /// Device name.
    pub name: String,
    /// Energy in the quarter hour, Wh; null when not known for all of it.
    pub wh: Option<f64>,
    /// Average power, kW; null with `wh`.
    pub kw: Option<f64>,
}

/// One of the year's top quarter hours and what ran in it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TopQuarter {
    /// The quarter hour.
    #[serde(flatten)]
    pub quarter: Quarter,
    /// The site's other electricity devices (sub-meters, plugs) by energy in it, highest first, unknown
    /// last; empty for a device's report.
    pub devices: Vec<DeviceQuarter>,
}

/// The running quarter hour so far.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunningQuarter {
    /// Its start.
    pub start: DateTime<Utc>,
    /// Seconds measured (up to the latest reading; the least of the meters').
    pub elapsed_s: f64,
    /// Average power so far, kW.
    pub kw: f64,
}

/// A billing year's peak.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeakReport {
    /// Site or device id.
    pub subject: String,
    /// The calendar year the billing year starts in.
    pub year: i32,
    /// First local day of the billing year.
    pub start: NaiveDate,
    /// First local day after it.
    pub end: NaiveDate,
    /// Quarter hours of the billing year up to now (the running one excluded).
    pub quarters: usize,
    /// Of them, how many are known.
    pub quarters_known: usize,
    /// Every quarter hour so far is known: `peak` is the peak, not a lower bound.
    pub complete: bool,
    /// The highest quarter hour so far; null when none is known.
    pub peak: Option<Quarter>,
    /// The Leistungspreis of the demand tariff (net €/kW a year); null when the site has none (and for a
    /// device, whose own peak is not billed).
    pub demand_eur_per_kw_year: Option<f64>,
    /// Currency of the money.
    pub currency: String,
    /// The demand charge of the billing year's days up to today at `peak` (per day: peak × price / days of
    /// the billing year); null without a demand charge or a peak.
    pub cost_so_far: Option<Money>,
    /// The demand charge of the whole billing year if `peak` stays the peak; null as `cost_so_far`.
    pub cost_year: Option<Money>,
    /// The running quarter hour; null when a meter has no reading in it yet.
    pub running: Option<RunningQuarter>,
    /// The year's highest quarter hours so far, highest first (at most 10).
    pub top: Vec<TopQuarter>,
}

/// The tariff whose demand charge applies to `site` on `date` (else the first with one).
fn demand_tariff<'a>(state: &'a AppState, site: &Id, date: NaiveDate) -> Option<&'a Tariff> {
    let mine = || {
        state
            .inventory
            .tariffs
            .iter()
            .filter(|t| t.sites.contains(site) && t.demand_eur_per_kw_year > 0.0)
    };
    mine().find(|t| t.valid_on(date)).or_else(|| mine().next())
}

/// The demand charge of `days` at the peak `w` under the site's schedule: per tariff version its demand
/// net, VAT on it; `None` without a demand charge.
fn charge(state: &AppState, site: &Id, peak: Peak, days: &[NaiveDate]) -> Option<Money> {
    let tz = state.config.timezone();
    let schedule = Schedule::for_site(&state.inventory.tariffs, site, tz).with_peaks(vec![peak]);
    if !schedule.has_demand() {
        return None;
    }
    let bill = schedule.bill(&[], days);
    Some(bill.lines.iter().fold(
        Money {
            net_cents: 0,
            vat_cents: 0,
            gross_cents: 0,
        },
        |acc, l| {
            let m = Money::with_vat(l.demand_net_cents, l.vat_percent);
            Money {
                net_cents: acc.net_cents + m.net_cents,
                vat_cents: acc.vat_cents + m.vat_cents,
                gross_cents: acc.gross_cents + m.gross_cents,
            }
        },
    ))
}

async fn report(
    state: &AppState,
    user: &User,
    (site, devices, subject): (&Site, &[&Device], &str),
    (consumers, billed): (&[&Device], bool),
    p: &PeakParams,
) -> Result<PeakReport, ApiError> {
    let tz = state.config.timezone();
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let tariff = demand_tariff(state, &site.id, today);
    let billing = tariff.map_or_else(DemandBilling::default, |t| t.demand_billing);
    let year = match p.year {
        Some(y) if (1970..=2200).contains(&y) => y,
        Some(y) => {
            return Err(ApiError::BadRequest(format!(
                "year must be 1970 to 2200, got {y}"
            )));
        }
        None => billing.year_of(today).map_or(today.year(), |(s, _)| s.year()),
    };
    let bad = || ApiError::BadRequest("year out of range".into());
    let (start, end) = billing
        .year_of(NaiveDate::from_ymd_opt(year, billing.start_month, 1).ok_or_else(bad)?)
        .ok_or_else(bad)?;
    let (from, until) = (
        local_midnight(tz, start).ok_or_else(bad)?,
        local_midnight(tz, end).ok_or_else(bad)?,
    );
    within(
        "peak",
        user.role,
        from,
        until,
        state.config.max_energy_range.for_role(user.role),
    )?;
    let to = until.min(quarter_floor_now(now)).max(from);
    let (quarters, running) =
        site_quarters(state, (&site.id, devices), (from, to), (now, user.since)).await?;
    let running = running.filter(|_| now < until && now >= from);
    let known = quarters.iter().filter(|q| q.wh.is_some()).count();
    let top = quarter_hours::top(&quarters, TOP);
    let peak = top.first().and_then(Quarter::of);
    let price = tariff.filter(|_| billed).map(|t| t.demand_eur_per_kw_year);
    let (cost_so_far, cost_year) = match (&peak, price) {
        (Some(pk), Some(_)) => {
            let peak = Peak {
                year_start: start,
                w: pk.kw * 1000.0,
            };
            let last = today.min(end.pred_opt().unwrap_or(end));
            let so_far: Vec<NaiveDate> = start.iter_days().take_while(|d| *d <= last).collect();
            let year_days: Vec<NaiveDate> = start.iter_days().take_while(|d| *d < end).collect();
            (
                charge(state, &site.id, peak, &so_far),
                charge(state, &site.id, peak, &year_days),
            )
        }
        _ => (None, None),
    };
    let mut tops = Vec::with_capacity(top.len());
    let shares = device_shares(state, &site.id, consumers, &top).await?;
    for (q, devices) in top.iter().zip(shares) {
        if let Some(quarter) = Quarter::of(q) {
            tops.push(TopQuarter { quarter, devices });
        }
    }
    Ok(PeakReport {
        subject: subject.into(),
        year,
        start,
        end,
        quarters: quarters.len(),
        quarters_known: known,
        complete: known == quarters.len(),
        peak,
        demand_eur_per_kw_year: price,
        currency: tariff.map_or_else(|| state.config.tariff.currency.clone(), |t| t.currency.clone()),
        cost_so_far,
        cost_year,
        running,
        top: tops,
    })
}

/// The energy of each of `consumers` in each of the `top` quarter hours, highest first.
async fn device_shares(
    state: &AppState,
    site: &Id,
    consumers: &[&Device],
    top: &[QuarterHour],
) -> Result<Vec<Vec<DeviceQuarter>>, ApiError> {
    let mut out: Vec<Vec<DeviceQuarter>> = top.iter().map(|_| Vec::new()).collect();
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> =
        top.iter().map(|q| (q.start, q.start + QUARTER)).collect();
    if spans.is_empty() {
        return Ok(out);
    }
    for dev in consumers {
        let reader = Reader {
            state,
            site,
            device: &dev.id,
            cfg: CounterConfig::default(),
        };
        for (k, read) in reader.quarters(&spans).await?.into_iter().enumerate() {
            let wh = read.quarters.first().and_then(|q| q.wh);
            out[k].push(DeviceQuarter {
                device: dev.id.as_str().into(),
                name: dev.name.clone(),
                wh,
                kw: wh.map(|wh| wh * 4.0 / 1000.0),
            });
        }
    }
    for list in &mut out {
        list.sort_by(|a, b| {
            b.wh.unwrap_or(f64::NEG_INFINITY)
                .partial_cmp(&a.wh.unwrap_or(f64::NEG_INFINITY))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    Ok(out)
}

/// The site's electricity devices other than main meters (sub-meters, plugs; all of them when it has no
/// main meter): what ran in a quarter hour.
fn consumers(site: &Site) -> Vec<&Device> {
    site.devices
        .iter()
        .filter(|d| d.class != "main_meter" && measures_electricity(d))
        .collect()
}

/// A site's billing-year peak, its demand charge, the running quarter hour and the top 10 quarter hours
/// with what ran in each.
#[utoipa::path(get, path = "/api/v1/sites/{id}/peak", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), PeakParams),
    responses((status = 200, body = PeakReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PeakParams>,
) -> Result<Json<PeakReport>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let meters = site_meters(site);
    let consumers = consumers(site);
    Ok(Json(
        report(
            &state,
            &user,
            (site, &meters, site.id.as_str()),
            (&consumers, true),
            &p,
        )
        .await?,
    ))
}

/// A device's own billing-year peak (not billed: no cost), the running quarter hour and its top 10.
#[utoipa::path(get, path = "/api/v1/devices/{id}/peak", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id"), PeakParams),
    responses((status = 200, body = PeakReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn device(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<PeakParams>,
) -> Result<Json<PeakReport>, ApiError> {
    let (site, dev) = visible_device(&state, &user, &id)?;
    Ok(Json(
        report(&state, &user, (site, &[dev], dev.id.as_str()), (&[], false), &p).await?,
    ))
}
