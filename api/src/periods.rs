//! Calendar periods for energy reports: local days, ISO weeks (Monday first), months and years, as UTC edges.
//!
//! Pure functions of dates and a time zone. A report covers `count` periods ending with the one containing
//! `until`, and as many periods to compare them with ([`Compare`]): the ones just before, or the same ones a
//! year earlier. A period that has not ended is measured up to the device's latest reading
//! ([`measured_edges`]).

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeDelta, Utc};
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
    /// Calendar years.
    Year,
}

/// What a report's periods are compared with (`previous`, `previous_total`, `change_ratio`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// The same number of periods just before: this month against last month.
    #[default]
    Previous,
    /// The same periods one year earlier: this month against the same month last year. Days and weeks go
    /// back 52 weeks (364 days), so a Monday is compared with a Monday and a week with the same ISO week;
    /// months and years go back 12 months.
    PreviousYear,
}

impl Period {
    /// Default number of periods in a report.
    pub fn default_count(self) -> u32 {
        match self {
            Period::Day => 7,
            Period::Week => 4,
            Period::Month => 3,
            Period::Year => 1,
        }
    }

    /// Start date of the period containing `d`.
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d - Days::new(u64::from(d.weekday().num_days_from_monday())),
            Period::Month => d.with_day(1).unwrap_or(d),
            Period::Year => d.with_day(1).and_then(|d| d.with_month(1)).unwrap_or(d),
        }
    }

    /// Start date of the period `n` periods after the one starting at `start` (negative: before).
    pub fn shift(self, start: NaiveDate, n: i64) -> Option<NaiveDate> {
        let (days, months) = match self {
            Period::Day => (n, 0),
            Period::Week => (7 * n, 0),
            Period::Month => (0, n),
            Period::Year => (0, n.checked_mul(12)?),
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

/// The start dates of `count` periods from `first`, then the end of the last one.
pub fn dates_from(period: Period, first: NaiveDate, count: u32) -> Option<Vec<NaiveDate>> {
    (0..=i64::from(count)).map(|k| period.shift(first, k)).collect()
}

/// The start dates of `count` periods ending with the one containing `until`, then the end of the last.
pub fn current_dates(period: Period, count: u32, until: NaiveDate) -> Option<Vec<NaiveDate>> {
    let first = period.shift(period.start_of(until), 1 - i64::from(count))?;
    dates_from(period, first, count)
}

/// The start dates of the periods the `current` ones (as from [`current_dates`]) are compared with, then
/// the end of the last one.
pub fn comparison_dates(period: Period, compare: Compare, current: &[NaiveDate]) -> Option<Vec<NaiveDate>> {
    let count = u32::try_from(current.len().checked_sub(1)?).ok()?;
    let first = *current.first()?;
    let start = match (compare, period) {
        (Compare::Previous, _) => period.shift(first, -i64::from(count))?,
        (Compare::PreviousYear, Period::Day | Period::Week) => first.checked_sub_days(Days::new(364))?,
        (Compare::PreviousYear, Period::Month | Period::Year) => first.checked_sub_months(Months::new(12))?,
    };
    dates_from(period, start, count)
}

/// Local midnight of `d` in `tz` as a UTC instant (the first existing local time if midnight is skipped).
pub fn local_midnight(tz: Tz, d: NaiveDate) -> Option<DateTime<Utc>> {
    zw_model::counter::local_day_edges(&tz, d, d).first().copied()
}

/// The edges up to which one device's consumption is measured: every edge after `now` is cut to the device's
/// latest reading if that is at most `max_gap` old (a reporting device: the period so far is covered up to
/// it), else to `now` (the missing stretch stays uncovered, so the period shows as incomplete); edges stay
/// ascending.
pub fn measured_edges(
    edges: &[DateTime<Utc>],
    now: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
    max_gap: TimeDelta,
) -> Vec<DateTime<Utc>> {
    let cut = match latest {
        Some(t) if now - t <= max_gap => t.min(now),
        _ => now,
    };
    // Never below an earlier edge: a period that began after the latest reading has zero span (unknown).
    let mut floor = DateTime::<Utc>::MIN_UTC;
    edges
        .iter()
        .map(|&e| {
            floor = floor.max(if e > now { e.min(cut) } else { e });
            floor
        })
        .collect()
}

/// Whether the period `[start, end)` contains `now`: it has begun and not ended.
pub fn ongoing(start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    start <= now && now < end
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
        let edge_dates = |period, count, until| {
            let current = current_dates(period, count, until)?;
            let mut e = comparison_dates(period, Compare::Previous, &current)?;
            e.extend_from_slice(&current[1..]);
            Some(e)
        };
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
    fn years_and_comparisons_with_the_previous_year() {
        assert_eq!(Period::Year.start_of(d(2026, 11, 21)), d(2026, 1, 1));
        let cur = current_dates(Period::Year, 1, d(2026, 11, 21)).expect("dates");
        assert_eq!(cur, [d(2026, 1, 1), d(2027, 1, 1)]);
        assert_eq!(
            comparison_dates(Period::Year, Compare::Previous, &cur),
            Some(vec![d(2025, 1, 1), d(2026, 1, 1)])
        );
        let cur = current_dates(Period::Month, 2, d(2026, 11, 21)).expect("dates");
        assert_eq!(cur, [d(2026, 10, 1), d(2026, 11, 1), d(2026, 12, 1)]);
        // (period, compare, current, expected comparison)
        let cases = [
            (
                Period::Month,
                Compare::Previous,
                cur.clone(),
                vec![d(2026, 8, 1), d(2026, 9, 1), d(2026, 10, 1)],
            ),
            (
                Period::Month,
                Compare::PreviousYear,
                cur,
                vec![d(2025, 10, 1), d(2025, 11, 1), d(2025, 12, 1)],
            ),
            // Tuesday 2026-11-17 against Tuesday 2025-11-18; the week of Monday 2026-11-16 against 2025-11-17.
            (
                Period::Day,
                Compare::PreviousYear,
                vec![d(2026, 11, 17), d(2026, 11, 18)],
                vec![d(2025, 11, 18), d(2025, 11, 19)],
            ),
            (
                Period::Week,
                Compare::PreviousYear,
                vec![d(2026, 11, 16), d(2026, 11, 23)],
                vec![d(2025, 11, 17), d(2025, 11, 24)],
            ),
        ];
        for (period, compare, current, want) in cases {
            assert_eq!(
                comparison_dates(period, compare, &current),
                Some(want),
                "{period:?} {compare:?}"
            );
        }
    }

    #[test]
    fn a_running_period_is_measured_up_to_a_recent_reading_only() {
        let t = |h: i64, m: i64| {
            DateTime::from_timestamp(0, 0).expect("epoch") + TimeDelta::hours(h) + TimeDelta::minutes(m)
        };
        let edges = [t(0, 0), t(24, 0), t(48, 0)];
        let gap = TimeDelta::minutes(15);
        // (case, now, latest reading, expected edges)
        let cases = [
            (
                "recent reading",
                t(30, 0),
                Some(t(29, 58)),
                [t(0, 0), t(24, 0), t(29, 58)],
            ),
            (
                "silent device",
                t(30, 0),
                Some(t(29, 0)),
                [t(0, 0), t(24, 0), t(30, 0)],
            ),
            ("no reading", t(30, 0), None, [t(0, 0), t(24, 0), t(30, 0)]),
            (
                "clock ahead",
                t(30, 0),
                Some(t(30, 3)),
                [t(0, 0), t(24, 0), t(30, 0)],
            ),
            ("all past", t(50, 0), Some(t(49, 59)), edges),
            (
                "new period, old reading",
                t(24, 1),
                Some(t(23, 59)),
                [t(0, 0), t(24, 0), t(24, 0)],
            ),
        ];
        for (case, now, latest, want) in cases {
            assert_eq!(measured_edges(&edges, now, latest, gap), want, "{case}");
        }
        assert!(ongoing(t(24, 0), t(48, 0), t(30, 0)));
        assert!(!ongoing(t(0, 0), t(24, 0), t(30, 0)));
        assert!(!ongoing(t(48, 0), t(72, 0), t(30, 0)));
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
