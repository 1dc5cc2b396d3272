//! The watering season report (`GET /api/v1/trees/season?year=…`): per tree and per district, the litres
//! recorded in the watering log against the guideline of 100 L per tree and week, and how many waterings,
//! over the vegetation period (1 March to 1 November, local time; for the running year up to now); from the
//! soil readings ([`super::season_soil`]), the days each tree was critical and its longest critical spell
//! (trees critical for more than 3 days listed), the litres saved against the plan in the weeks it was not
//! critical, and each sensor's uptime (definitions in [`zw_model::tree::season::soil`]). A tree's sensors
//! (depths) combine as `analytics.trees.combine` says; a tree without a sensor takes its days from its
//! reference trees ([`zw_model::tree::inherit`]) and says so (`inherited_from`).
//!
//! For the parks department and the admin only (any other role: 403, its scope holds no trees); the
//! trees are those in the caller's scope. The figures are [`SeasonReport::compute`]'s, the same an export or
//! analytics reports.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Deserialize;
use zw_model::Role;
use zw_model::tree::season::{SeasonReport, SeasonSoil, WateringRecord};

use super::season_soil;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, problem};
use crate::extract::ApiQuery;
use crate::periods::local_midnight;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeasonParams {
    /// The season's year (local), 2000 to this year; default: this year.
    #[param(minimum = 2000)]
    pub year: Option<i32>,
}

/// First day (inclusive) and last day (exclusive) of the vegetation period, month and day.
pub const SEASON: ((u32, u32), (u32, u32)) = ((3, 1), (11, 1));

/// Why a season request failed.
#[derive(Debug)]
pub enum SeasonError {
    /// Authentication, query, or the store (as elsewhere).
    Api(ApiError),
    /// A role that sees no trees (403).
    Forbidden,
}

impl From<ApiError> for SeasonError {
    fn from(e: ApiError) -> Self {
        SeasonError::Api(e)
    }
}

impl IntoResponse for SeasonError {
    fn into_response(self) -> Response {
        match self {
            SeasonError::Api(e) => e.into_response(),
            SeasonError::Forbidden => problem(
                StatusCode::FORBIDDEN,
                "the season report is for the parks department (roles parks and admin)".into(),
                false,
            ),
        }
    }
}

/// The season `[from, to)` of `year` in `tz`, cut at `now`; an error for a year outside 2000 to now's.
pub fn period(
    year: i32,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let this = now.with_timezone(&tz).year();
    let bad = || ApiError::BadRequest(format!("year must be 2000 to {this}, got {year}"));
    if !(2000..=this).contains(&year) {
        return Err(bad());
    }
    let edge = |(m, d): (u32, u32)| {
        NaiveDate::from_ymd_opt(year, m, d)
            .and_then(|d| local_midnight(tz, d))
            .ok_or_else(bad)
    };
    let (from, to) = (edge(SEASON.0)?, edge(SEASON.1)?);
    Ok((from, to.min(now).max(from)))
}

/// The season report of the trees in the caller's scope: per tree and per district, litres given and
/// waterings against 100 L per tree and week, litres saved in the weeks a tree was not critical, critical
/// days and the longest critical spell, and each sensor's uptime, over the vegetation period of `year`.
#[utoipa::path(get, path = "/api/v1/trees/season", tag = "trees", security(("bearer" = [])),
    params(SeasonParams),
    responses((status = 200, description = "The season report: `from`, `to`, `weeks`, `trees` (tree, site, \
        district, waterings, litres, guideline_litres, share, known_days, critical_days, longest_critical \
        {first_day, last_day, days}, stayed_critical, weeks_critical, weeks_not_critical, weeks_unknown, \
        litres_saved, sensors [{device, depth, interval_s, expected, received, uptime, days_with_readings}]), \
        `districts` (district, trees, trees_unwatered, litres, guideline_litres, share, litres_saved, \
        trees_stayed_critical), `unknown_tree_litres`, `days`, `critical_spell_days`, `trees_stayed_critical`", body = Object),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn season(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<SeasonParams>,
) -> Result<Json<SeasonReport>, SeasonError> {
    if !matches!(user.role, Role::Parks | Role::Admin) {
        return Err(SeasonError::Forbidden);
    }
    let tz = state.config.timezone();
    let now = Utc::now();
    let year = p.year.unwrap_or_else(|| now.with_timezone(&tz).year());
    let (from, to) = period(year, tz, now)?;
    let trees: Vec<zw_model::Tree> = super::visible_trees(&state, &user).cloned().collect();
    let store = state
        .store
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("the watering log", &"no [store] configured"))?;
    let mut log = Vec::new();
    for t in &trees {
        let list = store
            .waterings(t.id.as_str())
            .await
            .map_err(|e| ApiError::unavailable("the watering log", &e))?;
        log.extend(list.into_iter().filter_map(|w| {
            Some(WateringRecord {
                tree: t.id.clone(),
                at: w.watering.watered_at,
                litres: w.watering.litres?,
            })
        }));
    }
    let soil = SeasonSoil {
        sensors: season_soil::sensor_seasons(&state, &trees, from, to).await?,
        combine: state.config.trees.combine,
        inherited: zw_model::tree::inherit::references(&trees, &state.config.trees, year),
    };
    Ok(Json(SeasonReport::with_soil(&trees, &log, &soil, from, to, tz)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn the_season_runs_from_march_to_november_in_local_time_cut_at_now() {
        let tz = chrono_tz::Europe::Berlin;
        let now = at("2026-07-15T10:00:00Z");
        let (from, to) = period(2025, tz, now).expect("last year");
        assert_eq!(
            (from, to),
            (at("2025-02-28T23:00:00Z"), at("2025-10-31T23:00:00Z"))
        );
        let (from, to) = period(2026, tz, now).expect("this year");
        assert_eq!((from, to), (at("2026-02-28T23:00:00Z"), now));
        // Before the season started: an empty period, not a reversed one.
        let (from, to) = period(2026, tz, at("2026-01-10T00:00:00Z")).expect("winter");
        assert_eq!(from, to);
        for bad in [1999, 2027, i32::MAX, i32::MIN] {
            assert!(
                matches!(period(bad, tz, now), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
    }
}
