//! A horizon's outlook: energy measured from its start up to now plus the forecast of the rest, priced
//! with the site's tariff schedule, with the band on both. Shared by the API's forecast report (rest of
//! today, month-end, year-end) and analytics' budget alerts ([`year_end`]), so both say the same.
//!
//! The cost prices the measured intervals and the forecast hours together ([`Schedule::bill`], Grundpreis
//! of every local day of the horizon included, and the demand charge of every day at the peaks the schedule
//! carries, [`Schedule::with_peaks`]: the API gives it the billing year's peak so far, so a later, higher
//! peak would add to it); the cost band is the energy band applied to the gross cost of the forecast part
//! alone.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use serde::Serialize;

use super::{Hour, Model, Slp, learn};
use crate::tariff::{Interval, Schedule};

/// One horizon `[start, until)`, measured up to `from`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Outlook {
    /// Measured from `start` to `from`, Wh (the known intervals).
    pub measured_wh: f64,
    /// Forecast from `from` to `until`, Wh.
    pub remaining_wh: f64,
    /// Projected total, Wh.
    pub wh: f64,
    /// Lower end of the band (p10), Wh.
    pub low_wh: f64,
    /// Upper end of the band (p90), Wh.
    pub high_wh: f64,
    /// Projected gross cost, cents (Grundpreis included).
    pub gross_cents: i64,
    /// Lower end of the cost band, cents.
    pub low_gross_cents: i64,
    /// Upper end of the cost band, cents.
    pub high_gross_cents: i64,
    /// Every interval, measured and forecast, had a tariff (and a price).
    pub priced: bool,
}

/// The outlook of `[start, until)` from `measured` (the intervals from `start` to `from`, as the schedule
/// prices them) and `model`'s forecast from `from` on.
pub fn outlook<Z: TimeZone>(
    model: &Model<Z>,
    schedule: &Schedule<'_, Z>,
    measured: &[Interval],
    (start, from, until): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
) -> Outlook {
    let tz = &model.tz;
    let measured_wh: f64 = measured.iter().filter_map(|i| i.import_wh).sum();
    let p = model.project(measured_wh, from, until);
    let forecast: Vec<Interval> = model
        .hours(from, until)
        .into_iter()
        .map(|(t, wh)| Interval {
            start: t,
            import_wh: Some(wh),
            export_wh: None,
        })
        .collect();
    let first_day = start.with_timezone(tz).date_naive();
    let last_day = (until - TimeDelta::seconds(1)).with_timezone(tz).date_naive();
    let days: Vec<NaiveDate> = first_day.iter_days().take_while(|d| *d <= last_day).collect();
    let mut all = measured.to_vec();
    all.extend_from_slice(&forecast);
    let bill = schedule.bill(&all, &days);
    let rest = schedule.bill(&forecast, &[]).gross_cents as f64;
    let (lo, hi) = model.band_over(from, until);
    Outlook {
        measured_wh,
        remaining_wh: p.remaining_wh,
        wh: p.wh,
        low_wh: p.low_wh,
        high_wh: p.high_wh,
        gross_cents: bill.gross_cents,
        low_gross_cents: bill.gross_cents + (rest * lo.max(-1.0)).round() as i64,
        high_gross_cents: bill.gross_cents + (rest * hi).round() as i64,
        priced: bill.priced,
    }
}

/// The local calendar year holding `t`: its first and the next year's first local midnight.
pub fn year_of<Z: TimeZone>(tz: &Z, t: DateTime<Utc>) -> Option<(i32, DateTime<Utc>, DateTime<Utc>)> {
    let year = t.with_timezone(tz).year();
    let midnight = |y: i32| {
        let d = NaiveDate::from_ymd_opt(y, 1, 1)?.and_hms_opt(0, 0, 0)?;
        Some(tz.from_local_datetime(&d).earliest()?.with_timezone(&Utc))
    };
    Some((year, midnight(year)?, midnight(year + 1)?))
}

/// The year-end outlook at `from` (an hour start): a model learned from `history` (the hours before
/// `from`, see [`learn`]) projects the rest of the local year after `measured` (the intervals from the
/// year's start to `from`). Returns the year and its outlook; `None` without a known hour to learn from.
pub fn year_end<Z: TimeZone>(
    tz: Z,
    (history, slp): (&[Hour], Slp),
    schedule: &Schedule<'_, Z>,
    measured: &[Interval],
    from: DateTime<Utc>,
) -> Option<(i32, Outlook)> {
    let (year, start, until) = year_of(&tz, from)?;
    let model = learn(tz, history, slp)?;
    Some((year, outlook(&model, schedule, measured, (start, from, until))))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use chrono_tz::Europe::Berlin;

    use super::*;
    use crate::Id;
    use crate::tariff::Tariff;

    fn flat(ct: f64, base: f64) -> Tariff {
        Tariff {
            medium: Default::default(),
            ct_per_m3: 0.0,
            id: Id::new("flat").expect("id"),
            name: "flat".into(),
            valid_from: NaiveDate::MIN,
            valid_to: None,
            sites: vec![Id::new("s").expect("id")],
            currency: "EUR".into(),
            vat_percent: 0.0,
            energy_ct_per_kwh: ct,
            base_eur_per_month: base,
            feed_in_ct_per_kwh: 0.0,
            windows: Vec::new(),
            demand_eur_per_kw_year: 0.0,
            demand_billing: Default::default(),
            dynamic: None,
        }
    }

    fn hours(from: DateTime<Utc>, n: i64, wh: f64) -> Vec<Hour> {
        (0..n)
            .map(|k| Hour {
                start: from + TimeDelta::hours(k),
                wh: Some(wh),
            })
            .collect()
    }

    #[test]
    fn a_steady_load_projects_its_rate_to_the_year_end_and_prices_it() {
        let from = Berlin
            .with_ymd_and_hms(2026, 7, 1, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let (year, start, until) = year_of(&Berlin, from).expect("year");
        assert_eq!(year, 2026);
        let history = hours(from - TimeDelta::days(28), 28 * 24, 1000.0);
        let measured: Vec<Interval> = hours(start, (from - start).num_hours(), 1000.0)
            .into_iter()
            .map(|h| Interval {
                start: h.start,
                import_wh: h.wh,
                export_wh: None,
            })
            .collect();
        let t = flat(30.0, 0.0);
        let schedule = Schedule::only(&t, Berlin);
        let (y, o) = year_end(Berlin, (&history, Slp::G25), &schedule, &measured, from).expect("outlook");
        assert_eq!(y, 2026);
        let total_h = (until - start).num_hours() as f64;
        assert!((o.wh - 1000.0 * total_h).abs() < 1e-6, "{o:?}");
        assert!((o.measured_wh - 1000.0 * (from - start).num_hours() as f64).abs() < 1e-6);
        // 30 ct per kWh of the whole year, to the cent.
        assert_eq!(o.gross_cents, (total_h * 30.0).round() as i64, "{o:?}");
        assert!(o.low_wh <= o.wh && o.wh <= o.high_wh && o.priced, "{o:?}");
        // Without history there is nothing to project.
        assert!(year_end(Berlin, (&[], Slp::G25), &schedule, &measured, from).is_none());
    }

    #[test]
    fn the_year_end_outlook_charges_the_demand_at_the_peak_it_is_given() {
        let from = Berlin
            .with_ymd_and_hms(2026, 7, 1, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let history = hours(from - TimeDelta::days(28), 28 * 24, 1000.0);
        let t = Tariff {
            demand_eur_per_kw_year: 100.0,
            ..flat(30.0, 0.0)
        };
        let plain = Schedule::only(&t, Berlin);
        let peak = crate::tariff::Peak {
            year_start: NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            w: 4321.0,
        };
        let with = plain.clone().with_peaks(vec![peak]);
        let (_, a) = year_end(Berlin, (&history, Slp::G25), &with, &[], from).expect("outlook");
        // Without the peak the days' demand is unknown: not priced.
        let (_, b) = year_end(Berlin, (&history, Slp::G25), &plain, &[], from).expect("outlook");
        assert!(a.priced && !b.priced, "{a:?} {b:?}");
        // 4.321 kW × 100 €/kW for the whole year (VAT 0).
        assert_eq!(a.gross_cents - b.gross_cents, 43_210, "{a:?} {b:?}");
    }
}
