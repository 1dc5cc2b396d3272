//! The alarm before the broker drops readings: mosquitto silently drops QoS 1 messages for a session once
//! `max_queued_messages` are queued for it (mosquitto.conf(5)), e.g. when readings arrive faster than ingest
//! takes them in for a long time. Ingest cannot see its own queue at the broker, but mosquitto publishes
//! the number of messages it stores on `$SYS/broker/store/messages/count` every `sys_interval`. This task
//! subscribes to it on a separate clean-session connection (QoS 0, nothing to acknowledge), exports it as
//! `zw_ingest_broker_stored_messages` and logs an error each time it passes
//! `warn_ratio × max_queued_messages` (counted in `zw_ingest_broker_queue_warnings_total`); the
//! `ZaehlwerkBrokerQueueNearLimit` Prometheus rule fires on the same level.

use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use zw_bus::{ConnectOptions, QoS};

use crate::Metrics;
use crate::config::BrokerWatchConfig;

/// Once warned, the level must fall below this share of the warning level before the next warning.
const REARM: f64 = 0.9;

/// Watches the broker until `shutdown`.
pub(crate) async fn run(
    bus: zw_bus::Bus,
    cfg: BrokerWatchConfig,
    instance: String,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    metrics
        .broker_max_queued
        .set(i64::try_from(cfg.max_queued_messages).unwrap_or(i64::MAX));
    let opts = ConnectOptions {
        subscriptions: vec![(cfg.topic.clone(), QoS::AtMostOnce)],
        ..ConnectOptions::publisher("ingest-watch", &instance)
    };
    // Its own token (not a child of `shutdown`), so the DISCONNECT below still goes out before it stops.
    let stop = CancellationToken::new();
    let (client, mut inbound, driver) = bus.connect(opts, stop.clone());
    let mut level = Level::new(&cfg);
    loop {
        let msg = tokio::select! {
            () = shutdown.cancelled() => break,
            m = inbound.recv() => m,
        };
        let Some(msg) = msg else { break };
        let Some(stored) = parse_count(&msg.payload) else {
            warn!(topic = %msg.topic, "Broker watch: not a message count; ignored.");
            continue;
        };
        metrics
            .broker_stored
            .set(i64::try_from(stored).unwrap_or(i64::MAX));
        match level.update(stored) {
            Some(true) => {
                metrics.broker_queue_warnings.inc();
                error!(
                    stored,
                    max_queued_messages = cfg.max_queued_messages,
                    "BROKER QUEUE NEAR ITS LIMIT: readings arrive faster than ingest takes them in; beyond \
                     max_queued_messages mosquitto drops them. Add ingest instances or slow the publishers."
                );
            }
            Some(false) => info!(stored, "Broker queue back below the warning level."),
            None => {}
        }
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), driver).await;
    stop.cancel();
}

/// The broker publishes the count as decimal text.
fn parse_count(payload: &[u8]) -> Option<u64> {
    std::str::from_utf8(payload).ok()?.trim().parse().ok()
}

/// Hysteresis around the warning level.
struct Level {
    warn_at: f64,
    warned: bool,
}

impl Level {
    fn new(cfg: &BrokerWatchConfig) -> Self {
        Self {
            warn_at: cfg.max_queued_messages as f64 * cfg.warn_ratio,
            warned: false,
        }
    }

    /// `Some(true)` when the level is crossed upwards, `Some(false)` when it is clearly left again.
    fn update(&mut self, stored: u64) -> Option<bool> {
        let v = stored as f64;
        if !self.warned && v >= self.warn_at {
            self.warned = true;
            Some(true)
        } else if self.warned && v < self.warn_at * REARM {
            self.warned = false;
            Some(false)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_and_warnings_fire_once_per_crossing() {
        assert_eq!(parse_count(b"1020053"), Some(1_020_053));
        assert_eq!(parse_count(b" 7\n"), Some(7));
        assert_eq!(parse_count(b"x"), None);
        let cfg = BrokerWatchConfig {
            max_queued_messages: 1000,
            warn_ratio: 0.5,
            ..BrokerWatchConfig::default()
        };
        let mut l = Level::new(&cfg);
        let seen: Vec<_> = [100, 499, 500, 900, 460, 449, 600]
            .into_iter()
            .map(|v| l.update(v))
            .collect();
        assert_eq!(
            seen,
            [None, None, Some(true), None, None, Some(false), Some(true)]
        );
    }
}
