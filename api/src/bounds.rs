//! Bounds on the time input of history and energy requests, checked before anything is queried.
//!
//! All date arithmetic on request input is checked (`checked_*`), so no date a client can send overflows; a
//! date InfluxDB cannot store (its nanosecond timestamps span 1677-09-21 to 2262-04-11) is a 400 naming the
//! limits; each role reads at most its configured range per request (`api.max_history_range`,
//! `api.max_energy_range`); history windows are whole seconds from 1s to [`MAX_WINDOW`].

use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use zw_model::Role;

use crate::error::ApiError;

/// Longest history window: a year and a day.
pub const MAX_WINDOW: Duration = Duration::from_secs(366 * 86_400);

/// The earliest instant InfluxDB can store (1677-09-21T00:12:43.145224192Z).
pub fn influx_min() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::MIN)
}

/// The latest instant InfluxDB can store (2262-04-11T23:47:16.854775807Z).
pub fn influx_max() -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::MAX)
}

/// `t` if InfluxDB can store it; else a 400 naming the parameter and the limits.
pub fn storable(name: &str, t: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
    if (influx_min()..=influx_max()).contains(&t) {
        Ok(t)
    } else {
        Err(out_of_storage(name))
    }
}

/// `d` if every instant of that day can be stored (1677-09-22 to 2262-04-10).
pub fn storable_date(name: &str, d: NaiveDate) -> Result<NaiveDate, ApiError> {
    let first = influx_min().date_naive().succ_opt();
    let last = influx_max().date_naive().pred_opt();
    match (first, last) {
        (Some(first), Some(last)) if (first..=last).contains(&d) => Ok(d),
        _ => Err(out_of_storage(name)),
    }
}

fn out_of_storage(name: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "{name} is outside the time range the database can store (1677-09-22 to 2262-04-10)"
    ))
}

/// `t + d`, or a 400 if that overflows or cannot be stored.
pub fn shifted(name: &str, t: DateTime<Utc>, d: TimeDelta) -> Result<DateTime<Utc>, ApiError> {
    t.checked_add_signed(d)
        .ok_or_else(|| out_of_storage(name))
        .and_then(|t| storable(name, t))
}

/// A role's name in texts.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Resident => "a resident",
        Role::FacilityManager => "a facility manager",
        Role::Parks => "the parks department",
        Role::Business => "a business",
        Role::Admin => "an administrator",
    }
}

/// The span `from..to` if `role` may read it in one request (`max` from its configured range); `what` names
/// the report in the error.
pub fn within(
    what: &str,
    role: Role,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    max: TimeDelta,
) -> Result<(), ApiError> {
    if to.signed_duration_since(from) <= max {
        return Ok(());
    }
    Err(ApiError::BadRequest(format!(
        "{} may read at most {} days of {what} per request; ask for a shorter range",
        role_name(role),
        max.num_days()
    )))
}

/// The `from..to` of a history request: `to` defaults to `now`, `from` to 24 h before `to`; both storable,
/// `from` before `to`, at most `max` apart.
pub fn history_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    role: Role,
    max: TimeDelta,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = storable("`to`", to.unwrap_or(now))?;
    let from = match from {
        Some(from) => storable("`from`", from)?,
        None => shifted("`from` (24 h before `to`)", to, -TimeDelta::hours(24))?,
    };
    if from >= to {
        return Err(ApiError::BadRequest("`from` must be before `to`".into()));
    }
    within("history", role, from, to, max)?;
    Ok((from, to))
}

/// A history window: a whole number of seconds from 1s to [`MAX_WINDOW`], written as a number and a unit
/// (`ms`, `s`, `m`/`min`, `h`, `d`), e.g. `15m`.
pub fn parse_window(s: &str) -> Result<Duration, ApiError> {
    let bad = || {
        ApiError::BadRequest(format!(
            "window {s:?} must be a whole number of seconds from 1s to 366d, e.g. 10s, 15m, 1h or 1d"
        ))
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms_per_unit: u64 = match unit.trim() {
        "ms" => 1,
        "s" => 1_000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    let d = Duration::from_millis(n.checked_mul(ms_per_unit).ok_or_else(bad)?);
    if d < Duration::from_secs(1) || d > MAX_WINDOW || d.subsec_millis() != 0 {
        return Err(bad());
    }
    Ok(d)
}

#[cfg(test)]
mod tests;
