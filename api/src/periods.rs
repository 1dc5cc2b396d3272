//! Calendar periods for energy reports: local days, ISO weeks (Monday first) and months, as UTC edges.
//!
//! Pure functions of dates and a time zone. A report covers `count` periods ending with the one containing
//! `until`, and the same number of periods just before it for the comparison, so both come from one query.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Report granularity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Local calendar days.
    #[default]
    Day,
    /// ISO weeks, Monday to Sunday.
    Week,
    /// Calendar months.
    Month,
}

impl Period {
    /// Default number of periods in a report.
    pub fn default_count(self) -> u32 {
        match self {
            Period::Day => 7,
            Period::Week => 4,
            Period::Month => 3,
        }
    }

    /// Start date of the period containing `d`.
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Period::Month => d.with_day(1).unwrap_or(d),
        }
    }

    /// Start date of the period `n` periods after the one starting at `start` (negative: before).
    pub fn shift(self, start: NaiveDate, n: i64) -> Option<NaiveDate> {
        let (days, months) = match self {
            Period::Day => (n, 0),
            Period::Week => (7 * n, 0),
            Period::Month => (0, n),
        };
        let d = if days >= 0 {
            start.checked_add_days(Days::new(days.unsigned_abs()))?
        } else {
            start.checked_sub_days(Days::new(days.unsigned_abs()))?
        };
        let m = u32::try_from(months.unsigned_abs()).ok()?;
        if months >= 0 {
            d.checked_add_months(Months::new(m))
        } else {
            d.checked_sub_months(Months::new(m))
        }
    }
}

/// The local start dates of `2 * count + 1` period edges: `count` previous periods, then `count` current
/// periods ending with the one containing `until`, then the end of the last one.
pub fn edge_dates(period: Period, count: u32, until: NaiveDate) -> Option<Vec<NaiveDate>> {
    let last = period.start_of(until);
    let n = i64::from(count);
    (-(2 * n - 1)..=1).map(|k| period.shift(last, k)).collect()
}

/// Local midnight of `d` in `tz` as a UTC instant (the first existing local time if midnight is skipped).
pub fn local_midnight(tz: Tz, d: NaiveDate) -> Option<DateTime<Utc>> {
    zw_model::counter::local_day_edges(&tz, d, d).first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        assert_eq!(Period::Week.start_of(d(2026, 11, 21)), d(2026, 11, 16));
        assert_eq!(Period::Month.start_of(d(2026, 11, 21)), d(2026, 11, 1));
        assert_eq!(Period::Day.start_of(d(2026, 11, 21)), d(2026, 11, 21));
    }

    #[test]
    fn edges_cover_previous_and_current_periods() {
        let e = edge_dates(Period::Month, 2, d(2026, 3, 15)).expect("edges");
        assert_eq!(
            e,
            [
                d(2025, 12, 1),
                d(2026, 1, 1),
                d(2026, 2, 1),
                d(2026, 3, 1),
                d(2026, 4, 1)
            ]
        );
        let e = edge_dates(Period::Day, 1, d(2026, 3, 29)).expect("edges");
        assert_eq!(e, [d(2026, 3, 28), d(2026, 3, 29), d(2026, 3, 30)]);
    }

    #[test]
    fn a_dst_day_in_berlin_has_23_hours() {
        let tz = chrono_tz::Europe::Berlin;
        let (a, b) = (
            local_midnight(tz, d(2026, 3, 29)),
            local_midnight(tz, d(2026, 3, 30)),
        );
        assert_eq!(b.zip(a).map(|(b, a)| (b - a).num_hours()), Some(23));
    }
}
