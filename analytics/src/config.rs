//! Analytics settings (`[analytics]` in the config file): typed, documented, every field defaulted, and
//! [`Config::validate`] lists every problem at once with its path.
//!
//! ```toml
//! [analytics.limits]          # static limits per device class
//! plug = "2kW"
//! [analytics.normal]          # learned normal per hour-of-week
//! k_mad = 4.0
//! [analytics.left_on]         # plugs drawing power outside usage hours
//! classes = ["plug"]
//! [analytics.trees.soil_profiles.loam]
//! field_capacity_pct = 28.0
//! wilting_point_pct = 14.0
//! ```

mod calendar;
mod common_cause;
mod energy;
mod inventory;
mod partitions;
mod trees;
pub mod units;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use calendar::{CalendarConfig, DateRange, SiteCalendar, UsageHours};
pub use common_cause::CommonCauseConfig;
pub use energy::{AlertsConfig, BaseloadConfig, LeftOnConfig, NormalConfig, PowerConfig, WarmupConfig};
pub use inventory::validate_inventory;
pub use partitions::PartitionsConfig;
pub use trees::{Combine, FaultConfig, SoilProfile, TreesConfig, WeatherConfig};
pub use units::{ClockTime, Date, Day, MonthDay, Watts};

/// Analytics settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Instance name; part of the MQTT client id.
    pub instance: String,
    /// How often the service logs its health.
    #[serde(with = "humantime_serde")]
    pub health_interval: Duration,
    /// How often time-driven checks run (gaps, stale devices, tree evaluation, alert expiry).
    #[serde(with = "humantime_serde")]
    pub tick_interval: Duration,
    /// Local time zone of usage hours, nights and hour-of-week (IANA name).
    pub timezone: String,
    /// Static power limits per device class (`plug = "2kW"`); above it for `power.hold`, an alert opens.
    pub limits: BTreeMap<String, Watts>,
    /// Smoothing, windows, durations and hysteresis of the power detectors.
    pub power: PowerConfig,
    /// The learned normal per hour-of-week.
    pub normal: NormalConfig,
    /// Devices left on outside usage hours.
    pub left_on: LeftOnConfig,
    /// Usage hours per site and device class, public and school holidays.
    pub calendar: CalendarConfig,
    /// Night and weekend baseload per building.
    pub baseload: BaseloadConfig,
    /// One notice instead of many alerts when a device class is elevated at many sites at once.
    pub common_cause: CommonCauseConfig,
    /// Trees and their soil sensors.
    pub trees: TreesConfig,
    /// Alert lifecycle, persistence and delivery.
    pub alerts: AlertsConfig,
    /// Learning the normal from InfluxDB history at start.
    pub warmup: WarmupConfig,
    /// The early warning before a quarter hour sets a new peak (sites with a demand charge).
    pub peak: crate::peak::PeakConfig,
    /// Several instances, each running its share of the sites ([`crate::partition`]).
    pub partitions: PartitionsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            instance: "analytics1".into(),
            health_interval: Duration::from_secs(60),
            tick_interval: Duration::from_secs(10),
            timezone: "Europe/Berlin".into(),
            limits: BTreeMap::from([("plug".to_string(), Watts(3000.0))]),
            power: PowerConfig::default(),
            normal: NormalConfig::default(),
            left_on: LeftOnConfig::default(),
            calendar: CalendarConfig::default(),
            baseload: BaseloadConfig::default(),
            common_cause: CommonCauseConfig::default(),
            trees: TreesConfig::default(),
            alerts: AlertsConfig::default(),
            warmup: WarmupConfig::default(),
            peak: crate::peak::PeakConfig::default(),
            partitions: PartitionsConfig::default(),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `analytics.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if zw_model::Id::new(self.instance.clone()).is_err() {
            errors.push(format!(
                "analytics.instance: {:?} must be a valid id",
                self.instance
            ));
        }
        if self.health_interval < Duration::from_secs(1) {
            errors.push("analytics.health_interval: must be at least 1s".into());
        }
        if self.tick_interval < Duration::from_millis(100) || self.tick_interval > Duration::from_secs(300) {
            errors.push("analytics.tick_interval: must be between 100ms and 5m".into());
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            errors.push(format!(
                "analytics.timezone: unknown time zone {:?}",
                self.timezone
            ));
        }
        for (class, w) in &self.limits {
            known_class(class, &format!("limits.{class}"), &mut errors);
            if !(w.0.is_finite() && w.0 > 0.0) {
                errors.push(format!("analytics.limits.{class}: must be a positive power"));
            }
        }
        let named = [
            ("left_on.classes", &self.left_on.classes),
            ("power.site_classes", &self.power.site_classes),
            ("common_cause.weather_classes", &self.common_cause.weather_classes),
        ];
        for (path, list) in named {
            for (i, class) in list.iter().enumerate() {
                known_class(class, &format!("{path}[{i}]"), &mut errors);
            }
        }
        self.power.validate(&mut errors);
        self.normal.validate(&mut errors);
        self.left_on.validate(&mut errors);
        self.calendar.validate(&mut errors);
        self.baseload.validate(&mut errors);
        self.common_cause.validate(&mut errors);
        self.trees.validate(&mut errors);
        self.alerts.validate(&mut errors);
        self.warmup.validate(&mut errors);
        self.peak.validate(&mut errors);
        self.partitions.validate(&mut errors);
        errors
    }

    /// The configured time zone (Europe/Berlin if invalid; [`Config::validate`] reports that).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::Europe::Berlin)
    }
}

/// Pushes `analytics.{path}: must be …` when `ok` is false.
pub(crate) fn check(errors: &mut Vec<String>, ok: bool, path: &str, what: &str) {
    if !ok {
        errors.push(format!("analytics.{path}: must be {what}"));
    }
}

/// Pushes `analytics.{path}: unknown device class …` unless `class` is one of [`zw_model::DEVICE_CLASSES`].
pub(crate) fn known_class(class: &str, path: &str, errors: &mut Vec<String>) {
    if !zw_model::inventory::DEVICE_CLASSES.contains(&class) {
        errors.push(format!(
            "analytics.{path}: unknown device class {class:?}; allowed: {}",
            zw_model::inventory::DEVICE_CLASSES.join(", ")
        ));
    }
}

/// A finite number in `lo..=hi`.
pub(crate) fn within(x: f64, lo: f64, hi: f64) -> bool {
    x.is_finite() && (lo..=hi).contains(&x)
}

#[cfg(test)]
mod check_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() {
        let cfg = Config::default();
        assert_eq!(cfg.validate(), Vec::<String>::new());
        let text = toml::to_string(&cfg).expect("renders");
        let back: Config = toml::from_str(&text).expect("re-parses");
        assert_eq!(back, cfg);
    }

    /// Every setting appears, documented, in `deploy/zaehlwerk.example.toml`, and that section is valid.
    #[test]
    fn the_example_config_shows_every_setting() {
        fn keys(v: &toml::Value, path: &str, out: &mut Vec<String>) {
            // Maps keyed by the user (classes, trees, sensors, profiles) are shown as commented examples:
            // setting one replaces the whole default map.
            const USER_KEYED: [&str; 10] = [
                "limits",
                "tree_soil",
                "sensor_depth_cm",
                "sensor_depths_cm",
                "soil_profiles",
                "site_area",
                "sensor_battery",
                "school_holidays",
                "class_usage",
                "sites",
            ];
            if let toml::Value::Table(t) = v {
                for (k, v) in t.iter().filter(|(k, _)| !USER_KEYED.contains(&k.as_str())) {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.push(p.clone());
                    keys(v, &p, out);
                }
            }
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/zaehlwerk.example.toml");
        let text = std::fs::read_to_string(path).expect("example config");
        let file: toml::Value = toml::from_str(&text).expect("example parses");
        let example = file.get("analytics").cloned().expect("[analytics] section");
        let cfg: Config = example.clone().try_into().expect("[analytics] is a valid Config");
        assert_eq!(cfg.validate(), Vec::<String>::new());
        let (mut want, mut have) = (Vec::new(), Vec::new());
        keys(
            &toml::Value::try_from(Config::default()).expect("renders"),
            "",
            &mut want,
        );
        keys(&example, "", &mut have);
        let missing: Vec<&String> = want.iter().filter(|k| !have.contains(k)).collect();
        assert!(
            missing.is_empty(),
            "not in the example: {missing:#?}\ndefaults:\n{}",
            toml::to_string(&Config::default()).unwrap_or_default()
        );
    }

    #[test]
    fn every_error_is_listed_with_its_path() {
        let text = r#"
            timezone = "Mars/Olympus"
            [limits]
            plug = 0
            [power]
            hysteresis = 2.0
            [normal]
            k_mad = -1.0
            [left_on]
            min_power = -5
            [trees]
            default_soil = "peat"
            [trees.soil_profiles.odd]
            field_capacity_pct = 10.0
            wilting_point_pct = 20.0
            [trees.weather]
            default_area = "Town Centre"
            max_forecast_age = "30days"
            [trees.weather.site_area]
            park = "a/b"
        "#;
        let cfg: Config = toml::from_str(text).expect("parses");
        let errors = cfg.validate();
        for path in [
            "analytics.timezone",
            "analytics.limits.plug",
            "analytics.power.hysteresis",
            "analytics.normal.k_mad",
            "analytics.left_on.min_power",
            "analytics.trees.default_soil",
            "analytics.trees.soil_profiles.odd",
            "analytics.trees.weather.default_area",
            "analytics.trees.weather.site_area.park",
            "analytics.trees.weather.max_forecast_age",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(path)),
                "{path} missing in {errors:#?}"
            );
        }
    }
}
