//! The dead-letter store: readings and lines that can never be written, kept with the reason and the
//! server's message so someone can look, fix and re-import them (`zaehlwerk import` reads line protocol).
//!
//! Format: one JSON object per line, e.g.
//! `{"time":"2026-11-21T10:00:00Z","source":"influx","reason":"rejected","status":400,"message":"partial write: …","line":"readings,…"}`.
//! `source` is `bus` (failed validation; `topic` and `payload` are set), `influx` (refused by the server;
//! `line` is set) or `import`. Records are appended and fsynced before the messages they came from are
//! acknowledged. Past `max_bytes` records are dropped and counted instead of filling the disk.
//!
//! With `ingest.dead_letter.topic` set, every record is also published there (QoS 1, the same JSON), so
//! dead letters show up on the bus next to the gateway's; a failed publish is logged, the file is what
//! counts.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use tracing::{debug, error, warn};

use crate::{DeadLetterConfig, Metrics};

/// One dead letter.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Record {
    /// When it was dead-lettered (RFC 3339, UTC).
    pub time: String,
    /// `bus`, `influx` or `import`.
    pub source: &'static str,
    /// Stable reason label (`malformed`, `timestamp`, `topic_mismatch`, `rejected`, `rejected_unresolved`, …).
    pub reason: String,
    /// HTTP status of the server's refusal, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Human-readable detail: the validation error or the server's message.
    pub message: String,
    /// The MQTT topic the reading came on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// The message payload (lossy UTF-8).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// The refused line of line protocol, or the input row of an import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<String>,
}

impl Record {
    /// A record stamped with the current time.
    pub fn new(source: &'static str, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            source,
            reason: reason.into(),
            status: None,
            message: message.into(),
            topic: None,
            payload: None,
            line: None,
        }
    }
}

/// Appends records to the configured file (cheap to clone).
#[derive(Clone)]
pub struct DeadLetter {
    path: Option<PathBuf>,
    max_bytes: u64,
    file: Arc<Mutex<Option<File>>>,
    metrics: Metrics,
    /// Where records are also published, if configured.
    bus: Option<(zw_bus::BusClient, String)>,
}

impl DeadLetter {
    /// A store for `cfg`; the file is opened on first use.
    pub fn new(cfg: &DeadLetterConfig, metrics: Metrics) -> Self {
        Self {
            path: cfg.path.clone(),
            max_bytes: cfg.max_bytes,
            file: Arc::new(Mutex::new(None)),
            metrics,
            bus: None,
        }
    }

    /// Also publishes every record to `topic` through `bus`.
    pub fn with_topic(mut self, bus: zw_bus::BusClient, topic: String) -> Self {
        self.bus = Some((bus, topic));
        self
    }

    /// Logs, counts and durably appends `records`. Failures are logged and counted, never returned: a
    /// dead letter must not hold up the data that can be written.
    pub async fn append(&self, records: Vec<Record>) {
        if records.is_empty() {
            return;
        }
        for r in &records {
            self.metrics.dead_letters.with_label_values(&[r.source]).inc();
            debug!(source = r.source, reason = %r.reason, status = ?r.status, error = %r.message, "Dead-lettered.");
        }
        // One line per batch, not per record: a flood of bad input must not flood the log.
        let first = &records[0];
        warn!(records = records.len(), source = first.source, reason = %first.reason, error = %first.message, "Dead-lettered records (first shown).");
        if let Some((bus, topic)) = &self.bus {
            for r in &records {
                let json = serde_json::to_vec(r).unwrap_or_default();
                if let Err(e) = bus
                    .publish(topic.clone(), zw_bus::QoS::AtLeastOnce, false, json)
                    .await
                {
                    warn!(error = %e, topic = %topic, "Cannot publish a dead letter; it is in the file (if configured).");
                    break;
                }
            }
        }
        if self.path.is_none() {
            return;
        }
        let this = self.clone();
        let n = records.len() as u64;
        let result = tokio::task::spawn_blocking(move || this.append_blocking(&records)).await;
        match result {
            Ok(Ok(dropped)) if dropped > 0 => {
                self.metrics.dead_letter_dropped.inc_by(dropped);
                error!(dropped, "Dead-letter file is full; records dropped.");
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                self.metrics.dead_letter_dropped.inc_by(n);
                error!(error = %e, "Cannot write the dead-letter file; records dropped.");
            }
            Err(e) => error!(error = %e, "Dead-letter writer panicked."),
        }
    }

    /// Returns how many records were dropped for lack of room.
    fn append_blocking(&self, records: &[Record]) -> std::io::Result<u64> {
        let Some(path) = &self.path else { return Ok(0) };
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            *guard = Some(OpenOptions::new().create(true).append(true).open(path)?);
        }
        let Some(file) = guard.as_mut() else { return Ok(0) };
        let size = file.metadata()?.len();
        let mut buf = Vec::new();
        let mut dropped = 0;
        for r in records {
            let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
            line.push(b'\n');
            if size + buf.len() as u64 + line.len() as u64 > self.max_bytes {
                dropped += 1;
                continue;
            }
            buf.extend_from_slice(&line);
        }
        file.write_all(&buf)?;
        file.sync_data()?;
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_are_json_lines_and_the_size_limit_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dl/dead.jsonl");
        let metrics = Metrics::unregistered().expect("metrics");
        let cfg = DeadLetterConfig {
            path: Some(path.clone()),
            max_bytes: 400,
            topic: None,
        };
        let dl = DeadLetter::new(&cfg, metrics.clone());
        let mut r = Record::new("influx", "rejected", "partial write: x");
        r.status = Some(400);
        r.line = Some("readings,device=a,site=b x=1.0 1".into());
        dl.append(vec![r.clone(), r.clone(), r]).await;
        let text = std::fs::read_to_string(&path).expect("file");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert!(!lines.is_empty() && lines.len() < 3, "{text}");
        assert_eq!(lines[0]["reason"], "rejected");
        assert_eq!(lines[0]["status"], 400);
        assert!(lines[0].get("topic").is_none());
        assert_eq!(metrics.dead_letters.with_label_values(&["influx"]).get(), 3);
        assert_eq!(metrics.dead_letter_dropped.get() as usize, 3 - lines.len());
    }
}
