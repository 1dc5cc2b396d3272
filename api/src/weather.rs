//! The weather feed's daily temperatures (`zw/v1/weather/+`), mirrored for heating forecasts.
//!
//! Per area the API keeps what a heating load's forecast needs ([`KnownTemps`]): the observed daily means
//! of the last [`KEEP_DAYS`] days (a newer observation of a day replaces the older) and the latest
//! forecast of daily means (a newer forecast replaces the older as a whole). At most [`MAX_AREAS`] areas;
//! a message for a further area is ignored. A message is validated as analytics validates it
//! ([`Weather::from_message`]); one that does not parse or is implausible changes nothing and is counted
//! (`zw_api_live_rejected_total{reason="invalid_state"}`). ET0 and rain are not kept here.
//!
//! A site's temperatures ([`WeatherMirror::for_site`]): the area [`area_for`] chooses — the one configured
//! for the site (`[analytics.trees.weather] site_area`), the area named like the site, the default area, or
//! the only area when the feed has exactly one (a town's feed) — else none.

use std::collections::BTreeMap;
use std::sync::RwLock;

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::forecast::heating::KnownTemps;
use zw_model::tree::dryness::SoilRules;
use zw_model::weather::{Weather, area_for};

use crate::views::Applied;

/// Days of observed daily means kept per area (the forecast's 28 days of history and some).
pub const KEEP_DAYS: i64 = 45;
/// Most areas kept.
pub const MAX_AREAS: usize = 256;
/// Oldest `issued` accepted (a retained message of a stopped feed stays useful for a while).
pub const MAX_AGE: TimeDelta = TimeDelta::days(7);

/// Daily temperatures per weather area.
#[derive(Debug, Default)]
pub struct WeatherMirror {
    areas: RwLock<BTreeMap<String, KnownTemps>>,
}

impl WeatherMirror {
    /// Applies one message on a weather topic received at `now`.
    pub fn apply(&self, topic: &str, payload: &[u8], now: DateTime<Utc>) -> Applied {
        if payload.is_empty() {
            return Applied::Ok;
        }
        let w = match Weather::from_message(topic, payload, now, MAX_AGE) {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(topic, reason = e.reason(), error = %e, "Ignored a weather message.");
                return Applied::Invalid;
            }
        };
        let Some(t) = w.temperature else {
            return Applied::Ok;
        };
        let Ok(mut areas) = self.areas.write() else {
            return Applied::Invalid;
        };
        let key = w.area.to_string();
        if !areas.contains_key(&key) && areas.len() >= MAX_AREAS {
            tracing::warn!(area = %key, "Weather of more than {MAX_AREAS} areas; this one is not kept.");
            return Applied::Ok;
        }
        areas.entry(key).or_default().update(&t, w.issued, KEEP_DAYS);
        Applied::Ok
    }

    /// The temperatures of site `site`'s area (see the module documentation); empty when none is known.
    pub fn for_site(&self, site: &str, rules: &SoilRules) -> KnownTemps {
        let Ok(areas) = self.areas.read() else {
            return KnownTemps::default();
        };
        area_for(&areas, site, &rules.site_area, rules.default_area.as_deref())
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;

    fn msg(issued: &str, observed: &str, forecast: &str) -> Vec<u8> {
        format!(
            r#"{{"v":1,"area":"town","issued":"{issued}","temperature":{{"observed":[{observed}],"forecast":[{forecast}]}}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn keeps_observations_replaces_the_forecast_and_rejects_nonsense() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 6, 0, 0).single().expect("time");
        let m = WeatherMirror::default();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).expect("date");
        let t = "zw/v1/weather/town";
        let none = SoilRules::default();
        let first = msg(
            "2026-12-06T06:00:00Z",
            r#"{"day":"2026-12-05","c":3.0}"#,
            r#"{"day":"2026-12-06","c":1.0},{"day":"2026-12-08","c":-2.0}"#,
        );
        assert_eq!(m.apply(t, &first, now), Applied::Ok);
        let second = msg(
            "2026-12-07T05:00:00Z",
            r#"{"day":"2026-12-06","c":1.5}"#,
            r#"{"day":"2026-12-07","c":0.5}"#,
        );
        assert_eq!(m.apply(t, &second, now), Applied::Ok);
        let k = m.for_site("any-site", &none);
        assert_eq!(k.observed.get(&day(5)), Some(&3.0));
        assert_eq!(k.observed.get(&day(6)), Some(&1.5));
        assert_eq!(k.forecast.keys().copied().collect::<Vec<_>>(), vec![day(7)]);
        // NaN cannot be JSON; an absurd value, a wrong topic or garbage change nothing.
        let hot = msg("2026-12-07T05:00:00Z", "", r#"{"day":"2026-12-07","c":99}"#);
        assert_eq!(m.apply(t, &hot, now), Applied::Invalid);
        assert_eq!(m.apply("zw/v1/weather/city", &second, now), Applied::Invalid);
        assert_eq!(m.apply(t, b"{", now), Applied::Invalid);
        assert_eq!(m.for_site("x", &none), k);
        // A second area: a site takes the area of its name, else none.
        let city = String::from_utf8(second.clone())
            .expect("utf8")
            .replace("town", "hh-1");
        assert_eq!(m.apply("zw/v1/weather/hh-1", city.as_bytes(), now), Applied::Ok);
        assert!(!m.for_site("hh-1", &none).is_empty());
        assert!(m.for_site("other", &none).is_empty());
        // A configured area comes first; the default area serves the sites without one.
        let mut rules = SoilRules::default();
        rules.site_area.insert("hh-1".into(), "town".into());
        rules.default_area = Some("hh-1".into());
        assert_eq!(m.for_site("hh-1", &rules), k);
        assert!(!m.for_site("other", &rules).is_empty());
        assert_ne!(m.for_site("other", &rules), k);
    }
}
