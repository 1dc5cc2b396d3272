//! Dead letters: a sample of rejected device messages, with the reason, on `zw/v1/deadletter/gateway/…`.
//!
//! Every rejection is counted in `zw_gateway_messages_rejected_total{adapter,reason}`; only a sample is
//! published, at most one per device (all unknown topics share one key) per interval, carrying how many
//! were suppressed since the last sample. So a device stuck sending garbage costs one message a minute, and
//! an operator can still see what it sends. Pure: time is passed in.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// Topic root of the gateway's dead letters: `…/{instance}/{device}` (`…/{instance}/_unknown` for topics
/// of no configured device; `_` cannot start a device id, so the two never collide).
pub const ROOT: &str = "zw/v1/deadletter/gateway";

/// One dead letter as published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter<'a> {
    /// Schema version, 1.
    pub v: u32,
    /// Gateway instance.
    pub gateway: &'a str,
    /// Adapter label (`tasmota`, `shelly`, `ttn`, `json`).
    pub adapter: &'a str,
    /// The device, if the topic belongs to one.
    pub device: Option<&'a str>,
    /// The topic the message arrived on.
    pub topic: &'a str,
    /// The metrics reason label.
    pub reason: &'a str,
    /// The full error text.
    pub error: String,
    /// When the message was received.
    pub received: DateTime<Utc>,
    /// Size of the original payload in bytes.
    pub payload_bytes: usize,
    /// The payload (lossy UTF-8), cut to the configured excerpt size.
    pub payload: String,
    /// Rejections of the same key not published since the previous dead letter.
    pub suppressed: u64,
}

impl DeadLetter<'_> {
    /// The topic to publish on.
    pub fn topic(&self) -> String {
        format!("{ROOT}/{}/{}", self.gateway, self.device.unwrap_or("_unknown"))
    }
}

/// Cuts a payload to at most `max` bytes of lossy UTF-8.
pub fn excerpt(payload: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&payload[..payload.len().min(max)]).into_owned()
}

/// Decides which rejections are published: at most one per key per interval.
#[derive(Debug, Clone)]
pub struct Sampler {
    every: TimeDelta,
    keys: HashMap<String, (DateTime<Utc>, u64)>,
}

impl Sampler {
    /// A sampler admitting one rejection per key per `every`.
    pub fn new(every: TimeDelta) -> Self {
        Self {
            every,
            keys: HashMap::new(),
        }
    }

    /// `Some(suppressed since the last admitted one)` if this rejection is to be published.
    pub fn admit(&mut self, key: &str, now: DateTime<Utc>) -> Option<u64> {
        match self.keys.get_mut(key) {
            Some((last, suppressed)) if now - *last < self.every => {
                *suppressed += 1;
                None
            }
            Some((last, suppressed)) => {
                *last = now;
                Some(std::mem::take(suppressed))
            }
            None => {
                self.keys.insert(key.to_owned(), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_per_key_per_interval_with_a_suppressed_count() {
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).expect("valid");
        let mut s = Sampler::new(TimeDelta::minutes(1));
        assert_eq!(s.admit("a", t(0)), Some(0));
        assert_eq!(s.admit("a", t(10)), None);
        assert_eq!(s.admit("b", t(10)), Some(0));
        assert_eq!(s.admit("a", t(59)), None);
        assert_eq!(s.admit("a", t(60)), Some(2));
        assert_eq!(s.admit("a", t(61)), None);
    }

    #[test]
    fn letters_name_their_device_or_unknown() {
        let mut d = DeadLetter {
            v: 1,
            gateway: "gw1",
            adapter: "shelly",
            device: Some("em-1"),
            topic: "shellypro3em-x/events/rpc",
            reason: "malformed_json",
            error: "eof".into(),
            received: DateTime::from_timestamp(1_800_000_000, 0).expect("valid"),
            payload_bytes: 3,
            payload: excerpt(b"{\"a\xff", 3),
            suppressed: 0,
        };
        assert_eq!(d.topic(), "zw/v1/deadletter/gateway/gw1/em-1");
        assert_eq!(d.payload, "{\"a");
        d.device = None;
        assert_eq!(d.topic(), "zw/v1/deadletter/gateway/gw1/_unknown");
    }
}
