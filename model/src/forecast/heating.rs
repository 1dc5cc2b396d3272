//! Heating loads follow the weather: a projection corrected by degree days (G20/15, [`super::degree_days`]).
//!
//! The hour-of-week profile ([`super::Model`]) forecasts the rest of a period as if it were as cold as the
//! weeks it learned from. For a load that heats (a heat or gas meter, an electrically heated site) that is
//! wrong by `slope × (the rest's degree days − as many days of the learned weeks' mean)`. The slope is the
//! energy per kelvin-day, fitted by least squares on the learned days: each whole day's energy *beyond its
//! profile* (so the week's rhythm does not enter the fit) against its degree days ([`HeatingFit`]). The
//! rest's degree days come from what is known on the day of the projection ([`DayTemps`]): the forecast
//! for the days it covers, the climatological normal after it. Without a fit (under 7 days with a
//! temperature, no spread in the degree days) the projection is the profile's; a day without a
//! temperature is left out of the fit (missing, not 0 °C).
//!
//! Live forecasts (the API's `/forecast`, analytics' budget alerts) know the temperatures from the weather
//! feed and outdoor temperature sensors ([`KnownTemps`]): observed days, then the latest forecast, then
//! the German climatological normal of the month ([`NORMAL_C`]); [`Applied`] says which were used.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::degree_days::{BASE_C, HeatingFit, INSIDE_C};
use super::{Hour, Model, Projection};

/// The daily mean outdoor temperatures known on a given day.
pub trait DayTemps {
    /// Mean temperature of local day `day` as known on local day `on` (observed for a past day, forecast
    /// for a coming one), °C; `None` when nothing is known (beyond the forecast, a missing observation).
    fn known(&self, on: NaiveDate, day: NaiveDate) -> Option<f64>;
    /// The climatological normal daily mean of `day`, °C, for the days no forecast covers.
    fn normal(&self, day: NaiveDate) -> f64;
}

/// Monthly mean air temperature of Germany, 1991–2020 (DWD, area mean), January to December, °C: the
/// normal of a day neither observed nor forecast. Their mean is the period's 9.3 °C; checked against
/// published figures (January 0.9 and February 1.5 from DWD's 1×1 km grid means; July 18.3, since DWD
/// called July 2023's 18.7 °C 0.4 K above it).
pub const NORMAL_C: [f64; 12] = [0.9, 1.5, 4.7, 9.0, 13.1, 16.4, 18.3, 17.9, 13.8, 9.4, 4.8, 1.8];

/// The temperatures a live forecast knows: observed daily means (the feed's observations, outdoor
/// temperature sensors), the latest forecast of daily means, and [`NORMAL_C`] beyond.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KnownTemps {
    /// Observed daily means by local day, °C.
    pub observed: BTreeMap<NaiveDate, f64>,
    /// The latest forecast's daily means by local day, °C.
    pub forecast: BTreeMap<NaiveDate, f64>,
}

impl KnownTemps {
    /// Nothing known at all (no fit can be made).
    pub fn is_empty(&self) -> bool {
        self.observed.is_empty() && self.forecast.is_empty()
    }

    /// Takes in the daily temperatures of a (validated) weather message issued at `issued`: observations
    /// added (a newer one of a day replaces the older), a forecast replacing the older as a whole, and
    /// observations older than `keep_days` before `issued` dropped (bounded).
    pub fn update(&mut self, t: &crate::weather::Temperatures, issued: DateTime<Utc>, keep_days: i64) {
        for d in &t.observed {
            self.observed.insert(d.day, d.c);
        }
        if !t.forecast.is_empty() {
            self.forecast = t.forecast.iter().map(|d| (d.day, d.c)).collect();
        }
        let oldest = (issued - chrono::TimeDelta::days(keep_days)).date_naive();
        self.observed.retain(|d, _| *d >= oldest);
    }
}

impl DayTemps for KnownTemps {
    /// A day before `on`: its observation; from `on` on: the forecast (today's observation if it has none).
    fn known(&self, on: NaiveDate, day: NaiveDate) -> Option<f64> {
        if day < on {
            self.observed.get(&day).copied()
        } else {
            self.forecast
                .get(&day)
                .or_else(|| (day == on).then(|| self.observed.get(&day)).flatten())
                .copied()
        }
    }

    fn normal(&self, day: NaiveDate) -> f64 {
        NORMAL_C[day.month0() as usize]
    }
}

/// What a forecast did with the weather, as the API and alerts report it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// Degree days G20/15 of the forecast rest it corrected for, K·d; `null` when not corrected.
    pub degree_days_used: Option<f64>,
    /// `none` (no temperature known: forecast as the profile says), `not_heating` (not a heating load),
    /// `not_fitted` (under 7 whole days with a temperature, or no spread in them), or the temperatures the
    /// rest's days used, joined by `+`, of `observed`, `forecast` and `normal`.
    pub source: String,
    /// Energy per kelvin-day beyond the profile, Wh; `null` when not corrected.
    pub wh_per_kd: Option<f64>,
}

impl Applied {
    /// Not corrected, for `why` (`none`, `not_heating`, `not_fitted`).
    pub fn not(why: &str) -> Self {
        Self {
            degree_days_used: None,
            source: why.into(),
            wh_per_kd: None,
        }
    }
}

/// Degree days G20/15 of `[from, to)` as known on local day `on` (each local day weighted by its share),
/// and which temperatures were used (`observed`, `forecast`, `normal`, in that order, joined by `+`).
pub fn rest_degree_days<Z: TimeZone>(
    tz: &Z,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    temps: &dyn DayTemps,
    on: NaiveDate,
) -> (f64, Vec<(f64, f64)>, String) {
    let mut kd = 0.0;
    let mut shares = Vec::new();
    let mut used = [false; 3];
    let mut t = from;
    while t < to {
        let day = t.with_timezone(tz).date_naive();
        let next = crate::counter::local_day_edges(tz, day, day + chrono::TimeDelta::days(1))
            .get(1)
            .copied()
            .unwrap_or(to)
            .min(to);
        if next <= t {
            break;
        }
        let share = (next - t).num_seconds() as f64 / 86_400.0;
        let temp = match temps.known(on, day) {
            Some(c) => {
                used[usize::from(day >= on)] = true;
                c
            }
            None => {
                used[2] = true;
                temps.normal(day)
            }
        };
        kd += share * day_degree_days(temp);
        shares.push((share, day_degree_days(temp)));
        t = next;
    }
    let source = ["observed", "forecast", "normal"]
        .iter()
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join("+");
    (kd, shares, source)
}

/// Degree days G20/15 of one day with mean temperature `t` (K·d).
pub fn day_degree_days(t: f64) -> f64 {
    if t.is_finite() && t < BASE_C {
        INSIDE_C - t
    } else {
        0.0
    }
}

/// A load's response to the cold, learned beside its profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heating {
    /// Energy per kelvin-day beyond the profile, Wh (never negative).
    pub wh_per_kd: f64,
    /// Mean degree days per day of the days it was learned on.
    pub learned_kd: f64,
    /// Days it was learned on.
    pub days: usize,
}

/// Fits how `model`'s load follows the cold on the whole local days of `history` (the hours the model
/// learned from) with a temperature known on day `on`; `None` without a usable fit.
pub fn learn<Z: TimeZone>(
    model: &Model<Z>,
    history: &[Hour],
    temps: &dyn DayTemps,
    on: NaiveDate,
) -> Option<Heating> {
    // (day, measured, expected, hours, all known)
    let mut days: Vec<(NaiveDate, f64, f64, usize, bool)> = Vec::new();
    for h in history {
        let d = h.start.with_timezone(&model.tz).date_naive();
        if days.last().is_none_or(|l| l.0 != d) {
            days.push((d, 0.0, 0.0, 0, true));
        }
        if let Some(l) = days.last_mut() {
            l.1 += h.wh.unwrap_or(0.0);
            l.2 += model.expected(h.start);
            l.3 += 1;
            l.4 &= h.wh.is_some();
        }
    }
    let pairs: Vec<(f64, f64)> = days
        .iter()
        .filter(|d| d.4 && d.3 >= 23 && d.0 < on)
        .filter_map(|d| Some((d.1 - d.2, day_degree_days(temps.known(on, d.0)?))))
        .collect();
    let fit = HeatingFit::of(&pairs)?;
    Some(Heating {
        wh_per_kd: fit.wh_per_kd,
        learned_kd: pairs.iter().map(|p| p.1).sum::<f64>() / pairs.len() as f64,
        days: pairs.len(),
    })
}

impl Heating {
    /// The profile's projection `p` from `from` to `to` (made on local day `on`) corrected by the degree
    /// days of the rest, each local day weighted by its share of `[from, to)`; the band keeps its relative
    /// width on the corrected rest.
    pub fn correct<Z: TimeZone>(
        &self,
        tz: &Z,
        p: Projection,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
        temps: &dyn DayTemps,
        on: NaiveDate,
    ) -> Projection {
        let (_, shares, _) = rest_degree_days(tz, (from, to), temps, on);
        let kd_beyond: f64 = shares
            .iter()
            .map(|(share, kd)| share * (kd - self.learned_kd))
            .sum();
        let remaining = (p.remaining_wh + self.wh_per_kd * kd_beyond).max(0.0);
        let rel = |x: f64| {
            if p.remaining_wh > 0.0 {
                (x - p.measured_wh) / p.remaining_wh
            } else {
                1.0
            }
        };
        Projection {
            measured_wh: p.measured_wh,
            remaining_wh: remaining,
            wh: p.measured_wh + remaining,
            low_wh: p.measured_wh + remaining * rel(p.low_wh),
            high_wh: p.measured_wh + remaining * rel(p.high_wh),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, TimeDelta};
    use chrono_tz::Europe::Berlin;

    use super::*;
    use crate::forecast::Slp;

    /// Known: the true temperature of every day (a perfect forecast); normal 8 °C.
    struct Truth(Vec<(NaiveDate, f64)>);

    impl DayTemps for Truth {
        fn known(&self, _on: NaiveDate, day: NaiveDate) -> Option<f64> {
            self.0.iter().find(|d| d.0 == day).map(|d| d.1)
        }
        fn normal(&self, _day: NaiveDate) -> f64 {
            8.0
        }
    }

    #[test]
    fn a_cold_rest_of_the_month_is_projected_higher_by_its_degree_days() {
        // 1 kWh per hour plus 500 Wh per kelvin-day spread over the day; 28 days of January learned with
        // 5–11 °C (a 5-day cycle, so the weekly profile cannot take it up), then three days at 0 °C.
        let start = Berlin
            .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc);
        let temp = |d: NaiveDate| {
            if d.day() > 28 {
                0.0
            } else {
                5.0 + 1.5 * f64::from(d.day() % 5)
            }
        };
        let days: Vec<(NaiveDate, f64)> = (0..35)
            .map(|i| {
                let d = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + TimeDelta::days(i);
                (d, temp(d))
            })
            .collect();
        let truth = Truth(days.clone());
        let hours: Vec<Hour> = (0..24 * 28)
            .map(|i| {
                let t = start + TimeDelta::hours(i);
                let d = t.with_timezone(&Berlin).date_naive();
                Hour {
                    start: t,
                    wh: Some(1000.0 + 500.0 * day_degree_days(temp(d)) / 24.0),
                }
            })
            .collect();
        let model = crate::forecast::learn(Berlin, &hours, Slp::G25).expect("a model");
        let on = NaiveDate::from_ymd_opt(2026, 1, 29).expect("date");
        let heating = learn(&model, &hours, &truth, on).expect("a fit");
        assert!((heating.wh_per_kd - 500.0).abs() < 125.0, "{heating:?}");
        let (from, to) = (
            hours[hours.len() - 1].start + TimeDelta::hours(1),
            start + TimeDelta::days(31),
        );
        let plain = model.project(0.0, from, to);
        let warm = heating.correct(&Berlin, plain, (from, to), &truth, on);
        // Three days at 20 K·d: 3 · 24 kWh + 3 · 10 kWh = 102 kWh; the profile alone says less.
        let want = 3.0 * (24_000.0 + 500.0 * 20.0);
        assert!((warm.wh - want).abs() / want < 0.05, "{} vs {want}", warm.wh);
        assert!(plain.wh < 0.9 * want, "{}", plain.wh);
        assert!(warm.low_wh <= warm.wh && warm.wh <= warm.high_wh);
        // Without temperatures nothing is fitted.
        assert_eq!(learn(&model, &hours, &Truth(Vec::new()), on), None);
    }
}
