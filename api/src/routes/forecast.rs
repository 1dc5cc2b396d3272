//! Forecasts for a site or a device: the rest of today, the month-end and the year-end consumption and
//! cost with a p10–p90 band, an hourly profile for tomorrow, and the site's yearly budget against the
//! year-end projection.
//!
//! The model ([`zw_model::forecast`]) is learned from the last 28 days of hourly energy (an hour-of-week
//! profile, or the BDEW standard profile H25 for households and G25 for other sites below 14 days of
//! history). Projections are the energy measured since the start of the day, month or year up to the
//! current hour plus the forecast from then on. Costs price the measured intervals and the forecast hours
//! with the site's tariffs (as `/cost`); the band on cost is the energy band applied to the forecast
//! part's gross cost.
//!
//! **Heating loads follow the weather.** A device of class `heat_meter` (its `heat_energy` counter, priced
//! by the site's heat tariffs), `heater` or `heat_pump` (electricity), and a site whose metered devices are
//! all such, is a heating load: its projections are corrected by the degree days of the rest
//! ([`zw_model::forecast::outlook_with`]) from the daily temperatures known: observed (the weather feed's
//! observations, [`crate::weather`], and the daily means of the site's `outdoor_temperature` devices'
//! `temperature` readings in the store, which take precedence), then the feed's forecast, then the monthly
//! normal. `weather` says what was applied (`source`: `none` without any temperature, then it forecasts as
//! any load; `not_heating`; `not_fitted`; or the temperatures used).
//!
//! **Any medium** (`?medium=`, a device's own by default, a site's electricity by default): heat in Wh of
//! the heat meters, gas in m³ of the gas meters and in Wh through the site's `[[gas_conversions]]`
//! (E = V × Z × Hₛ), water in m³, each priced with the site's tariffs of the medium
//! ([`zw_model::forecast::media`], [`media`]). Heat and gas follow the weather as heating loads do, water
//! forecasts by hour of week. What cannot be known is null and `missing` says why (no calorific value, no
//! tariff of the medium): never a silent 0.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};
use zw_influx::read::{self, Request};
use zw_model::forecast::heating::{Applied, KnownTemps};
use zw_model::forecast::media::{kwh_per_m3_at, outlook_medium};
use zw_model::forecast::{Hour, Method, Model, Slp, learn, outlook_with};
use zw_model::report::Medium;
use zw_model::tariff::{Schedule, Tariff};
use zw_model::{Device, Quantity, Site, SiteKind, User, storage};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;
use crate::periods::local_midnight;
use crate::routes::cost::{flat_default, interval_edges, metered};
use crate::routes::devices::visible_device;
use crate::routes::energy::{intervals, measures_electricity, medium_meters, visible_site};

mod media;

/// Days of hourly history a model learns from.
pub const HISTORY_DAYS: i64 = 28;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ForecastParams {
    /// What is forecast: `electricity`, `heat` (Wh of the heat meters), `gas` (m³ of the gas meters, and
    /// Wh through the site's `[[gas_conversions]]`) or `water` (m³). Default: a device's own medium, a
    /// site's electricity.
    pub medium: Option<Medium>,
}

/// One projected horizon. Energy (`…wh`) is null for water and for gas without a valid calorific value;
/// volume (`…m3`) is null for electricity and heat; cost is null without a tariff of the medium or
/// without the gas's kWh (the report's `missing` says why).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Horizon {
    /// End of the horizon (exclusive).
    pub until: DateTime<Utc>,
    /// Measured from the start of the day, month or year up to `from`, Wh.
    pub measured_wh: Option<f64>,
    /// Forecast from `from` to `until`, Wh.
    pub remaining_wh: Option<f64>,
    /// Projected total, Wh.
    pub wh: Option<f64>,
    /// Lower end of the band (p10), Wh.
    pub low_wh: Option<f64>,
    /// Upper end of the band (p90), Wh.
    pub high_wh: Option<f64>,
    /// Gas and water: measured up to `from`, m³.
    pub measured_m3: Option<f64>,
    /// Gas and water: forecast from `from` to `until`, m³.
    pub remaining_m3: Option<f64>,
    /// Gas and water: projected total, m³.
    pub m3: Option<f64>,
    /// Gas and water: lower end of the band (p10), m³.
    pub low_m3: Option<f64>,
    /// Gas and water: upper end of the band (p90), m³.
    pub high_m3: Option<f64>,
    /// Projected gross cost, cents (measured and forecast energy priced by the tariffs, Grundpreis included).
    pub gross_cents: Option<i64>,
    /// Lower end of the cost band, cents.
    pub low_gross_cents: Option<i64>,
    /// Upper end of the cost band, cents.
    pub high_gross_cents: Option<i64>,
    /// The measured part had no gap and every interval was priced.
    pub complete: bool,
}

/// One forecast hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastHour {
    /// Start of the hour.
    pub start: DateTime<Utc>,
    /// Expected energy, Wh; null for water and for gas without a valid calorific value.
    pub wh: Option<f64>,
    /// Gas and water: expected volume, m³.
    pub m3: Option<f64>,
}

/// A yearly budget of the forecast's medium against the year-end projection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BudgetCheck {
    /// Calendar year.
    pub year: i32,
    /// The budget's medium (the forecast's).
    pub medium: Medium,
    /// Energy budget, kWh.
    pub kwh: Option<f64>,
    /// Projected kWh above the energy budget (0 when within); null without an energy budget, or when the
    /// projection has no kWh (gas without a calorific value).
    pub exceeded_by_kwh: Option<f64>,
    /// Volume budget (gas, water), m³.
    pub m3: Option<f64>,
    /// Projected m³ above the volume budget (0 when within); null without a volume budget.
    pub exceeded_by_m3: Option<f64>,
    /// Cost budget, gross in the currency.
    pub gross: Option<f64>,
    /// Projected gross above the cost budget (0 when within); null without a cost budget.
    pub exceeded_by_gross: Option<f64>,
    /// Some budget is projected to be exceeded.
    pub exceeded: bool,
    /// Some budget is exceeded even at the band's lower end.
    pub exceeded_surely: bool,
}

/// A forecast report.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastReport {
    /// Site or device id.
    pub subject: String,
    /// What is forecast.
    pub medium: Medium,
    /// Why some figures are null (no calorific value valid for the gas, no tariff of the medium); empty
    /// when all are known.
    pub missing: Vec<String>,
    /// The hour the forecast starts at (measured before it).
    pub from: DateTime<Utc>,
    /// `hour_of_week` or `standard_profile` (with `profile`: `h25` or `g25`), and the days learned from.
    #[schema(value_type = Object)]
    pub method: Method,
    /// Relative band of a one-day forecast, p10 and p90 (e.g. −0.05, 0.05); longer horizons have their
    /// own, narrower per day (each horizon's `low_wh`/`high_wh`).
    pub band: (f64, f64),
    /// Currency of the cents.
    pub currency: String,
    /// Today up to local midnight.
    pub today: Horizon,
    /// The month up to its end.
    pub month: Horizon,
    /// What the month-end projection did with the weather: `degree_days_used` (K·d of the forecast rest,
    /// null when not corrected), `source` (`none`, `not_heating`, `not_fitted`, or the temperatures used:
    /// `observed`, `forecast`, `normal` joined by `+`) and `wh_per_kd`.
    #[schema(value_type = Object)]
    pub weather: Applied,
    /// The year up to its end.
    pub year: Horizon,
    /// Tomorrow, hour by hour (local midnight to midnight; 23 or 25 hours on DST changes).
    pub tomorrow: Vec<ForecastHour>,
    /// The site's budget of the medium for this year, if configured (sites only).
    pub budget: Option<BudgetCheck>,
}

struct Ctx<'a> {
    state: &'a AppState,
    user: &'a User,
    site: &'a Site,
    devices: &'a [&'a Device],
    tz: chrono_tz::Tz,
    /// What is forecast (electricity: `energy_import`).
    medium: Medium,
    /// The temperatures of a heating load; `None` for a load that does not heat.
    temps: Option<KnownTemps>,
    history: Vec<Hour>,
}

/// Device classes whose energy heats (see the module documentation).
pub const HEATING_CLASSES: &[&str] = &["heat_meter", "heater", "heat_pump"];

/// Whether all of `devices` (at least one) are heating loads.
pub fn heating_load(devices: &[&Device]) -> bool {
    !devices.is_empty()
        && devices
            .iter()
            .all(|d| HEATING_CLASSES.contains(&d.class.as_str()))
}

impl Ctx<'_> {
    async fn history(&self, from: DateTime<Utc>) -> Result<Vec<Hour>, ApiError> {
        let edges =
            zw_model::counter::uniform_edges(from - TimeDelta::days(HISTORY_DAYS), from, TimeDelta::hours(1));
        let b = intervals(
            self.state,
            (&self.site.id, self.devices),
            self.medium.quantity(),
            &edges,
            self.user,
        )
        .await?;
        Ok(b.iter()
            .zip(&edges)
            .map(|(b, t)| Hour {
                start: *t,
                wh: b.wh.filter(|_| b.complete),
            })
            .collect())
    }

    /// Measured from `start` to `from`, the projection to `until`, its cost, and why some of it is unknown.
    async fn horizon(
        &self,
        model: &Model<chrono_tz::Tz>,
        schedule: &Schedule<'_, chrono_tz::Tz>,
        used: &[&Tariff],
        (start, from, until): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(Horizon, Applied, Vec<String>), ApiError> {
        let edges = interval_edges(self.tz, start, from, schedule.step());
        let range = (start, from, until);
        if self.medium != Medium::Electricity {
            let buckets = if edges.len() < 2 {
                Vec::new()
            } else {
                intervals(
                    self.state,
                    (&self.site.id, self.devices),
                    self.medium.quantity(),
                    &edges,
                    self.user,
                )
                .await?
            };
            let conversions = (
                self.site.id.as_str(),
                self.state.inventory.gas_conversions.as_slice(),
            );
            let weather = self.weather();
            let (o, applied) = outlook_medium(
                self.medium,
                model,
                schedule,
                conversions,
                &buckets,
                range,
                weather,
            );
            let complete = buckets.iter().all(|b| b.complete);
            return Ok((media::horizon(until, &o, complete), applied, o.missing));
        }
        let (measured, complete) = if edges.len() < 2 {
            (Vec::new(), Vec::new())
        } else {
            metered(self.state, (self.site, self.devices), &edges, self.user, used).await?
        };
        let (o, applied) = outlook_with(model, schedule, &measured, range, self.weather());
        let horizon = Horizon {
            until,
            measured_wh: Some(o.measured_wh),
            remaining_wh: Some(o.remaining_wh),
            wh: Some(o.wh),
            low_wh: Some(o.low_wh),
            high_wh: Some(o.high_wh),
            measured_m3: None,
            remaining_m3: None,
            m3: None,
            low_m3: None,
            high_m3: None,
            gross_cents: Some(o.gross_cents),
            low_gross_cents: Some(o.low_gross_cents),
            high_gross_cents: Some(o.high_gross_cents),
            complete: complete.iter().all(|c| *c) && o.priced,
        };
        Ok((horizon, applied, Vec::new()))
    }

    /// What a heating load's outlook follows (not held across an await: the temperatures are not `Sync`).
    fn weather(&self) -> Option<zw_model::forecast::outlook::Weather<'_>> {
        self.temps.as_ref().map(|t| {
            (
                self.history.as_slice(),
                t as &dyn zw_model::forecast::heating::DayTemps,
            )
        })
    }

    /// The daily temperatures of the site: the weather feed's, with the daily means of its
    /// `outdoor_temperature` devices over the history (and today) as observations.
    async fn temperatures(&self, from: DateTime<Utc>) -> Result<KnownTemps, ApiError> {
        let mut known = self
            .state
            .views
            .weather
            .for_site(self.site.id.as_str(), &self.state.config.trees);
        let sensors: Vec<&Device> = self
            .site
            .devices
            .iter()
            .filter(|d| d.class == "outdoor_temperature")
            .collect();
        if sensors.is_empty() {
            return Ok(known);
        }
        // Daily means of UTC days (the store's windows), averaged over the sensors.
        let start = from - TimeDelta::days(HISTORY_DAYS + 1);
        let mut days: std::collections::BTreeMap<NaiveDate, (f64, usize)> = Default::default();
        for d in sensors {
            let request = Request::raw(storage::MEASUREMENT, &[Quantity::Temperature.name()])
                .tag(storage::TAG_SITE, self.site.id.as_str())
                .tag(storage::TAG_DEVICE, d.id.as_str())
                .range(self.user.clamp_start(start).min(from), from + TimeDelta::hours(1))
                .windows(read::Agg::Mean, 86_400);
            let groups = crate::db::read(self.state, "forecast_temperature", &request).await?;
            for (ts, c) in read::points(&groups) {
                if c.is_finite() {
                    let e = days.entry(ts.date_naive()).or_insert((0.0, 0));
                    *e = (e.0 + c, e.1 + 1);
                }
            }
        }
        for (day, (sum, n)) in days {
            known.observed.insert(day, sum / n as f64);
        }
        Ok(known)
    }
}

fn midnight(tz: chrono_tz::Tz, d: Option<NaiveDate>) -> Result<DateTime<Utc>, ApiError> {
    d.and_then(|d| local_midnight(tz, d))
        .ok_or_else(|| ApiError::BadRequest("date out of range".into()))
}

fn budget(state: &AppState, site: &Site, (year, medium): (i32, Medium), h: &Horizon) -> Option<BudgetCheck> {
    let b = state
        .inventory
        .budgets
        .iter()
        .find(|b| b.site == site.id && b.year == year && b.medium == medium)?;
    let over = |budget: Option<f64>, v: Option<f64>| budget.and_then(|b| v.map(|v| (v - b).max(0.0)));
    let kwh = |wh: Option<f64>| wh.map(|w| w / 1000.0);
    let money = |c: Option<i64>| c.map(|c| c as f64 / 100.0);
    let exceeded_by_kwh = over(b.kwh, kwh(h.wh));
    let exceeded_by_m3 = over(b.m3, h.m3);
    let exceeded_by_gross = over(b.gross, money(h.gross_cents));
    let positive = |x: Option<f64>| x.is_some_and(|x| x > 0.0);
    let surely = positive(over(b.kwh, kwh(h.low_wh)))
        || positive(over(b.m3, h.low_m3))
        || positive(over(b.gross, money(h.low_gross_cents)));
    Some(BudgetCheck {
        year,
        medium,
        kwh: b.kwh,
        exceeded_by_kwh,
        m3: b.m3,
        exceeded_by_m3,
        gross: b.gross,
        exceeded_by_gross,
        exceeded: positive(exceeded_by_kwh) || positive(exceeded_by_m3) || positive(exceeded_by_gross),
        exceeded_surely: surely,
    })
}

async fn report(
    state: &AppState,
    user: &User,
    (site, devices, subject, with_budget): (&Site, &[&Device], &str, bool),
    medium: Medium,
) -> Result<ForecastReport, ApiError> {
    let tz = state.config.timezone();
    let now = Utc::now();
    let from = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let today = from.with_timezone(&tz).date_naive();
    let heating = if medium == Medium::Electricity {
        heating_load(devices)
    } else {
        medium.weather_dependent()
    };
    let mut ctx = Ctx {
        state,
        user,
        site,
        devices,
        tz,
        medium,
        temps: None,
        history: Vec::new(),
    };
    let slp = if site.kind == SiteKind::Household {
        Slp::H25
    } else {
        Slp::G25
    };
    let hours = ctx.history(from).await?;
    if heating {
        ctx.temps = Some(ctx.temperatures(from).await?);
        ctx.history = hours.clone();
    }
    let model = learn(tz, &hours, slp).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no {} measured for {subject} in the last {HISTORY_DAYS} days to forecast from",
            medium.name()
        ))
    })?;
    let default = flat_default(state);
    let mut schedule = Schedule::for_medium(&state.inventory.tariffs, &site.id, medium, tz);
    if schedule.is_empty() && medium == Medium::Electricity {
        schedule = Schedule::only(&default, tz);
    }
    // The demand charge of the horizons' days at the billing year's peak so far (a later peak adds to it).
    if medium == Medium::Electricity
        && schedule.has_demand()
        && crate::routes::cost::is_site_total(site, devices)
    {
        let dates = [
            NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today),
            today.succ_opt().unwrap_or(today),
        ];
        let peaks =
            crate::routes::peak::Peaks::read(state, user, (site, devices), &schedule, (&dates, now)).await?;
        schedule = schedule.with_peaks(peaks.at(now));
    }
    let used: Vec<&Tariff> = state
        .inventory
        .tariffs
        .iter()
        .filter(|t| t.medium == medium && t.sites.contains(&site.id))
        .collect();
    let day = midnight(tz, Some(today))?;
    let tomorrow = midnight(tz, today.succ_opt())?;
    let month = midnight(tz, today.with_day(1))?;
    let next_month = midnight(
        tz,
        today
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1))),
    )?;
    let year = midnight(tz, NaiveDate::from_ymd_opt(today.year(), 1, 1))?;
    let next_year = midnight(tz, NaiveDate::from_ymd_opt(today.year() + 1, 1, 1))?;
    let mut missing: Vec<String> = Vec::new();
    let mut note = |m: Vec<String>| {
        for m in m {
            if !missing.contains(&m) {
                missing.push(m);
            }
        }
    };
    let (today_h, _, m) = ctx
        .horizon(&model, &schedule, &used, (day, from, tomorrow))
        .await?;
    note(m);
    let (month_h, weather, m) = ctx
        .horizon(&model, &schedule, &used, (month, from, next_month))
        .await?;
    note(m);
    let (year_h, _, m) = ctx
        .horizon(&model, &schedule, &used, (year, from, next_year))
        .await?;
    note(m);
    let after = midnight(tz, today.succ_opt().and_then(|d| d.succ_opt()))?;
    let currency = schedule
        .at(today)
        .map_or_else(|| default.currency.clone(), |t| t.currency.clone());
    let per_m3 = kwh_per_m3_at(site.id.as_str(), &state.inventory.gas_conversions, tomorrow);
    Ok(ForecastReport {
        subject: subject.into(),
        medium,
        missing,
        from,
        method: model.method(),
        band: model.band(),
        currency,
        budget: with_budget
            .then(|| budget(state, site, (today.year(), medium), &year_h))
            .flatten(),
        today: today_h,
        month: month_h,
        weather,
        year: year_h,
        tomorrow: model
            .hours(tomorrow, after)
            .into_iter()
            .map(|(start, v)| media::hour(medium, start, v, per_m3))
            .collect(),
    })
}

/// The device's own medium: that of its meter class, else electricity.
pub fn own_medium(device: &Device) -> Medium {
    Medium::ALL
        .into_iter()
        .find(|m| m.meter_class() == Some(device.class.as_str()))
        .unwrap_or(Medium::Electricity)
}

/// A site's forecast of a medium (electricity: its main meters, or all devices without one; heat, gas,
/// water: its meters of that class) and its budget of the medium for this year.
#[utoipa::path(get, path = "/api/v1/sites/{id}/forecast", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id"), ForecastParams),
    responses((status = 200, body = ForecastReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<ForecastParams>,
) -> Result<Json<ForecastReport>, ApiError> {
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
        report(&state, &user, (site, &meters, site.id.as_str(), true), medium).await?,
    ))
}

/// A device's forecast of its medium (or `medium`, which must be it), priced under its site's tariffs.
#[utoipa::path(get, path = "/api/v1/devices/{id}/forecast", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id"), ForecastParams),
    responses((status = 200, body = ForecastReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn device(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<ForecastParams>,
) -> Result<Json<ForecastReport>, ApiError> {
    let (site, dev) = visible_device(&state, &user, &id)?;
    let own = own_medium(dev);
    let medium = p.medium.unwrap_or(own);
    let measures = own == medium && (medium != Medium::Electricity || measures_electricity(dev));
    if !measures {
        return Err(ApiError::BadRequest(format!(
            "device {id} does not measure {}: choose its medium with ?medium=",
            medium.name()
        )));
    }
    Ok(Json(
        report(&state, &user, (site, &[dev], dev.id.as_str(), false), medium).await?,
    ))
}
