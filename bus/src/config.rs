//! Broker connection settings (`[bus]` in the config file).

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How to reach the MQTT broker.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Broker host name or address.
    pub host: String,
    /// Broker TCP port.
    pub port: u16,
    /// Prefix of the MQTT client id; the service name and instance are appended.
    pub client_id_prefix: String,
    /// Optional user name.
    pub username: Option<String>,
    /// Optional password (never logged).
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// MQTT keep-alive interval.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// Largest accepted packet, in bytes; larger messages are refused by the client.
    pub max_packet_size: usize,
    /// Capacity of the inbound message queue between the event loop and the consumer.
    pub inbound_capacity: usize,
    /// Messages the connection driver holds beyond `inbound_capacity` for a consumer that must not lose any
    /// (`FullPolicy::Block`), so that it keeps reading the socket and answering keep-alives while the
    /// consumer is busy. Keep it at least the broker's in-flight limit for manually acknowledging consumers
    /// (mosquitto `max_inflight_messages`, 20,000 in `deploy/conf`), which then never fill it; when it is full
    /// the driver stops reading until there is room, counted in `zw_bus_inbound_stalls_total`.
    pub inbound_overflow: usize,
    /// Payload bytes the inbound queue and overflow hold at most together (`FullPolicy::Block`): messages
    /// range from one reading (≈ 200 bytes) to batches of hundreds of kilobytes, so the message counts above
    /// do not bound memory. Keep it at least the broker's `max_inflight_bytes` (8 MiB in `deploy/conf`); when
    /// it is reached the driver stops reading until the consumer has read, counted like a full overflow.
    pub inbound_max_bytes: usize,
    /// First reconnect delay; doubles per failed attempt up to `reconnect_max`, with ±25 % jitter.
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id_prefix: "zaehlwerk".into(),
            username: None,
            password: None,
            keep_alive: Duration::from_secs(15),
            max_packet_size: 256 * 1024,
            inbound_capacity: 10_000,
            inbound_overflow: 65_536,
            inbound_max_bytes: 32 * 1024 * 1024,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `bus.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.host.is_empty() {
            errors.push("bus.host: must not be empty".into());
        }
        if self.port == 0 {
            errors.push("bus.port: must not be 0".into());
        }
        if self.keep_alive < Duration::from_secs(1) {
            errors.push("bus.keep_alive: must be at least 1s".into());
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_packet_size) {
            errors.push("bus.max_packet_size: must be between 1 KiB and 256 MiB".into());
        }
        if self.inbound_capacity == 0 {
            errors.push("bus.inbound_capacity: must be at least 1".into());
        }
        if self.inbound_overflow == 0 {
            errors.push("bus.inbound_overflow: must be at least 1".into());
        }
        if self.inbound_max_bytes < self.max_packet_size {
            errors.push("bus.inbound_max_bytes: must be at least bus.max_packet_size".into());
        }
        if self.reconnect_min.is_zero() || self.reconnect_min > self.reconnect_max {
            errors.push("bus.reconnect_min: must be > 0 and <= reconnect_max".into());
        }
        errors
    }
}
