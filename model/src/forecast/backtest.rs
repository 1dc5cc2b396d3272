//! Backtest of month-end projections on a meter's hourly history: on given days of each whole month, learn
//! from the 28 days before (as the API does), project the month-end and compare with what was measured.
//!
//! Each [`Case`] also carries a naive projection (energy so far plus the mean hourly energy of the last 7
//! days for the rest of the month), so the model can be judged against persistence.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Utc};

use super::{Hour, Slp, learn};

/// One projection made on `day` of the month starting `month`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Case {
    /// First day of the month.
    pub month: NaiveDate,
    /// Day of the month the projection was made on (at its local midnight).
    pub day: u32,
    /// Measured energy of the whole month, Wh.
    pub actual_wh: f64,
    /// Projected month-end energy, Wh.
    pub projected_wh: f64,
    /// The band's lower end, Wh.
    pub low_wh: f64,
    /// The band's upper end, Wh.
    pub high_wh: f64,
    /// Energy so far plus the last 7 days' mean rate for the rest, Wh.
    pub naive_wh: f64,
}

impl Case {
    /// Absolute percentage error of the projection.
    pub fn ape(&self) -> f64 {
        100.0 * (self.projected_wh - self.actual_wh).abs() / self.actual_wh
    }

    /// Absolute percentage error of the naive projection.
    pub fn naive_ape(&self) -> f64 {
        100.0 * (self.naive_wh - self.actual_wh).abs() / self.actual_wh
    }

    /// The measured month-end lies in the band.
    pub fn inside(&self) -> bool {
        (self.low_wh..=self.high_wh).contains(&self.actual_wh)
    }
}

/// Mean of `f` over the cases made on `day`; `None` without one.
pub fn mean_on(cases: &[Case], day: u32, f: impl Fn(&Case) -> f64) -> Option<f64> {
    let v: Vec<f64> = cases.iter().filter(|c| c.day == day).map(f).collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Month-end projections on `days` of every whole month of `hours` (hourly, oldest first, contiguous)
/// whose energy is fully known and positive.
pub fn month_end<Z: TimeZone>(tz: Z, hours: &[Hour], slp: Slp, days: &[u32]) -> Vec<Case> {
    let (Some(first), Some(last)) = (hours.first(), hours.last()) else {
        return Vec::new();
    };
    let end = last.start + TimeDelta::hours(1);
    let at = |d: NaiveDate| -> Option<DateTime<Utc>> {
        crate::counter::local_day_edges(&tz, d, d).first().copied()
    };
    let index = |t: DateTime<Utc>| ((t - first.start).num_hours().max(0) as usize).min(hours.len());
    let sum = |from: DateTime<Utc>, to: DateTime<Utc>| -> Option<f64> {
        hours[index(from)..index(to)].iter().map(|h| h.wh).sum()
    };
    let mut cases = Vec::new();
    let mut month = first.start.with_timezone(&tz).date_naive().with_day(1);
    while let Some(m) = month {
        let next = m.checked_add_months(Months::new(1));
        let (Some(start), Some(stop)) = (at(m), next.and_then(at)) else {
            break;
        };
        if stop > end {
            break;
        }
        if start >= first.start
            && let Some(actual) = sum(start, stop).filter(|a| *a > 0.0)
        {
            for &day in days {
                let Some(now) = m.with_day(day).and_then(at) else {
                    continue;
                };
                let from = (now - TimeDelta::days(28)).max(first.start);
                let Some(model) = learn(tz.clone(), &hours[index(from)..index(now)], slp) else {
                    continue;
                };
                let measured: f64 = hours[index(start)..index(now)].iter().filter_map(|h| h.wh).sum();
                let p = model.project(measured, now, stop);
                let week = &hours[index((now - TimeDelta::days(7)).max(first.start))..index(now)];
                let rate = week.iter().filter_map(|h| h.wh).sum::<f64>() / week.len().max(1) as f64;
                cases.push(Case {
                    month: m,
                    day,
                    actual_wh: actual,
                    projected_wh: p.wh,
                    low_wh: p.low_wh,
                    high_wh: p.high_wh,
                    naive_wh: measured + rate * (stop - now).num_hours() as f64,
                });
            }
        }
        month = next;
    }
    cases
}

#[cfg(test)]
mod tests {
    use chrono_tz::Europe::Berlin;

    use super::*;

    #[test]
    fn a_weekly_pattern_is_projected_better_than_persistence() {
        // Weekdays 3 kWh per hour 07–19, else 1 kWh; weekends 1 kWh; from 1 March to 1 July 2026.
        let start = Berlin
            .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let hours: Vec<Hour> = (0..24 * 122)
            .map(|i| {
                let t = start + TimeDelta::hours(i);
                let l = t.with_timezone(&Berlin);
                let work =
                    l.weekday().number_from_monday() <= 5 && (7..19).contains(&chrono::Timelike::hour(&l));
                Hour {
                    start: t,
                    wh: Some(if work { 3000.0 } else { 1000.0 }),
                }
            })
            .collect();
        let cases = month_end(Berlin, &hours, Slp::G25, &[1, 10, 20]);
        // March from day 10 (no history before 1 March), April, May and June.
        assert!(cases.iter().filter(|c| c.day == 20).count() >= 3, "{cases:?}");
        let on_10 = mean_on(&cases, 10, Case::ape).expect("day 10");
        assert!(on_10 < 0.5, "{on_10}");
        assert!(
            cases.iter().filter(|c| c.month.month() >= 4).all(Case::inside),
            "{cases:?}"
        );
    }
}
