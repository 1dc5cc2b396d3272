//! Reference evapotranspiration (ET0) of one weather area: the hourly observations of the last weeks and the
//! newest forecast, as the tree forecast needs them.
//!
//! Observations are kept per UTC hour; an interval longer than an hour (a daily value) is spread evenly
//! over its hours, which is exact for the day sums the drying coefficient is learned from. An hour nobody
//! reported stays missing (NaN), and a day sum over it is `None`: the pair of soil values it spans does not
//! vote, rather than counting as a day without evaporation. A message re-sending hours (Open-Meteo's
//! `past_days`) replaces them.
//!
//! The forecast is the newest one received (by issue time); an older one arriving late is ignored. For
//! the drying walk it becomes hourly values from now on: hourly intervals as they are, longer intervals
//! (MOSMIX daily `PEvap`) spread over their hours by the sensor's learned day rhythm, since evaporation
//! happens by day. Beyond its last hour, its last day repeats (persistence of the last forecast day).
//!
//! The rain forecast, if the feed has one, is kept the same way (the newest by issue time); [`Area::rain`]
//! sums it over a span, for holding a watering alert that forecast rain would make unnecessary.

use zw_model::weather::{Et0, Weather};

use crate::trees::trend::Rhythm;

const HOUR: i64 = 3_600_000;
/// Hours of observations kept: the drying coefficient's memory with margin.
const KEEP_HOURS: i64 = 21 * 24;

/// Why the ET0 forecast cannot be used now (the trend is used instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No weather area is configured for the tree's park.
    NoArea,
    /// No forecast for the area was received.
    NoForecast,
    /// The newest forecast was issued longer ago than `max_forecast_age` (ms since the epoch of issue).
    Stale(i64),
    /// The forecast does not cover the next day.
    Short,
    /// No drying per mm of ET0 learned yet (too few dry days with observed ET0).
    NotLearned,
}

impl Unavailable {
    /// In words, for the tree status.
    pub fn text(self) -> String {
        match self {
            Unavailable::NoArea => "no weather area configured for this park".into(),
            Unavailable::NoForecast => "no ET0 forecast received for its weather area".into(),
            Unavailable::Stale(issued) => format!(
                "the newest ET0 forecast (issued {}) is stale",
                crate::explain::utc(issued).format("%Y-%m-%d %H:%M UTC")
            ),
            Unavailable::Short => "the ET0 forecast does not cover the next day".into(),
            Unavailable::NotLearned => {
                "not enough dry days with observed ET0 yet to learn the drying per mm".into()
            }
        }
    }
}

/// The newest forecast of an area.
#[derive(Debug, Clone)]
struct Forecast {
    issued: i64,
    /// `(from, to, mm)` in ms, sorted by `from`, not overlapping.
    intervals: Vec<(i64, i64, f64)>,
}

/// ET0 of one area.
#[derive(Debug, Clone, Default)]
pub struct Area {
    /// First hour (hours since the epoch) of `mm`.
    base: i64,
    /// Observed ET0 per hour, mm; NaN where missing.
    mm: Vec<f32>,
    /// `cum[i]`: ET0 of the hours before `base + i`, and how many of them were missing.
    cum: Vec<(f64, u32)>,
    forecast: Option<Forecast>,
    /// The newest rain forecast (its `intervals` are rain, mm).
    rain: Option<Forecast>,
}

impl Area {
    /// Takes in a validated message.
    pub fn observe(&mut self, w: &Weather) {
        if !w.observed.is_empty() {
            self.add_observed(&w.observed);
        }
        let issued = w.issued.timestamp_millis();
        if !w.forecast.is_empty() && self.forecast.as_ref().is_none_or(|f| f.issued <= issued) {
            let mut intervals: Vec<(i64, i64, f64)> = w
                .forecast
                .iter()
                .map(|e| (e.from.timestamp_millis(), e.to.timestamp_millis(), e.mm))
                .collect();
            intervals.sort_by_key(|e| e.0);
            self.forecast = Some(Forecast { issued, intervals });
        }
        if !w.rain_forecast.is_empty() && self.rain.as_ref().is_none_or(|f| f.issued <= issued) {
            let mut intervals: Vec<(i64, i64, f64)> = w
                .rain_forecast
                .iter()
                .map(|e| (e.from.timestamp_millis(), e.to.timestamp_millis(), e.mm))
                .collect();
            intervals.sort_by_key(|e| e.0);
            self.rain = Some(Forecast { issued, intervals });
        }
    }

    /// Rain forecast between `now` and `until` (a fresh forecast, issued at most `max_age` ago): the mm
    /// (intervals partly inside counted pro rata) and when the last interval with rain in it ends.
    /// `None` without a fresh rain forecast.
    pub fn rain(&self, now: i64, until: i64, max_age: i64) -> Option<(f64, i64)> {
        let f = self.rain.as_ref().filter(|f| now - f.issued <= max_age)?;
        let (mut mm, mut end) = (0.0, now);
        for &(from, to, v) in f.intervals.iter().filter(|e| e.1 > now && e.0 < until) {
            let part = (to.min(until) - from.max(now)) as f64 / (to - from) as f64;
            mm += v * part;
            if v > 0.0 {
                end = end.max(to);
            }
        }
        Some((mm, end))
    }

    fn add_observed(&mut self, obs: &[Et0]) {
        let span = |e: &Et0| {
            let (a, b) = (e.from.timestamp_millis(), e.to.timestamp_millis());
            (a, b, a.div_euclid(HOUR), (b - 1).div_euclid(HOUR))
        };
        let first = obs.iter().map(|e| span(e).2).min().unwrap_or(self.base);
        let last = obs.iter().map(|e| span(e).3).max().unwrap_or(self.base);
        if self.mm.is_empty() {
            self.base = first;
        }
        let end = (self.base + self.mm.len() as i64).max(last + 1);
        let start = self.base.min(first).max(end - KEEP_HOURS);
        // Re-base: keep the newest KEEP_HOURS hours.
        let mut mm = vec![f32::NAN; (end - start) as usize];
        for (i, v) in self.mm.iter().enumerate() {
            let h = self.base + i as i64;
            if h >= start {
                mm[(h - start) as usize] = *v;
            }
        }
        // The hours a message speaks of are replaced, then its intervals added (several may share an hour).
        for e in obs {
            let (_, _, a, b) = span(e);
            for h in a.max(start)..=b {
                mm[(h - start) as usize] = 0.0;
            }
        }
        for e in obs {
            let (from, to, a, b) = span(e);
            for h in a.max(start)..=b {
                let overlap = (to.min((h + 1) * HOUR) - from.max(h * HOUR)) as f64;
                mm[(h - start) as usize] += (e.mm * overlap / (to - from) as f64) as f32;
            }
        }
        self.base = start;
        self.mm = mm;
        self.cum.clear();
        let mut acc = (0.0, 0u32);
        self.cum.push(acc);
        for v in &self.mm {
            if v.is_nan() {
                acc.1 += 1;
            } else {
                acc.0 += f64::from(*v);
            }
            self.cum.push(acc);
        }
    }

    /// Observed ET0 of the hours `[a, b)` (hours since the epoch), `None` if any is missing.
    fn sum(&self, a: i64, b: i64) -> Option<f64> {
        let i = usize::try_from(a - self.base).ok()?;
        let j = usize::try_from(b - self.base).ok()?;
        let (x, y) = (self.cum.get(i)?, self.cum.get(j)?);
        (x.1 == y.1 && j >= i).then_some(y.0 - x.0)
    }

    /// Observed ET0 between the hourly means of hours `p − 24` and `p` (each a mean over its hour, so the
    /// day between them is centred half an hour later than `[p − 24, p)`), `None` if not fully observed.
    pub fn day_before(&self, p: i64) -> Option<f64> {
        Some((self.sum(p - 24, p)? + self.sum(p - 23, p + 1)?) / 2.0)
    }

    /// Issue time of the newest forecast (ms).
    pub fn issued(&self) -> Option<i64> {
        self.forecast.as_ref().map(|f| f.issued)
    }

    /// The forecast ET0 of the `n` hours from the start of `now`'s hour into `out` (mm per hour), intervals
    /// longer than an hour spread by `rhythm`; `Err` when there is no fresh forecast covering the next day.
    pub fn hourly(
        &self,
        now: i64,
        max_age: i64,
        n: usize,
        rhythm: &Rhythm,
        out: &mut Vec<f64>,
    ) -> Result<i64, Unavailable> {
        let f = self.forecast.as_ref().ok_or(Unavailable::NoForecast)?;
        if now - f.issued > max_age {
            return Err(Unavailable::Stale(f.issued));
        }
        out.clear();
        let h0 = now.div_euclid(HOUR);
        let share = |t: i64| rhythm[(t.div_euclid(HOUR).rem_euclid(24)) as usize];
        let mut j = f.intervals.partition_point(|e| e.1 <= h0 * HOUR);
        let mut covered = 0usize;
        for k in 0..n {
            let (a, b) = ((h0 + k as i64) * HOUR, (h0 + k as i64 + 1) * HOUR);
            while f.intervals.get(j).is_some_and(|e| e.1 <= a) {
                j += 1;
            }
            let mut v = 0.0;
            let mut any = false;
            for &(from, to, mm) in f.intervals[j..].iter().take_while(|e| e.0 < b) {
                any = true;
                if to - from <= HOUR {
                    v += mm * (to.min(b) - from.max(a)) as f64 / (to - from) as f64;
                } else {
                    // Spread by the day rhythm over the hours of the interval (uniform if it has none).
                    let hours = (from.div_euclid(HOUR)..=(to - 1).div_euclid(HOUR)).map(|h| h * HOUR);
                    let total: f64 = hours.clone().map(share).sum();
                    let w = if total > 0.0 {
                        share(a) / total
                    } else {
                        HOUR as f64 / (to - from) as f64
                    };
                    v += mm * w;
                }
            }
            if any {
                covered = k + 1;
                out.push(v);
            } else if k >= 24 && covered >= 24 {
                // Beyond the forecast: its last day again.
                out.push(out[k - 24]);
            } else {
                out.push(f64::NAN);
            }
        }
        if covered < 24.min(n) || out.iter().take(24).any(|v| v.is_nan()) {
            return Err(Unavailable::Short);
        }
        Ok(f.issued)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use zw_model::Id;

    use super::*;
    use crate::trees::trend::UNIFORM;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, d, h, 0, 0).single().expect("date")
    }

    fn iv(from: DateTime<Utc>, to: DateTime<Utc>, mm: f64) -> Et0 {
        Et0 { from, to, mm }
    }

    fn msg(issued: DateTime<Utc>, observed: Vec<Et0>, forecast: Vec<Et0>) -> Weather {
        Weather {
            v: 1,
            area: Id::new("town").expect("id"),
            issued,
            source: None,
            observed,
            forecast,
            rain_forecast: Vec::new(),
            rain_observed: Vec::new(),
            temperature: None,
        }
    }

    fn hour(t: DateTime<Utc>) -> i64 {
        t.timestamp_millis() / HOUR
    }

    #[test]
    fn day_sums_need_every_hour() {
        let mut a = Area::default();
        // Two days of 0.1 mm per hour, the hour 1 May 12:00 missing.
        let obs: Vec<Et0> = (0..48)
            .filter(|h| *h != 12)
            .map(|h| {
                let t = at(1, 0) + chrono::TimeDelta::hours(h);
                iv(t, t + chrono::TimeDelta::hours(1), 0.1)
            })
            .collect();
        a.observe(&msg(at(3, 0), obs, Vec::new()));
        let cases = [
            (hour(at(2, 23)), Some(2.4)),
            (hour(at(2, 11)), None),
            (hour(at(2, 12)), None),
            (hour(at(2, 13)), Some(2.4)),
            (hour(at(3, 0)), None),
            (hour(at(2, 14)), Some(2.4)),
        ];
        for (p, want) in cases {
            let got = a.day_before(p);
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{p}: {g}"),
                (g, w) => assert_eq!(g, w, "{p}"),
            }
        }
        // Re-sent hours replace, they do not add up; a daily value fills its hours evenly (0.2 mm each,
        // the missing hour too). Day sums are centred half an hour after [p − 24, p).
        a.observe(&msg(at(3, 0), vec![iv(at(1, 0), at(2, 0), 4.8)], Vec::new()));
        assert!((a.day_before(hour(at(2, 0))).unwrap_or(0.0) - 4.75).abs() < 1e-5);
        assert!((a.day_before(hour(at(2, 12))).unwrap_or(0.0) - 3.55).abs() < 1e-5);
    }

    #[test]
    fn hourly_forecast_table() {
        let mut day = [0.0; 24];
        day[6..18].iter_mut().for_each(|w| *w = 1.0 / 12.0);
        let hourly: Vec<Et0> = (0..48)
            .map(|h| {
                let t = at(2, 6) + chrono::TimeDelta::hours(h);
                iv(t, t + chrono::TimeDelta::hours(1), 0.01 * f64::from(h as u8))
            })
            .collect();
        let daily = vec![iv(at(2, 0), at(3, 0), 2.4), iv(at(3, 0), at(4, 0), 3.6)];
        let max_age = 36 * HOUR;
        let now = at(2, 6).timestamp_millis() + 600_000;
        let mut out = Vec::new();
        let mut a = Area::default();
        assert_eq!(
            a.hourly(now, max_age, 72, &UNIFORM, &mut out),
            Err(Unavailable::NoForecast)
        );
        a.observe(&msg(at(2, 6), Vec::new(), hourly));
        assert_eq!(
            a.hourly(now, max_age, 72, &UNIFORM, &mut out),
            Ok(at(2, 6).timestamp_millis())
        );
        assert_eq!(out.len(), 72);
        assert!((out[0] - 0.0).abs() < 1e-12 && (out[47] - 0.47).abs() < 1e-12);
        // Beyond the end: the last day again.
        assert!((out[48] - 0.24).abs() < 1e-12 && (out[71] - 0.47).abs() < 1e-12);
        let late = at(3, 20).timestamp_millis();
        assert_eq!(
            a.hourly(late, max_age, 72, &UNIFORM, &mut out),
            Err(Unavailable::Stale(at(2, 6).timestamp_millis()))
        );
        assert_eq!(
            a.hourly(late, 48 * HOUR, 72, &UNIFORM, &mut out),
            Err(Unavailable::Short)
        );
        // An older forecast arriving late does not replace a newer one; daily values follow the rhythm.
        a.observe(&msg(at(2, 0), Vec::new(), daily.clone()));
        assert_eq!(a.issued(), Some(at(2, 6).timestamp_millis()));
        let mut b = Area::default();
        b.observe(&msg(at(2, 0), Vec::new(), daily));
        let start = at(2, 0).timestamp_millis();
        assert!(b.hourly(start, max_age, 48, &day, &mut out).is_ok());
        assert!(
            (out[3] - 0.0).abs() < 1e-12 && (out[6] - 0.2).abs() < 1e-12 && (out[30] - 0.3).abs() < 1e-12
        );
        assert!(b.hourly(start, max_age, 48, &UNIFORM, &mut out).is_ok());
        assert!((out[3] - 0.1).abs() < 1e-12);
    }
}
