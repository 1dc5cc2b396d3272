//! The weather feed: reference evapotranspiration (ET0) of the simulated weather, observed
//! hour by hour and forecast once a day, as a DWD/Open-Meteo feed would deliver it
//! ([`zw_model::weather::Weather`] on `zw/v1/weather/town`).
//!
//! * **Truth.** The trees' evaporation is `rate · weather · season · diurnal(hour)` ([`crate::scenario`]); the
//!   reference ET0 of that weather is the same product with a reference rate instead of the tree's,
//!   [`REFERENCE_MM_PER_DAY`] (about 3 mm/day, a German April–May day by FAO-56 Penman–Monteith).
//! * **Observed.** Each hour at minute 5, the past hour's ET0 with multiplicative measurement noise of
//!   sd ≈ 5 % (station ET0 computed from measured radiation, temperature, humidity and wind carries a few
//!   % of error; radiation dominates it).
//! * **Forecast.** Once a day, issued at 05:05 UTC (the 00 UTC ICON run is available around 04 UTC;
//!   Open-Meteo publishes it soon after), hourly values for 7 days from 05:00. Each is the truth times
//!   `exp(sd(L)·z(L) − sd(L)²/2)` (unbiased), `sd(L) = 0.05 + 0.05·L` for a lead of `L` days: 10 % at
//!   day 1, 15 % at day 2, 20 % at day 3, as verification of NWP-based ET0 forecasts reports roughly
//!   15–25 % relative error at 1–3 days, growing with lead time. `z` is a unit-variance AR(1) process over
//!   lead hours with a one-day e-folding time: a forecast that is wrong about a warm afternoon is wrong
//!   about the evening too (errors come from misplaced weather systems, not from hour-to-hour noise),
//!   while a wrong day 1 says little about day 3. Each issue draws its own errors.
//! * **Rain forecast.** With the daily forecast, hourly rain for the same 7 days (`0` where none is
//!   expected). Each of the park's rain events ([`Feed::with_rain`]) is forecast with a probability of
//!   `0.95 − 0.1·L` (at least 0.5) for a lead of `L` days, shifted by `(2 + 3·L)·z` hours and scaled by a
//!   log-normal factor of sd 0.4; each forecast day also carries a false alarm (2–12 mm in three hours)
//!   with probability 0.1. Precipitation forecasts are that uncertain: the probability of detection of a
//!   rain day by NWP falls from about 0.9 at day 1 to about 0.7 at day 3, and timing errors of several
//!   hours are usual. A rain event's amount of plant-available water becomes mm by [`RAIN_MM_PER_S`].
//!
//! * **Observed rain.** With each hour's observation, the rain that fell in that hour (`0` when none did):
//!   the park's rain events spread over [`RAIN_HOURS`] hours, as a rain gauge would sum them. A live message
//!   ([`live_message`]) re-sends the last 48 hours of the town's simulated showers ([`live_rain_mm`]).
//!
//! * **Temperature** (live messages only, [`live_message`]): the daily mean outdoor temperature of the
//!   last 7 finished days observed ([`daily_mean_c`]) and the 7-day forecast of daily means issued that day
//!   ([`daily_forecast_c`]), the temperatures the simulated buildings heat against.
//!
//! Nothing here lets a consumer see more than a real feed would: a message is handed out at its `issued`
//! minute, observations cover only finished hours, and the forecast's error is fixed at issue.

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use zw_model::Id;
use zw_model::weather::{DayTemp, Et0, Temperatures, WEATHER_SCHEMA_VERSION, Weather};

use super::climate::{
    FORECAST_DAYS, REFERENCE_MM_PER_DAY, daily_forecast_c, daily_mean_c, diurnal, evaporative_demand,
};
use crate::curves::{mix, unit};

/// Measurement noise of the observations (sd, relative).
const OBSERVED_SD: f64 = 0.05;
/// Forecast error sd at lead 0, and its growth per day of lead.
const FORECAST_SD0: f64 = 0.05;
const FORECAST_SD_PER_DAY: f64 = 0.05;
/// Hours ahead a forecast covers.
const FORECAST_HOURS: i64 = 7 * 24;
/// Rain, mm, that fills a tree's whole plant-available water (S from 0 to 1) in the park's top layer: about
/// the plant-available water of 0.6 m of loam (0.14 × 600 mm = 84 mm) less interception and runoff.
pub const RAIN_MM_PER_S: f64 = 60.0;
/// Hours a rain event lasts (its amount spread evenly).
pub(crate) const RAIN_HOURS: usize = 3;
/// UTC hour the daily forecast is issued at (minute [`MINUTE`]).
const ISSUE_HOUR: u32 = 5;
/// Minute of the hour messages are issued at.
const MINUTE: u32 = 5;
const HOUR: i64 = 3_600_000;

/// The area every simulated park lies in.
pub fn area() -> Id {
    Id::new("town").expect("a valid id")
}

/// About standard normal: the sum of three uniforms, scaled to unit variance.
fn normal(seed: u64, key: u64) -> f64 {
    (unit(seed, 3 * key) + unit(seed, 3 * key + 1) + unit(seed, 3 * key + 2) - 1.5) * 2.0
}

/// The ET0 feed: the true hourly ET0 from `start` and how to observe and forecast it.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    seed: u64,
    /// Start of hour 0 (ms).
    start: i64,
    /// True ET0 per hour from `start`, mm.
    truth: Vec<f64>,
    /// Rain events: (hour from `start`, amount of plant-available water, S).
    rain: Vec<(usize, f64)>,
}

impl Feed {
    /// A feed of the hourly true ET0 `truth` from `start`.
    pub(crate) fn new(seed: u64, start: i64, truth: Vec<f64>) -> Self {
        Self {
            seed: mix(seed, 0x0E70),
            start,
            truth,
            rain: Vec::new(),
        }
    }

    /// The same feed forecasting the rain events `rain` (hour from the start, amount in S).
    pub(crate) fn with_rain(mut self, rain: Vec<(usize, f64)>) -> Self {
        self.rain = rain;
        self
    }

    fn interval(&self, h: i64, mm: f64) -> Et0 {
        let t = |ms: i64| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        Et0 {
            from: t(self.start + h * HOUR),
            to: t(self.start + (h + 1) * HOUR),
            mm: (mm * 1000.0).round() / 1000.0,
        }
    }

    /// The message issued in the minute starting at `t`, if any: at minute 5 of every hour the past
    /// hour's observation, and at 05:05 UTC also the forecast for the next 7 days.
    pub(crate) fn message(&self, t: DateTime<Utc>) -> Option<Weather> {
        if t.minute() != MINUTE || t.second() != 0 {
            return None;
        }
        // Hours of the feed start on the hour of `start` (the scenario starts on a full hour).
        let h = (t.timestamp_millis() - self.start).div_euclid(HOUR);
        let observed: Vec<Et0> = (h >= 1)
            .then(|| h - 1)
            .and_then(|p| Some((p, *self.truth.get(usize::try_from(p).ok()?)?)))
            .map(|(p, mm)| {
                let noise = (1.0 + OBSERVED_SD * normal(self.seed, p as u64)).max(0.0);
                self.interval(p, mm * noise)
            })
            .into_iter()
            .collect();
        // The rain gauge of the same station, for the same finished hour.
        let rain_observed: Vec<Et0> = (!observed.is_empty())
            .then(|| self.interval(h - 1, self.rain_in_hour(h - 1)))
            .into_iter()
            .collect();
        let (forecast, rain_forecast) = if t.hour() == ISSUE_HOUR {
            (self.forecast(h), self.rain_forecast(h))
        } else {
            (Vec::new(), Vec::new())
        };
        if observed.is_empty() && forecast.is_empty() {
            return None;
        }
        Some(Weather {
            v: WEATHER_SCHEMA_VERSION,
            area: area(),
            issued: t,
            source: Some("firmware-sim scenario".into()),
            observed,
            forecast,
            rain_forecast,
            rain_observed,
            temperature: None,
        })
    }

    /// The rain that fell in hour `h`, mm: each event's amount spread evenly over its [`RAIN_HOURS`].
    fn rain_in_hour(&self, h: i64) -> f64 {
        self.rain
            .iter()
            .filter(|&&(rh, _)| (rh as i64..rh as i64 + RAIN_HOURS as i64).contains(&h))
            .map(|&(_, amount)| amount * RAIN_MM_PER_S / RAIN_HOURS as f64)
            .sum()
    }

    /// The rain forecast issued in hour `h0`: hourly mm for the forecast's hours (see the module docs).
    fn rain_forecast(&self, h0: i64) -> Vec<Et0> {
        let seed = mix(self.seed, 0x0AA1_0000 + h0 as u64);
        let n = FORECAST_HOURS.min(self.truth.len() as i64 - h0).max(0) as usize;
        let mut mm = vec![0.0; n];
        let mut add = |start: i64, total: f64| {
            for k in 0..RAIN_HOURS as i64 {
                if let Some(v) = usize::try_from(start + k - h0).ok().and_then(|i| mm.get_mut(i)) {
                    *v += total / RAIN_HOURS as f64;
                }
            }
        };
        for (k, &(rh, amount)) in self.rain.iter().enumerate() {
            let lead = (rh as i64 - h0) as f64 / 24.0;
            if !(-0.2..7.0).contains(&lead) {
                continue;
            }
            let key = 10 * k as u64;
            if unit(seed, key) > (0.95 - 0.1 * lead.max(0.0)).max(0.5) {
                continue;
            }
            let shift = ((2.0 + 3.0 * lead.max(0.0)) * normal(seed, key + 1)).round() as i64;
            let scale = (0.4 * normal(seed, key + 2) - 0.08).exp();
            add(rh as i64 + shift, amount * RAIN_MM_PER_S * scale);
        }
        for day in 0..7u64 {
            let key = 10_000 + 10 * day;
            if unit(seed, key) < 0.1 {
                let at = h0 + 24 * day as i64 + (unit(seed, key + 1) * 24.0) as i64;
                add(at, 2.0 + 10.0 * unit(seed, key + 2));
            }
        }
        mm.iter()
            .enumerate()
            .map(|(k, v)| self.interval(h0 + k as i64, *v))
            .collect()
    }

    /// The forecast issued in hour `h0`: the hours from `h0` on, with errors growing with lead time.
    fn forecast(&self, h0: i64) -> Vec<Et0> {
        let seed = mix(self.seed, 0x00F0_0000 + h0 as u64);
        let rho = (-1.0f64 / 24.0).exp();
        let mut z = normal(seed, 0);
        let mut out = Vec::new();
        for k in 0..FORECAST_HOURS {
            let Some(&truth) = usize::try_from(h0 + k).ok().and_then(|i| self.truth.get(i)) else {
                break;
            };
            if k > 0 {
                z = rho * z + (1.0 - rho * rho).sqrt() * normal(seed, k as u64);
            }
            // Lead at the middle of the hour, from the issue time (minute 5).
            let lead_days = ((k as f64 + 0.5) * 60.0 - f64::from(MINUTE)) / 1440.0;
            let sd = FORECAST_SD0 + FORECAST_SD_PER_DAY * lead_days.max(0.0);
            out.push(self.interval(h0 + k, truth * (sd * z - sd * sd / 2.0).exp()));
        }
        out
    }

    /// The true ET0 over `[from, to)`, mm (whole hours).
    #[cfg(test)]
    pub(crate) fn true_mm(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let h = |t: DateTime<Utc>| ((t.timestamp_millis() - self.start) / HOUR) as usize;
        self.truth[h(from)..h(to)].iter().sum()
    }
}

/// Hours of observations a live message re-sends (like Open-Meteo's `past_days=2`).
const LIVE_PAST_HOURS: i64 = 48;

/// The town's simulated rain in the hour starting at `hour` (hours since the epoch), mm: on about one day
/// in four a shower of 2–12 mm over three hours starting at a random hour of the day (a German summer has
/// rain on roughly a third of its days, most of them light).
pub fn live_rain_mm(seed: u64, hour: i64) -> f64 {
    let day = hour.div_euclid(24);
    let key = mix(seed, 0x0AA1_D000 + day as u64);
    if unit(key, 0) >= 0.25 {
        return 0.0;
    }
    let start = (unit(key, 1) * 21.0) as i64;
    let total = 2.0 + 10.0 * unit(key, 2);
    let h = hour.rem_euclid(24);
    if (start..start + RAIN_HOURS as i64).contains(&h) {
        total / RAIN_HOURS as f64
    } else {
        0.0
    }
}

/// The message a live feed would publish at `now` for the weather of simulation seed `seed` (the demo's
/// simulator, [`crate::Config::weather`]): the last 48 full hours observed and a 7-day forecast issued
/// `now`, on the same simulated weather as the scenario's trees (without the scenario's season trend).
pub fn live_message(seed: u64, area: Id, now: DateTime<Utc>) -> Weather {
    let h_now = now.timestamp_millis().div_euclid(HOUR);
    let start = (h_now - LIVE_PAST_HOURS) * HOUR;
    let town = mix(seed, 1);
    let truth = (0..LIVE_PAST_HOURS + FORECAST_HOURS)
        .map(|h| {
            let t = DateTime::from_timestamp_millis(start + h * HOUR + HOUR / 2).unwrap_or_default();
            REFERENCE_MM_PER_DAY * evaporative_demand(town, t) * diurnal(crate::time::berlin(t).hour())
        })
        .collect();
    let feed = Feed::new(seed, start, truth);
    let observed = (0..LIVE_PAST_HOURS)
        .map(|p| {
            let noise =
                (1.0 + OBSERVED_SD * normal(feed.seed, (h_now - LIVE_PAST_HOURS + p) as u64)).max(0.0);
            feed.interval(p, feed.truth[p as usize] * noise)
        })
        .collect();
    Weather {
        v: WEATHER_SCHEMA_VERSION,
        area,
        issued: now,
        source: Some("firmware-sim (simulated weather)".into()),
        observed,
        forecast: feed.forecast(LIVE_PAST_HOURS),
        rain_forecast: Vec::new(),
        rain_observed: (0..LIVE_PAST_HOURS)
            .map(|p| feed.interval(p, live_rain_mm(town, h_now - LIVE_PAST_HOURS + p)))
            .collect(),
        temperature: Some(live_temperatures(town, now)),
    }
}

/// Days of observed daily mean temperature a live message re-sends.
const LIVE_PAST_DAYS: i64 = 7;

/// The daily mean outdoor temperatures a live message carries at `now`: the last [`LIVE_PAST_DAYS`]
/// finished days observed, and the forecast issued today for today and the next days
/// ([`daily_forecast_c`], [`FORECAST_DAYS`] days). Days are the simulated weather's (UTC) days.
fn live_temperatures(town: u64, now: DateTime<Utc>) -> Temperatures {
    let today = now.date_naive();
    let c = |x: f64| (x * 100.0).round() / 100.0;
    let observed = (1..=LIVE_PAST_DAYS)
        .rev()
        .map(|k| {
            let day = today - TimeDelta::days(k);
            DayTemp {
                day,
                c: c(daily_mean_c(town, day)),
            }
        })
        .collect();
    let forecast = (0..FORECAST_DAYS)
        .filter_map(|k| {
            let day = today + TimeDelta::days(k);
            Some(DayTemp {
                day,
                c: c(daily_forecast_c(town, today, day)?),
            })
        })
        .collect();
    Temperatures { observed, forecast }
}

/// Hours of lead of the forecast, for tests.
#[cfg(test)]
pub(crate) const LEAD_HOURS: i64 = FORECAST_HOURS;

#[cfg(test)]
pub(crate) fn forecast_sd(lead_days: f64) -> f64 {
    FORECAST_SD0 + FORECAST_SD_PER_DAY * lead_days
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn the_rain_forecast_is_valid_and_sees_most_rain_coming() {
        let start = crate::time::at("2026-05-01T00:00:00Z");
        // A rain event every 40 hours, 0.3 of the plant-available water (18 mm).
        let rain: Vec<(usize, f64)> = (1..40).map(|k| (40 * k, 0.3)).collect();
        let feed = Feed::new(3, start.timestamp_millis(), vec![0.1; 70 * 24]).with_rain(rain.clone());
        let (mut seen, mut due) = (0, 0);
        for day in 0..60 {
            let t = start + TimeDelta::days(day) + TimeDelta::hours(5) + TimeDelta::minutes(5);
            let w = feed.message(t).expect("the daily forecast");
            assert_eq!(w.validate(t, TimeDelta::days(7)), Ok(()));
            assert_eq!(w.rain_forecast.len(), 7 * 24);
            // Events due within the next day: forecast (some mm within ±12 h of it) or missed.
            for &(h, _) in rain
                .iter()
                .filter(|(h, _)| (day * 24 + 5..day * 24 + 29).contains(&(*h as i64)))
            {
                due += 1;
                let at = start + TimeDelta::hours(h as i64);
                let mm: f64 = w
                    .rain_forecast
                    .iter()
                    .filter(|e| (e.from - at).num_hours().abs() <= 12)
                    .map(|e| e.mm)
                    .sum();
                seen += usize::from(mm >= 5.0);
            }
        }
        assert!(due > 20 && seen * 10 >= due * 7 && seen < due, "{seen} of {due}");
    }

    #[test]
    fn the_live_feed_is_valid_reproducible_and_has_no_unfinished_hours() {
        let now = crate::time::at("2026-05-02T07:31:12Z");
        let town = area();
        let w = live_message(42, town.clone(), now);
        assert_eq!(w.validate(now, TimeDelta::days(7)), Ok(()));
        assert_eq!(w, live_message(42, town.clone(), now));
        assert_eq!((w.observed.len(), w.forecast.len()), (48, 7 * 24));
        assert!(w.observed.iter().all(|e| e.to <= now));
        assert_eq!(
            w.forecast[0].from,
            now - TimeDelta::minutes(31) - TimeDelta::seconds(12)
        );
        // About 3 mm a day.
        let day: f64 = w.observed[24..].iter().map(|e| e.mm).sum();
        assert!((1.5..5.0).contains(&day), "{day}");
        assert_ne!(w, live_message(43, town, now));
        // Daily temperatures: 7 days observed up to yesterday, the 7-day forecast from today.
        let t = w.temperatures();
        assert_eq!((t.observed.len(), t.forecast.len()), (7, 7));
        assert_eq!(t.observed[6].day + TimeDelta::days(1), now.date_naive());
        assert_eq!(t.forecast[0].day, now.date_naive());
        assert!(t.forecast.iter().all(|d| (-5.0..20.0).contains(&d.c)), "{t:?}");
    }

    #[test]
    fn observed_rain_is_what_fell_in_the_finished_hour() {
        let start = crate::time::at("2026-05-01T00:00:00Z");
        // One event at hour 10, 0.3 of the plant-available water: 18 mm over hours 10, 11, 12.
        let feed = Feed::new(3, start.timestamp_millis(), vec![0.1; 48]).with_rain(vec![(10, 0.3)]);
        let rain_at = |h: i64| {
            let t = start + TimeDelta::hours(h) + TimeDelta::minutes(5);
            let w = feed.message(t).expect("an hourly message");
            assert!(w.validate(t, TimeDelta::days(7)).is_ok(), "{w:?}");
            assert_eq!(w.rain_observed.len(), 1);
            assert_eq!(w.rain_observed[0].to, start + TimeDelta::hours(h));
            w.rain_observed[0].mm
        };
        assert_eq!(rain_at(10), 0.0, "hour 9: dry, and said so");
        for h in 11..=13 {
            assert_eq!(rain_at(h), 6.0, "hour {}", h - 1);
        }
        assert_eq!(rain_at(14), 0.0);
        // The live message: 48 hours, valid, showers on some days and none on most hours.
        let now = crate::time::at("2026-07-01T12:03:00Z");
        let w = live_message(7, area(), now);
        assert!(w.validate(now, TimeDelta::days(7)).is_ok());
        assert_eq!(w.rain_observed.len(), 48);
        let wet = (0..24 * 365).filter(|h| live_rain_mm(7, *h) > 0.0).count();
        // About a quarter of 365 days with three wet hours each: 274.
        assert!((180..380).contains(&wet), "{wet} wet hours a year");
    }
}
