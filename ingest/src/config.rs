//! Ingest settings (`[ingest]` in the config file).

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
    /// A batch is written when it holds this many readings …
    pub batch_size: usize,
    /// … or when its oldest reading has waited this long.
    #[serde(with = "humantime_serde")]
    pub batch_interval: Duration,
    /// First retry delay after a failed write; doubles up to `retry_max`.
    #[serde(with = "humantime_serde")]
    pub retry_min: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            instance: "ingest1".into(),
            group: "ingest".into(),
            batch_size: 5000,
            batch_interval: Duration::from_secs(1),
            retry_min: Duration::from_millis(200),
            retry_max: Duration::from_secs(30),
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
        if !(1..=100_000).contains(&self.batch_size) {
            errors.push("ingest.batch_size: must be 1..=100000".into());
        }
        if self.batch_interval < Duration::from_millis(1) {
            errors.push("ingest.batch_interval: must be at least 1ms".into());
        }
        if self.retry_min.is_zero() || self.retry_min > self.retry_max {
            errors.push("ingest.retry_min: must be > 0 and <= retry_max".into());
        }
        errors
    }
}
