//! Energy per local day, week, month or year, with cost and the comparison with the previous periods or the
//! same periods a year earlier, for a device or a site; and a site's top consumers with their share.
//!
//! The medium is a parameter ([`Medium`]): electricity from the `energy_import`/`energy_export` counters,
//! heat from `heat_energy` (Wh), water from `volume` (m³), gas from `gas_volume` (m³) and, where the site has
//! a valid `[[gas_conversions]]` entry, its kWh ([`zw_model::counter::gas`]: E = V × Z × Hₛ; else unknown).
//! A site's heat, gas or water is the sum of its meters of that class ([`medium_meters`]).
//!
//! Consumption comes from the cumulative counters through the shared counter
//! component (`zw_model::counter`), so reboots, meter swaps and gaps never become phantom or negative kWh: an
//! unknown period is `null`, one with a gap longer than the counter's `max_gap` (or a reset, or missing data)
//! is marked incomplete, and the running one (`ongoing`) is the energy so far, measured up to each device's
//! latest reading. Each period is exact to the readings whatever the span: [`readings`] reads the readings
//! around each period edge and a summary of the steps in between, and the raw readings only of periods that
//! need them. A site's electricity is the sum of its main meters (device class `main_meter`) if it has any,
//! else of all its devices but heat, gas and water meters and soil sensors, so sub-meters are not counted
//! twice. Only each device's series at its inventory site is
//! read, and a period that starts before the caller's scope (a resident's move-in, `users[].since`) is
//! withheld: `wh` null, `complete` false. Costs are priced as `/cost` prices them ([`super::cost`]): interval
//! by interval under the site's `[[tariffs]]` (gross: energy, Grundpreis and VAT; for export the feed-in
//! credit), each period naming the tariff versions that applied, or at the flat `[api.tariff]` price for a
//! site without tariffs; heat, gas and water under the site's tariffs of the medium (`/cost?medium=`), or
//! not at all. The span a report reads is bounded per role and by what
//! InfluxDB can store ([`crate::bounds`]), checked before any query.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use zw_model::counter::{Bucket, CounterConfig, gas};
use zw_model::report::Medium;
use zw_model::tariff::{Interval, Schedule};
use zw_model::{Device, Id, Quantity, Site, User};

use crate::AppState;
use crate::auth::Caller;
use crate::bounds::{shifted, storable_date, within};
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::{Compare, Period, comparison_dates, current_dates, local_midnight, ongoing};
use crate::routes::cost::{Priced, TariffCost, flat_default, price_medium};
use crate::routes::devices::visible_device;

mod readings;
mod rollups;

/// Largest number of periods per report.
pub const MAX_PERIODS: u32 = 366;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnergyParams {
    /// `day`, `week`, `month` or `year`; default `day`.
    #[serde(default)]
    pub period: Period,
    /// Number of periods (default 7 days, 4 weeks, 3 months or 1 year; at most 366). The periods and the
    /// ones they are compared with may span at most `api.max_energy_range` (by default 732 days for
    /// residents, 3660 days for other roles).
    #[param(minimum = 1, maximum = 366)]
    pub count: Option<u32>,
    /// A local date in the last period (default today), from 1677-09-22 to 2262-04-10.
    pub until: Option<NaiveDate>,
    /// `import` (default) or `export`; `export` only for electricity.
    #[param(pattern = "^(import|export)$")]
    pub direction: Option<String>,
    /// What is measured: `electricity` (default; Wh of `energy_import`/`energy_export`), `heat` (Wh of the
    /// heat meters' `heat_energy`), `gas` (m³ of `gas_volume`, and Wh through the site's
    /// `[[gas_conversions]]`) or `water` (m³ of the water meters' `volume`).
    pub medium: Option<Medium>,
    /// What the periods are compared with: `previous` (default; the periods just before, e.g. last month)
    /// or `previous_year` (the same periods a year earlier, e.g. this November against last November).
    #[serde(default)]
    pub compare: Compare,
    /// Whether the periods are priced (default `true`). Pricing reads the amounts again at the tariff's
    /// interval; `false` answers a long comparison fast when only the energy is wanted (the cost fields are
    /// null then).
    pub cost: Option<bool>,
}

/// Energy of one period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeriodEnergy {
    /// First local date of the period.
    pub start: NaiveDate,
    /// Energy in Wh, exact to the counter readings; null when unknown. It includes what the counter grew
    /// across a gap that lies wholly inside the period. For gas: `m3` × Z × Hₛ of the site's
    /// `[[gas_conversions]]`, null where none is valid for all of the period; for water always null.
    pub wh: Option<f64>,
    /// Volume in m³ (gas and water), exact to the counter readings as `wh` is; null when unknown, and for
    /// electricity and heat.
    pub m3: Option<f64>,
    /// No gap longer than the counter's `max_gap` (15 min), no reset and no missing data in the period (a
    /// running period: up to the latest reading); when false `wh` is a lower bound.
    pub complete: bool,
    /// The period has not ended: `wh` is the energy so far (up to the latest readings).
    pub ongoing: bool,
    /// Cost in the tariff's currency, to the cent, as `/cost` reports the period: under the site's
    /// `[[tariffs]]` the gross amount (energy, Grundpreis, VAT) of an import, the feed-in credit of an
    /// export; else `wh` at the flat `price_per_kwh`. Null when `wh` is, or when the periods hold more
    /// tariff intervals than `/cost` prices at once (ask `/cost` for fewer periods). Heat, gas and water
    /// are priced by the site's tariffs of the medium exactly as `/cost?medium=` prices them (gas on its
    /// kWh, so null without a valid calorific value; water per m³); null when the site has none.
    pub cost: Option<f64>,
    /// The same cost net (without VAT; the feed-in credit of an export, which has none); null with `cost`.
    pub net_cost: Option<f64>,
    /// The tariff versions that priced `cost`, oldest first (the flat price is `api-tariff`).
    pub tariffs: Vec<TariffCost>,
}

/// An energy report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EnergyReport {
    /// Device or site id.
    pub subject: String,
    /// `import` or `export`.
    pub direction: String,
    /// The medium measured.
    pub medium: Medium,
    /// The unit `change_ratio` compares: `Wh` (field `wh`) for electricity and heat, `m³` (field `m3`) for
    /// gas and water.
    pub unit: String,
    /// Granularity.
    pub period: Period,
    /// Currency of `cost`.
    pub currency: String,
    /// The flat `[api.tariff]` price per kWh, used for `cost` only when the site has no `[[tariffs]]`.
    pub price_per_kwh: f64,
    /// What `previous` is: the periods just before, or the same periods a year earlier.
    pub compare: Compare,
    /// The requested periods, oldest first.
    pub periods: Vec<PeriodEnergy>,
    /// The periods compared with, as many as `periods`, oldest first (see `compare`).
    pub previous: Vec<PeriodEnergy>,
    /// Sum of `periods`.
    pub total: PeriodEnergy,
    /// Sum of `previous`.
    pub previous_total: PeriodEnergy,
    /// `total / previous_total − 1` when both are complete and the current periods have ended; else null.
    pub change_ratio: Option<f64>,
}

pub(crate) struct Range {
    /// The requested periods.
    current: Block,
    /// The periods they are compared with.
    previous: Block,
    /// When the report is made: periods after it are measured up to the latest readings.
    now: DateTime<Utc>,
    /// The start of the caller's scope (a resident's move-in): periods starting before it are withheld.
    since: Option<DateTime<Utc>>,
}

/// Consecutive periods: their local start dates and the end of the last, and the same as UTC edges.
pub(crate) struct Block {
    dates: Vec<NaiveDate>,
    edges: Vec<DateTime<Utc>>,
}

impl Block {
    fn new(tz: chrono_tz::Tz, dates: Option<Vec<NaiveDate>>) -> Result<Self, ApiError> {
        let out_of_range = || ApiError::BadRequest("date out of range".into());
        let dates = dates.ok_or_else(out_of_range)?;
        let edges: Option<Vec<_>> = dates.iter().map(|d| local_midnight(tz, *d)).collect();
        let edges = edges.ok_or_else(out_of_range)?;
        if edges.len() < 2 {
            return Err(out_of_range());
        }
        Ok(Self { dates, edges })
    }
}

fn range(state: &AppState, p: &EnergyParams, user: &User) -> Result<Range, ApiError> {
    let role = user.role;
    let count = p.count.unwrap_or_else(|| p.period.default_count());
    if !(1..=MAX_PERIODS).contains(&count) {
        return Err(ApiError::BadRequest(format!("count must be 1..={MAX_PERIODS}")));
    }
    let tz = state.config.timezone();
    let until = p
        .until
        .unwrap_or_else(|| Utc::now().with_timezone(&tz).date_naive());
    let until = storable_date("`until`", until)?;
    let current = Block::new(tz, current_dates(p.period, count, until))?;
    let previous = Block::new(tz, comparison_dates(p.period, p.compare, &current.dates))?;
    let (first, last) = (previous.edges[0], current.edges[current.edges.len() - 1]);
    let max = state.config.max_energy_range.for_role(role);
    within(
        "energy (the periods asked for and the ones they are compared with)",
        role,
        first,
        last,
        max,
    )?;
    // The queries reach one counter gap beyond the edges (`readings`): that must be storable too.
    let gap = CounterConfig::default().max_gap;
    shifted("the first period", first, -gap)?;
    shifted("the last period", last, gap)?;
    Ok(Range {
        current,
        previous,
        now: Utc::now(),
        since: user.since,
    })
}

pub(crate) fn quantity(
    medium: Medium,
    direction: Option<&str>,
) -> Result<(Quantity, &'static str), ApiError> {
    match (medium, direction.unwrap_or("import")) {
        (Medium::Electricity, "export") => Ok((Quantity::EnergyExport, "export")),
        (m, "import") => Ok((m.quantity(), "import")),
        (m, "export") => Err(ApiError::BadRequest(format!(
            "direction export is for electricity only, not {}",
            m.name()
        ))),
        (_, other) => Err(ApiError::BadRequest(format!(
            "direction must be import or export, got {other:?}"
        ))),
    }
}

/// A medium's buckets as the report shows them: electricity and heat in Wh; gas and water volumes moved to
/// `m3`, gas converted to Wh with `site`'s conversions (unknown where none is valid), water without Wh.
fn amounts(state: &AppState, site: &Id, medium: Medium, buckets: Vec<Bucket>) -> Vec<(Bucket, Option<f64>)> {
    match medium {
        Medium::Electricity | Medium::Heat => buckets.into_iter().map(|b| (b, None)).collect(),
        Medium::Water => buckets
            .into_iter()
            .map(|b| (Bucket { wh: None, ..b }, b.wh))
            .collect(),
        Medium::Gas => {
            let kwh = gas::energy(site.as_str(), &buckets, &state.inventory.gas_conversions);
            buckets
                .into_iter()
                .zip(kwh)
                .map(|(b, g)| (Bucket { wh: g.wh, ..b }, g.m3))
                .collect()
        }
    }
}

/// Energy per period of `edges`, summed over `devices` (each read at its inventory site); a period that
/// starts before `since` (the caller's scope, a resident's move-in) is withheld: unknown and incomplete,
/// never 0, and never what an earlier occupant used.
async fn buckets_for(
    state: &AppState,
    (site, devices): (&Id, &[&Device]),
    q: Quantity,
    edges: &[DateTime<Utc>],
    (now, since): (DateTime<Utc>, Option<DateTime<Utc>>),
) -> Result<Vec<Bucket>, ApiError> {
    let cfg = CounterConfig::default();
    let mut sum: Option<Vec<Bucket>> = None;
    for dev in devices {
        let b = readings::device_buckets(state, (site, &dev.id), q, edges, now, &cfg).await?;
        sum = Some(match sum {
            None => b,
            Some(acc) => acc.into_iter().zip(b).map(|(a, b)| add(a, b)).collect(),
        });
    }
    let mut sum = sum.unwrap_or_default();
    if let Some(since) = since {
        for (b, start) in sum.iter_mut().zip(edges) {
            if *start < since {
                b.wh = None;
                b.complete = false;
            }
        }
    }
    Ok(sum)
}

/// Energy per period of the comparison and of the requested periods, read together when they adjoin.
async fn report_buckets(
    state: &AppState,
    devices: (&Id, &[&Device]),
    q: Quantity,
    r: &Range,
) -> Result<(Vec<Bucket>, Vec<Bucket>), ApiError> {
    let (prev, cur) = (&r.previous.edges, &r.current.edges);
    if prev.last() == cur.first() {
        let mut edges = prev.clone();
        edges.extend_from_slice(&cur[1..]);
        let mut b = buckets_for(state, devices, q, &edges, (r.now, r.since)).await?;
        let current = b.split_off((prev.len() - 1).min(b.len()));
        return Ok((b, current));
    }
    Ok((
        buckets_for(state, devices, q, prev, (r.now, r.since)).await?,
        buckets_for(state, devices, q, cur, (r.now, r.since)).await?,
    ))
}

/// The cost of the comparison and of the requested periods.
async fn costs(
    state: &AppState,
    who: (&User, &Site, &[&Device]),
    (q, medium): (Quantity, Medium),
    r: &Range,
    (prev, cur): &(Vec<Bucket>, Vec<Bucket>),
) -> Result<(BlockCost, BlockCost), ApiError> {
    Ok((
        block_cost(state, who, (q, medium), (&r.previous, prev), r.now).await?,
        block_cost(state, who, (q, medium), (&r.current, cur), r.now).await?,
    ))
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

/// The cost of each period of a block and of their sum (gross, net), with the tariff versions of each
/// period.
struct BlockCost {
    periods: Vec<(Money, Vec<TariffCost>)>,
    total: Money,
}

/// Gross and net, in the currency.
type Money = (Option<f64>, Option<f64>);

impl BlockCost {
    /// No cost for any period (a medium without tariffs, or too many intervals to price).
    fn none(buckets: &[Bucket]) -> Self {
        Self {
            periods: buckets.iter().map(|_| ((None, None), Vec::new())).collect(),
            total: (None, None),
        }
    }
}

/// Cents to the currency, kept only where the energy is known.
fn money(wh: Option<f64>, cents: Option<i64>) -> Option<f64> {
    wh.and(cents).map(|c| c as f64 / 100.0)
}

/// Prices a block's periods: under the site's tariffs of the medium as `/cost?medium=` does (reading the
/// amounts again at the tariff's interval), else electricity at the flat price and other media not at all.
async fn block_cost(
    state: &AppState,
    (user, site, devices): (&User, &Site, &[&Device]),
    (q, medium): (Quantity, Medium),
    (block, buckets): (&Block, &[Bucket]),
    now: DateTime<Utc>,
) -> Result<BlockCost, ApiError> {
    let tz = state.config.timezone();
    if !Schedule::for_medium(&state.inventory.tariffs, &site.id, medium, tz).is_empty() {
        let export = q == Quantity::EnergyExport;
        let of = |wh: Option<f64>, c: &crate::routes::cost::PeriodCost| -> Money {
            if export {
                let credit = money(wh, Some(c.feed_in_cents));
                (credit, credit)
            } else {
                (money(wh, c.gross_cents), money(wh, c.net_cents))
            }
        };
        let span = (block.dates.as_slice(), block.edges.as_slice());
        return match price_medium(state, user, (site, devices), medium, span, now).await {
            Ok(Priced { periods, total, .. }) => Ok(BlockCost {
                total: of(buckets.iter().find_map(|b| b.wh), &total),
                periods: buckets
                    .iter()
                    .zip(periods)
                    .map(|(b, p)| (of(b.wh, &p), p.tariffs))
                    .collect(),
            }),
            // More intervals than one cost report prices: no cost rather than no report.
            Err(ApiError::BadRequest(_)) => Ok(BlockCost::none(buckets)),
            Err(e) => Err(e),
        };
    }
    if medium != Medium::Electricity {
        // Only electricity falls back to the flat price.
        return Ok(BlockCost::none(buckets));
    }
    let flat = flat_default(state);
    let schedule = Schedule::only(&flat, tz);
    let bill = |start: DateTime<Utc>, wh: Option<f64>| {
        let b = schedule.bill(
            &[Interval {
                start,
                import_wh: wh,
                export_wh: None,
            }],
            &[],
        );
        let lines: Vec<TariffCost> = b.lines.into_iter().map(TariffCost::from).collect();
        let gross = money(wh, Some(b.gross_cents));
        ((gross, money(wh, Some(b.net_cents))), lines)
    };
    let known: Vec<f64> = buckets.iter().filter_map(|b| b.wh).collect();
    let total_wh = (!known.is_empty()).then(|| known.iter().sum());
    Ok(BlockCost {
        periods: buckets.iter().map(|b| bill(b.start, b.wh)).collect(),
        total: bill(block.edges[0], total_wh).0,
    })
}

type Amounts = Vec<(Bucket, Option<f64>)>;

fn report(
    state: &AppState,
    (subject, site, medium): (&str, &Id, Medium),
    direction: &str,
    p: &EnergyParams,
    r: &Range,
    (prev, cur): (Vec<Bucket>, Vec<Bucket>),
    (prev_cost, cur_cost): (BlockCost, BlockCost),
) -> EnergyReport {
    let tariff = &state.config.tariff;
    let (prev, cur): (Amounts, Amounts) = (
        amounts(state, site, medium, prev),
        amounts(state, site, medium, cur),
    );
    let entries = |block: &Block, b: &[(Bucket, Option<f64>)], c: BlockCost| -> Vec<PeriodEnergy> {
        b.iter()
            .zip(&block.dates)
            .zip(block.edges.windows(2))
            .zip(c.periods)
            .map(|((((b, m3), d), w), ((cost, net_cost), tariffs))| PeriodEnergy {
                start: *d,
                wh: b.wh,
                m3: *m3,
                complete: b.complete,
                ongoing: ongoing(w[0], w[1], r.now),
                cost,
                net_cost,
                tariffs,
            })
            .collect()
    };
    let (pt_cost, t_cost) = (prev_cost.total, cur_cost.total);
    let (previous, current) = (
        entries(&r.previous, &prev, prev_cost),
        entries(&r.current, &cur, cur_cost),
    );
    let total = |items: &[PeriodEnergy], start: NaiveDate, cost: Money| {
        let sum = |f: fn(&PeriodEnergy) -> Option<f64>| {
            let known: Vec<f64> = items.iter().filter_map(f).collect();
            (!known.is_empty()).then(|| known.iter().sum())
        };
        let (wh, m3) = (sum(|e| e.wh), sum(|e| e.m3));
        // Priced on what is known: the energy, or the volume of water (which has no Wh).
        let known = wh.or(m3);
        PeriodEnergy {
            start,
            wh,
            m3,
            complete: items.iter().all(|e| e.complete),
            ongoing: items.iter().any(|e| e.ongoing),
            cost: known.and(cost.0),
            net_cost: known.and(cost.1),
            tariffs: Vec::new(),
        }
    };
    let t = total(&current, r.current.dates[0], t_cost);
    let pt = total(&previous, r.previous.dates[0], pt_cost);
    // A running period against a whole one would read as a drop: no ratio until it has ended.
    let by_volume = matches!(medium, Medium::Gas | Medium::Water);
    let main = |e: &PeriodEnergy| if by_volume { e.m3 } else { e.wh };
    let change_ratio = match (t.complete && pt.complete && !t.ongoing, main(&t), main(&pt)) {
        (true, Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    };
    EnergyReport {
        subject: subject.into(),
        direction: direction.into(),
        medium,
        unit: if by_volume { "m³" } else { "Wh" }.into(),
        period: p.period,
        compare: p.compare,
        currency: tariff.currency.clone(),
        price_per_kwh: tariff.price_per_kwh,
        total: t,
        previous_total: pt,
        change_ratio,
        previous,
        periods: current,
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
    let (site, dev) = visible_device(&state, &user, &id)?;
    let medium = p.medium.unwrap_or(Medium::Electricity);
    let (q, direction) = quantity(medium, p.direction.as_deref())?;
    let r = range(&state, &p, &user)?;
    let b = report_buckets(&state, (&site.id, &[dev]), q, &r).await?;
    let c = match p.cost {
        Some(false) => (BlockCost::none(&b.0), BlockCost::none(&b.1)),
        _ => costs(&state, (&user, site, &[dev]), (q, medium), &r, &b).await?,
    };
    let subject = (dev.id.as_str(), &site.id, medium);
    Ok(Json(report(&state, subject, direction, &p, &r, b, c)))
}

/// The devices whose sum is the site's electricity: its main meters, or if it has none every device that
/// is no heat, gas or water meter and no soil sensor.
pub fn site_meters(site: &Site) -> Vec<&Device> {
    let main: Vec<&Device> = site.devices.iter().filter(|d| d.class == "main_meter").collect();
    if main.is_empty() {
        site.devices.iter().filter(|d| measures_electricity(d)).collect()
    } else {
        main
    }
}

/// Whether `device` measures electricity: it is no heat, gas or water meter ([`Medium::meter_class`]) and no
/// soil sensor.
pub fn measures_electricity(device: &Device) -> bool {
    device.class != "soil_sensor"
        && Medium::ALL
            .iter()
            .all(|m| m.meter_class() != Some(device.class.as_str()))
}

/// The devices whose sum is the site's `medium`: its meters of the medium's class ([`Medium::meter_class`]),
/// for electricity [`site_meters`].
pub fn medium_meters(site: &Site, medium: Medium) -> Vec<&Device> {
    match medium.meter_class() {
        Some(class) => site.devices.iter().filter(|d| d.class == class).collect(),
        None => site_meters(site),
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

/// A site's energy or volume per period of a medium (for electricity the sum of its main meters, or of all
/// devices without one; for heat, gas and water the sum of its meters of that class).
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
    let medium = p.medium.unwrap_or(Medium::Electricity);
    let (q, direction) = quantity(medium, p.direction.as_deref())?;
    let r = range(&state, &p, &user)?;
    let meters = medium_meters(site, medium);
    let b = report_buckets(&state, (&site.id, &meters), q, &r).await?;
    let c = match p.cost {
        Some(false) => (BlockCost::none(&b.0), BlockCost::none(&b.1)),
        _ => costs(&state, (&user, site, &meters), (q, medium), &r, &b).await?,
    };
    let subject = (site.id.as_str(), &site.id, medium);
    Ok(Json(report(&state, subject, direction, &p, &r, b, c)))
}

/// The periods of a report, for rankings (only the requested ones are read).
pub(crate) fn site_range(state: &AppState, p: &EnergyParams, user: &User) -> Result<Range, ApiError> {
    range(state, p, user)
}

impl Range {
    /// The requested periods as one span: the first local date and the UTC edges `[start, end]`.
    pub(crate) fn span(&self) -> (NaiveDate, [DateTime<Utc>; 2]) {
        let e = &self.current.edges;
        (self.current.dates[0], [e[0], e[e.len() - 1]])
    }
}

/// Total imported energy of some devices over a range.
pub(crate) struct Ranked {
    pub(crate) wh: Option<f64>,
    pub(crate) complete: bool,
}

impl Ranked {
    pub(crate) async fn total(
        state: &AppState,
        devices: (&Id, &[&Device]),
        r: &Range,
    ) -> Result<Self, ApiError> {
        let b = buckets_for(
            state,
            devices,
            Quantity::EnergyImport,
            &r.current.edges,
            (r.now, r.since),
        )
        .await?;
        let known: Vec<f64> = b.iter().filter_map(|b| b.wh).collect();
        Ok(Self {
            wh: (!known.is_empty()).then(|| known.iter().sum()),
            complete: b.iter().all(|b| b.complete),
        })
    }
}

/// Energy per interval `[edges[k], edges[k + 1])` of some of a site's devices, summed (for the cost and
/// forecast reports): an interval after now is measured up to the latest readings, one before the caller's
/// scope is withheld.
pub(crate) async fn intervals(
    state: &AppState,
    (site, devices): (&Id, &[&Device]),
    q: Quantity,
    edges: &[DateTime<Utc>],
    user: &User,
) -> Result<Vec<Bucket>, ApiError> {
    buckets_for(state, (site, devices), q, edges, (Utc::now(), user.since)).await
}
