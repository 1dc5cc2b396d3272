//! Broker connection settings (`[bus]` in the config file).

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The framing limit shipped for clients and broker alike (`max_packet_size` in `deploy/conf/mosquitto.conf.in`).
pub const DEFAULT_MAX_PACKET_SIZE: usize = 1024 * 1024;

/// Room a packet needs besides its payload: fixed header (≤ 5 bytes), topic (2 + up to 65,535 bytes) and
/// packet id (2 bytes).
pub const PACKET_OVERHEAD: usize = 5 + 2 + 65_535 + 2;

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
    /// The client's framing limit, in bytes: the largest MQTT packet it reads or writes. A larger packet
    /// from the broker breaks the connection and, on a persistent session, is re-delivered after every
    /// reconnect, so it must be at least the broker's own limit (mosquitto `max_packet_size`, 1 MiB in
    /// `deploy/conf`), which then refuses larger messages at the door.
    pub max_packet_size: usize,
    /// The application's limit on one message's payload, in bytes: consumers reject larger messages (counted
    /// in `zw_bus_messages_oversized_total`, dead-lettered by ingest, acknowledged) and publishers split or
    /// refuse anything larger. At most `max_packet_size` minus [`PACKET_OVERHEAD`], so every message a
    /// consumer may reject still fits the framing and can never wedge a connection.
    pub max_message_bytes: usize,
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
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
            max_message_bytes: 256 * 1024,
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
        if self.max_message_bytes == 0 {
            errors.push("bus.max_message_bytes: must be at least 1".into());
        }
        if self.max_message_bytes.saturating_add(PACKET_OVERHEAD) > self.max_packet_size {
            errors.push(format!(
                "bus.max_message_bytes: must be at most bus.max_packet_size - {PACKET_OVERHEAD} (topic and header), \
                 i.e. {}: a message the application rejects must still fit the client's framing",
                self.max_packet_size.saturating_sub(PACKET_OVERHEAD)
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_limits_agree() {
        let cfg = Config::default();
        assert_eq!(cfg.validate(), Vec::<String>::new());
        assert!(cfg.max_message_bytes + PACKET_OVERHEAD <= cfg.max_packet_size);
    }

    #[test]
    fn a_message_limit_the_framing_cannot_carry_is_refused() {
        let cfg = Config {
            max_packet_size: 256 * 1024,
            max_message_bytes: 256 * 1024,
            inbound_max_bytes: 1024,
            ..Config::default()
        };
        let errors = cfg.validate();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("bus.max_message_bytes: must be at most"),
            "{errors:?}"
        );
        assert!(errors[1].starts_with("bus.inbound_max_bytes"), "{errors:?}");
    }

    #[test]
    fn the_shipped_broker_config_sets_the_same_packet_limit() {
        let conf = include_str!("../../deploy/conf/mosquitto.conf.in");
        let limit = conf
            .lines()
            .find_map(|l| l.strip_prefix("max_packet_size "))
            .and_then(|v| v.trim().parse::<usize>().ok());
        assert_eq!(limit, Some(DEFAULT_MAX_PACKET_SIZE));
    }
}
