//! Wired M-Bus polling settings (`[gateway.mbus]`) and SML stream settings (`[gateway.sml]`). The meters
//! themselves are inventory devices with `source = { type = "mbus", … }` or `{ type = "sml", … }`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Timeouts, retries, back-off and health of the wired M-Bus poller.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MbusConfig {
    /// How long one request waits for its answer (EN 60870-5-1 allows 330 bit times + 50 ms: ~0.2 s at
    /// 2400 Bd; USB adapters and M-Bus/Ethernet gateways add their own delay).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Repeats of a request that got no valid answer (timeout or checksum error), with the same FCB.
    pub retries: u32,
    /// Timeout of a probe of a failing meter (one SND_NKE or select, answered by `E5`).
    #[serde(with = "humantime_serde")]
    pub probe_timeout: Duration,
    /// Share of a bus's time (0–1) that probes of failing meters may take while other meters on it answer.
    pub failing_share: f64,
    /// Longest back-off between probes of one failing meter.
    #[serde(with = "humantime_serde")]
    pub device_backoff_max: Duration,
    /// How long a due probe waits for a gap in the bus's schedule before it may delay other meters.
    #[serde(with = "humantime_serde")]
    pub probe_max_wait: Duration,
    /// Telegrams read at most in one multi-telegram answer (DIF `1F` asks for the next one).
    pub max_telegrams: u32,
    /// Failed reads in a row after which a meter is reported offline (fewer: degraded).
    pub offline_after: u32,
    /// How often an unchanged meter status is republished (retained).
    #[serde(with = "humantime_serde")]
    pub status_refresh: Duration,
}

impl Default for MbusConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_millis(1000),
            retries: 2,
            probe_timeout: Duration::from_millis(500),
            failing_share: 0.1,
            device_backoff_max: Duration::from_secs(600),
            probe_max_wait: Duration::from_secs(60),
            max_telegrams: 16,
            offline_after: 3,
            status_refresh: Duration::from_secs(60),
        }
    }
}

impl MbusConfig {
    /// Reports every invalid setting, prefixed with `gateway.mbus.`: a `request_timeout` or `probe_timeout`
    /// under 10 ms or over 30 s; `retries` over 5; `failing_share` outside (0, 1]; `device_backoff_max`
    /// under 1 s; `max_telegrams` 0 or over 256; `offline_after` 0; `status_refresh` under 1 s.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let p = "gateway.mbus";
        let sane = Duration::from_millis(10)..=Duration::from_secs(30);
        if !sane.contains(&self.request_timeout) {
            errors.push(format!("{p}.request_timeout: must be 10ms..=30s"));
        }
        if !sane.contains(&self.probe_timeout) {
            errors.push(format!("{p}.probe_timeout: must be 10ms..=30s"));
        }
        if self.retries > 5 {
            errors.push(format!("{p}.retries: must be at most 5, got {}", self.retries));
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
        if !(1..=256).contains(&self.max_telegrams) {
            errors.push(format!("{p}.max_telegrams: must be 1..=256"));
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

/// Reading SML push streams (optical heads on a serial port or behind ser2net).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmlConfig {
    /// A stream that delivered no valid file for this long is reconnected and its meter marked failing
    /// (meters push every 1–4 s).
    #[serde(with = "humantime_serde")]
    pub silence_timeout: Duration,
    /// Longest back-off between reconnects of a stream that fails.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// At most one reading per meter per this interval is published (the files in between are decoded,
    /// checked and counted).
    #[serde(with = "humantime_serde")]
    pub publish_interval: Duration,
    /// Silences or failed connects in a row after which a meter is reported offline.
    pub offline_after: u32,
    /// How often an unchanged meter status is republished (retained).
    #[serde(with = "humantime_serde")]
    pub status_refresh: Duration,
}

impl Default for SmlConfig {
    fn default() -> Self {
        Self {
            silence_timeout: Duration::from_secs(15),
            reconnect_max: Duration::from_secs(30),
            publish_interval: Duration::from_secs(5),
            offline_after: 3,
            status_refresh: Duration::from_secs(60),
        }
    }
}

impl SmlConfig {
    /// Reports every invalid setting, prefixed with `gateway.sml.`: a `silence_timeout` under 100 ms, a
    /// `reconnect_max` under 100 ms, a `publish_interval` over 1 h, `offline_after` 0, a `status_refresh`
    /// under 1 s.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let p = "gateway.sml";
        if self.silence_timeout < Duration::from_millis(100) {
            errors.push(format!("{p}.silence_timeout: must be at least 100ms"));
        }
        if self.reconnect_max < Duration::from_millis(100) {
            errors.push(format!("{p}.reconnect_max: must be at least 100ms"));
        }
        if self.publish_interval > Duration::from_secs(3600) {
            errors.push(format!("{p}.publish_interval: must be at most 1h"));
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
        assert!(MbusConfig::default().validate().is_empty());
        assert!(SmlConfig::default().validate().is_empty());
        let bad = MbusConfig {
            request_timeout: Duration::ZERO,
            retries: 9,
            probe_timeout: Duration::from_secs(60),
            failing_share: 1.5,
            device_backoff_max: Duration::ZERO,
            probe_max_wait: Duration::ZERO,
            max_telegrams: 0,
            offline_after: 0,
            status_refresh: Duration::ZERO,
        };
        assert_eq!(bad.validate().len(), 8, "{:#?}", bad.validate());
        let bad = SmlConfig {
            silence_timeout: Duration::ZERO,
            reconnect_max: Duration::ZERO,
            publish_interval: Duration::from_secs(7200),
            offline_after: 0,
            status_refresh: Duration::ZERO,
        };
        assert_eq!(bad.validate().len(), 5, "{:#?}", bad.validate());
        let parsed: MbusConfig = toml::from_str("request_timeout = \"300ms\"\nretries = 1").expect("parses");
        assert_eq!(
            (parsed.request_timeout, parsed.retries),
            (Duration::from_millis(300), 1)
        );
        assert!(toml::from_str::<SmlConfig>("silence = \"1s\"").is_err());
    }
}
