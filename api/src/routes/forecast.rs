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
//! any load; `not_heating`; `not_fitted`; or the temperatures used). Gas meters are not forecast yet (their
//! m³ need the calorific value).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use serde::Serialize;
use zw_influx::read::{self, Request};
use zw_model::forecast::heating::{Applied, KnownTemps};
use zw_model::forecast::{Hour, Method, Model, Slp, learn, outlook_with};
use zw_model::report::Medium;
use zw_model::tariff::Interval;
use zw_model::tariff::{Schedule, Tariff};
use zw_model::{Device, Quantity, Site, SiteKind, User, storage};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::periods::local_midnight;
use crate::routes::cost::{flat_default, interval_edges, metered};
use crate::routes::devices::visible_device;
use crate::routes::energy::{intervals, site_meters, visible_site};

/// Days of hourly history a model learns from.
pub const HISTORY_DAYS: i64 = 28;

/// One projected horizon.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Horizon {
    /// End of the horizon (exclusive).
    pub until: DateTime<Utc>,
    /// Measured from the start of the day, month or year up to `from`, Wh.
    pub measured_wh: f64,
    /// Forecast from `from` to `until`, Wh.
    pub remaining_wh: f64,
    /// Projected total, Wh.
    pub wh: f64,
    /// Lower end of the band (p10), Wh.
    pub low_wh: f64,
    /// Upper end of the band (p90), Wh.
    pub high_wh: f64,
    /// Projected gross cost, cents (measured and forecast energy priced by the tariffs, Grundpreis included).
    pub gross_cents: i64,
    /// Lower end of the cost band, cents.
    pub low_gross_cents: i64,
    /// Upper end of the cost band, cents.
    pub high_gross_cents: i64,
    /// The measured part had no gap and every interval was priced.
    pub complete: bool,
}

/// One forecast hour.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ForecastHour {
    /// Start of the hour.
    pub start: DateTime<Utc>,
    /// Expected energy, Wh.
    pub wh: f64,
}

/// A yearly budget against the year-end projection.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BudgetCheck {
    /// Calendar year.
    pub year: i32,
    /// Energy budget, kWh.
    pub kwh: Option<f64>,
    /// Projected kWh above the energy budget (0 when within); null without an energy budget.
    pub exceeded_by_kwh: Option<f64>,
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
    /// The site's budget for this year, if configured (sites only).
    pub budget: Option<BudgetCheck>,
}

struct Ctx<'a> {
    state: &'a AppState,
    user: &'a User,
    site: &'a Site,
    devices: &'a [&'a Device],
    tz: chrono_tz::Tz,
    /// What is forecast: `energy_import`, or a heat meter's `heat_energy`.
    quantity: Quantity,
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
            self.quantity,
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

    /// Measured from `start` to `from`, the projection to `until`, and its cost.
    async fn horizon(
        &self,
        model: &Model<chrono_tz::Tz>,
        schedule: &Schedule<'_, chrono_tz::Tz>,
        used: &[&Tariff],
        (start, from, until): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    ) -> Result<(Horizon, Applied), ApiError> {
        let edges = interval_edges(self.tz, start, from, schedule.step());
        let (measured, complete) = if edges.len() < 2 {
            (Vec::new(), Vec::new())
        } else if self.quantity == Quantity::EnergyImport {
            metered(self.state, (self.site, self.devices), &edges, self.user, used).await?
        } else {
            let b = intervals(
                self.state,
                (&self.site.id, self.devices),
                self.quantity,
                &edges,
                self.user,
            )
            .await?;
            let complete = b.iter().map(|b| b.complete).collect();
            let ivs = b
                .iter()
                .zip(&edges)
                .map(|(b, t)| Interval {
                    start: *t,
                    import_wh: b.wh,
                    export_wh: None,
                })
                .collect();
            (ivs, complete)
        };
        let weather = self.temps.as_ref().map(|t| {
            (
                self.history.as_slice(),
                t as &dyn zw_model::forecast::heating::DayTemps,
            )
        });
        let (o, applied) = outlook_with(model, schedule, &measured, (start, from, until), weather);
        let horizon = Horizon {
            until,
            measured_wh: o.measured_wh,
            remaining_wh: o.remaining_wh,
            wh: o.wh,
            low_wh: o.low_wh,
            high_wh: o.high_wh,
            gross_cents: o.gross_cents,
            low_gross_cents: o.low_gross_cents,
            high_gross_cents: o.high_gross_cents,
            complete: complete.iter().all(|c| *c) && o.priced,
        };
        Ok((horizon, applied))
    }

    /// The daily temperatures of the site: the weather feed's, with the daily means of its
    /// `outdoor_temperature` devices over the history (and today) as observations.
    async fn temperatures(&self, from: DateTime<Utc>) -> Result<KnownTemps, ApiError> {
        let mut known = self.state.views.weather.for_site(self.site.id.as_str());
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

fn budget(state: &AppState, site: &Site, year: i32, h: &Horizon) -> Option<BudgetCheck> {
    let b = state
        .inventory
        .budgets
        .iter()
        .find(|b| b.site == site.id && b.year == year)?;
    let over = |budget: Option<f64>, v: f64| budget.map(|b| (v - b).max(0.0));
    let exceeded_by_kwh = over(b.kwh, h.wh / 1000.0);
    let exceeded_by_gross = over(b.gross, h.gross_cents as f64 / 100.0);
    let surely = over(b.kwh, h.low_wh / 1000.0).is_some_and(|x| x > 0.0)
        || over(b.gross, h.low_gross_cents as f64 / 100.0).is_some_and(|x| x > 0.0);
    Some(BudgetCheck {
        year,
        kwh: b.kwh,
        exceeded_by_kwh,
        gross: b.gross,
        exceeded_by_gross,
        exceeded: exceeded_by_kwh.is_some_and(|x| x > 0.0) || exceeded_by_gross.is_some_and(|x| x > 0.0),
        exceeded_surely: surely,
    })
}

async fn report(
    state: &AppState,
    user: &User,
    (site, devices, subject, with_budget): (&Site, &[&Device], &str, bool),
) -> Result<ForecastReport, ApiError> {
    let tz = state.config.timezone();
    let now = Utc::now();
    let from = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let today = from.with_timezone(&tz).date_naive();
    let heating = heating_load(devices);
    let heat_meters = heating && devices.iter().all(|d| d.class == "heat_meter");
    let mut ctx = Ctx {
        state,
        user,
        site,
        devices,
        tz,
        quantity: if heat_meters {
            Quantity::HeatEnergy
        } else {
            Quantity::EnergyImport
        },
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
            "no energy measured for {subject} in the last {HISTORY_DAYS} days to forecast from"
        ))
    })?;
    let default = flat_default(state);
    let medium = if heat_meters {
        Medium::Heat
    } else {
        Medium::Electricity
    };
    let mut schedule = Schedule::for_medium(&state.inventory.tariffs, &site.id, medium, tz);
    if schedule.is_empty() && medium == Medium::Electricity {
        schedule = Schedule::only(&default, tz);
    }
    // The demand charge of the horizons' days at the billing year's peak so far (a later peak adds to it).
    if schedule.has_demand() && crate::routes::cost::is_site_total(site, devices) {
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
    let (today_h, _) = ctx
        .horizon(&model, &schedule, &used, (day, from, tomorrow))
        .await?;
    let (month_h, weather) = ctx
        .horizon(&model, &schedule, &used, (month, from, next_month))
        .await?;
    let (year_h, _) = ctx
        .horizon(&model, &schedule, &used, (year, from, next_year))
        .await?;
    let after = midnight(tz, today.succ_opt().and_then(|d| d.succ_opt()))?;
    let currency = schedule
        .at(today)
        .map_or_else(|| default.currency.clone(), |t| t.currency.clone());
    Ok(ForecastReport {
        subject: subject.into(),
        from,
        method: model.method(),
        band: model.band(),
        currency,
        budget: with_budget
            .then(|| budget(state, site, today.year(), &year_h))
            .flatten(),
        today: today_h,
        month: month_h,
        weather,
        year: year_h,
        tomorrow: model
            .hours(tomorrow, after)
            .into_iter()
            .map(|(start, wh)| ForecastHour { start, wh })
            .collect(),
    })
}

/// A site's forecast (its main meters, or all devices without one) and its budget for this year.
#[utoipa::path(get, path = "/api/v1/sites/{id}/forecast", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = ForecastReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<ForecastReport>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let meters = site_meters(site);
    Ok(Json(
        report(&state, &user, (site, &meters, site.id.as_str(), true)).await?,
    ))
}

/// A device's forecast, priced under its site's tariffs.
#[utoipa::path(get, path = "/api/v1/devices/{id}/forecast", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Device id")),
    responses((status = 200, body = ForecastReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn device(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<ForecastReport>, ApiError> {
    let (site, dev) = visible_device(&state, &user, &id)?;
    Ok(Json(
        report(&state, &user, (site, &[dev], dev.id.as_str(), false)).await?,
    ))
}
