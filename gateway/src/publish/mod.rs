//! The one way the gateway puts canonical readings on the bus, for Modbus polls and device MQTT alike.
//!
//! ```text
//!  Modbus pollers ─┐                batch_max = 1 ─► one message per reading ─────────────┐
//!                  ├─► validate ─┤                   (zw/v1/readings/{site}/{device})      ├─► crate::buffer ─► bus
//!  device MQTT ────┘                batch_max > 1 ─► bounded queue ─► batcher ────────────┘   (never waits on
//!                                                   (full: the caller waits)  zw/v1/batches/{instance}   the broker)
//! ```
//!
//! Every reading is validated first (rejections counted as `messages_rejected{source,reason}`); published
//! readings are counted per source once their message is handed to the bus client (directly or when the
//! outage buffer drains). Batches are sent when they hold `batch_max` readings, when the next reading would
//! take their JSON over `bus.max_message_bytes` ([`batch`]), when the oldest has waited `batch_linger`, or at
//! shutdown, which flushes the open batch once every [`Publisher`] is dropped and [`Flusher::finish`] is
//! awaited. A reading whose message alone would be over `bus.max_message_bytes` is rejected (reason
//! `oversized`); validation makes that impossible at the shipped limit, and `check-config` refuses a limit
//! below the largest valid reading ([`largest_reading_bytes`]).

pub mod batch;

use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};
use tracing::warn;
use zw_model::reading::batch::MAX_READINGS;
use zw_model::{Id, Reading, reading::TimeWindow};

use crate::Metrics;
use crate::buffer::{Message, Outbox, SourceCounts};
use batch::Batches;

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
    outbox: Outbox,
    metrics: Metrics,
    /// `bus.max_message_bytes`: a single-reading message over it is rejected.
    max_message_bytes: usize,
    /// `None`: one message per reading. Full queue: the caller waits (the batcher waits only on the outbox,
    /// which never waits on the broker).
    batches: Option<mpsc::Sender<Queued>>,
    /// The devices this gateway publishes (`[gateway.shards]`); the others' readings are skipped.
    shard: crate::shards::Shard,
}

/// The batcher task; [`Flusher::finish`] waits for its last batch after every [`Publisher`] is dropped.
pub struct Flusher(Option<JoinHandle<()>>);

impl Flusher {
    /// Waits up to `limit` for the open batch to be handed to the outbox.
    pub async fn finish(self, limit: Duration) {
        if let Some(task) = self.0
            && tokio::time::timeout(limit, task).await.is_err()
        {
            warn!("Shutdown: the last batch of readings was not published in time.");
        }
    }
}

impl Publisher {
    /// A publisher for `cfg` whose messages go through `outbox`; batches go out on
    /// `zw/v1/batches/{producer}`, at most `max_message_bytes` each.
    pub fn start(
        cfg: &PublishConfig,
        producer: &Id,
        outbox: Outbox,
        max_message_bytes: usize,
        metrics: Metrics,
    ) -> (Self, Flusher) {
        let mut me = Self {
            outbox,
            metrics,
            max_message_bytes,
            batches: None,
            shard: crate::shards::Shard::all(),
        };
        if cfg.batch_max <= 1 {
            return (me, Flusher(None));
        }
        let (tx, rx) = mpsc::channel(cfg.batch_max.saturating_mul(4));
        let batcher = Batcher {
            batches: Batches::new(
                zw_model::topic::batches(producer),
                cfg.batch_max,
                max_message_bytes,
            ),
            linger: cfg.batch_linger,
            outbox: me.outbox.clone(),
            metrics: me.metrics.clone(),
        };
        let task = tokio::spawn(batcher.run(rx));
        me.batches = Some(tx);
        (me, Flusher(Some(task)))
    }

    /// The same publisher, publishing only readings of the devices `shard` owns (the others are counted in
    /// `zw_gateway_shard_skipped_total`).
    #[must_use]
    pub fn sharded(mut self, shard: crate::shards::Shard) -> Self {
        self.shard = shard;
        self
    }

    /// Validates `reading` and publishes it (or queues it for the next batch), counted under `source`.
    pub async fn publish(&self, reading: Reading, source: &'static str) {
        if !self.shard.owns_device(&reading.device) {
            self.metrics.shards.skipped.inc();
            return;
        }
        if let Err(e) = reading.validate(Utc::now(), TimeWindow::default()) {
            self.reject(source, e.reason());
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
        let payload = reading.to_json();
        if payload.len() > self.max_message_bytes {
            self.reject(source, "oversized");
            warn!(device = %reading.device, bytes = payload.len(), "Dropped a reading over bus.max_message_bytes.");
            return;
        }
        let m = Message {
            topic: zw_model::topic::readings(&reading.site, &reading.device),
            payload,
            readings: 1,
            sources: SourceCounts::one(source),
        };
        self.outbox.send(m).await;
    }

    fn reject(&self, source: &str, reason: &str) {
        self.metrics
            .messages_rejected
            .with_label_values(&[source, reason])
            .inc();
    }
}

/// Coalesces queued readings into batch messages.
struct Batcher {
    batches: Batches,
    linger: Duration,
    outbox: Outbox,
    metrics: Metrics,
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
                        match self.batches.push(&r, source) {
                            Ok(Some(closed)) => {
                                self.outbox.send(closed).await;
                                deadline = None;
                            }
                            Ok(None) => {}
                            Err(bytes) => {
                                self.metrics.messages_rejected.with_label_values(&[source, "oversized"]).inc();
                                warn!(device = %r.device, bytes, "Dropped a reading over bus.max_message_bytes.");
                            }
                        }
                        if !self.batches.is_empty() {
                            deadline.get_or_insert_with(|| Instant::now() + self.linger);
                        }
                        if self.batches.is_full() {
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
        if let Some(m) = self.batches.take() {
            self.outbox.send(m).await;
        }
    }
}

/// The bytes of the largest reading validation lets through, as a batch of one (larger than its single
/// message): ids of the longest valid length, every quantity, each value at its widest JSON form.
/// `bus.max_message_bytes` below this could refuse valid readings, so `check-config` refuses it.
pub fn largest_reading_bytes() -> usize {
    let id = |c: char| Id::new(c.to_string().repeat(zw_model::id::MAX_ID_LEN)).ok();
    let (Some(site), Some(device)) = (id('s'), id('d')) else {
        return 0;
    };
    let mut values = std::collections::BTreeMap::new();
    for q in zw_model::Quantity::ALL {
        values.insert(*q, -1.234_567_890_123_456_7e-300);
    }
    let ts = chrono::DateTime::from_timestamp(4_102_444_799, 999_999_999).unwrap_or_default();
    let r = Reading::new(site, device, ts, values);
    let mut b = Batches::new(String::new(), 1, usize::MAX);
    let _ = b.push(&r, "modbus");
    b.take().map_or(0, |m| m.payload.len())
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
