//! A site's electricity today against its learned normal, and the forecast's backtested error on the
//! site's own history (`GET /api/v1/sites/{id}/normal`).
//!
//! The normal is the forecast's model ([`zw_model::forecast::learn`], as `/forecast` learns it): an
//! hour-of-week profile from the 28 days before today (a BDEW standard profile scaled to the site while
//! fewer than 14 days are known). Today so far (whole hours up to the current one) is compared with the
//! profile's hours of the same span, so a Tuesday at 14:00 is set against the usual Tuesday up to 14:00.
//!
//! The backtest repeats the day-ahead forecast on each of the last [`BACKTEST_DAYS`] whole days: a model
//! learned from the 28 days before that day forecasts it, and is compared with what was measured. Days
//! without a known measurement of every hour, or without history before them, are left out (the count says
//! how many were scored); the error is the mean absolute percentage error of the scored days and how many
//! fell inside the forecast's p10–p90 band. Nothing is scored from simulated data: these are the site's own
//! readings.
//!
//! `GET /api/v1/normal` answers today against the normal for every building in the caller's scope at once
//! (without the backtest), so the town overview needs one request, not one per building; a building whose
//! normal cannot be learned is listed with the reason.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use futures_util::future::{BoxFuture, FutureExt as _};
use futures_util::{StreamExt as _, TryStreamExt as _};
use serde::Serialize;
use zw_model::counter::Bucket;
use zw_model::forecast::{Hour, Method, Slp, learn};
use zw_model::{Quantity, Site, SiteKind, User};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::periods::local_midnight;
use crate::routes::energy::{intervals, site_meters, visible_site};
use crate::routes::forecast::HISTORY_DAYS;

/// Whole days the day-ahead forecast is backtested on.
pub const BACKTEST_DAYS: i64 = 7;

/// Today so far against the learned normal of the same hours.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Today {
    /// The local date.
    pub date: NaiveDate,
    /// Start of the compared span (local midnight).
    pub from: DateTime<Utc>,
    /// End of the compared span (the start of the current hour).
    pub until: DateTime<Utc>,
    /// Measured from `from` to `until`, Wh; null when an hour of it is unknown.
    pub measured_wh: Option<f64>,
    /// The learned normal of the same hours, Wh.
    pub normal_wh: f64,
    /// The learned normal of the whole day, Wh.
    pub normal_day_wh: f64,
    /// `measured_wh / normal_wh − 1`; null without a measurement or a positive normal.
    pub ratio: Option<f64>,
    /// Lower end of the normal's band (p10) for the same hours, Wh.
    pub low_wh: f64,
    /// Upper end of the normal's band (p90) for the same hours, Wh.
    pub high_wh: f64,
    /// The measurement lies outside the band; null without a measurement or before the first whole hour.
    pub outside: Option<bool>,
}

/// One backtested day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BacktestDay {
    /// The local date forecast.
    pub date: NaiveDate,
    /// Forecast the day before, Wh.
    pub forecast_wh: f64,
    /// Lower end of the band (p10), Wh.
    pub low_wh: f64,
    /// Upper end of the band (p90), Wh.
    pub high_wh: f64,
    /// Measured, Wh.
    pub measured_wh: f64,
}

/// The day-ahead forecast's error on the site's last days.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Backtest {
    /// Days scored (at most [`BACKTEST_DAYS`]).
    pub days: Vec<BacktestDay>,
    /// Mean absolute percentage error of the scored days; null with none.
    pub mape_pct: Option<f64>,
    /// Scored days whose measurement lay in the band.
    pub inside: usize,
}

/// A site's learned normal and backtest.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NormalReport {
    /// Site id.
    pub site: String,
    /// How today's normal was learned (`hour_of_week` or `standard_profile`, with the days learned from).
    #[schema(value_type = Object)]
    pub method: Method,
    /// Today so far against the normal.
    pub today: Today,
    /// The day-ahead forecast backtested on the last days.
    pub backtest: Backtest,
}

/// Sum of the hours in `[from, to)`, with whether every one of them was known.
fn measured(hours: &[Hour], from: DateTime<Utc>, to: DateTime<Utc>) -> (f64, bool, usize) {
    let span: Vec<&Hour> = hours.iter().filter(|h| h.start >= from && h.start < to).collect();
    let sum = span.iter().filter_map(|h| h.wh).sum();
    (sum, span.iter().all(|h| h.wh.is_some()), span.len())
}

/// The hours learned from for a forecast at `at`: the [`HISTORY_DAYS`] before it.
fn before(hours: &[Hour], at: DateTime<Utc>) -> Vec<Hour> {
    let from = at - TimeDelta::days(HISTORY_DAYS);
    hours
        .iter()
        .filter(|h| h.start >= from && h.start < at)
        .copied()
        .collect()
}

/// Today against the normal and the backtest of the days before, from hourly `hours` that end at `now`'s
/// hour (pure: the time zone and the time are given).
pub fn assess(
    tz: chrono_tz::Tz,
    hours: &[Hour],
    slp: Slp,
    (today, now): (NaiveDate, DateTime<Utc>),
) -> Option<(Method, Today, Backtest)> {
    let midnight = |d: Option<NaiveDate>| d.and_then(|d| local_midnight(tz, d));
    let day = midnight(Some(today))?;
    let next = midnight(today.succ_opt())?;
    let until = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))?
        .clamp(day, next);
    let model = learn(tz, &before(hours, day), slp)?;
    let (so_far, known, _) = measured(hours, day, until);
    let normal = model.project(0.0, day, until);
    let normal_wh = normal.wh;
    let measured_wh = known.then_some(so_far);
    let today_cmp = Today {
        date: today,
        from: day,
        until,
        measured_wh,
        normal_wh,
        normal_day_wh: model.hours(day, next).iter().map(|h| h.1).sum(),
        ratio: measured_wh
            .filter(|_| normal_wh > 0.0 && until > day)
            .map(|m| m / normal_wh - 1.0),
        low_wh: normal.low_wh,
        high_wh: normal.high_wh,
        outside: measured_wh
            .filter(|_| until > day)
            .map(|m| !(normal.low_wh..=normal.high_wh).contains(&m)),
    };
    let mut days = Vec::new();
    for back in (1..=BACKTEST_DAYS).rev() {
        let Some(date) = today.checked_sub_days(chrono::Days::new(back as u64)) else {
            continue;
        };
        let (Some(start), Some(end)) = (midnight(Some(date)), midnight(date.succ_opt())) else {
            continue;
        };
        let (actual, whole, n) = measured(hours, start, end);
        if !whole || n < 23 || actual <= 0.0 {
            continue;
        }
        let Some(m) = learn(tz, &before(hours, start), slp) else {
            continue;
        };
        let p = m.project(0.0, start, end);
        days.push(BacktestDay {
            date,
            forecast_wh: p.wh,
            low_wh: p.low_wh,
            high_wh: p.high_wh,
            measured_wh: actual,
        });
    }
    let mape_pct = (!days.is_empty()).then(|| {
        days.iter()
            .map(|d| 100.0 * (d.forecast_wh - d.measured_wh).abs() / d.measured_wh)
            .sum::<f64>()
            / days.len() as f64
    });
    let inside = days
        .iter()
        .filter(|d| (d.low_wh..=d.high_wh).contains(&d.measured_wh))
        .count();
    Some((
        model.method(),
        today_cmp,
        Backtest {
            days,
            mape_pct,
            inside,
        },
    ))
}

/// A site's electricity today against its learned normal, and the day-ahead forecast backtested on its
/// last whole days.
#[utoipa::path(get, path = "/api/v1/sites/{id}/normal", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = NormalReport), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<NormalReport>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let (method, today, backtest) = report(&state, &user, site, BACKTEST_DAYS)
        .await?
        .ok_or_else(|| no_normal(site))?;
    Ok(Json(NormalReport {
        site: site.id.to_string(),
        method,
        today,
        backtest,
    }))
}

fn no_normal(site: &Site) -> ApiError {
    ApiError::NotFound(no_normal_text(site))
}

fn no_normal_text(site: &Site) -> String {
    format!(
        "no energy measured for {} in the {HISTORY_DAYS} days before today to learn a normal from",
        site.id
    )
}

/// A site's hourly electricity from `back` days before the [`HISTORY_DAYS`] before today up to the current
/// hour, and its normal and backtest ([`assess`]; the backtest scores only those `back` days); `None` when
/// nothing was measured to learn from.
async fn report(
    state: &AppState,
    user: &User,
    site: &Site,
    back: i64,
) -> Result<Option<(Method, Today, Backtest)>, ApiError> {
    let meters = site_meters(site);
    let tz = state.config.timezone();
    let now = Utc::now();
    let today = now.with_timezone(&tz).date_naive();
    let out_of_range = || ApiError::BadRequest("date out of range".into());
    let day = local_midnight(tz, today).ok_or_else(out_of_range)?;
    let end = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now)
        .max(day);
    let start = day - TimeDelta::days(HISTORY_DAYS + back);
    let edges = zw_model::counter::uniform_edges(start, end, TimeDelta::hours(1));
    let b = intervals(state, (&site.id, &meters), Quantity::EnergyImport, &edges, user).await?;
    Ok(assess(
        tz,
        &complete_hours(&b, &edges),
        standard_profile(site),
        (today, now),
    ))
}

/// The hours starting at `edges` with their energy where it is complete (else unknown).
pub(crate) fn complete_hours(b: &[Bucket], edges: &[DateTime<Utc>]) -> Vec<Hour> {
    b.iter()
        .zip(edges)
        .map(|(b, t)| Hour {
            start: *t,
            wh: b.wh.filter(|_| b.complete),
        })
        .collect()
}

/// The standard load profile a site starts from: H25 for a household, G25 for any other.
pub(crate) fn standard_profile(site: &Site) -> Slp {
    if site.kind == SiteKind::Household {
        Slp::H25
    } else {
        Slp::G25
    }
}

/// Buildings read at the same time by [`all`].
const CONCURRENCY: usize = 8;

/// One building's today against its normal, or why there is none.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteNormal {
    /// Site id.
    pub site: String,
    /// How the normal was learned; null without one.
    #[schema(value_type = Option<Object>)]
    pub method: Option<Method>,
    /// Today so far against the normal; null without one.
    pub today: Option<Today>,
    /// Why there is no normal (nothing measured to learn from); null with one.
    pub reason: Option<String>,
}

/// Every building in scope against its normal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Normals {
    /// The buildings in the caller's scope, in inventory order.
    pub sites: Vec<SiteNormal>,
}

/// Today so far against the learned normal of the same hours for every building in the caller's scope
/// (the town overview's column; a caller who sees no building gets an empty list).
#[utoipa::path(get, path = "/api/v1/normal", tag = "energy", security(("bearer" = [])),
    responses((status = 200, body = Normals), (status = 401, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn all(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<Normals>, ApiError> {
    let sites: Vec<&Site> = state
        .inventory
        .sites
        .iter()
        .filter(|s| s.kind == SiteKind::Building && user.sees(s))
        .collect();
    // Boxed first: a stream mapping sites to futures that borrow them is not `Send` for every lifetime.
    let reads: Vec<BoxFuture<'_, Result<SiteNormal, ApiError>>> = sites
        .iter()
        .map(|site| {
            let (state, user) = (&state, &user);
            async move {
                Ok(match report(state, user, site, 0).await? {
                    Some((method, today, _)) => SiteNormal {
                        site: site.id.to_string(),
                        method: Some(method),
                        today: Some(today),
                        reason: None,
                    },
                    None => SiteNormal {
                        site: site.id.to_string(),
                        method: None,
                        today: None,
                        reason: Some(no_normal_text(site)),
                    },
                })
            }
            .boxed()
        })
        .collect();
    let sites = futures_util::stream::iter(reads)
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(Json(Normals { sites }))
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeZone};
    use chrono_tz::Europe::Berlin;

    use super::*;

    /// Weekdays 2 kWh per hour from 07 to 19, else 0.5 kWh; `odd` days get twice that.
    fn history(from: DateTime<Utc>, to: DateTime<Utc>, odd: &[NaiveDate]) -> Vec<Hour> {
        zw_model::counter::uniform_edges(from, to, TimeDelta::hours(1))
            .windows(2)
            .map(|w| {
                let l = w[0].with_timezone(&Berlin);
                let work = l.weekday().number_from_monday() <= 5 && (7..19).contains(&l.hour());
                let base = if work { 2000.0 } else { 500.0 };
                let f = if odd.contains(&l.date_naive()) { 2.0 } else { 1.0 };
                Hour {
                    start: w[0],
                    wh: Some(base * f),
                }
            })
            .collect()
    }

    #[test]
    fn today_is_set_against_the_same_hours_of_the_learned_week_and_the_days_before_are_backtested() {
        // Wednesday 2026-11-18, 14:30 local; 35 days of history, today at twice the usual use.
        let now = Berlin
            .with_ymd_and_hms(2026, 11, 18, 14, 30, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let today = NaiveDate::from_ymd_opt(2026, 11, 18).expect("date");
        let day = local_midnight(Berlin, today).expect("midnight");
        let hour = Berlin
            .with_ymd_and_hms(2026, 11, 18, 14, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let hours = history(day - TimeDelta::days(35), hour, &[today]);
        let (method, t, b) = assess(Berlin, &hours, Slp::G25, (today, now)).expect("a model");
        assert!(matches!(method, Method::HourOfWeek { days: 28 }), "{method:?}");
        // 00–07 and the 14 h of 07–14: 7 × 0.5 + 7 × 2 = 17.5 kWh usual, 35 measured.
        assert_eq!(t.until, hour);
        assert!((t.normal_wh - 17_500.0).abs() < 1e-6, "{t:?}");
        assert_eq!(t.measured_wh, Some(35_000.0));
        assert!((t.ratio.expect("a ratio") - 1.0).abs() < 1e-9);
        // A whole weekday: 12 × 2 + 12 × 0.5 = 30 kWh.
        assert!((t.normal_day_wh - 30_000.0).abs() < 1e-6, "{t:?}");
        // Seven whole days before, each forecast exactly (the pattern repeats).
        assert_eq!(b.days.len(), 7, "{b:?}");
        assert!(b.mape_pct.expect("an error") < 1e-9, "{b:?}");
        assert_eq!(b.inside, 7);
    }

    #[test]
    fn an_odd_day_counts_as_an_error_and_unknown_hours_are_not_scored() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 18).expect("date");
        let day = local_midnight(Berlin, today).expect("midnight");
        let odd = NaiveDate::from_ymd_opt(2026, 11, 16).expect("date");
        let mut hours = history(day - TimeDelta::days(35), day, &[odd]);
        // The 12th misses an hour: not scored.
        let gap = local_midnight(Berlin, NaiveDate::from_ymd_opt(2026, 11, 12).expect("date")).expect("m");
        if let Some(h) = hours.iter_mut().find(|h| h.start == gap) {
            h.wh = None;
        }
        let (_, t, b) = assess(Berlin, &hours, Slp::G25, (today, day)).expect("a model");
        assert_eq!(t.measured_wh, Some(0.0), "nothing of today yet");
        assert_eq!(t.ratio, None, "no ratio before the first hour");
        assert_eq!(b.days.len(), 6, "{b:?}");
        assert!(!b.days.iter().any(|d| d.date.day() == 12));
        // The odd Monday was measured at twice its forecast: 50 % off; the other five exact, in the band.
        let mape = b.mape_pct.expect("an error");
        assert!((mape - 50.0 / 6.0).abs() < 1e-6, "{mape}");
        assert_eq!(b.inside, 5, "{b:?}");
        assert_eq!(assess(Berlin, &[], Slp::G25, (today, day)).map(|x| x.0), None);
    }
}
