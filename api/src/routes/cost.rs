//! Cost per local day, week, month or year for a site or a device, as a German bill shows it: energy,
//! Grundpreis, net, VAT, gross, feed-in credit, and which tariff versions applied.
//!
//! `?medium=` (default electricity) chooses what is priced: electricity, heat (the heat meters' kWh), gas
//! (the gas meters' m³ converted to kWh with the site's `[[gas_conversions]]`, DVGW G 685; unknown where none
//! is valid) or water (m³), each under the site's tariffs of that medium. Only electricity falls back to the
//! flat `[api.tariff]`: a site without a tariff for another medium answers 404, naming what is missing.
//!
//! The site's `[[tariffs]]` ([`zw_model::tariff`]) price its energy interval by interval: the counters'
//! deltas are read per day (flat prices), hour (time-of-use on whole hours, hourly prices) or quarter-hour
//! ([`Schedule::step`]) through the same counter component as the energy report, so the energy is exact
//! and an interval in a gap is unknown (the period then `complete: false`, its cost a lower bound). A
//! site without tariffs is priced at the flat `[api.tariff]` price, taken as final (VAT 0). A device is
//! priced under its site's tariffs. Scope and span bounds are the energy report's.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use zw_model::counter::{Bucket, gas, local_day_edges, uniform_edges};
use zw_model::report::Medium;
use zw_model::tariff::{Bill, Interval, Schedule, Tariff, TariffLine};
use zw_model::{Device, Quantity, Site, User};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::{storable_date, within};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::{Period, current_dates, local_midnight, ongoing};
use crate::routes::devices::visible_device;
use crate::routes::energy::{
    MAX_PERIODS, intervals, measures_electricity, medium_meters, site_meters, visible_site,
};

/// Most intervals one cost report reads (about 13 months of hours or 4 months of quarter-hours).
pub const MAX_INTERVALS: usize = 10_000;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CostParams {
    /// `day`, `week`, `month` or `year`; default `day`.
    #[serde(default)]
    pub period: Period,
    /// Number of periods (default 7 days, 4 weeks, 3 months or 1 year; at most 366), within the energy
    /// report's span per role and at most 10,000 priced intervals.
    #[param(minimum = 1, maximum = 366)]
    pub count: Option<u32>,
    /// A local date in the last period (default today).
    pub until: Option<NaiveDate>,
    /// What to price: `electricity` (default), `heat`, `gas` or `water`.
    pub medium: Option<Medium>,
}

/// The cost under one tariff version in a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TariffCost {
    /// Tariff id.
    pub id: String,
    /// First date of the version; null for the flat `[api.tariff]` price, which has no start.
    pub valid_from: Option<NaiveDate>,
    /// VAT rate, percent.
    pub vat_percent: f64,
    /// Imported energy priced under it, Wh.
    pub import_wh: f64,
    /// Exported energy credited under it, Wh.
    pub export_wh: f64,
    /// Energy, net cents.
    pub energy_net_cents: i64,
    /// Grundpreis, net cents.
    pub base_net_cents: i64,
    /// Leistungspreis (demand charge), net cents; 0 without one.
    pub demand_net_cents: i64,
    /// Net cents.
    pub net_cents: i64,
    /// VAT cents.
    pub vat_cents: i64,
    /// Gross cents.
    pub gross_cents: i64,
    /// Feed-in credit, cents.
    pub feed_in_cents: i64,
}

impl From<TariffLine> for TariffCost {
    fn from(l: TariffLine) -> Self {
        Self {
            id: l.id,
            valid_from: (l.valid_from != NaiveDate::MIN).then_some(l.valid_from),
            vat_percent: l.vat_percent,
            import_wh: l.import_wh,
            export_wh: l.export_wh,
            energy_net_cents: l.energy_net_cents,
            base_net_cents: l.base_net_cents,
            demand_net_cents: l.demand_net_cents,
            net_cents: l.net_cents,
            vat_cents: l.vat_cents,
            gross_cents: l.gross_cents,
            feed_in_cents: l.feed_in_cents,
        }
    }
}

/// The cost of one period (money in cents of `currency`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodCost {
    /// First local date of the period.
    pub start: NaiveDate,
    /// Imported energy, Wh, exact to the counter readings; null when unknown.
    pub import_wh: Option<f64>,
    /// Exported energy, Wh; null when unknown or when no tariff pays for feed-in (then not read).
    pub export_wh: Option<f64>,
    /// Every interval's energy is known and gap-free (as the energy report's `complete`) and priced.
    pub complete: bool,
    /// The period has not ended: the cost so far, the Grundpreis up to today.
    pub ongoing: bool,
    /// Energy, net; null when none of the period's energy is known (a missing figure, not 0).
    pub energy_net_cents: Option<i64>,
    /// Grundpreis, net, prorated by day.
    pub base_net_cents: i64,
    /// Leistungspreis (demand charge) of a site's tariff with one, net: each day of the period at the
    /// billing year's peak quarter hour up to the period's end × the price / the days of the billing year
    /// (`/peak` shows the peak); 0 without a demand charge and in a device's report. The period is not
    /// `complete` when a day's peak is unknown.
    pub demand_net_cents: i64,
    /// Energy plus Grundpreis plus Leistungspreis, net; null with `energy_net_cents`.
    pub net_cents: Option<i64>,
    /// VAT on the net (per tariff version); null with `energy_net_cents`.
    pub vat_cents: Option<i64>,
    /// Net plus VAT; null with `energy_net_cents`.
    pub gross_cents: Option<i64>,
    /// Feed-in credit for the exported energy (no VAT), not deducted from `gross_cents`.
    pub feed_in_cents: i64,
    /// The tariff versions that applied, oldest first.
    pub tariffs: Vec<TariffCost>,
}

/// A cost report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CostReport {
    /// Site or device id.
    pub subject: String,
    /// What is priced.
    pub medium: Medium,
    /// Unit of the `import_wh` and `export_wh` figures: `Wh` (electricity, heat, and gas after the DVGW
    /// conversion) or `l` (water, litres: thousandths of the m³ its price is per).
    pub unit: &'static str,
    /// Granularity.
    pub period: Period,
    /// Currency of the cents.
    pub currency: String,
    /// Minutes per priced interval (15, 60, or 1440 for days).
    pub interval_minutes: i64,
    /// The periods, oldest first.
    pub periods: Vec<PeriodCost>,
    /// Sum of `periods` (its `tariffs` empty).
    pub total: PeriodCost,
}

/// The flat `[api.tariff]` as a tariff: its price taken as final, so VAT 0.
pub(crate) fn flat_default(state: &AppState) -> Tariff {
    let t = &state.config.tariff;
    Tariff {
        medium: Default::default(),
        ct_per_m3: 0.0,
        id: zw_model::Id::new("api-tariff").expect("a constant valid id"),
        name: "api.tariff".into(),
        valid_from: NaiveDate::MIN,
        valid_to: None,
        sites: Vec::new(),
        currency: t.currency.clone(),
        vat_percent: 0.0,
        energy_ct_per_kwh: (t.price_per_kwh * 100_000.0).round() / 1000.0,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
        dynamic: None,
    }
}

/// The intervals' edges from `start` to `end` at `step` (local days for a day step).
pub(crate) fn interval_edges(
    tz: chrono_tz::Tz,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: TimeDelta,
) -> Vec<DateTime<Utc>> {
    if step >= TimeDelta::days(1) {
        let (first, last) = (
            start.with_timezone(&tz).date_naive(),
            end.with_timezone(&tz).date_naive(),
        );
        let mut e = local_day_edges(&tz, first, last.pred_opt().unwrap_or(last));
        e.retain(|t| *t <= end);
        if e.last() != Some(&end) {
            e.push(end);
        }
        e
    } else {
        uniform_edges(start, end, step)
    }
}

/// Import (and export, when a tariff pays feed-in) per interval of `edges`, as tariff intervals, with each
/// interval's completeness.
pub(crate) async fn metered(
    state: &AppState,
    (site, devices): (&Site, &[&Device]),
    edges: &[DateTime<Utc>],
    user: &User,
    tariffs: &[&Tariff],
) -> Result<(Vec<Interval>, Vec<bool>), ApiError> {
    metered_medium(state, (site, devices), Medium::Electricity, edges, user, tariffs).await
}

/// A medium's counter deltas in the unit its tariffs price in thousandths of: Wh for electricity and heat,
/// gas volume converted to Wh with the site's `[[gas_conversions]]` (unknown where none is valid), water
/// m³ as litres.
pub(crate) fn priced_amounts(
    state: &AppState,
    site: &Site,
    medium: Medium,
    buckets: Vec<Bucket>,
) -> Vec<Bucket> {
    match medium {
        Medium::Electricity | Medium::Heat => buckets,
        Medium::Water => buckets
            .into_iter()
            .map(|b| Bucket {
                wh: b.wh.map(|m3| m3 * 1000.0),
                ..b
            })
            .collect(),
        Medium::Gas => {
            let kwh = gas::energy(site.id.as_str(), &buckets, &state.inventory.gas_conversions);
            buckets
                .into_iter()
                .zip(kwh)
                .map(|(b, g)| Bucket { wh: g.wh, ..b })
                .collect()
        }
    }
}

/// [`metered`] for any medium (export only for electricity).
pub(crate) async fn metered_medium(
    state: &AppState,
    (site, devices): (&Site, &[&Device]),
    medium: Medium,
    edges: &[DateTime<Utc>],
    user: &User,
    tariffs: &[&Tariff],
) -> Result<(Vec<Interval>, Vec<bool>), ApiError> {
    let imp = intervals(state, (&site.id, devices), medium.quantity(), edges, user).await?;
    let imp = priced_amounts(state, site, medium, imp);
    let feed_in = medium == Medium::Electricity && tariffs.iter().any(|t| t.feed_in_ct_per_kwh > 0.0);
    let exp: Option<Vec<Bucket>> = if feed_in {
        Some(intervals(state, (&site.id, devices), Quantity::EnergyExport, edges, user).await?)
    } else {
        None
    };
    let ivs = imp
        .iter()
        .enumerate()
        .map(|(i, b)| Interval {
            start: edges[i],
            import_wh: b.wh,
            export_wh: exp.as_ref().and_then(|e| e.get(i)).and_then(|e| e.wh),
        })
        .collect();
    Ok((ivs, imp.iter().map(|b| b.complete).collect()))
}

fn period_cost(start: NaiveDate, ivs: &[Interval], complete: bool, ongoing: bool, bill: Bill) -> PeriodCost {
    let sum = |f: fn(&Interval) -> Option<f64>| {
        let known: Vec<f64> = ivs.iter().filter_map(f).collect();
        (!known.is_empty()).then(|| known.iter().sum())
    };
    let import_wh = sum(|i| i.import_wh);
    // Nothing metered: what the energy cost is unknown, not 0 (the Grundpreis is known all the same).
    let known = |cents: i64| import_wh.is_some().then_some(cents);
    PeriodCost {
        start,
        import_wh,
        export_wh: sum(|i| i.export_wh),
        complete: complete && bill.priced,
        ongoing,
        energy_net_cents: known(bill.energy_net_cents),
        base_net_cents: bill.base_net_cents,
        demand_net_cents: bill.demand_net_cents,
        net_cents: known(bill.net_cents),
        vat_cents: known(bill.vat_cents),
        gross_cents: known(bill.gross_cents),
        feed_in_cents: bill.feed_in_cents,
        tariffs: bill.lines.into_iter().map(TariffCost::from).collect(),
    }
}

async fn report(
    state: &AppState,
    user: &User,
    (site, devices, subject): (&Site, &[&Device], &str),
    p: &CostParams,
) -> Result<CostReport, ApiError> {
    let tz = state.config.timezone();
    let count = p.count.unwrap_or_else(|| p.period.default_count());
    if !(1..=MAX_PERIODS).contains(&count) {
        return Err(ApiError::BadRequest(format!("count must be 1..={MAX_PERIODS}")));
    }
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let until = storable_date("`until`", p.until.unwrap_or(today))?;
    let out_of_range = || ApiError::BadRequest("date out of range".into());
    let dates = current_dates(p.period, count, until).ok_or_else(out_of_range)?;
    let edges: Option<Vec<DateTime<Utc>>> = dates.iter().map(|d| local_midnight(tz, *d)).collect();
    let edges = edges.ok_or_else(out_of_range)?;
    let (first, last) = (edges[0], edges[edges.len() - 1]);
    within(
        "cost",
        user.role,
        first,
        last,
        state.config.max_energy_range.for_role(user.role),
    )?;
    let medium = p.medium.unwrap_or_default();
    let priced = price_medium(state, user, (site, devices), medium, (&dates, &edges), now).await?;
    Ok(CostReport {
        subject: subject.into(),
        medium,
        unit: if medium == Medium::Water { "l" } else { "Wh" },
        period: p.period,
        currency: priced.currency,
        interval_minutes: priced.step.num_minutes(),
        periods: priced.periods,
        total: priced.total,
    })
}

/// Whether `devices` are what the site's electricity is summed from (its demand charge is billed on them).
pub(crate) fn is_site_total(site: &Site, devices: &[&Device]) -> bool {
    let meters = site_meters(site);
    meters.len() == devices.len() && meters.iter().all(|m| devices.iter().any(|d| d.id == m.id))
}

/// Periods priced under a site's tariffs (the flat `[api.tariff]` without any).
pub(crate) struct Priced {
    /// One per period.
    pub periods: Vec<PeriodCost>,
    /// Their sum, billed as one period (its `tariffs` empty).
    pub total: PeriodCost,
    /// The priced interval.
    pub step: TimeDelta,
    /// Currency of the cents.
    pub currency: String,
}

/// The cost of the periods `[edges[k], edges[k + 1])` starting on the local `dates` (one more than the
/// periods: the end), interval by interval under the site's tariff schedule, as `/cost` reports them (the
/// energy report prices its periods with it too, so both say the same). A `BadRequest` when the periods
/// hold more than [`MAX_INTERVALS`] intervals.
pub(crate) async fn price_periods(
    state: &AppState,
    user: &User,
    (site, devices): (&Site, &[&Device]),
    (dates, edges): (&[NaiveDate], &[DateTime<Utc>]),
    now: DateTime<Utc>,
) -> Result<Priced, ApiError> {
    price_medium(
        state,
        user,
        (site, devices),
        Medium::Electricity,
        (dates, edges),
        now,
    )
    .await
}

/// [`price_periods`] of any medium under the site's tariffs of that medium; a `NotFound` when a medium
/// other than electricity has none (electricity falls back to the flat `[api.tariff]`).
pub(crate) async fn price_medium(
    state: &AppState,
    user: &User,
    (site, devices): (&Site, &[&Device]),
    medium: Medium,
    (dates, edges): (&[NaiveDate], &[DateTime<Utc>]),
    now: DateTime<Utc>,
) -> Result<Priced, ApiError> {
    let tz = state.config.timezone();
    let today = now.with_timezone(&tz).date_naive();
    let out_of_range = || ApiError::BadRequest("date out of range".into());
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
        return Err(out_of_range());
    };
    let default = flat_default(state);
    let mut schedule = Schedule::for_medium(&state.inventory.tariffs, &site.id, medium, tz);
    if schedule.is_empty() && medium != Medium::Electricity {
        return Err(ApiError::NotFound(format!(
            "site {} has no {} tariff ([[tariffs]] with medium = \"{}\" naming it)",
            site.id,
            medium.name(),
            medium.name()
        )));
    }
    if schedule.is_empty() {
        schedule = Schedule::only(&default, tz);
    }
    let step = schedule.step();
    let used: Vec<&Tariff> = schedule.tariffs().to_vec();
    // Intervals up to now (rounded up to a whole interval): later ones have nothing to price yet.
    let end = if last > now {
        let k = (now - first).num_seconds().div_euclid(step.num_seconds().max(1)) + 1;
        (first + step * i32::try_from(k).map_err(|_| out_of_range())?).min(last)
    } else {
        last
    };
    let ivl_edges = interval_edges(tz, first, end, step);
    if ivl_edges.len() > MAX_INTERVALS + 1 {
        return Err(ApiError::BadRequest(format!(
            "the periods hold {} intervals of {} minutes, more than {MAX_INTERVALS}: ask for fewer periods",
            ivl_edges.len() - 1,
            step.num_minutes()
        )));
    }
    let (ivs, complete) = metered_medium(state, (site, devices), medium, &ivl_edges, user, &used).await?;
    let peaks = if medium == Medium::Electricity && schedule.has_demand() && is_site_total(site, devices) {
        Some(crate::routes::peak::Peaks::read(state, user, (site, devices), &schedule, (dates, now)).await?)
    } else {
        None
    };
    let mut periods = Vec::new();
    for (k, w) in edges.windows(2).enumerate() {
        let range: Vec<usize> = (0..ivs.len())
            .filter(|&i| ivs[i].start >= w[0] && ivs[i].start < w[1])
            .collect();
        let mine: Vec<Interval> = range.iter().map(|&i| ivs[i]).collect();
        let whole = range.iter().all(|&i| complete[i]) && !mine.is_empty();
        let last_day = dates[k + 1].pred_opt().unwrap_or(dates[k + 1]).min(today);
        let days: Vec<NaiveDate> = dates[k].iter_days().take_while(|d| *d <= last_day).collect();
        let bill = match &peaks {
            Some(p) => schedule
                .clone()
                .with_peaks(p.at(w[1].min(now)))
                .bill(&mine, &days),
            None => schedule.bill(&mine, &days),
        };
        periods.push(period_cost(
            dates[k],
            &mine,
            whole,
            ongoing(w[0], w[1], now),
            bill,
        ));
    }
    let all_days: Vec<NaiveDate> = dates[0]
        .iter_days()
        .take_while(|d| *d < dates[dates.len() - 1] && *d <= today)
        .collect();
    let total_bill = match &peaks {
        Some(p) => schedule
            .clone()
            .with_peaks(p.at(last.min(now)))
            .bill(&ivs, &all_days),
        None => schedule.bill(&ivs, &all_days),
    };
    let mut total = period_cost(
        dates[0],
        &ivs,
        periods.iter().all(|p| p.complete),
        periods.iter().any(|p| p.ongoing),
        total_bill,
    );
    total.tariffs.clear();
    let currency = schedule
        .at(dates[0])
        .or_else(|| used.first().copied())
        .map_or_else(|| default.currency.clone(), |t| t.currency.clone());
    Ok(Priced {
        periods,
        total,
        step,
        currency,
    })
}

/// A site's cost per period under its tariffs (electricity: its main meters, or all devices without one;
/// heat, gas, water: its meters of that class).
#[utoipa::path(get, path = "/api/v1/sites/{id}/cost", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), CostParams),
    responses((status = 200, body = CostReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<CostParams>,
) -> Result<Json<CostReport>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let medium = p.medium.unwrap_or_default();
    let meters = medium_meters(site, medium);
    if meters.is_empty() && medium != Medium::Electricity {
        return Err(ApiError::NotFound(format!(
            "site {id} has no {} meter",
            medium.name()
        )));
    }
    Ok(Json(
        report(&state, &user, (site, &meters, site.id.as_str()), &p).await?,
    ))
}

/// A device's cost per period under its site's tariffs of the medium it measures (`medium` must be it).
#[utoipa::path(get, path = "/api/v1/devices/{id}/cost", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id"), CostParams),
    responses((status = 200, body = CostReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn device(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<CostParams>,
) -> Result<Json<CostReport>, ApiError> {
    let (site, dev) = visible_device(&state, &user, &id)?;
    let medium = p.medium.unwrap_or_default();
    let measures = match medium.meter_class() {
        None => measures_electricity(dev),
        Some(class) => dev.class == class,
    };
    if !measures {
        return Err(ApiError::BadRequest(format!(
            "device {id} does not measure {}: choose its medium with ?medium=",
            medium.name()
        )));
    }
    Ok(Json(
        report(&state, &user, (site, &[dev], dev.id.as_str()), &p).await?,
    ))
}
