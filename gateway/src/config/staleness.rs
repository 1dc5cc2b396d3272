//! When an MQTT device counts as stale: a configured multiple of the interval its adapter's devices are
//! expected to report at (`[gateway.mqtt_staleness]`), capped by `gateway.mqtt_stale_after`.
//!
//! Defaults follow the devices' own defaults: Tasmota telemetry every `TelePeriod` (300 s), Shelly status
//! and `NotifyStatus` at least every minute (the `aenergy.by_minute` roll-over), LoRaWAN soil sensors
//! behind The Things Stack every 20 minutes (Dragino's default TDC), generic JSON devices every 5 minutes.
//! A device is marked offline (error kind `timeout`) once it has been quiet for `factor` × its expected
//! interval; its last will (`LWT`, Shelly `online`) marks it at once.

use std::time::Duration;

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// Expected reporting intervals per adapter and the stale multiple.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Staleness {
    /// Missed intervals after which a quiet device is stale (≥ 1).
    pub factor: f64,
    /// Tasmota `TelePeriod`.
    #[serde(with = "humantime_serde")]
    pub tasmota: Duration,
    /// Shelly status / `NotifyStatus` period.
    #[serde(with = "humantime_serde")]
    pub shelly: Duration,
    /// Uplink interval of devices behind The Things Stack.
    #[serde(with = "humantime_serde")]
    pub ttn: Duration,
    /// Generic JSON devices.
    #[serde(with = "humantime_serde")]
    pub json: Duration,
}

impl Default for Staleness {
    fn default() -> Self {
        Self {
            factor: 3.0,
            tasmota: Duration::from_secs(300),
            shelly: Duration::from_secs(60),
            ttn: Duration::from_secs(20 * 60),
            json: Duration::from_secs(300),
        }
    }
}

impl Staleness {
    /// Reports invalid settings, prefixed with `gateway.mqtt_staleness.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(self.factor.is_finite() && self.factor >= 1.0) {
            errors.push("gateway.mqtt_staleness.factor: must be a number ≥ 1".into());
        }
        for (name, d) in [
            ("tasmota", self.tasmota),
            ("shelly", self.shelly),
            ("ttn", self.ttn),
            ("json", self.json),
        ] {
            if d < Duration::from_secs(1) {
                errors.push(format!("gateway.mqtt_staleness.{name}: must be at least 1s"));
            }
        }
        errors
    }

    /// The expected interval of an adapter's devices (`tasmota`, `shelly`, `ttn`, `json`).
    pub fn expected(&self, adapter: &str) -> Duration {
        match adapter {
            "tasmota" => self.tasmota,
            "shelly" => self.shelly,
            "ttn" => self.ttn,
            _ => self.json,
        }
    }

    /// How long a device of `adapter` may stay quiet: `factor` × expected, at most `cap`.
    pub fn stale_after(&self, adapter: &str, cap: Duration) -> TimeDelta {
        let d = self
            .expected(adapter)
            .mul_f64(self.factor.clamp(1.0, 1e6))
            .min(cap);
        TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiples_of_the_expected_interval_capped() {
        let s = Staleness::default();
        let cap = Duration::from_secs(30 * 60);
        assert_eq!(s.stale_after("tasmota", cap), TimeDelta::minutes(15));
        assert_eq!(s.stale_after("shelly", cap), TimeDelta::minutes(3));
        assert_eq!(s.stale_after("ttn", cap), TimeDelta::minutes(30), "capped");
        assert_eq!(s.stale_after("json", cap), TimeDelta::minutes(15));
        assert!(s.validate().is_empty());
        let bad = Staleness {
            factor: 0.5,
            shelly: Duration::ZERO,
            ..Staleness::default()
        };
        assert_eq!(bad.validate().len(), 2);
        let cfg: Staleness = toml::from_str("factor = 2\nttn = \"10m\"").expect("valid");
        assert_eq!(cfg.stale_after("ttn", cap), TimeDelta::minutes(20));
    }

    /// The documented example's `[gateway]` section (with `[gateway.mqtt_staleness]`) is a valid config.
    #[test]
    fn the_example_config_documents_valid_settings() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/zaehlwerk.example.toml");
        let text = std::fs::read_to_string(path).expect("example config");
        let doc: toml::Table = toml::from_str(&text).expect("valid TOML");
        let gateway = doc.get("gateway").cloned().expect("[gateway]");
        let cfg: crate::Config = gateway.try_into().expect("valid [gateway]");
        assert_eq!(cfg.validate(), Vec::<String>::new());
        assert_eq!(cfg.mqtt_staleness, Staleness::default());
        let buffer = crate::buffer::BufferConfig::default();
        assert_eq!(
            (cfg.buffer.max_bytes, cfg.buffer.memory_max_bytes),
            (buffer.max_bytes, buffer.memory_max_bytes),
            "[gateway.buffer] documents the defaults"
        );
        assert!(cfg.buffer.path.is_some(), "the example keeps its buffer on disk");
    }
}
