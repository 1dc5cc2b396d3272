//! Local time without a time-zone lookup per reading.
//!
//! Detectors reason in local time (hour of the week, usage hours, nights, the vegetation period). Converting
//! every reading through the time-zone database would cost more than all detectors together, so
//! [`LocalClock`] caches the UTC offset for the current quarter hour (no zone changes its offset within
//! one) and turns a UTC timestamp into a [`Local`] with integer arithmetic.

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::{BaseloadConfig, LeftOnConfig, MonthDay};

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
const QUARTER: i64 = 900_000;

/// A local wall-clock instant, as milliseconds since the local epoch (1970-01-01 00:00 local).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Local(pub i64);

impl Local {
    /// Days since 1970-01-01 (local).
    pub fn day(self) -> i64 {
        self.0.div_euclid(DAY)
    }

    /// 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.day() + 3).rem_euclid(7) as u32
    }

    /// Minutes since local midnight.
    pub fn minute_of_day(self) -> u32 {
        (self.0.rem_euclid(DAY) / MINUTE) as u32
    }

    /// Hour of the week, 0 = Monday 00:00–01:00 … 167 = Sunday 23:00–24:00.
    pub fn hour_of_week(self) -> usize {
        (self.weekday() * 24 + self.minute_of_day() / 60) as usize
    }

    /// The local calendar date.
    pub fn date(self) -> NaiveDate {
        DateTime::from_timestamp_millis(self.0)
            .map(|d| d.date_naive())
            .unwrap_or_default()
    }
}

/// "Tuesday 02:00" for an hour of the week.
pub fn hour_of_week_name(how: usize) -> String {
    const NAMES: [&str; 7] = [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ];
    format!("{} {:02}:00", NAMES[(how / 24) % 7], how % 24)
}

/// UTC → local with a cached offset.
#[derive(Debug, Clone)]
pub struct LocalClock {
    tz: Tz,
    from: i64,
    until: i64,
    offset: i64,
}

impl LocalClock {
    /// A clock for `tz`.
    pub fn new(tz: Tz) -> Self {
        Self {
            tz,
            from: 0,
            until: 0,
            offset: 0,
        }
    }

    /// The local instant of UTC milliseconds `ts`.
    pub fn local(&mut self, ts: i64) -> Local {
        if ts < self.from || ts >= self.until {
            self.from = ts - ts.rem_euclid(QUARTER);
            self.until = self.from + QUARTER;
            self.offset = DateTime::from_timestamp_millis(ts).map_or(0, |utc| {
                i64::from(
                    self.tz
                        .offset_from_utc_datetime(&utc.naive_utc())
                        .fix()
                        .local_minus_utc(),
                ) * 1000
            });
        }
        Local(ts + self.offset)
    }

    /// The local instant of a UTC time.
    pub fn at(&mut self, t: DateTime<Utc>) -> Local {
        self.local(t.timestamp_millis())
    }
}

/// Whether `l` lies within the usage hours of `cfg`.
pub fn in_usage_hours(l: Local, cfg: &LeftOnConfig) -> bool {
    let wd = l.weekday();
    let m = l.minute_of_day();
    cfg.days.iter().any(|d| d.0.num_days_from_monday() == wd)
        && m >= cfg.from.minutes()
        && m < cfg.to.minutes()
}

/// A closed period whose low quantile is a baseload: a night (keyed by the day it ends) or a weekend day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// `night_from` to `night_to`, keyed by the local day it ends on.
    Night(i64),
    /// Saturday or Sunday from `night_to` to `night_from`.
    WeekendDay(i64),
}

/// The baseload period `l` falls in, if any.
pub fn period(l: Local, cfg: &BaseloadConfig) -> Option<Period> {
    let m = l.minute_of_day();
    if m >= cfg.night_from.minutes() {
        Some(Period::Night(l.day() + 1))
    } else if m < cfg.night_to.minutes() {
        Some(Period::Night(l.day()))
    } else if l.weekday() >= 5 {
        Some(Period::WeekendDay(l.day()))
    } else {
        None
    }
}

/// Whether `date` lies in the vegetation period `[from, to)`.
pub fn in_season(date: NaiveDate, from: MonthDay, to: MonthDay) -> bool {
    let md = MonthDay {
        month: date.month(),
        day: date.day(),
    };
    md >= from && md < to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn local_time_follows_berlin_dst() {
        let mut c = LocalClock::new(chrono_tz::Europe::Berlin);
        // (UTC, weekday, local minute of day, hour of week)
        let cases = [
            ("2026-01-13T01:30:00Z", 1, 150, 26),  // Tuesday 02:30 CET
            ("2026-07-14T00:30:00Z", 1, 150, 26),  // Tuesday 02:30 CEST
            ("2026-03-29T00:59:00Z", 6, 119, 145), // Sunday 01:59 CET, just before the switch
            ("2026-03-29T01:00:00Z", 6, 180, 147), // Sunday 03:00 CEST
            ("2026-10-25T00:30:00Z", 6, 150, 146), // Sunday 02:30 CEST
            ("2026-10-25T01:30:00Z", 6, 150, 146), // Sunday 02:30 CET (the hour repeats)
        ];
        for (ts, wd, m, how) in cases {
            let l = c.at(utc(ts));
            assert_eq!(
                (l.weekday(), l.minute_of_day(), l.hour_of_week()),
                (wd, m, how),
                "{ts}"
            );
        }
        assert_eq!(hour_of_week_name(26), "Tuesday 02:00");
    }

    #[test]
    fn usage_hours_nights_and_weekends() {
        let mut c = LocalClock::new(chrono_tz::Europe::Berlin);
        let (lo, bl) = (LeftOnConfig::default(), BaseloadConfig::default());
        // (UTC, in usage hours, period)
        let cases = [
            ("2026-01-13T09:00:00Z", true, None),                        // Tue 10:00
            ("2026-01-13T18:30:00Z", false, None),                       // Tue 19:30
            ("2026-01-13T22:30:00Z", false, Some(Period::Night(20467))), // Tue 23:30, night ending Wed
            ("2026-01-14T02:00:00Z", false, Some(Period::Night(20467))), // Wed 03:00
            ("2026-01-17T10:00:00Z", false, Some(Period::WeekendDay(20470))), // Sat 11:00
        ];
        for (ts, usage, p) in cases {
            let l = c.at(utc(ts));
            assert_eq!((in_usage_hours(l, &lo), period(l, &bl)), (usage, p), "{ts}");
        }
    }

    #[test]
    fn vegetation_period_bounds() {
        let (f, t) = (MonthDay { month: 3, day: 1 }, MonthDay { month: 11, day: 1 });
        let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        assert!(!in_season(d(2, 28), f, t));
        assert!(in_season(d(3, 1), f, t));
        assert!(in_season(d(10, 31), f, t));
        assert!(!in_season(d(11, 1), f, t));
    }
}
