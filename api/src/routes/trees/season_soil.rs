//! The soil side of the season report: each tree sensor's daily means and reading counts over the season,
//! read from the time-series store through the read interface ([`zw_influx::read`], local days of the API's
//! time zone), each day's mean put on the dryness scale analytics judges by ([`zw_model::tree::dryness`]:
//! critical at 1, [`SoilState::from_dryness`]) with analytics' settings (`[analytics.trees]` as
//! [`SoilRules`]: `critical_kpa`, the tree's soil profile for VWC), each depth weighed by its roots
//! ([`SoilRules::weights`]) for `combine = "mean"`.
//!
//! Expected readings come from each sensor's reporting interval, `[api.season]` ([`SeasonConfig`]): a
//! LoRaWAN sensor's uplink interval is set in the device, and neither the inventory nor The Things Stack
//! states it, so it is configured here; the default is the Dragino LSE01's factory interval (20 minutes).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use zw_influx::read::{Agg, Request, Shape};
use zw_model::tree::SoilState;
use zw_model::tree::dryness::{Scale, SoilRules};
use zw_model::tree::season::{SensorDay, SensorSeason};
use zw_model::{Quantity, Tree, storage};

use crate::AppState;
use crate::error::ApiError;

/// The season report's settings (`[api.season]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeasonConfig {
    /// How often a soil sensor reports, for its uptime (readings expected = season / interval); default
    /// 20 minutes, the Dragino LSE01's factory uplink interval. At least 1 minute.
    #[serde(with = "humantime_serde")]
    pub sensor_interval: Duration,
    /// The interval per sensor device id where it differs (e.g. `{ "trs21-7" = "10m" }`); each at least 1
    /// minute.
    #[serde(with = "humantime_serde_map")]
    pub sensor_interval_by_device: BTreeMap<String, Duration>,
}

impl Default for SeasonConfig {
    fn default() -> Self {
        Self {
            sensor_interval: Duration::from_secs(20 * 60),
            sensor_interval_by_device: BTreeMap::new(),
        }
    }
}

mod humantime_serde_map {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct D(#[serde(with = "humantime_serde")] Duration);

    pub fn serialize<S: Serializer>(m: &BTreeMap<String, Duration>, s: S) -> Result<S::Ok, S::Error> {
        m.iter()
            .map(|(k, v)| (k, D(*v)))
            .collect::<BTreeMap<_, _>>()
            .serialize(s)
    }

    pub fn deserialize<'de, De: Deserializer<'de>>(d: De) -> Result<BTreeMap<String, Duration>, De::Error> {
        Ok(BTreeMap::<String, D>::deserialize(d)?
            .into_iter()
            .map(|(k, D(v))| (k, v))
            .collect())
    }
}

impl SeasonConfig {
    /// Reports every invalid setting, prefixed with `api.season.`: an interval (the default or a device's)
    /// under 1 minute.
    pub fn validate(&self) -> Vec<String> {
        let short = |d: &Duration| *d < Duration::from_secs(60);
        let mut errors = Vec::new();
        if short(&self.sensor_interval) {
            errors.push("api.season.sensor_interval: must be at least 1m".to_string());
        }
        for (device, d) in self.sensor_interval_by_device.iter().filter(|(_, d)| short(d)) {
            errors.push(format!(
                "api.season.sensor_interval_by_device.{device}: must be at least 1m, got {}s",
                d.as_secs()
            ));
        }
        errors
    }

    /// The reporting interval of `device`.
    pub fn interval(&self, device: &str) -> Duration {
        self.sensor_interval_by_device
            .get(device)
            .copied()
            .unwrap_or(self.sensor_interval)
    }
}

/// The fields read per sensor: tension, then the moisture of each depth from the top.
fn fields() -> Vec<&'static str> {
    std::iter::once(Quantity::SoilWaterTension.name())
        .chain(Quantity::SOIL_MOISTURE_BY_DEPTH.iter().map(|q| q.name()))
        .collect()
}

/// A day's mean `value` of field `k` (0 tension, 1.. moisture depths) of `tree` on analytics' dryness
/// scale; `None` when the tree's soil profile is unknown (a VWC value cannot be judged).
pub fn dryness(rules: &SoilRules, tree: &str, k: usize, value: f64) -> Option<f64> {
    let scale = if k == 0 {
        rules.tension()
    } else {
        Scale::vwc(rules.soil_of(tree)?)
    };
    Some(scale.dryness(value))
}

/// Whether a day's mean `value` of field `k` is critical for `tree` ([`dryness`] at 1 or more).
pub fn critical(rules: &SoilRules, tree: &str, k: usize, value: f64) -> Option<bool> {
    dryness(rules, tree, k, value).map(|d| SoilState::from_dryness(d) == SoilState::Critical)
}

/// Every sensor (and depth) of `trees` over `[from, to)`: its local days with readings, critical or not.
/// A depth with no reading in the season is still listed (uptime 0) for depth 1; further depths only when
/// they reported.
pub async fn sensor_seasons(
    state: &AppState,
    trees: &[Tree],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<SensorSeason>, ApiError> {
    let tz = state.config.timezone();
    let names = fields();
    let pairs: Vec<(&Tree, &zw_model::Id)> = trees
        .iter()
        .flat_map(|t| t.sensors.iter().map(move |s| (t, s)))
        .collect();
    if pairs.is_empty() || to <= from {
        return Ok(pairs
            .iter()
            .map(|(t, s)| empty(t, s, &state.config.season))
            .collect());
    }
    let request = |device: &str, agg| {
        Request::raw(storage::MEASUREMENT, &names)
            .tag(storage::TAG_DEVICE, device)
            .range(from, to)
            .shape(Shape::Days {
                agg,
                tz,
                at: NaiveTime::MIN,
            })
    };
    let requests: Vec<Request> = pairs
        .iter()
        .flat_map(|(_, s)| [request(s.as_str(), Agg::Mean), request(s.as_str(), Agg::Count)])
        .collect();
    let answers = crate::db::read_all(state, "the soil readings", &requests).await?;
    let trees_cfg = &state.config.trees;
    let mut out = Vec::new();
    for ((tree, device), pair) in pairs.iter().zip(answers.chunks(2)) {
        let [means, counts] = pair else { continue };
        let mut per_depth: BTreeMap<usize, Vec<SensorDay>> = BTreeMap::new();
        let rows = |g: &[zw_influx::read::Group]| -> BTreeMap<DateTime<Utc>, Vec<Option<f64>>> {
            g.iter()
                .flat_map(|g| g.rows.iter())
                .filter_map(|r| Some((r.time()?, r.values.clone())))
                .collect()
        };
        let counts = rows(counts);
        for (start, values) in rows(means) {
            let n = counts.get(&start);
            let day = start.with_timezone(&tz).date_naive();
            // A reading carries tension or the first depth's moisture: both are depth 1.
            for (k, v) in values.iter().enumerate() {
                let Some(v) = v else { continue };
                let Some(dryness) = dryness(trees_cfg, tree.id.as_str(), k, *v) else {
                    continue;
                };
                let readings = n.and_then(|c| c.get(k).copied().flatten()).unwrap_or(0.0);
                let depth = k.max(1);
                let days = per_depth.entry(depth).or_default();
                match days.iter_mut().find(|d| d.day == day) {
                    Some(d) => {
                        d.dryness = d.dryness.max(dryness);
                        d.readings = d.readings.max(readings as u64);
                    }
                    None => days.push(SensorDay {
                        day,
                        dryness,
                        readings: readings as u64,
                    }),
                }
            }
        }
        per_depth.entry(1).or_default();
        let interval = state.config.season.interval(device.as_str());
        let weights = trees_cfg.weights(tree);
        out.extend(per_depth.into_iter().map(|(depth, days)| {
            let depth = u8::try_from(depth).unwrap_or(u8::MAX);
            let weight = weights
                .iter()
                .find(|(d, k, _)| d == *device && *k == depth)
                .map_or(1.0, |w| w.2);
            SensorSeason {
                tree: tree.id.clone(),
                device: (*device).clone(),
                depth,
                interval,
                days,
                weight,
            }
        }));
    }
    Ok(out)
}

fn empty(tree: &Tree, device: &zw_model::Id, cfg: &SeasonConfig) -> SensorSeason {
    SensorSeason {
        tree: tree.id.clone(),
        device: device.clone(),
        depth: 1,
        interval: cfg.interval(device.as_str()),
        days: Vec::new(),
        weight: 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_judged_by_the_analytics_scale() {
        let trees = SoilRules::default();
        // Tension: critical from analytics' critical_kpa (81) on.
        assert_eq!(critical(&trees, "t", 0, 80.0), Some(false));
        assert_eq!(critical(&trees, "t", 0, 81.0), Some(true));
        // VWC on the default loam (field capacity 28 %, wilting point 14 %): critical at 21 % and below.
        assert_eq!(critical(&trees, "t", 1, 21.5), Some(false));
        assert_eq!(critical(&trees, "t", 2, 21.0), Some(true));
        // A tree on sand (10 / 4 %: critical at 7 %).
        let mut sandy = SoilRules::default();
        sandy.tree_soil.insert("t".into(), "sand".into());
        assert_eq!(critical(&sandy, "t", 1, 8.0), Some(false));
        assert_eq!(critical(&sandy, "t", 1, 7.0), Some(true));
        // An unknown profile: a VWC day cannot be judged (unknown, not good).
        sandy.tree_soil.insert("t".into(), "peat".into());
        assert_eq!(critical(&sandy, "t", 1, 30.0), None);
    }

    #[test]
    fn intervals_are_validated_and_looked_up_per_device() {
        let mut c = SeasonConfig::default();
        assert!(c.validate().is_empty());
        assert_eq!(c.interval("lse01-1"), Duration::from_secs(1200));
        c.sensor_interval_by_device
            .insert("trs21".into(), Duration::from_secs(600));
        assert_eq!(c.interval("trs21"), Duration::from_secs(600));
        c.sensor_interval = Duration::from_secs(30);
        c.sensor_interval_by_device
            .insert("fast".into(), Duration::from_secs(5));
        assert_eq!(
            c.validate(),
            [
                "api.season.sensor_interval: must be at least 1m",
                "api.season.sensor_interval_by_device.fast: must be at least 1m, got 5s"
            ]
        );
        let toml = "sensor_interval = \"15m\"\nsensor_interval_by_device = { trs21 = \"10m\" }\n";
        let parsed: SeasonConfig = toml::from_str(toml).expect("toml");
        assert_eq!(parsed.interval("trs21"), Duration::from_secs(600));
        assert_eq!(parsed.interval("x"), Duration::from_secs(900));
    }
}
