//! Consumption forecasts from a meter's own hourly history: rest of today, month-end, year-end, tomorrow.
//!
//! [`learn`] builds a [`Model`] from up to four weeks of hourly energy (local time, injected time zone):
//!
//! - with at least [`MIN_DAYS`] days of known hours: an **hour-of-week profile**, per local weekday and hour
//!   the mean of its samples, the highest and lowest dropped when there are at least four (so one odd day
//!   does not carry into every week);
//! - with less: the **BDEW standard load profile** ([`slp`]: H25 for households, G25 for businesses)
//!   scaled so that it matches the energy measured over the same hours;
//! - with no known hour: no model.
//!
//! **Uncertainty band** (p10–p90 of the forecast of the rest, calibrated on the meter's own history): the
//! history is cut into whole weeks from its end, and each week is forecast by the profile learned from
//! the *other* weeks (leave one week out, so the errors are out of sample as the future's are). Of the
//! relative errors `measured / expected − 1` of its whole days and of its weeks, the day errors give a
//! day-to-day variance `σd²` and the week errors a level variance `σl² = mean(week²) − σd²/7` (how far a
//! whole week's level strays). A forecast of `n` days then errs by
//! `σ² = σd²/n² + (σl² + 0.01 σd²)·(1 + 0.2 n)` (`n` at least 1), and the band is `±1.2816 σ`, the normal
//! 10th and 90th percentiles. The day errors of a stretch do not add up (`σd²/n²`: the whole stretch's
//! day noise is that of one day; schedules and thermostats make up for a day's excess within days), while
//! the level strays more the further the stretch reaches from the weeks it was learned on (the
//! level variance, never below 1 % of the day variance, grows by a fifth per day of the stretch, as a
//! random walk's mean does). The form and its three constants were calibrated out of sample per horizon:
//! fitted to the band coverage on days 1, 10 and 20 of `zaehlwerk eval --forecast --learn-weeks 17
//! --eval-weeks 3` on seeds 1–7 (pooled: 68 / 66 / 92 % before, 82 / 77 / 77 % after), checked on seeds
//! 8–14 that took no part in it (66 / 58 / 86 % before, 78 / 77 / 82 % after). With a standard profile, or fewer than two whole weeks, the errors are the in-sample day
//! errors and the band is at least ±25 %. A projection is `measured so far + forecast of the rest`, the
//! band on the rest only. `zaehlwerk eval --forecast` reports how often the band held the month-end.

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use serde::Serialize;

pub mod backtest;
pub mod degree_days;
pub mod heating;
pub mod media;
pub mod outlook;
pub mod slp;
#[cfg(test)]
mod tests;

pub use outlook::{Outlook, outlook, outlook_scaled, outlook_with, year_end, year_end_with, year_of};
pub use slp::Slp;

/// Days of known hours from which a meter's own hour-of-week profile is used.
pub const MIN_DAYS: usize = 14;

/// Least relative band of a young model (standard profile, or under 7 days to measure the error on).
pub const YOUNG_BAND: f64 = 0.25;

/// One hour of history: its start and its energy (`None`: unknown).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hour {
    /// Start of the hour.
    pub start: DateTime<Utc>,
    /// Energy in the hour, Wh.
    pub wh: Option<f64>,
}

/// How a model forecasts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    /// The meter's own hour-of-week profile.
    HourOfWeek {
        /// Days of known hours it was learned from.
        days: usize,
    },
    /// A BDEW standard load profile scaled to the measured hours.
    StandardProfile {
        /// Which profile.
        profile: Slp,
        /// Days of known hours it was scaled to.
        days: usize,
    },
}

/// The normal distribution's 90th percentile: the band `±Z80 σ` holds 80 %.
pub const Z80: f64 = 1.2816;

/// Least level variance of the band, as a share of the day variance (see the module documentation).
const LEVEL_FLOOR: f64 = 0.01;
/// Growth of the level variance per day of the forecast stretch (see the module documentation).
const LEVEL_GROWTH_PER_DAY: f64 = 0.2;

/// A learned forecast model.
#[derive(Debug, Clone)]
pub struct Model<Z: TimeZone> {
    tz: Z,
    method: Method,
    /// Wh per local weekday × 24 + hour (hour-of-week), or the scale of the standard profile in `[0]`.
    cells: Vec<f64>,
    spread: Spread,
}

/// The relative errors the band is made of (see the module documentation).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Spread {
    /// Day-to-day variance of the relative error, `σd²`.
    day_var: f64,
    /// Level variance of a whole week's relative error beyond the day noise, `σl²`.
    level_var: f64,
    /// A standard profile or too short a history: at least ±[`YOUNG_BAND`].
    young: bool,
}

/// A projection of the energy up to some end.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Projection {
    /// Measured so far, Wh.
    pub measured_wh: f64,
    /// Forecast of the rest, Wh.
    pub remaining_wh: f64,
    /// `measured_wh + remaining_wh`.
    pub wh: f64,
    /// Lower end of the band (p10), Wh.
    pub low_wh: f64,
    /// Upper end of the band (p90), Wh.
    pub high_wh: f64,
}

fn cell<Z: TimeZone>(tz: &Z, t: DateTime<Utc>) -> usize {
    let l = t.with_timezone(tz);
    l.weekday().num_days_from_monday() as usize * 24 + l.hour() as usize
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    sorted[i] + (sorted[(i + 1).min(sorted.len() - 1)] - sorted[i]) * f
}

/// Learns a model from `history` (hourly, oldest first, ideally the last 28 days); `slp` is the standard
/// profile used while fewer than [`MIN_DAYS`] days are known. `None` when no hour is known.
pub fn learn<Z: TimeZone>(tz: Z, history: &[Hour], slp: Slp) -> Option<Model<Z>> {
    let known: Vec<(DateTime<Utc>, f64)> = history
        .iter()
        .filter_map(|h| h.wh.map(|w| (h.start, w)))
        .collect();
    if known.is_empty() {
        return None;
    }
    let days = known.len() / 24;
    let mut model = if days >= MIN_DAYS {
        let mut samples = vec![Vec::new(); 168];
        for (t, w) in &known {
            samples[cell(&tz, *t)].push(*w);
        }
        let means = cell_means(&mut samples);
        let overall = known.iter().map(|k| k.1).sum::<f64>() / known.len() as f64;
        let cells = (0..168)
            .map(|c| {
                means[c].unwrap_or_else(|| {
                    let same_hour: Vec<f64> = (0..7).filter_map(|d| means[d * 24 + c % 24]).collect();
                    if same_hour.is_empty() {
                        overall
                    } else {
                        same_hour.iter().sum::<f64>() / same_hour.len() as f64
                    }
                })
            })
            .collect();
        Model {
            tz,
            method: Method::HourOfWeek { days },
            cells,
            spread: Spread::default(),
        }
    } else {
        let shape: f64 = known.iter().map(|(t, _)| slp_at(&tz, slp, *t)).sum();
        let measured: f64 = known.iter().map(|k| k.1).sum();
        let scale = if shape > 0.0 { measured / shape } else { 0.0 };
        Model {
            tz,
            method: Method::StandardProfile { profile: slp, days },
            cells: vec![scale],
            spread: Spread::default(),
        }
    };
    model.spread = match model.method {
        Method::HourOfWeek { .. } => model
            .out_of_sample_spread(history)
            .unwrap_or_else(|| model.in_sample_spread(history)),
        Method::StandardProfile { .. } => model.in_sample_spread(history),
    };
    Some(model)
}

/// Per hour-of-week cell the mean of its samples, the highest and lowest dropped when there are at least
/// four; `None` for a cell without samples.
fn cell_means(samples: &mut [Vec<f64>]) -> Vec<Option<f64>> {
    samples
        .iter_mut()
        .map(|s| {
            s.sort_by(f64::total_cmp);
            let s = if s.len() >= 4 { &s[1..s.len() - 1] } else { &s[..] };
            (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
        })
        .collect()
}

fn mean_square(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64
}

fn slp_at<Z: TimeZone>(tz: &Z, slp: Slp, t: DateTime<Utc>) -> f64 {
    let l = t.with_timezone(tz);
    slp.hour(l.date_naive(), l.hour())
}

impl<Z: TimeZone> Model<Z> {
    /// How it forecasts.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Relative band (p10, p90) of a one-day forecast, e.g. (−0.05, 0.05); see [`Model::band_over`].
    pub fn band(&self) -> (f64, f64) {
        self.band_days(1.0)
    }

    /// Relative band (p10, p90) of the forecast from `from` to `to`: narrower per day the longer the
    /// stretch, down to the level error.
    pub fn band_over(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> (f64, f64) {
        self.band_days((to - from).num_seconds() as f64 / 86_400.0)
    }

    fn band_days(&self, days: f64) -> (f64, f64) {
        let s = self.spread;
        let n = days.max(1.0);
        let level = (s.level_var + LEVEL_FLOOR * s.day_var) * (1.0 + LEVEL_GROWTH_PER_DAY * n);
        let sd = (s.day_var / (n * n) + level).max(0.0).sqrt();
        let (lo, hi) = (-Z80 * sd, Z80 * sd);
        if s.young {
            (lo.min(-YOUNG_BAND), hi.max(YOUNG_BAND))
        } else {
            (lo, hi)
        }
    }

    /// Expected energy of the hour starting at `start`, Wh.
    pub fn expected(&self, start: DateTime<Utc>) -> f64 {
        match self.method {
            Method::HourOfWeek { .. } => self.cells[cell(&self.tz, start)],
            Method::StandardProfile { profile, .. } => self.cells[0] * slp_at(&self.tz, profile, start),
        }
    }

    /// Expected energy per hour from `from` (an hour start) to `to`, Wh; a partial last hour is prorated.
    pub fn hours(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, f64)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            let next = t + TimeDelta::hours(1);
            let share = if next > to {
                (to - t).num_seconds() as f64 / 3600.0
            } else {
                1.0
            };
            out.push((t, self.expected(t) * share));
            t = next;
        }
        out
    }

    /// `measured_wh` so far plus the forecast from `from` to `to`, with the band on the forecast part.
    pub fn project(&self, measured_wh: f64, from: DateTime<Utc>, to: DateTime<Utc>) -> Projection {
        let remaining: f64 = self.hours(from, to).iter().map(|h| h.1).sum();
        let (lo, hi) = self.band_over(from, to);
        Projection {
            measured_wh,
            remaining_wh: remaining,
            wh: measured_wh + remaining,
            low_wh: measured_wh + remaining * (1.0 + lo).max(0.0),
            high_wh: measured_wh + remaining * (1.0 + hi),
        }
    }

    /// Leave one week out: each whole week (counted back from the history's end) forecast by the cells of
    /// the other weeks. `None` with fewer than two whole weeks or too few whole days.
    fn out_of_sample_spread(&self, history: &[Hour]) -> Option<Spread> {
        let end = history.last()?.start + TimeDelta::hours(1);
        let week = |t: DateTime<Utc>| ((end - t).num_seconds() / (7 * 86_400)) as usize;
        let weeks = ((end - history.first()?.start).num_seconds() / (7 * 86_400)) as usize;
        if weeks < 2 {
            return None;
        }
        let known: Vec<(DateTime<Utc>, f64)> = history
            .iter()
            .filter(|h| week(h.start) < weeks)
            .filter_map(|h| h.wh.map(|w| (h.start, w)))
            .collect();
        let (mut day_err, mut week_err) = (Vec::new(), Vec::new());
        for w in 0..weeks {
            let mut samples = vec![Vec::new(); 168];
            for (t, wh) in known.iter().filter(|k| week(k.0) != w) {
                samples[cell(&self.tz, *t)].push(*wh);
            }
            let means = cell_means(&mut samples);
            // (local date, measured, expected, hours, all known) of the week's days.
            let mut days: Vec<(chrono::NaiveDate, f64, f64, usize, bool)> = Vec::new();
            for h in history.iter().filter(|h| week(h.start) == w) {
                let d = h.start.with_timezone(&self.tz).date_naive();
                if days.last().is_none_or(|l| l.0 != d) {
                    days.push((d, 0.0, 0.0, 0, true));
                }
                if let Some(l) = days.last_mut() {
                    let e = means[cell(&self.tz, h.start)];
                    l.1 += h.wh.unwrap_or(0.0);
                    l.2 += e.unwrap_or(0.0);
                    l.3 += 1;
                    l.4 &= h.wh.is_some() && e.is_some();
                }
            }
            let whole: Vec<_> = days.iter().filter(|d| d.4 && d.3 >= 23 && d.2 > 0.0).collect();
            day_err.extend(whole.iter().map(|d| d.1 / d.2 - 1.0));
            let (m, e) = whole.iter().fold((0.0, 0.0), |a, d| (a.0 + d.1, a.1 + d.2));
            if whole.len() >= 5 && e > 0.0 {
                week_err.push(m / e - 1.0);
            }
        }
        if day_err.len() < 7 || week_err.len() < 2 {
            return None;
        }
        let day_var = mean_square(&day_err);
        Some(Spread {
            day_var,
            level_var: (mean_square(&week_err) - day_var / 7.0).max(0.0),
            young: false,
        })
    }

    /// The model's own whole days (in sample): day noise only, and young (at least ±25 %).
    fn in_sample_spread(&self, history: &[Hour]) -> Spread {
        let (lo, hi) = self.day_quantiles(history);
        Spread {
            day_var: ((hi - lo) / (2.0 * Z80)).powi(2),
            level_var: 0.0,
            young: true,
        }
    }

    fn day_quantiles(&self, history: &[Hour]) -> (f64, f64) {
        let mut days: Vec<(chrono::NaiveDate, f64, f64, bool)> = Vec::new();
        for h in history {
            let d = h.start.with_timezone(&self.tz).date_naive();
            if days.last().is_none_or(|l| l.0 != d) {
                days.push((d, 0.0, 0.0, true));
            }
            if let Some(l) = days.last_mut() {
                l.1 += h.wh.unwrap_or(0.0);
                l.2 += self.expected(h.start);
                l.3 &= h.wh.is_some();
            }
        }
        // The first and last day may be cut by the history's edges: only whole days of ≥ 23 hours count.
        let hours_of = |d: chrono::NaiveDate| {
            history
                .iter()
                .filter(|h| h.start.with_timezone(&self.tz).date_naive() == d)
                .count()
        };
        let mut rel: Vec<f64> = days
            .iter()
            .filter(|d| d.3 && d.2 > 0.0 && hours_of(d.0) >= 23)
            .map(|d| d.1 / d.2 - 1.0)
            .collect();
        rel.sort_by(f64::total_cmp);
        if rel.is_empty() {
            (0.0, 0.0)
        } else {
            (quantile(&rel, 0.1), quantile(&rel, 0.9))
        }
    }
}
