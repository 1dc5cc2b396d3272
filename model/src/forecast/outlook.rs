//! A horizon's outlook: energy measured from its start up to now plus the forecast of the rest, priced
//! with the site's tariff schedule, with the band on both. Shared by the API's forecast report (rest of
//! today, month-end, year-end) and analytics' budget alerts ([`year_end`]), so both say the same.
//!
//! The cost prices the measured intervals and the forecast hours together ([`Schedule::bill`], Grundpreis
//! of every local day of the horizon included, and the demand charge of every day at the peaks the schedule
//! carries, [`Schedule::with_peaks`]: the API gives it the billing year's peak so far, so a later, higher
//! peak would add to it); the cost band is the energy band applied to the gross cost of the forecast part
//! alone.
//!
//! A heating load's outlook follows the weather ([`outlook_with`]): the profile's forecast of the rest is
//! corrected by its degree days ([`super::heating`]), every forecast hour scaled alike so that the cost
//! follows; [`Applied`] says what was used.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone, Utc};
use serde::Serialize;

use super::heating::{Applied, DayTemps, learn as learn_heating, rest_degree_days};
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
    range: (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
) -> Outlook {
    outlook_with(model, schedule, measured, range, None).0
}

/// The temperatures a heating load's outlook follows: the hours the model learned from (to fit its
/// response to the cold) and the daily temperatures known.
pub type Weather<'a> = (&'a [Hour], &'a dyn DayTemps);

/// [`outlook`] of a heating load: with `weather`, the forecast of the rest corrected by its degree days
/// (observed, then forecast, then normal temperatures) when the load's response to the cold can be fitted;
/// `None` for a load that does not heat. Says what it applied.
pub fn outlook_with<Z: TimeZone>(
    model: &Model<Z>,
    schedule: &Schedule<'_, Z>,
    measured: &[Interval],
    (start, from, until): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    weather: Option<Weather<'_>>,
) -> (Outlook, Applied) {
    outlook_scaled(model, schedule, measured, (start, from, until), weather, 1.0)
}

/// [`outlook_with`] of a model learned in other units than the schedule prices: the model's forecast
/// (in the units it learned, e.g. m³ of gas) times `scale` (e.g. Wh per m³) joins `measured` (already in
/// the priced units) and is priced with it. The outlook's figures are in the priced units; the degree-day
/// fit stays in the model's units (`weather`'s hours are what the model learned from).
pub fn outlook_scaled<Z: TimeZone>(
    model: &Model<Z>,
    schedule: &Schedule<'_, Z>,
    measured: &[Interval],
    (start, from, until): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    weather: Option<Weather<'_>>,
    scale: f64,
) -> (Outlook, Applied) {
    let tz = &model.tz;
    let measured_wh: f64 = measured.iter().filter_map(|i| i.import_wh).sum();
    // The rest alone (nothing measured) in the model's units; scaled and added to the measured below.
    let plain = model.project(0.0, from, until);
    let on = from.with_timezone(tz).date_naive();
    let (p, applied) = match weather {
        None => (plain, Applied::not("not_heating")),
        Some((history, temps)) => match learn_heating(model, history, temps, on) {
            None if history.is_empty() || no_temperature(history, temps, tz, on) => {
                (plain, Applied::not("none"))
            }
            None => (plain, Applied::not("not_fitted")),
            Some(h) => {
                let (kd, _, source) = rest_degree_days(tz, (from, until), temps, on);
                let p = h.correct(tz, plain, (from, until), temps, on);
                let applied = Applied {
                    degree_days_used: Some(kd),
                    source,
                    wh_per_kd: Some(h.wh_per_kd),
                };
                (p, applied)
            }
        },
    };
    let factor = if plain.remaining_wh > 0.0 {
        p.remaining_wh / plain.remaining_wh
    } else {
        1.0
    };
    let forecast: Vec<Interval> = model
        .hours(from, until)
        .into_iter()
        .map(|(t, wh)| Interval {
            start: t,
            import_wh: Some(wh * factor * scale),
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
    let outlook = Outlook {
        measured_wh,
        remaining_wh: p.remaining_wh * scale,
        wh: measured_wh + p.wh * scale,
        low_wh: measured_wh + p.low_wh * scale,
        high_wh: measured_wh + p.high_wh * scale,
        gross_cents: bill.gross_cents,
        low_gross_cents: bill.gross_cents + (rest * lo.max(-1.0)).round() as i64,
        high_gross_cents: bill.gross_cents + (rest * hi).round() as i64,
        priced: bill.priced,
    };
    (outlook, applied)
}

/// No temperature is known for any day of `history` nor for `on`.
fn no_temperature<Z: TimeZone>(history: &[Hour], temps: &dyn DayTemps, tz: &Z, on: NaiveDate) -> bool {
    temps.known(on, on).is_none()
        && history
            .iter()
            .all(|h| temps.known(on, h.start.with_timezone(tz).date_naive()).is_none())
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
    year_end_with(tz, (history, slp), schedule, measured, from, None).map(|(y, o, _)| (y, o))
}

/// [`year_end`] of a heating load following the daily temperatures `temps` (see [`outlook_with`]);
/// `None` for a load that does not heat.
pub fn year_end_with<Z: TimeZone>(
    tz: Z,
    (history, slp): (&[Hour], Slp),
    schedule: &Schedule<'_, Z>,
    measured: &[Interval],
    from: DateTime<Utc>,
    temps: Option<&dyn DayTemps>,
) -> Option<(i32, Outlook, Applied)> {
    let (year, start, until) = year_of(&tz, from)?;
    let model = learn(tz, history, slp)?;
    let weather = temps.map(|t| (history, t));
    let (o, applied) = outlook_with(&model, schedule, measured, (start, from, until), weather);
    Some((year, o, applied))
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

    #[test]
    fn a_heating_loads_month_end_follows_a_cold_forecast_and_says_so() {
        use crate::forecast::heating::{KnownTemps, day_degree_days};
        // 28 days to 2026-12-07 learned, 1 kWh an hour plus 400 Wh per kelvin-day; daily means 4–12 °C.
        let from = Berlin
            .with_ymd_and_hms(2026, 12, 7, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let start = from - TimeDelta::days(28);
        let day0 = start.with_timezone(&Berlin).date_naive();
        let temp = |k: i64| 4.0 + 2.0 * (k % 5) as f64;
        let history: Vec<Hour> = (0..28 * 24)
            .map(|i| Hour {
                start: start + TimeDelta::hours(i),
                wh: Some(1000.0 + 400.0 * day_degree_days(temp(i / 24)) / 24.0),
            })
            .collect();
        let observed = (0..28).map(|k| (day0 + TimeDelta::days(k), temp(k))).collect();
        let on = from.with_timezone(&Berlin).date_naive();
        let forecast_at = |c: f64| (0..7).map(|k| (on + TimeDelta::days(k), c)).collect();
        let cold = KnownTemps {
            observed: std::collections::BTreeMap::clone(&observed),
            forecast: forecast_at(-5.0),
        };
        let mild = KnownTemps {
            observed,
            forecast: forecast_at(10.0),
        };
        let model = learn(Berlin, &history, Slp::G25).expect("model");
        let t = flat(30.0, 0.0);
        let schedule = Schedule::only(&t, Berlin);
        let month_end = Berlin
            .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let range = (from, from, month_end);
        let (c, ca) = outlook_with(&model, &schedule, &[], range, Some((&history, &cold)));
        let (m, ma) = outlook_with(&model, &schedule, &[], range, Some((&history, &mild)));
        // 7 days 15 K·d apart at 400 Wh per K·d: 42 kWh more (the fit is within a quarter).
        let diff = c.wh - m.wh;
        assert!((diff - 42_000.0).abs() < 10_500.0, "{diff} {ca:?}");
        assert!(c.gross_cents > m.gross_cents && c.low_wh <= c.wh && c.wh <= c.high_wh);
        assert_eq!(
            (ca.source.as_str(), ma.source.as_str()),
            ("forecast+normal", "forecast+normal")
        );
        assert!(ca.degree_days_used.expect("used") > ma.degree_days_used.expect("used"));
        // Not a heating load, or no temperature known: the profile's outlook, and it says so.
        let plain = outlook(&model, &schedule, &[], range);
        let (n, na) = outlook_with(
            &model,
            &schedule,
            &[],
            range,
            Some((&history, &KnownTemps::default())),
        );
        assert_eq!(
            (n, na.source.as_str(), na.degree_days_used),
            (plain, "none", None)
        );
        let (_, nh) = outlook_with(&model, &schedule, &[], range, None);
        assert_eq!(nh.source, "not_heating");
        // Under 7 days with a temperature: not fitted.
        let few = KnownTemps {
            observed: (20..28).map(|k| (day0 + TimeDelta::days(k), 30.0)).collect(),
            forecast: forecast_at(-5.0),
        };
        let (f, fa) = outlook_with(&model, &schedule, &[], range, Some((&history, &few)));
        assert_eq!((f, fa.source.as_str()), (plain, "not_fitted"));
    }
}
