//! The rain that fell at a tree (`GET /api/v1/trees/{id}/rain?from=&to=`): the weather feed's observed rain
//! (`rain_observed`, stored by analytics, [`zw_model::weather::RAIN_MEASUREMENT`]) of the weather area of
//! the tree's park (`[analytics.trees.weather]`), summed per local day of the API's time zone, for the soil
//! chart's past-rain bars.
//!
//! A day without any observed value is absent (no rain known), never `0`; a day with only part of its hours
//! reported says how many values it has (`values`). A park without a weather area answers `area: null` and
//! no days, with a `note`. The range defaults to the last 30 days and is at most 62 days.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use zw_influx::read::{Request, Shape};
use zw_model::weather::{FIELD_RAIN_MM, RAIN_MEASUREMENT, TAG_AREA};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// Longest range.
pub const MAX_DAYS: i64 = 62;

/// Query parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RainParams {
    /// Start, RFC 3339 (default: 30 days before `to`).
    pub from: Option<DateTime<Utc>>,
    /// End, RFC 3339 (default: now).
    pub to: Option<DateTime<Utc>>,
}

/// The rain of one local day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayRain {
    /// The local day.
    pub day: NaiveDate,
    /// Rain observed that day, mm (the sum of the values received).
    pub mm: f64,
    /// Observed values that day (24 for a whole day of hourly values, 1 for a daily one).
    pub values: u32,
}

/// Sums observed rain `points` (interval start, mm) per local day of `tz`; days without a value are absent.
pub fn per_day(points: &[(DateTime<Utc>, f64)], tz: chrono_tz::Tz) -> Vec<DayRain> {
    let mut days: BTreeMap<NaiveDate, (f64, u32)> = BTreeMap::new();
    for (at, mm) in points.iter().filter(|(_, mm)| mm.is_finite() && *mm >= 0.0) {
        let d = days.entry(at.with_timezone(&tz).date_naive()).or_default();
        d.0 += mm;
        d.1 += 1;
    }
    days.into_iter()
        .map(|(day, (mm, values))| DayRain {
            day,
            mm: (mm * 10.0).round() / 10.0,
            values,
        })
        .collect()
}

/// The observed rain per local day at a tree in the caller's scope: `{tree, area, from, to, days: [{day,
/// mm, values}]}`; `area` null (and a `note`) when its park has no weather area.
#[utoipa::path(get, path = "/api/v1/trees/{id}/rain", tag = "trees", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tree id"), RainParams),
    responses((status = 200, description = "`tree`, `area` (null without one, then `note`), `from`, `to`, \
        `days` [{day, mm, values}]: the weather feed's observed rain per local day; a day without a value is absent",
        body = Object),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn rain(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    ApiQuery(p): ApiQuery<RainParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let tree = super::tree_in_scope(&state, &user, &id)?;
    let to = p.to.unwrap_or_else(Utc::now);
    let from = p.from.unwrap_or(to - TimeDelta::days(30));
    if to <= from || to - from > TimeDelta::days(MAX_DAYS) {
        return Err(ApiError::BadRequest(format!(
            "from must be before to, at most {MAX_DAYS} days apart"
        )));
    }
    let Some(area) = state.config.trees.area_of(tree.site.as_str()) else {
        return Ok(Json(serde_json::json!({
            "tree": tree.id, "area": null, "from": from, "to": to, "days": [],
            "note": "no weather area for this park ([analytics.trees.weather])",
        })));
    };
    let request = Request::raw(RAIN_MEASUREMENT, &[FIELD_RAIN_MM])
        .tag(TAG_AREA, area)
        .range(from, to)
        .shape(Shape::Raw {
            newest_first: false,
            limit: Some(usize::try_from(MAX_DAYS * 24 * 4).unwrap_or(usize::MAX)),
        });
    let answers = crate::db::read_all(&state, "the observed rain", &[request]).await?;
    let points: Vec<(DateTime<Utc>, f64)> = answers
        .iter()
        .flatten()
        .flat_map(|g| g.rows.iter())
        .filter_map(zw_influx::read::Row::point)
        .collect();
    Ok(Json(serde_json::json!({
        "tree": tree.id, "area": area, "from": from, "to": to,
        "days": per_day(&points, state.config.timezone()),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn rain_is_summed_per_local_day_and_a_day_without_values_is_absent() {
        let tz = chrono_tz::Europe::Berlin;
        let points = [
            // 23:00 UTC on 1 June is 2 June in Berlin.
            (at("2026-06-01T21:00:00Z"), 1.0),
            (at("2026-06-01T22:00:00Z"), 2.25),
            (at("2026-06-01T23:00:00Z"), 0.0),
            (at("2026-06-04T10:00:00Z"), 0.0),
            (at("2026-06-04T11:00:00Z"), f64::NAN),
        ];
        let day = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("day");
        assert_eq!(
            per_day(&points, tz),
            [
                DayRain {
                    day: day("2026-06-01"),
                    mm: 1.0,
                    values: 1
                },
                DayRain {
                    day: day("2026-06-02"),
                    mm: 2.3,
                    values: 2
                },
                // A dry day reported as such: 0 mm, known.
                DayRain {
                    day: day("2026-06-04"),
                    mm: 0.0,
                    values: 1
                },
            ]
        );
        assert!(per_day(&[], tz).is_empty());
    }
}
