//! Modbus scheduling and health settings (`[gateway.modbus]`). Request and connect timeouts stay in
//! `[gateway]` for compatibility.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How polls are placed on their grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Each device gets a fixed offset within its interval, derived from its id: load is spread evenly and
    /// devices sharing a connection rarely wait for each other.
    Spread,
    /// Every device polls on the wall-clock multiple of its interval (:00, :05, …): simultaneous snapshots,
    /// bursts of requests.
    Aligned,
}

/// Scheduling, back-off and health settings of the Modbus poller.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModbusConfig {
    /// Placement of polls within their interval.
    pub phase: Phase,
    /// Timeout of a probe: the single 2-register read that checks whether a failing device is back.
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
    /// Share of an endpoint's time (0–1) that probes of failing devices may take while other devices on
    /// it are healthy.
    pub failing_share: f64,
    /// Longest back-off between probes of one failing device (it starts at the device's interval and
    /// doubles per failure, with jitter).
    #[serde(with = "humantime_serde")]
    pub device_backoff_max: Duration,
    /// How long a due probe waits for a gap in the endpoint's schedule before it may delay other devices.
    #[serde(with = "humantime_serde")]
    pub probe_max_wait: Duration,
    /// Failed polls in a row after which a device is reported offline (fewer: degraded).
    pub offline_after: u32,
    /// How often an unchanged device status is republished (retained).
    #[serde(with = "humantime_serde")]
    pub status_refresh: Duration,
}

impl Default for ModbusConfig {
    fn default() -> Self {
        Self {
            phase: Phase::Spread,
            probe_timeout: Duration::from_millis(250),
            failing_share: 0.02,
            device_backoff_max: Duration::from_secs(60),
            probe_max_wait: Duration::from_secs(60),
            offline_after: 3,
            status_refresh: Duration::from_secs(60),
        }
    }
}

impl ModbusConfig {
    /// Reports every invalid setting, prefixed with `gateway.modbus.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let p = "gateway.modbus";
        if self.probe_timeout < Duration::from_millis(10) {
            errors.push(format!("{p}.probe_timeout: must be at least 10ms"));
        }
        if !(self.failing_share > 0.0 && self.failing_share <= 1.0) {
            errors.push(format!(
                "{p}.failing_share: must be in (0, 1], got {}",
                self.failing_share
            ));
        }
        if self.device_backoff_max < Duration::from_secs(1) {
            errors.push(format!("{p}.device_backoff_max: must be at least 1s"));
        }
        if self.offline_after == 0 {
            errors.push(format!("{p}.offline_after: must be at least 1"));
        }
        if self.status_refresh < Duration::from_secs(1) {
            errors.push(format!("{p}.status_refresh: must be at least 1s"));
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_every_error_is_listed() {
        assert!(ModbusConfig::default().validate().is_empty());
        let bad = ModbusConfig {
            probe_timeout: Duration::ZERO,
            failing_share: 0.0,
            device_backoff_max: Duration::ZERO,
            offline_after: 0,
            status_refresh: Duration::ZERO,
            ..ModbusConfig::default()
        };
        assert_eq!(bad.validate().len(), 5, "{:?}", bad.validate());
        let parsed: ModbusConfig =
            toml::from_str("phase = \"aligned\"\nprobe_timeout = \"100ms\"").expect("parses");
        assert_eq!(
            (parsed.phase, parsed.probe_timeout),
            (Phase::Aligned, Duration::from_millis(100))
        );
        assert!(toml::from_str::<ModbusConfig>("phases = 1").is_err());
    }
}
