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
//! **Uncertainty band**: for every local day of the history with all hours known, the model's daily total
//! is compared with the measured one; the 10th and 90th percentiles of `measured / expected − 1` are the
//! band's relative bounds, applied to the whole remaining forecast (as if every remaining day erred alike,
//! which is conservative for long horizons). With fewer than seven such days, or with a standard profile,
//! the band is at least ±25 %. A projection is then `measured so far + forecast of the rest`, the band on
//! the rest only.

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use serde::Serialize;

pub mod backtest;
pub mod degree_days;
pub mod slp;
#[cfg(test)]
mod tests;

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

/// A learned forecast model.
#[derive(Debug, Clone)]
pub struct Model<Z: TimeZone> {
    tz: Z,
    method: Method,
    /// Wh per local weekday × 24 + hour (hour-of-week), or the scale of the standard profile in `[0]`.
    cells: Vec<f64>,
    band: (f64, f64),
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
        let mean = |s: &mut Vec<f64>| -> Option<f64> {
            s.sort_by(f64::total_cmp);
            let s = if s.len() >= 4 { &s[1..s.len() - 1] } else { &s[..] };
            (!s.is_empty()).then(|| s.iter().sum::<f64>() / s.len() as f64)
        };
        let means: Vec<Option<f64>> = samples.iter_mut().map(mean).collect();
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
            band: (0.0, 0.0),
        }
    } else {
        let shape: f64 = known.iter().map(|(t, _)| slp_at(&tz, slp, *t)).sum();
        let measured: f64 = known.iter().map(|k| k.1).sum();
        let scale = if shape > 0.0 { measured / shape } else { 0.0 };
        Model {
            tz,
            method: Method::StandardProfile { profile: slp, days },
            cells: vec![scale],
            band: (0.0, 0.0),
        }
    };
    model.band = model.measure_band(history);
    Some(model)
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

    /// Relative band (p10, p90) of the remaining forecast, e.g. (−0.05, 0.04).
    pub fn band(&self) -> (f64, f64) {
        self.band
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
        Projection {
            measured_wh,
            remaining_wh: remaining,
            wh: measured_wh + remaining,
            low_wh: measured_wh + remaining * (1.0 + self.band.0).max(0.0),
            high_wh: measured_wh + remaining * (1.0 + self.band.1),
        }
    }

    fn measure_band(&self, history: &[Hour]) -> (f64, f64) {
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
        let young = rel.len() < 7 || matches!(self.method, Method::StandardProfile { .. });
        let (lo, hi) = if rel.is_empty() {
            (0.0, 0.0)
        } else {
            (quantile(&rel, 0.1), quantile(&rel, 0.9))
        };
        if young {
            (lo.min(-YOUNG_BAND), hi.max(YOUNG_BAND))
        } else {
            (lo.min(0.0), hi.max(0.0))
        }
    }
}
