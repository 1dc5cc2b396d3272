//! The outage buffer between the gateway's publisher and the bus: polling never waits on the broker, and a
//! broker outage or a slow broker costs no reading until the buffer is full.
//!
//! ```text
//!  crate::publish ─► Outbox::send ─┬─ connected, buffer empty, queue has room ─► bus client (try_publish)
//!                                  └─ otherwise ─► outbox task ─► Store (disk: gateway.buffer.path, or memory)
//!                                                       │            │ drained in order once connected
//!  bus client: unacknowledged publishes handed back ────┘            ▼
//!  after a connection loss (zw_bus::BusClient::unconfirmed)     bus client
//! ```
//!
//! * [`record`]: the stored form (messages in compressed chunks); [`store`]: the bounded chunk FIFO on disk
//!   (redb, fsynced) or in memory; [`outbox`]: the task that decides direct or buffered and drains.
//! * Full: the OLDEST chunk is dropped for the new one. Energy readings are cumulative counters, so the newest
//!   readings carry the totals: consumption over a dropped span is still known from the counters on both
//!   sides, only its resolution is lost, while live values and alerts need the recent past. Drops are counted
//!   (`zw_gateway_buffer_dropped_readings_total`), `zw_gateway_buffer_full` is 1 from the first drop until the
//!   buffer has drained, and the streak is logged once at its start and once at its end.
//! * Ordering: the buffer keeps its own order; direct publishing resumes only once it is empty. Readings
//!   handed back after a connection loss join the buffer's end (the consumers key readings by device and
//!   timestamp, so order does not change what is stored).
//! * What remains: readings handed to the bus client and not yet acknowledged are lost with the process
//!   (kill -9), as are the contents of an in-memory buffer. See the crate README's delivery notes.

pub mod outbox;
pub mod record;
pub mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use zw_bus::{BusClient, QoS};

pub use outbox::{Outbox, OutboxTask};
pub use record::{Message, SourceCounts};
pub use store::{Store, StoreError};

use crate::Metrics;

/// Settings of the outage buffer (`[gateway.buffer]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BufferConfig {
    /// The buffer file (redb). Unset: the buffer lives in memory, bounded by `memory_max_bytes`, and is lost
    /// with the process (warned at start).
    pub path: Option<PathBuf>,
    /// The most the buffer file holds, in bytes of stored (compressed) chunks; then the oldest readings are
    /// dropped. The default (1 GiB) holds about 1.6 hours of 1,000 SDM630 meters polled every second: ≈ 190
    /// bytes per buffered reading (648 bytes of topic and JSON, deflated; measured by the store's tests);
    /// the file itself takes up to about 1.5 times the stored bytes.
    pub max_bytes: u64,
    /// The same bound for the in-memory buffer (no `path`).
    pub memory_max_bytes: u64,
}

impl Default for BufferConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_bytes: 1024 * 1024 * 1024,
            memory_max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The smallest bound: room for a few chunks of the largest messages.
const MIN_BYTES: u64 = 4 * 1024 * 1024;

impl BufferConfig {
    /// Reports every invalid setting, prefixed with `gateway.buffer.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if self.max_bytes < MIN_BYTES {
            errors.push(format!(
                "gateway.buffer.max_bytes: must be at least {MIN_BYTES} (4 MiB)"
            ));
        }
        if self.memory_max_bytes < MIN_BYTES {
            errors.push(format!(
                "gateway.buffer.memory_max_bytes: must be at least {MIN_BYTES} (4 MiB)"
            ));
        }
        if self.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            errors.push("gateway.buffer.path: must not be empty (leave it out for a memory buffer)".into());
        }
        errors
    }

    /// Opens the configured store: the file if `path` is set, else memory.
    pub fn open(&self) -> Result<Store, StoreError> {
        match &self.path {
            Some(p) => Store::open(p, self.max_bytes),
            None => Ok(Store::memory(self.memory_max_bytes)),
        }
    }
}

/// Counts a message's readings as published under their sources.
fn count_published(metrics: &Metrics, sources: &SourceCounts) {
    for (source, n) in sources.iter() {
        metrics
            .readings_published
            .with_label_values(&[source])
            .inc_by(u64::from(n));
    }
}

/// Hands `m` to the bus client if its queue has room; gives it back otherwise.
fn try_publish(bus: &BusClient, metrics: &Metrics, m: Message) -> Result<(), Message> {
    let Message {
        topic,
        payload,
        readings,
        sources,
    } = m;
    match bus.try_publish(topic, QoS::AtLeastOnce, false, payload) {
        Ok(()) => {
            count_published(metrics, &sources);
            Ok(())
        }
        Err(zw_bus::NotQueued(p)) => Err(Message {
            topic: p.topic,
            payload: p.payload.to_vec(),
            readings,
            sources,
        }),
    }
}

/// Starts the outbox for `bus`: the handle publishers use, and the task to run (until every handle is
/// dropped, then it drains for up to `drain_limit` and keeps the rest in `store`).
pub fn start(store: Store, bus: BusClient, metrics: Metrics) -> (Outbox, OutboxTask) {
    let (tx, rx) = mpsc::channel(outbox::QUEUE);
    let direct = Arc::new(AtomicBool::new(store.is_empty()));
    let returned = bus.unconfirmed();
    let handle = Outbox {
        bus: bus.clone(),
        tx,
        direct: direct.clone(),
        metrics: metrics.clone(),
    };
    let task = OutboxTask::new(store, bus, rx, returned, direct, metrics);
    (handle, task)
}

/// Whether publishers may go straight to the bus client.
fn is_direct(flag: &AtomicBool) -> bool {
    flag.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_bounded() {
        assert!(BufferConfig::default().validate().is_empty());
        let bad = BufferConfig {
            path: Some(PathBuf::new()),
            max_bytes: 1,
            memory_max_bytes: 2,
        };
        let errors = bad.validate();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("gateway.buffer.max_bytes"));
        assert!(errors[1].starts_with("gateway.buffer.memory_max_bytes"));
        assert!(errors[2].starts_with("gateway.buffer.path"));
        let parsed: BufferConfig =
            toml::from_str("path = \"/var/lib/zaehlwerk/gateway-buffer.redb\"\nmax_bytes = 8388608")
                .expect("valid");
        assert_eq!(parsed.max_bytes, 8 << 20);
        assert!(toml::from_str::<BufferConfig>("size = 1").is_err());
    }
}
