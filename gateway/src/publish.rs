//! The one way the gateway puts canonical readings on the bus, for Modbus polls and device MQTT alike.
//!
//! ```text
//!  Modbus pollers ─┐                batch_max = 1 ─► zw/v1/readings/{site}/{device}   (one message per reading)
//!                  ├─► validate ─┤
//!  device MQTT ────┘                batch_max > 1 ─► bounded queue ─► batcher ─► zw/v1/batches/{instance}
//!                                                   (full: the caller waits)   (on batch_max, batch_linger, shutdown)
//! ```
//!
//! Every reading is validated first (rejections counted as `messages_rejected{source,reason}`); published
//! readings are counted per source once their message is handed to the bus client, failed publishes in
//! `publish_errors`. With batching, shutdown flushes the open batch once every [`Publisher`] is dropped and
//! [`Flusher::finish`] is awaited.

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::warn;
use zw_bus::{BusClient, QoS};
use zw_model::reading::batch::{Builder, MAX_READINGS};
use zw_model::{Id, Reading, reading::TimeWindow};

use crate::Metrics;

/// How readings are published (`[gateway.publish]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublishConfig {
    /// Readings per bus message. 1 (the default): one message per reading on its device's topic
    /// `zw/v1/readings/{site}/{device}`, which third-party consumers of per-device topics read. More: up to
    /// this many readings per message on `zw/v1/batches/{instance}` (at most 1,000), which ingest, the API
    /// and analytics read; it costs the broker one message instead of many.
    pub batch_max: usize,
    /// With `batch_max` > 1, the longest a reading waits for its batch to fill before it is sent anyway.
    #[serde(with = "humantime_serde")]
    pub batch_linger: Duration,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            batch_max: 1,
            batch_linger: Duration::from_millis(100),
        }
    }
}

impl PublishConfig {
    /// Reports every invalid setting, prefixed with `gateway.publish.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(1..=MAX_READINGS).contains(&self.batch_max) {
            errors.push(format!(
                "gateway.publish.batch_max: {} must be between 1 and {MAX_READINGS}",
                self.batch_max
            ));
        }
        if self.batch_linger < Duration::from_millis(1) || self.batch_linger > Duration::from_secs(60) {
            errors.push("gateway.publish.batch_linger: must be between 1ms and 60s".into());
        }
        errors
    }
}

/// A reading waiting for its batch, with the source it is counted under.
type Queued = (Reading, &'static str);

/// Publishes readings; cheap to clone, one per poller and one for device MQTT.
#[derive(Clone)]
pub struct Publisher {
    bus: BusClient,
    metrics: Metrics,
    /// `None`: one message per reading. Full queue: the caller waits (the bus client would block too).
    batches: Option<mpsc::Sender<Queued>>,
}

/// The batcher task; [`Flusher::finish`] waits for its last batch after every [`Publisher`] is dropped.
pub struct Flusher(Option<JoinHandle<()>>);

impl Flusher {
    /// Waits up to `limit` for the open batch to be handed to the bus client.
    pub async fn finish(self, limit: Duration) {
        if let Some(task) = self.0
            && tokio::time::timeout(limit, task).await.is_err()
        {
            warn!("Shutdown: the last batch of readings was not published in time.");
        }
    }
}

impl Publisher {
    /// A publisher for `cfg`; batches go out on `zw/v1/batches/{producer}`.
    pub fn start(cfg: &PublishConfig, producer: &Id, bus: BusClient, metrics: Metrics) -> (Self, Flusher) {
        if cfg.batch_max <= 1 {
            return (
                Self {
                    bus,
                    metrics,
                    batches: None,
                },
                Flusher(None),
            );
        }
        let (tx, rx) = mpsc::channel(cfg.batch_max.saturating_mul(4));
        let batcher = Batcher {
            topic: zw_model::topic::batches(producer),
            max: cfg.batch_max,
            linger: cfg.batch_linger,
            bus: bus.clone(),
            metrics: metrics.clone(),
            builder: Builder::default(),
            sources: Vec::with_capacity(cfg.batch_max),
        };
        let task = tokio::spawn(batcher.run(rx));
        let me = Self {
            bus,
            metrics,
            batches: Some(tx),
        };
        (me, Flusher(Some(task)))
    }

    /// Validates `reading` and publishes it (or queues it for the next batch), counted under `source`.
    pub async fn publish(&self, reading: Reading, source: &'static str) {
        if let Err(e) = reading.validate(Utc::now(), TimeWindow::default()) {
            self.metrics
                .messages_rejected
                .with_label_values(&[source, e.reason()])
                .inc();
            warn!(device = %reading.device, error = %e, "Dropped invalid reading.");
            return;
        }
        if let Some(tx) = &self.batches {
            if tx.send((reading, source)).await.is_err() {
                // The batcher only stops once every publisher is gone; count it rather than lose it silently.
                self.metrics.publish_errors.inc();
            }
            return;
        }
        let topic = zw_model::topic::readings(&reading.site, &reading.device);
        match self
            .bus
            .publish(topic, QoS::AtLeastOnce, false, reading.to_json())
            .await
        {
            Ok(()) => self.metrics.readings_published.with_label_values(&[source]).inc(),
            Err(e) => {
                self.metrics.publish_errors.inc();
                warn!(device = %reading.device, error = %e, "Could not publish reading.");
            }
        }
    }
}

/// Coalesces queued readings into batch messages.
struct Batcher {
    topic: String,
    max: usize,
    linger: Duration,
    bus: BusClient,
    metrics: Metrics,
    builder: Builder,
    /// The source of each reading in the open batch, counted once it is published.
    sources: Vec<&'static str>,
}

impl Batcher {
    /// Runs until every publisher is dropped, then sends the open batch.
    async fn run(mut self, mut rx: mpsc::Receiver<Queued>) {
        let mut deadline: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some((r, source)) => {
                        self.builder.push(&r);
                        self.sources.push(source);
                        deadline.get_or_insert_with(|| Instant::now() + self.linger);
                        if self.builder.len() >= self.max {
                            self.flush().await;
                            deadline = None;
                        }
                    }
                    None => break,
                },
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    self.flush().await;
                    deadline = None;
                }
            }
        }
        self.flush().await;
    }

    async fn flush(&mut self) {
        if self.builder.is_empty() {
            return;
        }
        let n = self.builder.len();
        let payload = self.builder.finish();
        match self
            .bus
            .publish(self.topic.clone(), QoS::AtLeastOnce, false, payload)
            .await
        {
            Ok(()) => {
                for s in self.sources.drain(..) {
                    self.metrics.readings_published.with_label_values(&[s]).inc();
                }
            }
            Err(e) => {
                self.sources.clear();
                self.metrics.publish_errors.inc();
                warn!(readings = n, error = %e, "Could not publish a batch of readings.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_settings_are_bounded() {
        assert!(PublishConfig::default().validate().is_empty());
        let cfg = |batch_max, ms| PublishConfig {
            batch_max,
            batch_linger: Duration::from_millis(ms),
        };
        assert!(cfg(MAX_READINGS, 1).validate().is_empty());
        assert_eq!(cfg(0, 100).validate().len(), 1);
        assert_eq!(cfg(MAX_READINGS + 1, 0).validate().len(), 2);
        assert_eq!(cfg(100, 61_000).validate().len(), 1);
        let parsed: PublishConfig =
            toml::from_str("batch_max = 100\nbatch_linger = \"50ms\"").expect("valid");
        assert_eq!(parsed, cfg(100, 50));
        assert!(
            toml::from_str::<PublishConfig>("batch = 1").is_err(),
            "unknown keys are refused"
        );
    }
}
