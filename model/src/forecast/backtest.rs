//! Backtest of month-end projections on a meter's hourly history: on given days of each whole month, learn
//! from the 28 days before (as the API does), project the month-end and compare with what was measured.
//!
//! Each [`Case`] also carries a naive projection (energy so far plus the mean hourly energy of the last 7
//! days for the rest of the month), so the model can be judged against persistence.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Utc};

use super::heating::{self, DayTemps};
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

/// ASHRAE Guideline 14 goodness of fit of a baseline: normalised mean bias error and coefficient of
/// variation of the root-mean-square error, percent (calibration targets for monthly data: NMBE within
/// ±5 %, CV(RMSE) ≤ 15 %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Number of periods compared.
    pub n: usize,
    /// `100 · Σ(measured − predicted) / ((n − p) · mean measured)`.
    pub nmbe: f64,
    /// `100 · √(Σ(measured − predicted)² / (n − p)) / mean measured`.
    pub cv_rmse: f64,
}

impl Fit {
    /// Both Guideline 14 monthly targets met.
    pub fn meets_monthly(&self) -> bool {
        self.nmbe.abs() <= 5.0 && self.cv_rmse <= 15.0
    }
}

/// Guideline 14 figures of `(measured, predicted)` pairs for a model of `params` parameters; `None` when
/// there are no more pairs than parameters or the mean measured is not positive.
pub fn ashrae_fit(pairs: &[(f64, f64)], params: usize) -> Option<Fit> {
    let n = pairs.len();
    let dof = n.checked_sub(params).filter(|d| *d > 0)? as f64;
    let mean = pairs.iter().map(|p| p.0).sum::<f64>() / n as f64;
    if mean <= 0.0 {
        return None;
    }
    let bias: f64 = pairs.iter().map(|p| p.0 - p.1).sum();
    let sq: f64 = pairs.iter().map(|p| (p.0 - p.1).powi(2)).sum();
    Some(Fit {
        n,
        nmbe: 100.0 * bias / (dof * mean),
        cv_rmse: 100.0 * (sq / dof).sqrt() / mean,
    })
}

/// The monthly baseline of the cases: the projection made on day 1 (nothing of the month measured yet, so
/// the whole month is the learned profile's forecast) against the month's measured energy.
pub fn monthly_baseline(cases: &[Case]) -> Vec<(f64, f64)> {
    cases
        .iter()
        .filter(|c| c.day == 1)
        .map(|c| (c.actual_wh, c.projected_wh))
        .collect()
}

/// Month-end projections on `days` of every whole month of `hours` (hourly, oldest first, contiguous)
/// whose energy is fully known and positive.
pub fn month_end<Z: TimeZone>(tz: Z, hours: &[Hour], slp: Slp, days: &[u32]) -> Vec<Case> {
    month_end_with(tz, hours, slp, days, None)
}

/// [`month_end`] of a heating load: with `temps`, each projection is corrected by the degree days of the
/// rest of the month as known on its day ([`heating`]).
pub fn month_end_with<Z: TimeZone>(
    tz: Z,
    hours: &[Hour],
    slp: Slp,
    days: &[u32],
    temps: Option<&dyn DayTemps>,
) -> Vec<Case> {
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
                let mut p = model.project(measured, now, stop);
                let on = now.with_timezone(&tz).date_naive();
                if let Some(temps) = temps
                    && let Some(h) = heating::learn(&model, &hours[index(from)..index(now)], temps, on)
                {
                    p = h.correct(&tz, p, (now, stop), temps, on);
                }
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
    fn guideline_14_figures_by_hand() {
        // Errors +10, −10, +20 on a mean of 100 with one parameter: NMBE 20 / (2 · 100) = 10 %,
        // CV(RMSE) √(600 / 2) / 100 = 17.3 %.
        let f = ashrae_fit(&[(110.0, 100.0), (90.0, 100.0), (100.0, 80.0)], 1).expect("a fit");
        assert_eq!(f.n, 3);
        assert!((f.nmbe - 10.0).abs() < 1e-9, "{f:?}");
        assert!((f.cv_rmse - 300f64.sqrt()).abs() < 1e-9, "{f:?}");
        assert!(!f.meets_monthly());
        let exact = ashrae_fit(&[(100.0, 100.0), (120.0, 120.0)], 1).expect("a fit");
        assert!(exact.meets_monthly() && exact.nmbe == 0.0 && exact.cv_rmse == 0.0);
        assert_eq!(ashrae_fit(&[(100.0, 90.0)], 1), None, "no degree of freedom");
        assert_eq!(
            ashrae_fit(&[(0.0, 1.0), (0.0, 1.0)], 1),
            None,
            "no mean to normalise by"
        );
    }

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
