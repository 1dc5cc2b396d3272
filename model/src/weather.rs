//! The weather feed: reference evapotranspiration (ET0, FAO-56 Penman–Monteith, mm of water) per area,
//! observed for the past and forecast for the coming days.
//!
//! Wire form (schema version 1), published as JSON on `zw/v1/weather/{area}` ([`crate::topic::weather`]):
//!
//! ```json
//! {"v":1,"area":"town","issued":"2026-05-02T06:00:00Z","source":"open-meteo icon_d2",
//!  "observed":[{"from":"2026-05-02T04:00:00Z","to":"2026-05-02T05:00:00Z","mm":0.04}],
//!  "forecast":[{"from":"2026-05-02T06:00:00Z","to":"2026-05-02T07:00:00Z","mm":0.11}]}
//! ```
//!
//! * `area`: an [`Id`] naming the weather area (a town, a district, a forecast grid cell); parks are mapped
//!   to areas in the analytics config. It must match the topic.
//! * `issued`: when this information was known, UTC. For a forecast, the model run's availability time
//!   (not its analysis time), so nothing uses a forecast before it existed.
//! * `observed`: ET0 that happened (from a station, or a model analysis), each interval ending by `issued`.
//! * `forecast`: ET0 expected, each interval ending after `issued`. A newer forecast of an area replaces
//!   the older one as a whole.
//! * `rain_forecast` (optional): precipitation expected, mm, each interval ending after `issued` (DWD
//!   MOSMIX `RR1c`, Open-Meteo `precipitation`). A tree's watering alert waits for rain forecast before it
//!   would turn critical. Absent when the feed has none (not the same as a forecast of no rain: then the
//!   list is there with `0` values).
//! * `rain_observed` (optional, additive to schema 1): precipitation that fell, mm, each interval ending by
//!   `issued` and at most 31 days before it (a station's or a radar analysis's hourly or daily sums: DWD
//!   `RR`, Open-Meteo `precipitation` of the past days). Analytics stores it in the time-series store
//!   ([`RAIN_MEASUREMENT`]), so the parks dashboard draws the rain that fell beside a tree's soil history.
//!   An interval without a value is absent (no rain known), never `0` (no rain fell).
//! * `temperature` (optional, additive to schema 1): daily mean outdoor air temperature, °C, per local
//!   calendar day of the area: `{"observed":[{"day":"2026-01-05","c":1.2}],"forecast":[{"day":"2026-01-08","c":-3.0}]}`.
//!   `observed` days are on or before `issued`'s date (at most 31 days back), `forecast` days from
//!   `issued`'s date on (at most 16 days ahead); each day at most once per list, each value finite and
//!   within [`MIN_TEMP_C`]..=[`MAX_TEMP_C`]. Heating loads' forecasts follow it (degree days, see
//!   [`crate::forecast::heating`]). A day without a value is absent, never `0`.
//! * Intervals are `[from, to)`, at most a day long (hourly values as from Open-Meteo, daily values as
//!   DWD MOSMIX `PEvap`), not overlapping within a list. An hour without a value is absent, never `0`.
//!
//! [`Weather::validate`] enforces all of that, bounds each value by what ET0 can physically be, and bounds
//! the size of a message.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::Id;

/// Measurement of the observed rain in the time-series store: tag [`TAG_AREA`], field [`FIELD_RAIN_MM`],
/// one point per observed interval at its start (written again, the same point: idempotent).
pub const RAIN_MEASUREMENT: &str = "weather";
/// Tag with the weather area.
pub const TAG_AREA: &str = "area";
/// Field with the rain of the interval, mm.
pub const FIELD_RAIN_MM: &str = "rain_mm";

/// Schema version of [`Weather`].
pub const WEATHER_SCHEMA_VERSION: u32 = 1;
/// Most intervals in one message (observed and forecast together): 16 days of hourly forecast and 25 days
/// of hourly observations.
pub const MAX_INTERVALS: usize = 1000;
/// Largest accepted message, bytes (checked before parsing).
pub const MAX_BYTES: usize = 128 * 1024;
/// Highest plausible ET0 rate, mm per hour (FAO-56 hourly ET0 peaks near 1 mm/h in hot, dry, windy
/// weather; Central European summer days reach 0.6–0.8 mm/h).
pub const MAX_MM_PER_HOUR: f64 = 1.5;
/// Highest plausible ET0 of one interval, mm (desert summer days reach 10–12 mm/day).
pub const MAX_MM: f64 = 15.0;
/// Highest plausible rain of one interval, mm (the German daily record is 312 mm).
pub const MAX_RAIN_MM: f64 = 320.0;
/// Lowest plausible daily mean outdoor temperature, °C (the German record daily mean is near −30 °C).
pub const MIN_TEMP_C: f64 = -60.0;
/// Highest plausible daily mean outdoor temperature, °C.
pub const MAX_TEMP_C: f64 = 50.0;
/// Longest interval.
pub const MAX_INTERVAL: TimeDelta = TimeDelta::days(1);
/// Oldest observation accepted, before `issued`.
pub const MAX_OBSERVED_AGE: TimeDelta = TimeDelta::days(31);
/// Furthest forecast accepted, after `issued`.
pub const MAX_LEAD: TimeDelta = TimeDelta::days(16);

/// ET0 over one time interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Et0 {
    /// Start (inclusive), UTC.
    pub from: DateTime<Utc>,
    /// End (exclusive), UTC.
    pub to: DateTime<Utc>,
    /// Reference evapotranspiration over the interval, mm.
    pub mm: f64,
}

/// The daily mean outdoor temperature of one local calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DayTemp {
    /// The area's local calendar day.
    pub day: NaiveDate,
    /// Its mean air temperature, °C.
    pub c: f64,
}

/// Daily mean outdoor temperatures: what was observed and what is forecast.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Temperatures {
    /// Observed daily means, days on or before `issued`'s date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<DayTemp>,
    /// Forecast daily means, days from `issued`'s date on. A newer forecast replaces the older as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecast: Vec<DayTemp>,
}

impl Temperatures {
    /// Days in both lists.
    pub fn len(&self) -> usize {
        self.observed.len() + self.forecast.len()
    }

    /// No day in either list.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One message of the weather feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Weather {
    /// Schema version, [`WEATHER_SCHEMA_VERSION`].
    pub v: u32,
    /// The weather area.
    pub area: Id,
    /// When this was known.
    pub issued: DateTime<Utc>,
    /// Where it comes from (free text for people, e.g. `"dwd mosmix 10400"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// ET0 that happened, each interval ending by `issued`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<Et0>,
    /// ET0 expected, each interval ending after `issued`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forecast: Vec<Et0>,
    /// Precipitation expected, each interval ending after `issued` (`mm` is rain, not ET0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rain_forecast: Vec<Et0>,
    /// Precipitation that fell, each interval ending by `issued` (`mm` is rain, not ET0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rain_observed: Vec<Et0>,
    /// Daily mean outdoor temperatures (optional; absent when the feed has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Temperatures>,
}

/// Why a weather message was rejected. Each variant is a distinct reason label in metrics.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeatherError {
    /// Larger than [`MAX_BYTES`] or more than [`MAX_INTERVALS`] intervals.
    #[error("weather message too large: {0}")]
    TooLarge(String),
    /// Not JSON, or JSON that does not fit the schema.
    #[error("malformed weather message: {0}")]
    Malformed(String),
    /// A schema version this build does not understand.
    #[error("unsupported weather schema version {0}, expected {WEATHER_SCHEMA_VERSION}")]
    Version(u32),
    /// The message names another area than its topic.
    #[error("weather for area {area} on topic {topic}")]
    TopicMismatch {
        /// The message's area.
        area: Id,
        /// The topic it came on.
        topic: String,
    },
    /// Neither observations nor a forecast.
    #[error("weather message has no values")]
    Empty,
    /// `issued` outside the accepted window around the receiver's clock.
    #[error("issued {issued} is outside the accepted window ({earliest} .. {latest})")]
    Timestamp {
        /// The offending time.
        issued: DateTime<Utc>,
        /// Earliest accepted.
        earliest: DateTime<Utc>,
        /// Latest accepted.
        latest: DateTime<Utc>,
    },
    /// An interval that is empty, too long, overlapping, or on the wrong side of `issued`.
    #[error("bad interval {from} .. {to}: {why}")]
    Interval {
        /// Start.
        from: DateTime<Utc>,
        /// End.
        to: DateTime<Utc>,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A value that is NaN, negative or beyond what ET0 (or rain) can be.
    #[error("implausible value {mm} mm over {from} .. {to}")]
    Value {
        /// Start.
        from: DateTime<Utc>,
        /// End.
        to: DateTime<Utc>,
        /// The value.
        mm: f64,
    },
    /// A daily temperature that is NaN or beyond [`MIN_TEMP_C`]..=[`MAX_TEMP_C`], a day on the wrong side
    /// of `issued` or too far from it, or a day twice in one list.
    #[error("bad daily temperature {c} °C on {day}: {why}")]
    Temperature {
        /// The day.
        day: NaiveDate,
        /// The value.
        c: f64,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl WeatherError {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            WeatherError::TooLarge(_) => "too_large",
            WeatherError::Malformed(_) => "malformed",
            WeatherError::Version(_) => "version",
            WeatherError::TopicMismatch { .. } => "topic_mismatch",
            WeatherError::Empty => "empty",
            WeatherError::Timestamp { .. } => "timestamp",
            WeatherError::Interval { .. } => "interval",
            WeatherError::Value { .. } => "value",
            WeatherError::Temperature { .. } => "temperature",
        }
    }
}

impl Weather {
    /// Parses and validates a message that arrived on `topic` at `now` (`max_age`: oldest accepted
    /// `issued`; up to five minutes ahead of `now` are accepted for clock skew).
    pub fn from_message(
        topic: &str,
        payload: &[u8],
        now: DateTime<Utc>,
        max_age: TimeDelta,
    ) -> Result<Weather, WeatherError> {
        if payload.len() > MAX_BYTES {
            return Err(WeatherError::TooLarge(format!(
                "{} bytes, at most {MAX_BYTES}",
                payload.len()
            )));
        }
        let w: Weather =
            serde_json::from_slice(payload).map_err(|e| WeatherError::Malformed(e.to_string()))?;
        if crate::topic::parse_weather(topic).as_ref() != Some(&w.area) {
            return Err(WeatherError::TopicMismatch {
                area: w.area,
                topic: topic.to_string(),
            });
        }
        w.validate(now, max_age)?;
        Ok(w)
    }

    /// Serialises to the wire form.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs, strings and finite numbers: cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks version, size, `issued` against the window around `now`, every interval and value.
    pub fn validate(&self, now: DateTime<Utc>, max_age: TimeDelta) -> Result<(), WeatherError> {
        if self.v != WEATHER_SCHEMA_VERSION {
            return Err(WeatherError::Version(self.v));
        }
        let n = self.observed.len()
            + self.forecast.len()
            + self.rain_forecast.len()
            + self.rain_observed.len()
            + self.temperature.as_ref().map_or(0, Temperatures::len);
        if n > MAX_INTERVALS {
            return Err(WeatherError::TooLarge(format!(
                "{n} intervals, at most {MAX_INTERVALS}"
            )));
        }
        if n == 0 {
            return Err(WeatherError::Empty);
        }
        let (earliest, latest) = (now - max_age, now + TimeDelta::minutes(5));
        if self.issued < earliest || self.issued > latest {
            return Err(WeatherError::Timestamp {
                issued: self.issued,
                earliest,
                latest,
            });
        }
        let issued = self.issued;
        let past = |e: &Et0| {
            if e.to > issued {
                Some("an observation ends after issued")
            } else if e.from < issued - MAX_OBSERVED_AGE {
                Some("an observation more than 31 days before issued")
            } else {
                None
            }
        };
        check(&self.observed, past, MAX_MM, MAX_MM_PER_HOUR)?;
        let ahead = |e: &Et0| {
            if e.to <= issued {
                Some("a forecast interval ends by issued")
            } else if e.to > issued + MAX_LEAD {
                Some("a forecast more than 16 days ahead")
            } else {
                None
            }
        };
        check(&self.forecast, ahead, MAX_MM, MAX_MM_PER_HOUR)?;
        check(&self.rain_forecast, ahead, MAX_RAIN_MM, MAX_RAIN_MM)?;
        check(&self.rain_observed, past, MAX_RAIN_MM, MAX_RAIN_MM)?;
        if let Some(t) = &self.temperature {
            let today = issued.date_naive();
            let oldest = (issued - MAX_OBSERVED_AGE).date_naive();
            let furthest = (issued + MAX_LEAD).date_naive();
            check_days(&t.observed, |d| {
                if d > today {
                    Some("an observed day after issued")
                } else if d < oldest {
                    Some("an observed day more than 31 days before issued")
                } else {
                    None
                }
            })?;
            check_days(&t.forecast, |d| {
                if d < today {
                    Some("a forecast day before issued")
                } else if d > furthest {
                    Some("a forecast day more than 16 days ahead")
                } else {
                    None
                }
            })?;
        }
        Ok(())
    }

    /// The daily temperatures, empty lists when the message has none.
    pub fn temperatures(&self) -> Temperatures {
        self.temperature.clone().unwrap_or_default()
    }
}

/// Checks one list of daily temperatures: each value plausible, `side` accepting its day, no day twice.
fn check_days(
    list: &[DayTemp],
    side: impl Fn(NaiveDate) -> Option<&'static str>,
) -> Result<(), WeatherError> {
    let bad = |d: &DayTemp, why| WeatherError::Temperature {
        day: d.day,
        c: d.c,
        why,
    };
    for d in list {
        if !(d.c.is_finite() && (MIN_TEMP_C..=MAX_TEMP_C).contains(&d.c)) {
            return Err(bad(d, "not a plausible daily mean"));
        }
        if let Some(why) = side(d.day) {
            return Err(bad(d, why));
        }
    }
    let mut days: Vec<NaiveDate> = list.iter().map(|d| d.day).collect();
    days.sort_unstable();
    if let Some(w) = days.windows(2).find(|w| w[0] == w[1]) {
        let d = list.iter().find(|d| d.day == w[0]).copied().unwrap_or(list[0]);
        return Err(bad(&d, "a day twice in one list"));
    }
    Ok(())
}

/// Checks the intervals of one list: each well-formed, at most `max_mm` and `per_hour` mm per hour, `side`
/// accepting it, none overlapping.
fn check(
    list: &[Et0],
    side: impl Fn(&Et0) -> Option<&'static str>,
    max_mm: f64,
    per_hour: f64,
) -> Result<(), WeatherError> {
    let bad = |e: &Et0, why| WeatherError::Interval {
        from: e.from,
        to: e.to,
        why,
    };
    for e in list {
        if e.to <= e.from {
            return Err(bad(e, "ends before it starts"));
        }
        let len = e.to - e.from;
        if len > MAX_INTERVAL {
            return Err(bad(e, "longer than a day"));
        }
        if let Some(why) = side(e) {
            return Err(bad(e, why));
        }
        let hours = len.num_milliseconds() as f64 / 3_600_000.0;
        if !(e.mm.is_finite() && e.mm >= 0.0 && e.mm <= max_mm && e.mm <= per_hour * hours) {
            return Err(WeatherError::Value {
                from: e.from,
                to: e.to,
                mm: e.mm,
            });
        }
    }
    let mut sorted: Vec<&Et0> = list.iter().collect();
    sorted.sort_by_key(|e| e.from);
    if let Some(w) = sorted.windows(2).find(|w| w[1].from < w[0].to) {
        return Err(bad(w[1], "overlaps another interval"));
    }
    Ok(())
}

/// Which weather area a site's figures come from, in this order: the area configured for the site
/// (`[analytics.trees.weather] site_area`, parks and buildings alike), the area named like the site, the
/// configured `default_area`, and the only area when the feed has exactly one (a town's feed). `areas` holds
/// what is known per area; an area configured but not (yet) received gives `None`, never another area's.
pub fn area_for<'a, V>(
    areas: &'a std::collections::BTreeMap<String, V>,
    site: &str,
    site_area: &std::collections::BTreeMap<String, String>,
    default_area: Option<&str>,
) -> Option<&'a V> {
    if let Some(area) = site_area.get(site) {
        return areas.get(area);
    }
    areas
        .get(site)
        .or_else(|| default_area.and_then(|a| areas.get(a)))
        .or_else(|| (areas.len() == 1).then(|| areas.values().next()).flatten())
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_site_takes_its_configured_area_then_its_namesake_then_the_default_then_the_only_one() {
        use std::collections::BTreeMap;
        let areas: BTreeMap<String, u8> =
            [("nord".into(), 1), ("sued".into(), 2), ("schule".into(), 3)].into();
        let site_area: BTreeMap<String, String> =
            [("rathaus".into(), "nord".into()), ("bad".into(), "west".into())].into();
        assert_eq!(area_for(&areas, "rathaus", &site_area, Some("sued")), Some(&1));
        assert_eq!(
            area_for(&areas, "bad", &site_area, Some("sued")),
            None,
            "configured, not received"
        );
        assert_eq!(area_for(&areas, "schule", &site_area, Some("sued")), Some(&3));
        assert_eq!(area_for(&areas, "kita", &site_area, Some("sued")), Some(&2));
        assert_eq!(
            area_for(&areas, "kita", &site_area, None),
            None,
            "three areas, none chosen"
        );
        let one: BTreeMap<String, u8> = [("town".into(), 9)].into();
        assert_eq!(area_for(&one, "kita", &BTreeMap::new(), None), Some(&9));
    }
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 2, 7, 0, 0)
            .single()
            .expect("valid date")
    }

    const TOPIC: &str = "zw/v1/weather/town";

    fn parse(json: &str) -> Result<Weather, WeatherError> {
        Weather::from_message(TOPIC, json.as_bytes(), now(), TimeDelta::days(7))
    }

    #[test]
    fn a_feed_message_round_trips() {
        let json = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z","source":"sim",
            "observed":[{"from":"2026-05-02T04:00:00Z","to":"2026-05-02T05:00:00Z","mm":0.04}],
            "forecast":[{"from":"2026-05-02T06:00:00Z","to":"2026-05-03T06:00:00Z","mm":3.1}]}"#;
        let w = parse(json).expect("valid");
        assert_eq!(w.forecast[0].mm, 3.1);
        assert_eq!(parse(std::str::from_utf8(&w.to_json()).expect("utf8")), Ok(w));
    }

    #[test]
    fn rejections_name_their_reason() {
        let msg = |issued: &str, obs: &str, fc: &str| {
            format!(r#"{{"v":1,"area":"town","issued":"{issued}","observed":[{obs}],"forecast":[{fc}]}}"#)
        };
        let iv = |from: &str, to: &str, mm: &str| format!(r#"{{"from":"{from}","to":"{to}","mm":{mm}}}"#);
        let (t5, t6, t7) = (
            "2026-05-02T05:00:00Z",
            "2026-05-02T06:00:00Z",
            "2026-05-02T07:00:00Z",
        );
        let ok_fc = iv(t6, t7, "0.1");
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "malformed"),
            (msg(t6, "", &iv(t6, t7, "\"0.1\"")), "malformed"),
            (msg(t6, "", &iv(t6, t7, "NaN")), "malformed"),
            (
                r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z","rain":[]}"#.into(),
                "malformed",
            ),
            (
                r#"{"v":2,"area":"town","issued":"2026-05-02T06:00:00Z","forecast":[]}"#.into(),
                "version",
            ),
            (
                r#"{"v":1,"area":"city","issued":"2026-05-02T06:00:00Z","forecast":[]}"#.into(),
                "topic_mismatch",
            ),
            (msg(t6, "", ""), "empty"),
            (msg("1971-01-01T00:00:00Z", "", &ok_fc), "timestamp"),
            (msg("2026-05-02T07:06:00Z", "", &ok_fc), "timestamp"),
            (msg(t6, "", &iv(t7, t6, "0.1")), "interval"),
            (msg(t6, "", &iv(t5, t6, "0.1")), "interval"),
            (msg(t6, &iv(t6, t7, "0.1"), ""), "interval"),
            (msg(t6, "", &iv(t6, "2026-05-04T06:00:00Z", "4")), "interval"),
            (
                msg(t6, "", &iv("2026-05-19T06:00:00Z", "2026-05-19T07:00:00Z", "0.1")),
                "interval",
            ),
            (msg(t6, "", &format!("{ok_fc},{ok_fc}")), "interval"),
            (msg(t6, "", &iv(t6, t7, "-0.1")), "value"),
            (msg(t6, "", &iv(t6, t7, "2.0")), "value"),
            (msg(t6, "", &iv(t6, t7, "1e308")), "value"),
            (" ".repeat(MAX_BYTES + 1), "too_large"),
            (
                msg(t6, "", &vec![ok_fc.as_str(); MAX_INTERVALS + 1].join(",")),
                "too_large",
            ),
        ];
        for (input, reason) in cases {
            let err = parse(&input).expect_err(&input);
            assert_eq!(err.reason(), reason, "{input}: {err}");
        }
    }

    #[test]
    fn a_rain_forecast_is_read_and_bounded_like_rain() {
        let json = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z",
            "rain_forecast":[{"from":"2026-05-02T12:00:00Z","to":"2026-05-02T13:00:00Z","mm":12.5}]}"#;
        let w = parse(json).expect("valid");
        assert_eq!(w.rain_forecast[0].mm, 12.5);
        assert_eq!(parse(std::str::from_utf8(&w.to_json()).expect("utf8")), Ok(w));
        let bad = json.replace("12.5", "400");
        assert_eq!(parse(&bad).map_err(|e| e.reason()), Err("value"));
        let past = json
            .replace("T12:00:00Z", "T04:00:00Z")
            .replace("T13:00:00Z", "T05:00:00Z");
        assert_eq!(parse(&past).map_err(|e| e.reason()), Err("interval"));
    }

    #[test]
    fn observed_rain_is_read_and_bounded_like_rain_and_must_lie_in_the_past() {
        let json = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z",
            "rain_observed":[{"from":"2026-05-01T00:00:00Z","to":"2026-05-02T00:00:00Z","mm":14.5},
            {"from":"2026-05-02T00:00:00Z","to":"2026-05-02T01:00:00Z","mm":0}]}"#;
        let w = parse(json).expect("valid");
        assert_eq!(
            w.rain_observed.iter().map(|e| e.mm).collect::<Vec<_>>(),
            [14.5, 0.0]
        );
        assert_eq!(parse(std::str::from_utf8(&w.to_json()).expect("utf8")), Ok(w));
        let bad = json.replace("14.5", "400");
        assert_eq!(parse(&bad).map_err(|e| e.reason()), Err("value"));
        let negative = json.replace("14.5", "-1");
        assert_eq!(parse(&negative).map_err(|e| e.reason()), Err("value"));
        // Rain "observed" after issued, or more than 31 days before it.
        let future = json.replace("2026-05-02T01:00:00Z", "2026-05-02T07:00:00Z");
        assert_eq!(parse(&future).map_err(|e| e.reason()), Err("interval"));
        let old = json.replace("2026-05-01T00:00:00Z", "2026-03-01T00:00:00Z");
        assert_eq!(parse(&old).map_err(|e| e.reason()), Err("interval"));
        let overlap = json.replace(
            "\"from\":\"2026-05-02T00:00:00Z\"",
            "\"from\":\"2026-05-01T23:00:00Z\"",
        );
        assert_eq!(parse(&overlap).map_err(|e| e.reason()), Err("interval"));
        // Absent: nothing known, an older message parses as before.
        let none = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z",
            "forecast":[{"from":"2026-05-02T06:00:00Z","to":"2026-05-03T06:00:00Z","mm":3.1}]}"#;
        assert!(parse(none).expect("valid").rain_observed.is_empty());
    }

    #[test]
    fn daily_temperatures_are_read_and_bounded() {
        let json = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z",
            "temperature":{"observed":[{"day":"2026-05-01","c":7.5},{"day":"2026-05-02","c":8.0}],
            "forecast":[{"day":"2026-05-02","c":8.5},{"day":"2026-05-03","c":-3.25}]}}"#;
        let w = parse(json).expect("valid");
        let t = w.temperatures();
        assert_eq!((t.observed.len(), t.forecast[1].c), (2, -3.25));
        assert_eq!(parse(std::str::from_utf8(&w.to_json()).expect("utf8")), Ok(w));
        // A message of ET0 alone still parses, and has no temperatures.
        let old = r#"{"v":1,"area":"town","issued":"2026-05-02T06:00:00Z",
            "forecast":[{"from":"2026-05-02T06:00:00Z","to":"2026-05-03T06:00:00Z","mm":3.1}]}"#;
        assert!(parse(old).expect("valid").temperatures().is_empty());
        let cases = [
            json.replace("-3.25", "71"),
            json.replace("-3.25", "-80"),
            json.replace("-3.25", "NaN"),
            json.replace("2026-05-03", "2026-05-30"),
            json.replace("2026-05-01", "2026-05-03"),
            json.replace("2026-05-01", "2026-03-01"),
            json.replace("\"day\":\"2026-05-03\"", "\"day\":\"2026-05-02\""),
            json.replace(
                "\"day\":\"2026-05-02\",\"c\":8.5",
                "\"day\":\"2026-05-01\",\"c\":8.5",
            ),
        ];
        for bad in &cases {
            let got = parse(bad).map_err(|e| e.reason());
            assert!(
                got == Err("temperature") || got == Err("malformed"),
                "{bad}: {got:?}"
            );
        }
        assert_eq!(parse(&cases[0]).map_err(|e| e.reason()), Err("temperature"));
        assert_eq!(parse(&cases[6]).map_err(|e| e.reason()), Err("temperature"));
        // NaN built in code (JSON cannot carry it) is rejected too.
        let mut w = parse(json).expect("valid");
        if let Some(t) = w.temperature.as_mut() {
            t.forecast[0].c = f64::NAN;
        }
        assert_eq!(
            w.validate(now(), TimeDelta::days(7)).map_err(|e| e.reason()),
            Err("temperature")
        );
    }

    #[test]
    fn non_finite_values_built_in_code_are_rejected() {
        let at = |h| Utc.with_ymd_and_hms(2026, 5, 2, h, 0, 0).single().expect("date");
        let w = Weather {
            v: 1,
            area: Id::new("town").expect("id"),
            issued: at(6),
            source: None,
            observed: Vec::new(),
            forecast: vec![Et0 {
                from: at(6),
                to: at(7),
                mm: f64::NAN,
            }],
            rain_forecast: Vec::new(),
            rain_observed: Vec::new(),
            temperature: None,
        };
        assert_eq!(
            w.validate(now(), TimeDelta::days(7)).map_err(|e| e.reason()),
            Err("value")
        );
    }

    proptest! {
        /// Whatever arrives, parsing answers (never panics), and what it accepts is within the bounds.
        #[test]
        fn parsing_never_panics_and_accepts_only_plausible(
            mm in proptest::num::f64::ANY,
            from_min in -3000i64..3000,
            len_min in -120i64..3000,
        ) {
            let at = |m: i64| now() + TimeDelta::minutes(m);
            let w = Weather {
                v: 1,
                area: Id::new("town").expect("id"),
                issued: now(),
                source: None,
                observed: Vec::new(),
                forecast: vec![Et0 { from: at(from_min), to: at(from_min + len_min), mm }],
                rain_forecast: Vec::new(),
                rain_observed: Vec::new(),
                temperature: None,
            };
            let text = String::from_utf8(w.to_json()).unwrap_or_default();
            if let Ok(ok) = parse(&text) {
                let e = ok.forecast[0];
                prop_assert!(e.mm.is_finite() && (0.0..=MAX_MM).contains(&e.mm));
                prop_assert!(e.to > e.from && e.to > ok.issued);
            }
        }
    }
}
