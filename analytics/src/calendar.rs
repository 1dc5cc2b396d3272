//! Local time without a time-zone lookup per reading.
//!
//! Detectors reason in local time (hour of the week, usage hours, nights, the vegetation period). Converting
//! every reading through the time-zone database would cost more than all detectors together, so
//! [`LocalClock`] caches the UTC offset for the current quarter hour (no zone changes its offset within
//! one) and turns a UTC timestamp into a [`Local`] with integer arithmetic.
//!
//! [`Calendar`] knows each site's days off (public holidays of its federal state, [`holidays`], its
//! configured days off and, for schools, school holidays) and each device's usage hours
//! (`[analytics.calendar]`, [`crate::config::CalendarConfig`]). A day off counts as a Sunday.

pub mod holidays;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use zw_model::report::BuildingCategory;
use zw_model::{Id, Inventory};

use crate::config::{BaseloadConfig, Config, DateRange, MonthDay, UsageHours};
use holidays::State;

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

/// Whether `l` lies within the usage hours `u`; never on a day off (`off`).
pub fn in_usage_hours(l: Local, u: &UsageHours, off: bool) -> bool {
    let wd = l.weekday();
    let m = l.minute_of_day();
    !off && u.days.iter().any(|d| d.0.num_days_from_monday() == wd)
        && m >= u.from.minutes()
        && m < u.to.minutes()
}

/// `l` moved to the Sunday of its week, same time of day: where a day off learns and is judged in the
/// hour-of-week normal.
pub fn as_sunday(l: Local) -> Local {
    Local(l.0 + i64::from(6 - l.weekday()) * DAY)
}

/// Public holidays are computed for these years (a replay of older data sees none).
const YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

/// Local day number (days since 1970-01-01) of `d`.
fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::default()).num_days()
}

/// A site's days off, as sorted local day numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaysOff(Vec<i64>);

impl DaysOff {
    /// Whether local day `day` ([`Local::day`]) is off.
    pub fn contains(&self, day: i64) -> bool {
        self.0.binary_search(&day).is_ok()
    }

    fn build(state: Option<State>, extra: &[crate::config::Date], school: &[DateRange]) -> Self {
        let mut days: Vec<i64> = state
            .map(|s| {
                YEARS
                    .flat_map(|y| holidays::holidays(s, y))
                    .map(|(d, _)| day_number(d))
                    .collect()
            })
            .unwrap_or_default();
        days.extend(extra.iter().map(|d| day_number(d.0)));
        for r in school {
            days.extend(day_number(r.from.0)..=day_number(r.to.0));
        }
        days.sort_unstable();
        days.dedup();
        Self(days)
    }
}

/// Every site's days off and every device's usage hours, from the config and the inventory.
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    cfg: crate::config::CalendarConfig,
    default: Option<UsageHours>,
    sites: HashMap<Id, Arc<DaysOff>>,
    none: Arc<DaysOff>,
}

impl Calendar {
    /// The calendar of the sites of `inv` under `cfg`.
    pub fn new(cfg: &Config, inv: &Inventory) -> Self {
        let cal = &cfg.calendar;
        // Sites without settings of their own share their days off by (state, school).
        let mut shared: HashMap<(Option<State>, bool), Arc<DaysOff>> = HashMap::new();
        let mut sites = HashMap::new();
        for s in &inv.sites {
            let school = matches!(
                s.category,
                Some(BuildingCategory::Schule | BuildingCategory::Gymnasium)
            );
            let state = cal.state_of(s.id.as_str());
            let own = cal.sites.get(s.id.as_str());
            let state_school = |st: Option<State>| {
                st.and_then(|st| {
                    cal.school_holidays
                        .iter()
                        .find(|(k, _)| State::parse(k) == Some(st))
                })
                .map_or(&[][..], |(_, v)| v.as_slice())
            };
            let days = match own {
                Some(o) if !o.days_off.is_empty() || o.school_holidays.is_some() => {
                    let school_days = match (&o.school_holidays, school) {
                        (_, false) => &[][..],
                        (Some(v), true) => v.as_slice(),
                        (None, true) => state_school(state),
                    };
                    let extra: Vec<_> = cal.days_off.iter().chain(&o.days_off).copied().collect();
                    Arc::new(DaysOff::build(state, &extra, school_days))
                }
                _ => shared
                    .entry((state, school))
                    .or_insert_with(|| {
                        let school_days = if school { state_school(state) } else { &[] };
                        Arc::new(DaysOff::build(state, &cal.days_off, school_days))
                    })
                    .clone(),
            };
            sites.insert(s.id.clone(), days);
        }
        Self {
            cfg: cal.clone(),
            default: Some(UsageHours {
                days: cfg.left_on.days.clone(),
                from: cfg.left_on.from,
                to: cfg.left_on.to,
            }),
            sites,
            none: Arc::new(DaysOff::build(None, &cal.days_off, &[])),
        }
    }

    /// The days off of `site` (a site not in the inventory: only `calendar.days_off`).
    pub fn days_off(&self, site: &Id) -> Arc<DaysOff> {
        self.sites.get(site).unwrap_or(&self.none).clone()
    }

    /// The usage hours of a device of `class` at `site`: the site's for the class, the site's, the class's,
    /// else the default (`left_on`).
    pub fn usage(&self, site: &str, class: &str) -> UsageHours {
        let own = self.cfg.sites.get(site);
        own.and_then(|o| o.classes.get(class))
            .or_else(|| own.and_then(|o| o.usage.as_ref()))
            .or_else(|| self.cfg.class_usage.get(class))
            .or(self.default.as_ref())
            .cloned()
            .unwrap_or_else(|| UsageHours {
                days: Vec::new(),
                from: crate::config::ClockTime::hm(0, 0),
                to: crate::config::ClockTime::hm(0, 0),
            })
    }
}

/// A closed period whose low quantile is a baseload: a night (keyed by the day it ends) or a weekend day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// `night_from` to `night_to`, keyed by the local day it ends on.
    Night(i64),
    /// Saturday or Sunday from `night_to` to `night_from`.
    WeekendDay(i64),
}

/// The baseload period `l` falls in, if any; a day off (`off`) is a weekend day.
pub fn period(l: Local, cfg: &BaseloadConfig, off: bool) -> Option<Period> {
    let m = l.minute_of_day();
    if m >= cfg.night_from.minutes() {
        Some(Period::Night(l.day() + 1))
    } else if m < cfg.night_to.minutes() {
        Some(Period::Night(l.day()))
    } else if l.weekday() >= 5 || off {
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
        let cfg = Config::default();
        let lo = Calendar::new(&cfg, &Inventory::default()).usage("s", "plug");
        let bl = BaseloadConfig::default();
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
            assert_eq!(
                (in_usage_hours(l, &lo, false), period(l, &bl, false)),
                (usage, p),
                "{ts}"
            );
            assert!(!in_usage_hours(l, &lo, true), "a day off has no usage hours");
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
