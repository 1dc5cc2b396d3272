//! Ingest: canonical readings from the bus into InfluxDB, fast, and through any outage.
//!
//! ```text
//!  zw/v1/readings/+/+ and zw/v1/batches/+ (QoS 1, persistent, manual acks; `$share/{group}/…` if shared)
//!        │  not this instance's partition (ingest.partitions > 1) ────────────────────────────────► ack
//!        │  decode + validate each reading (schema, ids match topic, finite values, time window) ── bad ──► dead letter
//!        ▼
//!   batch (size or age) ──► write_concurrency × POST /write ── 2xx ──────────────────────► ack
//!        │                        │ 400/422: bisect, refused lines ──► dead letter ──────► ack
//!        │                        │ 429/5xx/timeout/401/403/404
//!        └── spool not empty ─────┴──► spool (redb, fsync) ────────────────────────────► ack
//!                                          └──► replayer (replay_concurrency, back-off) ──► InfluxDB
//! ```
//!
//! Delivery: a message is acknowledged to the broker only once its points (one, or every reading of a batch
//! message, which is never split across batches) are accepted by InfluxDB, durably
//! spooled, or durably dead-lettered with the reason. Until then the broker keeps it for the persistent
//! session and re-delivers it after a crash. A point is identified by series + timestamp, so a reading
//! written twice (re-delivery, replay of a batch whose removal was lost) is the same point.
//!
//! Without a spool (`ingest.spool.path` unset) failed batches are retried in memory and stay
//! unacknowledged, so the broker holds the backlog (bounded by its `max_queued_messages`).

mod broker_watch;
mod config;
pub mod dead_letter;
pub mod import;
mod line;
mod metrics;
pub mod partition;
mod pipeline;
mod replay;
pub mod rollup;
pub mod spool;
mod wire;
mod writer;

pub use config::{BrokerWatchConfig, Config, DeadLetterConfig, SpoolConfig};
pub use dead_letter::{DeadLetter, Record};
pub use line::{Rejection, decode, to_line};
pub use metrics::Metrics;
pub use pipeline::{Known, run};
pub use spool::SpoolError;
pub use wire::batch::encode_batch;
pub use wire::{Bounds, encode};
pub use writer::Writer;
