//! A building's forecast accuracy, measured on its own history (`GET /api/v1/sites/{id}/forecast/accuracy`):
//! the month-end backtest of `zaehlwerk eval` ([`zw_model::forecast::backtest::month_end`]) run on the
//! site's electricity of the last up to [`MONTHS`] complete months.
//!
//! On day 1, 10 and 20 of each of those months a model is learned from the 28 days before (as `/forecast`
//! learns it), the month-end is projected from what was measured so far, and compared with what the whole
//! month measured. The answer is the mean absolute percentage error (MAPE) per day of the month, how many
//! months were scored and how many month-ends fell inside the projection's p10–p90 band, with every case
//! listed. A month is scored only when every hour of it is known (read from the rollups where they answer);
//! with fewer than [`MIN_MONTHS`] scored months the answer says "not enough history" and gives no error.
//!
//! The scope is the forecast's (a site the caller sees, its data from the caller's `since` on). The backtest
//! reads a year of hourly energy and learns 36 models, so each answer is kept per site, caller's `since` and
//! local day ([`Cache`]): the past months do not change within a day.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use zw_model::Quantity;
use zw_model::forecast::backtest::{self, Case};
use zw_model::forecast::{Hour, Slp};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::periods::local_midnight;
use crate::routes::energy::{intervals, site_meters, visible_site};
use crate::routes::forecast::HISTORY_DAYS;
use crate::routes::normal::{complete_hours, standard_profile};

/// Complete months backtested at most (the last ones before the running month).
pub const MONTHS: u32 = 12;
/// Scored months needed for an error to be stated.
pub const MIN_MONTHS: usize = 2;
/// The days of the month the month-end is projected on.
pub const DAYS: [u32; 3] = [1, 10, 20];
/// Hours read in one go (31 days).
const CHUNK_HOURS: usize = 31 * 24;

/// The error of the projections made on one day of the month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayError {
    /// Day of the month the projection was made on (at its local midnight).
    pub day: u32,
    /// Months scored on this day.
    pub months: usize,
    /// Mean absolute percentage error of the month-end projection; null with too few months.
    pub mape_pct: Option<f64>,
    /// The same for the naive projection (so far plus the last 7 days' rate), for comparison.
    pub naive_mape_pct: Option<f64>,
    /// Months whose measured month-end lay in the projection's band.
    pub inside: usize,
}

/// One projection against the month's measurement.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthCase {
    /// First day of the month.
    pub month: NaiveDate,
    /// Day of the month the projection was made on.
    pub day: u32,
    /// The whole month's measured energy, Wh.
    pub measured_wh: f64,
    /// Projected month-end, Wh.
    pub projected_wh: f64,
    /// Lower end of the band (p10), Wh.
    pub low_wh: f64,
    /// Upper end of the band (p90), Wh.
    pub high_wh: f64,
}

/// A building's backtested month-end error.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Accuracy {
    /// Site id.
    pub site: String,
    /// What was forecast: `energy_import` (electricity, as `/forecast` of a site).
    pub quantity: String,
    /// The local day this was computed on (it holds for the whole day).
    pub computed_on: NaiveDate,
    /// First day of the first month looked at.
    pub from: NaiveDate,
    /// First day of the running month (not scored).
    pub until: NaiveDate,
    /// Complete months scored (every hour known).
    pub months: usize,
    /// At least [`MIN_MONTHS`] months scored: the errors are stated.
    pub enough: bool,
    /// Why no error is stated (`not enough history: …`); null when `enough`.
    pub reason: Option<String>,
    /// The error on day 1, 10 and 20.
    pub days: Vec<DayError>,
    /// Every projection scored, oldest first.
    pub cases: Vec<MonthCase>,
}

/// The backtest's verdict on hourly `hours` (oldest first, contiguous; from 28 days before `from` up to
/// `until`), pure: time zone and months are given. `site` and `today` only label the answer.
pub fn evaluate(
    tz: chrono_tz::Tz,
    hours: &[Hour],
    slp: Slp,
    (from, until): (NaiveDate, NaiveDate),
    (site, today): (&str, NaiveDate),
) -> Accuracy {
    let cases: Vec<Case> = backtest::month_end(tz, hours, slp, &DAYS)
        .into_iter()
        .filter(|c| c.month >= from && c.month < until)
        .collect();
    let mut months: Vec<NaiveDate> = cases.iter().map(|c| c.month).collect();
    months.dedup();
    let enough = months.len() >= MIN_MONTHS;
    let days = DAYS
        .iter()
        .map(|&day| {
            let on: Vec<&Case> = cases.iter().filter(|c| c.day == day).collect();
            let stated =
                |f: fn(&Case) -> f64| backtest::mean_on(&cases, day, f).filter(|_| on.len() >= MIN_MONTHS);
            DayError {
                day,
                months: on.len(),
                mape_pct: stated(Case::ape),
                naive_mape_pct: stated(Case::naive_ape),
                inside: on.iter().filter(|c| c.inside()).count(),
            }
        })
        .collect();
    Accuracy {
        site: site.to_string(),
        quantity: Quantity::EnergyImport.name().to_string(),
        computed_on: today,
        from,
        until,
        months: months.len(),
        enough,
        reason: (!enough).then(|| {
            format!(
                "not enough history: {} complete month(s) with every hour measured, {MIN_MONTHS} needed",
                months.len()
            )
        }),
        days,
        cases: cases
            .iter()
            .map(|c| MonthCase {
                month: c.month,
                day: c.day,
                measured_wh: c.actual_wh,
                projected_wh: c.projected_wh,
                low_wh: c.low_wh,
                high_wh: c.high_wh,
            })
            .collect(),
    }
}

/// What an answer depends on: the site, its meters, the caller's `since` and the local day.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    site: String,
    meters: Vec<String>,
    since: Option<DateTime<Utc>>,
    day: NaiveDate,
}

/// The answers of the running day; an answer of an earlier day is dropped when the next is kept.
#[derive(Debug, Default)]
pub struct Cache {
    answers: Mutex<HashMap<Key, Arc<Accuracy>>>,
}

impl Cache {
    fn get(&self, key: &Key) -> Option<Arc<Accuracy>> {
        self.answers.lock().ok()?.get(key).cloned()
    }

    fn keep(&self, key: Key, answer: Arc<Accuracy>) {
        if let Ok(mut m) = self.answers.lock() {
            m.retain(|k, _| k.day == key.day);
            m.insert(key, answer);
        }
    }
}

/// A building's month-end forecast backtested on its own last up to 12 complete months: the error on day 1,
/// 10 and 20 of the month.
#[utoipa::path(get, path = "/api/v1/sites/{id}/forecast/accuracy", tag = "energy", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = Accuracy), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn site(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<Accuracy>, ApiError> {
    let site = visible_site(&state, &user, &id)?;
    let meters = site_meters(site);
    let tz = state.config.timezone();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let key = Key {
        site: site.id.to_string(),
        meters: meters.iter().map(|d| d.id.to_string()).collect(),
        since: user.since,
        day: today,
    };
    if let Some(a) = state.accuracy.get(&key) {
        return Ok(Json((*a).clone()));
    }
    let out_of_range = || ApiError::BadRequest("date out of range".into());
    let until = today.with_day(1).ok_or_else(out_of_range)?;
    let from = until
        .checked_sub_months(Months::new(MONTHS))
        .ok_or_else(out_of_range)?;
    let start = local_midnight(tz, from).ok_or_else(out_of_range)? - TimeDelta::days(HISTORY_DAYS);
    let end = local_midnight(tz, until).ok_or_else(out_of_range)?;
    let edges = zw_model::counter::uniform_edges(start, end, TimeDelta::hours(1));
    // Read a month at a time: one read of a year of hours exceeds what a backend answers in one query
    // (VictoriaMetrics' points per series).
    let mut b = Vec::with_capacity(edges.len());
    let mut at = 0;
    while at + 1 < edges.len() {
        let to = (at + CHUNK_HOURS).min(edges.len() - 1);
        let part = &edges[at..=to];
        b.extend(intervals(&state, (&site.id, &meters), Quantity::EnergyImport, part, &user).await?);
        at = to;
    }
    let hours = complete_hours(&b, &edges);
    let answer = Arc::new(evaluate(
        tz,
        &hours,
        standard_profile(site),
        (from, until),
        (&key.site, today),
    ));
    state.accuracy.keep(key, answer.clone());
    Ok(Json((*answer).clone()))
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;
    use chrono_tz::Europe::Berlin;

    use super::*;

    /// Hourly history from `from` to `until` (local midnights): weekdays 3 kWh per hour 07–19, else 1 kWh,
    /// times `f` of the hour's local date; `None` where `f` gives a negative factor.
    fn history(from: NaiveDate, until: NaiveDate, f: impl Fn(NaiveDate) -> f64) -> Vec<Hour> {
        let at = |x| local_midnight(Berlin, x).expect("midnight");
        zw_model::counter::uniform_edges(at(from), at(until), TimeDelta::hours(1))
            .windows(2)
            .map(|w| {
                let l = w[0].with_timezone(&Berlin);
                let work = l.weekday().number_from_monday() <= 5 && (7..19).contains(&l.hour());
                let k = f(l.date_naive());
                Hour {
                    start: w[0],
                    wh: (k >= 0.0).then_some(k * if work { 3000.0 } else { 1000.0 }),
                }
            })
            .collect()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn a_steady_building_is_projected_closely_and_a_changed_month_shows_as_error() {
        // 1 November 2025 minus 28 days to 1 November 2026: twelve whole months; March 2026 from its 15th
        // at twice the use, so its projections on day 1 and 10 miss by about a third, day 20 by less.
        let (from, until) = (d(2025, 11, 1), d(2026, 11, 1));
        let start = from - TimeDelta::days(28);
        let hours = history(start, until, |x| {
            if x.year() == 2026 && x.month() == 3 && x.day() >= 15 {
                2.0
            } else {
                1.0
            }
        });
        let a = evaluate(
            Berlin,
            &hours,
            Slp::G25,
            (from, until),
            ("rathaus", d(2026, 11, 7)),
        );
        assert_eq!(a.months, 12, "{a:?}");
        assert!(a.enough && a.reason.is_none());
        assert_eq!(a.cases.len(), 36);
        assert_eq!(a.days.iter().map(|x| x.day).collect::<Vec<_>>(), DAYS);
        assert!(a.days.iter().all(|x| x.months == 12), "{:?}", a.days);
        let march: Vec<&MonthCase> = a.cases.iter().filter(|c| c.month == d(2026, 3, 1)).collect();
        let ape = |c: &MonthCase| 100.0 * (c.projected_wh - c.measured_wh).abs() / c.measured_wh;
        assert!(ape(march[0]) > 25.0, "{march:?}");
        assert!(ape(march[2]) < ape(march[0]), "day 20 knows more: {march:?}");
        // Every other month is a repeating week: its error is the calendar's only (a few percent at most).
        for c in a
            .cases
            .iter()
            .filter(|c| c.month != d(2026, 3, 1) && c.month != d(2026, 4, 1))
        {
            assert!(ape(c) < 3.0, "{c:?}");
        }
        // The mean error on day 1 is March's (and April's, learned from March's end) share of twelve months.
        let on1 = a.days[0].mape_pct.expect("stated");
        let by_hand = a.cases.iter().filter(|c| c.day == 1).map(ape).sum::<f64>() / 12.0;
        assert!((on1 - by_hand).abs() < 1e-9 && on1 > 2.0, "{on1} {by_hand}");
        assert!(a.days[2].mape_pct.expect("stated") < on1);
    }

    #[test]
    fn one_complete_month_is_not_enough_history_and_a_month_with_an_unknown_hour_is_not_scored() {
        // October 2026 whole; September misses an hour on the 3rd: one month scored.
        let (from, until) = (d(2025, 11, 1), d(2026, 11, 1));
        let start = d(2026, 9, 1);
        let hours = history(start, until, |x| if x == d(2026, 9, 3) { -1.0 } else { 1.0 });
        let a = evaluate(
            Berlin,
            &hours,
            Slp::G25,
            (from, until),
            ("schule", d(2026, 11, 7)),
        );
        assert_eq!(a.months, 1, "{a:?}");
        assert!(!a.enough);
        assert!(
            a.reason
                .as_deref()
                .is_some_and(|r| r.starts_with("not enough history: 1 ")),
            "{a:?}"
        );
        assert!(
            a.days
                .iter()
                .all(|x| x.mape_pct.is_none() && x.naive_mape_pct.is_none())
        );
        assert!(a.cases.iter().all(|c| c.month == d(2026, 10, 1)));
        // No history at all: nothing scored, no panic.
        let none = evaluate(Berlin, &[], Slp::G25, (from, until), ("schule", d(2026, 11, 7)));
        assert_eq!((none.months, none.cases.len(), none.enough), (0, 0, false));
    }

    #[test]
    fn the_cache_keeps_the_running_day_only() {
        let c = Cache::default();
        let key = |day| Key {
            site: "s".into(),
            meters: vec!["m".into()],
            since: None,
            day,
        };
        let a = Arc::new(evaluate(
            Berlin,
            &[],
            Slp::G25,
            (d(2025, 11, 1), d(2026, 11, 1)),
            ("s", d(2026, 11, 7)),
        ));
        c.keep(key(d(2026, 11, 7)), a.clone());
        assert!(c.get(&key(d(2026, 11, 7))).is_some());
        c.keep(key(d(2026, 11, 8)), a);
        assert!(
            c.get(&key(d(2026, 11, 7))).is_none(),
            "yesterday's answer dropped"
        );
        assert!(c.get(&key(d(2026, 11, 8))).is_some());
    }
}
