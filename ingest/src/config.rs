//! Ingest settings (`[ingest]`, `[ingest.spool]` and `[ingest.dead_letter]` in the config file).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Ingest settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Instance name; part of the MQTT client id, which must be stable for the persistent session.
    pub instance: String,
    /// Shared-subscription group: instances in one group split the stream between them.
    pub group: String,
    /// Subscribe as `$share/{group}/…` (several instances split the stream, the broker deals messages to
    /// whichever is connected). Off by default: mosquitto (2.0.11) keeps plain subscriptions of a persistent
    /// session across its own restarts, while shared ones are lost until the client re-subscribes, and with
    /// them every reading published in between. To split the stream without that loss use `partitions`.
    pub shared: bool,
    /// Number of instances splitting the stream by static partitions over plain subscriptions (see
    /// [`crate::partition`]): each receives every message and keeps its own partition's. 1: one instance
    /// takes everything.
    pub partitions: u32,
    /// This instance's partition, `0..partitions`; every partition needs exactly one running instance
    /// (with its own `instance` name), or its readings wait at the broker until one comes.
    pub partition: u32,
    /// A batch is written when it holds this many readings …
    pub batch_size: usize,
    /// … or when its oldest reading has waited this long.
    #[serde(with = "humantime_serde")]
    pub batch_interval: Duration,
    /// Batches written to InfluxDB at the same time on the direct path: 4 keep influxd 1.6 as busy as a tight
    /// writer with pre-built batches (with 2, ingest reached 75–81 % of its rate; BENCHMARKS.md). The broker must let
    /// `batch_size × (write_concurrency + 1)` messages be in flight (mosquitto `max_inflight_messages`).
    pub write_concurrency: usize,
    /// First retry delay after a failed write; doubles up to `retry_max`. A `Retry-After` answer wins if longer.
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// Extra writes allowed per rejected batch to find the rejected lines by bisection (writes are
    /// idempotent, so rewriting accepted lines is harmless). Beyond it, every line of a still-rejected chunk
    /// goes to the dead-letter file as `rejected_unresolved`.
    pub reject_bisect_requests: u32,
    /// The local disk spool used while InfluxDB is unavailable.
    pub spool: SpoolConfig,
    /// Where readings and lines that can never be written are kept.
    pub dead_letter: DeadLetterConfig,
    /// The alarm before the broker drops readings queued for ingest.
    pub broker_watch: BrokerWatchConfig,
    /// Quarter-hour and daily rollups of the energy counters for long reports ([`crate::rollup`]).
    pub rollup: crate::rollup::RollupConfig,
}

/// Watching the broker's message store (`[ingest.broker_watch]`): mosquitto drops QoS 1 messages for a
/// session beyond `max_queued_messages`, so ingest reads the broker's stored-message count from `$SYS`,
/// exports it as `zw_ingest_broker_stored_messages` (next to `zw_ingest_broker_max_queued_messages`) and
/// logs an error when it passes `warn_ratio` of the limit.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerWatchConfig {
    /// Subscribe to `topic` on a separate, clean-session connection.
    pub enabled: bool,
    /// The broker's count of stored messages (mosquitto: `$SYS/broker/store/messages/count`, published every
    /// `sys_interval`, 10 s by default). It counts every message the broker holds, so with other persistent
    /// subscribers it over-states ingest's own queue: an early alarm, never a late one.
    pub topic: String,
    /// The broker's `max_queued_messages` (1,000,000 in `deploy/conf/mosquitto.conf.in`).
    pub max_queued_messages: u64,
    /// Fraction of `max_queued_messages` at which ingest logs an error (and the Prometheus rule fires).
    pub warn_ratio: f64,
}

/// The durable spool (`[ingest.spool]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// The spool file (redb). Unset: no spool; while InfluxDB is down, readings stay unacknowledged with the
    /// broker (bounded by its `max_queued_messages`). One file per ingest instance.
    pub path: Option<PathBuf>,
    /// Largest spooled payload, in bytes. When full, ingest stops acknowledging (back-pressure to the broker)
    /// until replay frees space; counted in `zw_ingest_spool_full_total`.
    pub max_bytes: u64,
    /// Batches replayed at the same time once InfluxDB is back (1 = strictly in order).
    pub replay_concurrency: usize,
    /// redb page cache, in bytes (redb's own default of 1 GiB would dominate the process's memory).
    pub cache_bytes: usize,
}

/// The dead-letter file (`[ingest.dead_letter]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadLetterConfig {
    /// JSON-lines file, appended and fsynced before the affected messages are acknowledged. Unset: dead
    /// letters are only logged and counted, and their messages acknowledged (warned about at start).
    pub path: Option<PathBuf>,
    /// The file's size limit. Records that would cross it wait, with their messages unacknowledged and
    /// `zw_ingest_dead_letter_blocked` at 1, until the file is rotated (moved away) or shutdown.
    pub max_bytes: u64,
    /// MQTT topic every record is also published to (QoS 1, the record's JSON), for monitoring next to the
    /// gateway's `zw/v1/deadletter/gateway/…`; e.g. `zw/v1/deadletter/ingest/ingest1`. Unset: no topic.
    /// The file stays the durable store: the acknowledgement does not wait for the broker's PUBACK.
    pub topic: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            instance: "ingest1".into(),
            group: "ingest".into(),
            shared: false,
            partitions: 1,
            partition: 0,
            batch_size: 5000,
            batch_interval: Duration::from_secs(1),
            write_concurrency: 4,
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
            reject_bisect_requests: 64,
            spool: SpoolConfig::default(),
            dead_letter: DeadLetterConfig::default(),
            broker_watch: BrokerWatchConfig::default(),
            rollup: crate::rollup::RollupConfig::default(),
        }
    }
}

impl Default for BrokerWatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            topic: "$SYS/broker/store/messages/count".into(),
            max_queued_messages: 1_000_000,
            warn_ratio: 0.5,
        }
    }
}

impl Default for SpoolConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_bytes: 4 << 30,
            replay_concurrency: 2,
            cache_bytes: 16 << 20,
        }
    }
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        Self {
            path: None,
            max_bytes: 1 << 30,
            topic: None,
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `ingest.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (name, v) in [("instance", &self.instance), ("group", &self.group)] {
            if zw_model::Id::new(v.clone()).is_err() {
                errors.push(format!(
                    "ingest.{name}: {v:?} must be a valid id (a-z, 0-9, - and _)"
                ));
            }
        }
        if !(1..=1024).contains(&self.partitions) {
            errors.push("ingest.partitions: must be 1..=1024".into());
        } else if self.partition >= self.partitions {
            errors.push(format!(
                "ingest.partition: must be 0..{} (one less than ingest.partitions)",
                self.partitions
            ));
        }
        if self.shared && self.partitions > 1 {
            errors.push(
                "ingest.shared: choose one way to split the stream: shared = true or partitions > 1, not both"
                    .into(),
            );
        }
        if !(1..=100_000).contains(&self.batch_size) {
            errors.push("ingest.batch_size: must be 1..=100000".into());
        }
        if self.batch_interval < Duration::from_millis(1) {
            errors.push("ingest.batch_interval: must be at least 1ms".into());
        }
        if !(1..=64).contains(&self.write_concurrency) {
            errors.push("ingest.write_concurrency: must be 1..=64".into());
        }
        if self.retry_min.is_zero() || self.retry_min > self.retry_max {
            errors.push("ingest.retry_min: must be > 0 and <= retry_max".into());
        }
        if self.spool.path.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            errors.push("ingest.spool.path: must not be empty (leave it unset for no spool)".into());
        }
        if self.spool.max_bytes < 64 << 20 {
            errors.push("ingest.spool.max_bytes: must be at least 64 MiB (67108864)".into());
        }
        if !(1..=64).contains(&self.spool.replay_concurrency) {
            errors.push("ingest.spool.replay_concurrency: must be 1..=64".into());
        }
        if self.spool.cache_bytes < 1 << 20 {
            errors.push("ingest.spool.cache_bytes: must be at least 1 MiB (1048576)".into());
        }
        if self
            .dead_letter
            .path
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            errors.push("ingest.dead_letter.path: must not be empty (leave it unset to only log)".into());
        }
        if self
            .dead_letter
            .topic
            .as_ref()
            .is_some_and(|t| !plain_topic(t) || t.starts_with('$'))
        {
            errors.push(
                "ingest.dead_letter.topic: must be a plain topic (not empty, no + or #, not $…)".into(),
            );
        }
        if self.dead_letter.max_bytes < 1 << 20 {
            errors.push("ingest.dead_letter.max_bytes: must be at least 1 MiB (1048576)".into());
        }
        let w = &self.broker_watch;
        if !plain_topic(&w.topic) {
            errors.push("ingest.broker_watch.topic: must be a plain topic (not empty, no + or #)".into());
        }
        if w.max_queued_messages == 0 {
            errors.push("ingest.broker_watch.max_queued_messages: must be at least 1".into());
        }
        if !(w.warn_ratio > 0.0 && w.warn_ratio <= 1.0) {
            errors.push("ingest.broker_watch.warn_ratio: must be in (0, 1]".into());
        }
        if let (Some(s), Some(d)) = (&self.spool.path, &self.dead_letter.path)
            && s == d
        {
            errors.push("ingest.dead_letter.path: must differ from ingest.spool.path".into());
        }
        errors.extend(self.rollup.validate());
        errors
    }
}

/// A topic one can publish to: not empty, no wildcard.
fn plain_topic(t: &str) -> bool {
    !t.is_empty() && !t.contains(['+', '#'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_every_error_is_listed() {
        assert_eq!(Config::default().validate(), Vec::<String>::new());
        let mut c = Config {
            batch_size: 0,
            write_concurrency: 0,
            ..Config::default()
        };
        c.spool.max_bytes = 1;
        c.spool.replay_concurrency = 0;
        c.spool.path = Some("x".into());
        c.dead_letter.path = Some("x".into());
        c.dead_letter.topic = Some("zw/v1/deadletter/#".into());
        c.broker_watch.warn_ratio = 1.5;
        c.broker_watch.max_queued_messages = 0;
        let errors = c.validate();
        assert_eq!(errors.len(), 8, "{errors:#?}");
    }

    #[test]
    fn partitions_are_checked_and_exclude_shared_subscriptions() {
        let c = Config {
            partitions: 2,
            partition: 2,
            shared: true,
            ..Config::default()
        };
        let errors = c.validate();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(
            errors[0].starts_with("ingest.partition: must be 0..2"),
            "{errors:#?}"
        );
        assert!(errors[1].starts_with("ingest.shared: choose one"), "{errors:#?}");
        let zero = Config {
            partitions: 0,
            ..Config::default()
        };
        assert_eq!(
            zero.validate(),
            vec!["ingest.partitions: must be 1..=1024".to_owned()]
        );
        let ok = Config {
            partitions: 2,
            partition: 1,
            ..Config::default()
        };
        assert_eq!(ok.validate(), Vec::<String>::new());
    }

    #[test]
    fn nested_sections_parse_from_toml() {
        let c: Config = toml_like(
            r#"{"spool": {"path": "/var/lib/zw/spool.redb", "max_bytes": 1073741824}, "batch_size": 100}"#,
        );
        assert_eq!(
            c.spool.path.as_deref(),
            Some(std::path::Path::new("/var/lib/zw/spool.redb"))
        );
        assert_eq!(c.spool.replay_concurrency, 2);
        assert_eq!(c.batch_size, 100);
    }

    fn toml_like(json: &str) -> Config {
        serde_json::from_str(json).expect("valid config")
    }
}
