//! Gateway settings (`[gateway]` in the config file), with its tables: [`modbus`] (`[gateway.modbus]`) and
//! [`staleness`] (`[gateway.mqtt_staleness]`); `[gateway.publish]` is [`crate::publish::PublishConfig`],
//! `[gateway.buffer]` [`crate::buffer::BufferConfig`], `[gateway.wmbus]` [`crate::wmbus::WmbusConfig`];
//! [`mbus`] holds `[gateway.mbus]` (wired M-Bus polling) and `[gateway.sml]` (SML streams); `[gateway.shards]`
//! is [`crate::shards::ShardsConfig`].
//! Devices themselves come from the inventory.

pub mod mbus;
pub mod modbus;
pub mod staleness;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use mbus::{MbusConfig, SmlConfig};
pub use modbus::{ModbusConfig, Phase};
pub use staleness::Staleness;

/// Gateway settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Instance name; distinguishes several gateways on one broker.
    pub instance: String,
    /// Timeout of one Modbus request; after a timeout the connection is re-opened.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Timeout for opening a Modbus TCP connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Longest back-off between reconnect attempts to an unreachable endpoint.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// Device MQTT messages larger than this are rejected and counted.
    pub max_payload_bytes: usize,
    /// Tasmota FullTopic layout; `%prefix%` and `%topic%` are substituted.
    pub tasmota_full_topic: String,
    /// The longest an MQTT device may stay quiet before it is marked offline on its status topic (each
    /// device's own limit comes from `mqtt_staleness`).
    #[serde(with = "humantime_serde")]
    pub mqtt_stale_after: Duration,
    /// Expected reporting interval per MQTT adapter and the stale multiple (`[gateway.mqtt_staleness]`).
    pub mqtt_staleness: Staleness,
    /// How often an MQTT device's unchanged status is republished.
    #[serde(with = "humantime_serde")]
    pub mqtt_status_refresh: Duration,
    /// At most one rejected message per device per this interval goes to the dead-letter topic.
    #[serde(with = "humantime_serde")]
    pub deadletter_interval: Duration,
    /// Bytes of the rejected payload kept in a dead letter.
    pub deadletter_excerpt_bytes: usize,
    /// Directories whose `*.toml` meter profiles are loaded at start, besides the built-in ones.
    pub profile_dirs: Vec<std::path::PathBuf>,
    /// Modbus scheduling, back-off and health (`[gateway.modbus]`).
    pub modbus: ModbusConfig,
    /// How readings go on the bus: one message each, or batches (`[gateway.publish]`).
    pub publish: crate::publish::PublishConfig,
    /// The outage buffer between the publisher and the bus (`[gateway.buffer]`).
    pub buffer: crate::buffer::BufferConfig,
    /// Wireless M-Bus receivers (`[gateway.wmbus]`).
    pub wmbus: crate::wmbus::WmbusConfig,
    /// Wired M-Bus polling (`[gateway.mbus]`).
    pub mbus: MbusConfig,
    /// SML push streams (`[gateway.sml]`).
    pub sml: SmlConfig,
    /// Several gateways splitting the inventory (`[gateway.shards]`).
    pub shards: crate::shards::ShardsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            instance: "gw1".into(),
            request_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(2),
            reconnect_max: Duration::from_secs(30),
            max_payload_bytes: 64 * 1024,
            tasmota_full_topic: "%prefix%/%topic%/".into(),
            mqtt_stale_after: Duration::from_secs(30 * 60),
            mqtt_staleness: Staleness::default(),
            mqtt_status_refresh: Duration::from_secs(60),
            deadletter_interval: Duration::from_secs(60),
            deadletter_excerpt_bytes: 2048,
            profile_dirs: Vec::new(),
            modbus: crate::ModbusConfig::default(),
            publish: crate::publish::PublishConfig::default(),
            buffer: crate::buffer::BufferConfig::default(),
            wmbus: crate::wmbus::WmbusConfig::default(),
            mbus: MbusConfig::default(),
            sml: SmlConfig::default(),
            shards: crate::shards::ShardsConfig::default(),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `gateway.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if zw_model::Id::new(self.instance.clone()).is_err() {
            errors.push(format!(
                "gateway.instance: {:?} must be a valid id (a-z, 0-9, - and _)",
                self.instance
            ));
        }
        if self.request_timeout < Duration::from_millis(10) {
            errors.push("gateway.request_timeout: must be at least 10ms".into());
        }
        if self.connect_timeout < Duration::from_millis(10) {
            errors.push("gateway.connect_timeout: must be at least 10ms".into());
        }
        if self.max_payload_bytes < 256 {
            errors.push("gateway.max_payload_bytes: must be at least 256".into());
        }
        errors.extend(self.modbus.validate());
        errors.extend(self.publish.validate());
        errors.extend(self.buffer.validate());
        errors.extend(self.wmbus.validate());
        errors.extend(self.mbus.validate());
        errors.extend(self.sml.validate());
        errors.extend(self.shards.validate());
        errors.extend(self.mqtt_staleness.validate());
        if let Err(e) = crate::adapters::fulltopic::FullTopic::parse(&self.tasmota_full_topic) {
            errors.push(format!("gateway.tasmota_full_topic: {e}"));
        }
        if self.mqtt_stale_after < Duration::from_secs(1) || self.mqtt_status_refresh < Duration::from_secs(1)
        {
            errors.push("gateway.mqtt_stale_after, gateway.mqtt_status_refresh: must be at least 1s".into());
        }
        if self.deadletter_excerpt_bytes > self.max_payload_bytes {
            errors.push("gateway.deadletter_excerpt_bytes: must not exceed max_payload_bytes".into());
        }
        errors
    }

    /// The SENSOR topic of the Tasmota device with `%topic%` = `device_topic`.
    pub fn tasmota_topic(&self, device_topic: &str, suffix: &str) -> String {
        let base = self
            .tasmota_full_topic
            .replace("%prefix%", "tele")
            .replace("%topic%", device_topic);
        let base = if base.ends_with('/') {
            base
        } else {
            format!("{base}/")
        };
        format!("{base}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasmota_topics_follow_the_full_topic_layout() {
        let mut c = Config::default();
        assert_eq!(c.tasmota_topic("plug1", "SENSOR"), "tele/plug1/SENSOR");
        c.tasmota_full_topic = "tasmota/%topic%/%prefix%".into();
        assert_eq!(c.tasmota_topic("plug1", "SENSOR"), "tasmota/plug1/tele/SENSOR");
        assert!(c.validate().is_empty());
        c.tasmota_full_topic = "x/+/".into();
        assert_eq!(c.validate().len(), 1);
    }
}
