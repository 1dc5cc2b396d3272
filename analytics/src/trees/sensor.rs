//! One soil sensor: plausibility checks, fault state, hourly means for the trend, and its current view.
//!
//! A reading is *accepted* only if it is in the plausible range and does not dry the soil faster than
//! physics allows since the last accepted one; otherwise the sensor is faulty (`impossible`) until a
//! plausible reading comes. The exact same value for `stuck_after` makes it `stuck` (its values from the
//! start of the run are dropped from the trend); silence for `gap_after` is a `gap`. Faulty sensors are
//! shown but never count for watering. A low battery is reported but the values still count.
//!
//! The trend is fitted over the *drying segment*: the hourly means since the last sharp wetting (a rise
//! of more than `wetting_step` on the fitted-dryness scale within six hours), starting at the wettest
//! point while the water is still soaking in. Its Theil–Sen rate is shrunk towards the sensor's *usual*
//! rate (an exponentially weighted mean of its day-on-day drying before critical, over a few days), which
//! also stands in right after rain until the new segment spans a day.

use std::collections::VecDeque;

use zw_model::Id;
use zw_model::tree::FaultKind;

use crate::condition::Condition;
use crate::config::FaultConfig;
use crate::trees::scale::Scale;
use crate::trees::trend::{Rhythm, UNIFORM, days_with_steps, theil_sen};
use crate::trees::weather::{Area, Unavailable};
use zw_model::tree::ForecastMethod;

const HOUR: i64 = 3_600_000;
/// Memory of a sensor's usual drying rate, days (the time constant of its exponential weighting).
/// Weather changes over a few days, so what counts is the last few days rather than the last weeks.
const CLIMATE_DAYS: f64 = 3.0;
/// How many days of the current drying segment the usual rate weighs as: the segment's own Theil–Sen
/// rate (weight: its span in days) is shrunk towards the usual rate, which damps a single unusually cool
/// or warm day.
const CLIMATE_WEIGHT_DAYS: f64 = 1.0;
const DAY: f64 = 86_400_000.0;
/// Fastest plausible drying, dryness per day (several times the fastest real drying), on top of the
/// configured step: after a long silence a sensor may legitimately read much drier.
const MAX_DRYING_PER_DAY: f64 = 0.5;
/// Dryness within which a value counts as the same rejected plateau (sensor noise is a few hundredths).
const PLATEAU: f64 = 0.05;
/// Hours of history a wetting is compared against.
const WETTING_LOOKBACK: usize = 6;
/// For this many hours after a wetting the segment restarts at any wetter point: rain soaks in over
/// hours (deeper sensors later), and a trend from the middle of that rise would be too slow.
const SOAK_HOURS: i64 = 12;
/// How much wetter (on the fitted-dryness scale) a point must be than the segment so far to count as
/// the rise still going on rather than noise.
const SOAK_TOLERANCE: f64 = 0.02;
/// Day-on-day drying pairs kept for learning the drying per mm of ET0, hours.
const PAIRS_KEPT_HOURS: i64 = 14 * 24;
/// Fewest day-on-day pairs with observed ET0 before the drying per mm is used: a day's worth.
const MIN_PAIRS: usize = 24;

/// Hourly steps from the start of `now`'s hour, moved to start at `now`, the first also carrying the
/// drying of the `age_h` hours before now (at the first hour's rate).
fn from_now(steps: &[f64], now: i64, age_h: f64) -> Vec<f64> {
    let frac = now.rem_euclid(HOUR) as f64 / HOUR as f64;
    let mut out: Vec<f64> = (0..steps.len())
        .map(|k| (1.0 - frac) * steps[k] + frac * steps.get(k + 1).copied().unwrap_or(steps[k]))
        .collect();
    if let (Some(first), Some(rate)) = (out.first_mut(), steps.first()) {
        *first += age_h * rate;
    }
    out
}

/// One hourly mean.
#[derive(Debug, Clone, Copy)]
struct Point {
    hour: i64,
    fit: f64,
    /// Dryness linear in the fitted space ([`Scale::fit_dryness`]).
    lin: f64,
}

/// The weather inputs of a sensor's forecast: its area's ET0, if any, and the settings.
#[derive(Debug, Clone, Copy)]
pub struct Et0Input<'a> {
    /// The area's observations and forecast (`None`: no area configured, or nothing received yet).
    pub area: Option<&'a Area>,
    /// Whether an area is configured at all.
    pub configured: bool,
    /// A forecast older than this (ms since its issue) is stale.
    pub max_age: i64,
    /// Time constant of the drying-per-mm memory, days.
    pub memory_days: f64,
}

/// What the tree sees of a sensor at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Current value in the sensor's unit (median of the last hour's accepted readings).
    pub value: Option<f64>,
    /// Dryness of that value.
    pub dryness: Option<f64>,
    /// Trend in fit space per day.
    pub slope: Option<f64>,
    /// Forecast days until critical.
    pub days: Option<f64>,
    /// How this sensor's drying spreads over the day.
    pub rhythm: Rhythm,
    /// The forecast drying per hour from now on, in fit space (signed like the
    /// slope), over the horizon; `None` when no forecast is made.
    pub steps: Option<Vec<f64>>,
    /// What the forecast rests on.
    pub method: Option<ForecastMethod>,
    /// Drying per mm of ET0 in fit space (signed like the slope), when learned.
    pub per_mm: Option<f64>,
    /// Issue time of the ET0 forecast used (ms).
    pub issued: Option<i64>,
    /// Why the ET0 forecast was not used, when it was not.
    pub why_trend: Option<Unavailable>,
    /// Whether the values count.
    pub trusted: bool,
}

/// State of one soil sensor.
#[derive(Debug, Clone)]
pub struct Sensor {
    /// The device.
    pub device: Id,
    /// How its values map to dryness; fixed by the first soil quantity it reports.
    pub scale: Option<Scale>,
    /// The maintenance alert condition.
    pub alert: Condition,
    /// Last refresh of the maintenance alert.
    pub refresh: i64,
    /// Latest reading of any kind (ms).
    pub last_ts: i64,
    /// The reading before it (ms).
    prev_ts: i64,
    /// Latest battery voltage.
    pub battery: Option<f64>,
    /// Latest rejected (implausible) value.
    pub rejected: Option<f64>,
    good: Option<(i64, f64)>,
    recent: VecDeque<(i64, f64)>,
    hour: i64,
    hour_sum: f64,
    hour_n: u32,
    series: VecDeque<Point>,
    /// This sensor's usual drying rate (fit units per day): an exponentially weighted mean of its day-on-
    /// day changes while drying towards critical, over about `CLIMATE_DAYS`.
    climate: Option<f64>,
    /// Day-on-day drying while drying towards critical: `(hour p, fit(p) − fit(p − 24))`, for learning
    /// the drying per mm of ET0 over the days with the area's observed ET0 between the two hours.
    pairs: VecDeque<(i64, f64)>,
    /// Latest reading (ms) that was corrupt (rejected as implausible, or part of a stuck run): until a
    /// trend window later the sensor is on probation and its trend forecasts nothing.
    corrupt_at: i64,
    window_ms: i64,
    run: (u64, i64),
    impossible: Option<i64>,
    stuck: Option<i64>,
    gap: Option<i64>,
    low_battery: Option<i64>,
    /// Below this battery voltage (its model's), a replacement is due.
    pub battery_low_v: f64,
    /// Its depth, cm, if configured.
    pub depth_cm: Option<u16>,
    /// The depths of its device: 1 for a plain sensor; for a multi-depth probe the count on its first
    /// depth (whose alert is the probe's maintenance alert) and 0 on the others.
    pub depths: usize,
}

impl Sensor {
    /// A logged watering wetted the soil: the drying segment restarts as after a sharp wetting (the values
    /// of the hour so far are from before it), so the trend no longer carries the drying before the
    /// watering; the usual rate stands in until the new segment spans a day.
    pub(super) fn wetted(&mut self) {
        self.series.clear();
        (self.hour_sum, self.hour_n) = (0.0, 0);
    }

    /// Hourly means in the current drying segment.
    #[cfg(test)]
    pub(super) fn segment_hours(&self) -> usize {
        self.series.len()
    }

    /// A sensor that has not reported yet, whose battery is low below `battery_low_v`.
    pub fn new(device: Id, battery_low_v: f64) -> Self {
        Self {
            device,
            scale: None,
            alert: Condition::default(),
            refresh: 0,
            last_ts: i64::MIN,
            prev_ts: i64::MIN,
            battery: None,
            rejected: None,
            good: None,
            recent: VecDeque::new(),
            hour: i64::MIN,
            hour_sum: 0.0,
            hour_n: 0,
            series: VecDeque::new(),
            climate: None,
            pairs: VecDeque::new(),
            corrupt_at: i64::MIN,
            window_ms: 0,
            run: (0, i64::MIN),
            impossible: None,
            stuck: None,
            gap: None,
            low_battery: None,
            battery_low_v,
            depth_cm: None,
            depths: 1,
        }
    }

    /// Feeds one reading at `ts`: the soil value (if any) and the battery voltage (if any).
    pub fn observe(
        &mut self,
        ts: i64,
        value: Option<f64>,
        battery: Option<f64>,
        cfg: &FaultConfig,
        window_h: i64,
        wetting: f64,
    ) {
        if ts <= self.last_ts {
            return;
        }
        self.prev_ts = self.last_ts;
        self.last_ts = ts;
        self.gap = None;
        if let Some(v) = battery {
            self.battery = Some(v);
            if v < self.battery_low_v {
                self.low_battery.get_or_insert(ts);
            } else if v > self.battery_low_v + 0.1 {
                self.low_battery = None;
            }
        }
        let (Some(v), Some(scale)) = (value, self.scale) else {
            return;
        };
        let in_range = match scale {
            Scale::Tension { .. } => (0.0..=cfg.tension_max_kpa).contains(&v),
            Scale::Vwc { .. } => (cfg.vwc_min_pct..=cfg.vwc_max_pct).contains(&v),
        };
        // The time since the last good value allows more drying, but only for a sensor that was silent:
        // one that kept reporting a rejected plateau (a jump to its range limit, a constant bogus value)
        // does not become plausible by repeating it. A value near the latest rejected one is judged with
        // the allowance of the silence before it alone.
        let silence = self.prev_ts.max(self.good.map_or(i64::MIN, |g| g.0));
        let on_plateau = self.impossible.is_some()
            && self
                .rejected
                .is_some_and(|r| (scale.dryness(v) - scale.dryness(r)).abs() < PLATEAU);
        let too_fast = self.good.is_some_and(|(gts, gv)| {
            let since = if on_plateau { silence } else { gts };
            let allowed = cfg.max_drying_step + MAX_DRYING_PER_DAY * (ts - since) as f64 / DAY;
            scale.dryness(v) - scale.dryness(gv) > allowed
        });
        if !in_range || too_fast {
            self.rejected = Some(v);
            self.impossible.get_or_insert(ts);
            self.corrupt_at = ts;
            return;
        }
        self.impossible = None;
        self.good = Some((ts, v));
        self.recent.push_back((ts, v));
        while self.recent.front().is_some_and(|(t, _)| ts - t > HOUR) || self.recent.len() > 64 {
            self.recent.pop_front();
        }
        let at_limit = matches!(scale, Scale::Tension { .. }) && v >= cfg.tension_limit_kpa;
        if v.to_bits() == self.run.0 && !at_limit {
            if ts - self.run.1 >= i64::try_from(cfg.stuck_after.as_millis()).unwrap_or(i64::MAX)
                && self.stuck.is_none()
            {
                self.stuck = Some(self.run.1);
                let from = self.run.1.div_euclid(HOUR);
                self.series.retain(|p| p.hour < from);
            }
        } else {
            self.run = (v.to_bits(), ts);
            self.stuck = None;
        }
        if self.stuck.is_some() {
            self.corrupt_at = ts;
        }
        self.window_ms = window_h * HOUR;
        self.add_hourly(ts, v, scale, window_h, wetting);
    }

    fn add_hourly(&mut self, ts: i64, v: f64, scale: Scale, window_h: i64, wetting: f64) {
        let hour = ts.div_euclid(HOUR);
        if hour != self.hour {
            if self.hour_n > 0 && self.stuck.is_none() {
                let mean = self.hour_sum / f64::from(self.hour_n);
                let fit = scale.fit_space(mean);
                let lin = scale.fit_dryness(fit);
                // Rain or watering: a sharp wetting restarts the trend. Measured on the fitted-dryness
                // scale, so a shower on wet soil counts for tension too (10 → 15 kPa is a lot of water).
                let recent_max = self
                    .series
                    .iter()
                    .rev()
                    .take(WETTING_LOOKBACK)
                    .map(|p| p.lin)
                    .fold(f64::MIN, f64::max);
                if recent_max - lin > wetting {
                    self.series.clear();
                } else if self
                    .series
                    .front()
                    .is_some_and(|f| self.hour - f.hour < SOAK_HOURS)
                    && self.series.iter().all(|p| p.lin - lin > SOAK_TOLERANCE)
                {
                    // Still soaking in: the drying segment starts at its wettest point.
                    self.series.clear();
                }
                self.series.push_back(Point {
                    hour: self.hour,
                    fit,
                    lin,
                });
                self.learn_climate();
                while self.series.front().is_some_and(|p| p.hour < hour - window_h) {
                    self.series.pop_front();
                }
            }
            (self.hour, self.hour_sum, self.hour_n) = (hour, 0.0, 0);
        }
        self.hour_sum += v;
        self.hour_n += 1;
    }

    /// Updates the usual drying rate with the change since the same hour yesterday, if both hours are in
    /// the current drying segment and before critical.
    fn learn_climate(&mut self) {
        let Some(p) = self.series.back().copied() else {
            return;
        };
        let Some(q) = self.series.iter().rev().find(|q| q.hour <= p.hour - 24) else {
            return;
        };
        if q.hour != p.hour - 24 || p.lin >= 1.0 || q.lin >= 1.0 {
            return;
        }
        let daily = p.fit - q.fit;
        self.pairs.push_back((p.hour, daily));
        while self
            .pairs
            .front()
            .is_some_and(|x| x.0 <= p.hour - PAIRS_KEPT_HOURS)
        {
            self.pairs.pop_front();
        }
        let a = 1.0 / (24.0 * CLIMATE_DAYS);
        self.climate = Some(self.climate.map_or(daily, |c| c + a * (daily - c)));
    }

    /// Time-driven checks at `now`: gaps.
    pub fn tick(&mut self, now: i64, cfg: &FaultConfig) {
        let gap = i64::try_from(cfg.gap_after.as_millis()).unwrap_or(i64::MAX);
        if self.last_ts != i64::MIN && now - self.last_ts > gap {
            self.gap.get_or_insert(self.last_ts);
        }
    }

    /// The most serious current fault and since when.
    pub fn fault(&self) -> Option<(FaultKind, i64)> {
        [
            (FaultKind::Impossible, self.impossible),
            (FaultKind::Stuck, self.stuck),
            (FaultKind::Gap, self.gap),
            (FaultKind::LowBattery, self.low_battery),
        ]
        .into_iter()
        .find_map(|(k, s)| s.map(|s| (k, s)))
    }

    /// Whether the values count (a low battery alone does not distrust them).
    pub fn trusted(&self) -> bool {
        self.impossible.is_none() && self.stuck.is_none() && self.gap.is_none() && self.good.is_some()
    }

    /// The sensor's view at `now`: the trend, and the forecast from the ET0 forecast of `et0` when it is
    /// fresh and the drying per mm is learned, else from the trend.
    pub fn view(
        &self,
        now: i64,
        min_span_days: f64,
        horizon: f64,
        et0: Et0Input<'_>,
        scratch: &mut Vec<f64>,
    ) -> View {
        let value = self.current();
        let (Some(scale), Some(v)) = (self.scale, value) else {
            return View {
                value,
                dryness: None,
                slope: None,
                days: None,
                rhythm: UNIFORM,
                steps: None,
                method: None,
                per_mm: None,
                issued: None,
                why_trend: None,
                trusted: false,
            };
        };
        let pts = self.points(now);
        let span = pts.last().zip(pts.first()).map_or(0.0, |(l, f)| l.0 - f.0);
        let fitted = if span + 1e-9 >= min_span_days {
            theil_sen(&pts, scratch)
        } else {
            None
        };
        // After corrupt values the level is measured again, but a forecast waits until the trend window
        // holds none of the fault's neighbourhood: a watering alert never rests on a faulty trend.
        let probation = self.on_probation(now);
        let fitted = fitted.filter(|_| !probation);
        let climate = self.climate.filter(|_| !probation);
        let slope = match (fitted, climate) {
            (Some(f), Some(c)) => Some((span * f + CLIMATE_WEIGHT_DAYS * c) / (span + CLIMATE_WEIGHT_DAYS)),
            (fitted, climate) => fitted.or(climate),
        };
        let sign = scale.drying_sign();
        let rhythm = if fitted.is_some() {
            self.rhythm(sign).unwrap_or(UNIFORM)
        } else {
            UNIFORM
        };
        let gap = sign * (scale.critical_fit() - scale.fit_space(v));
        let hour = (now.rem_euclid(DAY as i64) / HOUR) as usize;
        let n = (horizon * 24.0).ceil() as usize;
        let per_mm = if probation {
            None
        } else {
            et0.area.and_then(|a| self.drying_per_mm(a, now, et0.memory_days))
        };
        // The ET0 forecast when fresh and learned, else the trend (and why).
        let mut hourly = Vec::new();
        let et0_steps = match (et0.configured, et0.area, per_mm) {
            (false, _, _) => Err(Unavailable::NoArea),
            (true, None, _) => Err(Unavailable::NoForecast),
            (true, Some(a), per_mm) => a
                .hourly(now, et0.max_age, n, &rhythm, &mut hourly)
                .and_then(|issued| per_mm.map(|k| (issued, k)).ok_or(Unavailable::NotLearned)),
        };
        let (steps, method, issued, why_trend) = match et0_steps {
            Ok((issued, k)) => {
                hourly.iter_mut().for_each(|e| *e *= k);
                (Some(hourly), Some(ForecastMethod::Et0), Some(issued), None)
            }
            Err(why) => {
                let steps = slope.map(|s| (0..n).map(|k| s * rhythm[(hour + k) % 24]).collect::<Vec<_>>());
                let method = steps.as_ref().map(|_| ForecastMethod::Trend);
                (steps, method, None, Some(why).filter(|_| method.is_some()))
            }
        };
        // From now on, not from the start of the hour: the steps move by the part of the hour gone, and
        // the first takes in the drying since the readings the value is the median of (about half an
        // hour ago), at the rate of the current hour.
        let steps = steps.map(|st| from_now(&st, now, self.value_age_h(now)));
        let days = match &steps {
            Some(st) => days_with_steps(gap, st.iter().map(|x| sign * x), horizon),
            None => (scale.dryness(v) >= 1.0).then_some(0.0),
        };
        View {
            value,
            dryness: Some(scale.dryness(v)),
            slope,
            days,
            rhythm,
            steps,
            method,
            per_mm,
            issued,
            why_trend,
            trusted: self.trusted(),
        }
    }

    /// The drying per mm of ET0 (fit space, signed like the slope): the ratio of the sums of day-on-day
    /// drying and of the area's observed ET0 over the same days, each day weighted by `exp(−age /
    /// memory_days)`. A ratio of sums rather than a median of ratios, because a cool day's small drying
    /// over small ET0 says little and should weigh little. `None` with fewer than a day's worth of pairs
    /// with observed ET0.
    fn drying_per_mm(&self, area: &Area, now: i64, memory_days: f64) -> Option<f64> {
        let now_h = now.div_euclid(HOUR);
        let per_hour = (-1.0 / (24.0 * memory_days)).exp();
        let (mut num, mut den, mut n) = (0.0, 0.0, 0usize);
        let mut w = 1.0;
        let mut prev = now_h;
        for &(p, d) in self.pairs.iter().rev() {
            w *= per_hour.powi(i32::try_from(prev - p).unwrap_or(i32::MAX));
            prev = p;
            if let Some(e) = area.day_before(p) {
                num += w * d;
                den += w * e;
                n += 1;
            }
        }
        (n >= MIN_PAIRS && den > 1e-6).then(|| num / den)
    }

    /// Whether corrupt values came less than a trend window ago (or still come).
    pub fn on_probation(&self, now: i64) -> bool {
        self.corrupt_at != i64::MIN && now - self.corrupt_at < self.window_ms
    }

    /// The day's course of drying learned from the series: the mean change per UTC hour of day in the
    /// drying direction (negative means count as 0), smoothed over three hours, normalised to 1. `None`
    /// until every hour of the day was seen.
    fn rhythm(&self, sign: f64) -> Option<Rhythm> {
        let (mut sum, mut n) = ([0.0; 24], [0u32; 24]);
        for w in self.series.iter().zip(self.series.iter().skip(1)) {
            if w.1.hour == w.0.hour + 1 {
                let h = w.1.hour.rem_euclid(24) as usize;
                sum[h] += sign * (w.1.fit - w.0.fit);
                n[h] += 1;
            }
        }
        if n.contains(&0) {
            return None;
        }
        let mean: Vec<f64> = (0..24).map(|h| (sum[h] / f64::from(n[h])).max(0.0)).collect();
        let mut r = [0.0; 24];
        for (h, x) in r.iter_mut().enumerate() {
            *x = (mean[(h + 23) % 24] + mean[h] + mean[(h + 1) % 24]) / 3.0;
        }
        let total: f64 = r.iter().sum();
        if total <= 0.0 {
            return None;
        }
        r.iter_mut().for_each(|x| *x /= total);
        Some(r)
    }

    /// The hourly means as `(days relative to now, fit value)`.
    fn points(&self, now: i64) -> Vec<(f64, f64)> {
        self.series
            .iter()
            .map(|p| ((p.hour * HOUR - now) as f64 / DAY, p.fit))
            .collect()
    }

    /// Hours from the readings the current value stands for (their mean time) to `now`, at most 3.
    fn value_age_h(&self, now: i64) -> f64 {
        let at = if self.recent.is_empty() {
            self.good.map_or(now, |(t, _)| t) as f64
        } else {
            self.recent.iter().map(|(t, _)| *t as f64).sum::<f64>() / self.recent.len() as f64
        };
        ((now as f64 - at) / HOUR as f64).clamp(0.0, 3.0)
    }

    /// Median of the accepted readings of the last hour, else the last accepted value.
    fn current(&self) -> Option<f64> {
        if self.recent.is_empty() {
            return self.good.map(|(_, v)| v);
        }
        let mut xs: Vec<f64> = self.recent.iter().map(|(_, v)| *v).collect();
        Some(crate::normal::median_mad(&mut xs).0)
    }
}
