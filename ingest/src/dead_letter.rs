//! The dead-letter store: readings and lines that can never be written, kept with the reason and the
//! server's message so someone can look, fix and re-import them (`zaehlwerk import` reads line protocol).
//!
//! Format: one JSON object per line, e.g.
//! `{"time":"2026-11-21T10:00:00Z","source":"influx","reason":"rejected","status":400,"message":"partial write: …","line":"readings,…"}`.
//! `source` is `bus` (failed validation; `topic` and `payload` are set), `influx` (refused by the server;
//! `line` is set) or `import`. Records are appended and fsynced before the messages they came from are
//! acknowledged: a file that is full (`max_bytes`) or cannot be written holds those messages
//! unacknowledged, retrying with back-off and raising `zw_ingest_dead_letter_blocked`, until it can be
//! written (someone rotated or freed it) or shutdown leaves them to the broker, which re-delivers them.
//! Without a file (`ingest.dead_letter.path` unset, an explicit choice warned about at start) records are
//! only logged and counted, and the messages are acknowledged.
//!
//! With `ingest.dead_letter.topic` set, every record is also published there (QoS 1, the same JSON), so
//! dead letters show up on the bus next to the gateway's; a failed publish is logged, the file is what
//! counts.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

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
    /// Ends the retries of a blocked append (shutdown).
    stop: CancellationToken,
}

/// Why records could not be made durable.
#[derive(Debug, thiserror::Error)]
enum AppendError {
    #[error("the dead-letter file has no room for {records} more records (max_bytes {max_bytes})")]
    Full { records: usize, max_bytes: u64 },
    #[error(transparent)]
    Io(#[from] std::io::Error),
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
            stop: CancellationToken::new(),
        }
    }

    /// A blocked append gives up once `stop` is cancelled (its messages stay unacknowledged).
    pub fn with_stop(mut self, stop: CancellationToken) -> Self {
        self.stop = stop;
        self
    }

    /// Also publishes every record to `topic` through `bus`.
    pub fn with_topic(mut self, bus: zw_bus::BusClient, topic: String) -> Self {
        self.bus = Some((bus, topic));
        self
    }

    /// Logs, counts and durably appends `records`; returns whether they are safe, so that the messages they
    /// came from may be acknowledged. A full or failing file is retried with back-off (the messages wait,
    /// `zw_ingest_dead_letter_blocked` is 1, the error is logged once per streak) until it takes them; only
    /// the stop token ends that, and then this returns `false`. Without a file: logged only, `true`.
    pub async fn append(&self, records: Vec<Record>) -> bool {
        if records.is_empty() {
            return true;
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
            return true;
        }
        let records = Arc::new(records);
        let mut failures: u32 = 0;
        loop {
            let this = self.clone();
            let batch = records.clone();
            let result = tokio::task::spawn_blocking(move || this.append_blocking(&batch)).await;
            let error = match result {
                Ok(Ok(())) => {
                    if failures > 0 {
                        self.metrics.dead_letter_blocked.set(0);
                        info!(
                            attempts = failures + 1,
                            "Dead-letter file writable again; records stored."
                        );
                    }
                    return true;
                }
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("dead-letter writer failed: {e}"),
            };
            if failures == 0 {
                self.metrics.dead_letter_blocked.set(1);
                error!(error = %error, records = records.len(),
                    "Cannot store dead letters; holding their messages unacknowledged until the file can be written.");
            }
            self.metrics.dead_letter_retries.inc();
            let delay = Duration::from_millis(100).saturating_mul(1 << failures.min(8));
            failures = failures.saturating_add(1);
            tokio::select! {
                () = self.stop.cancelled() => return false,
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// Appends all of `records` and fsyncs, or nothing if they do not all fit under `max_bytes`.
    fn append_blocking(&self, records: &[Record]) -> Result<(), AppendError> {
        let Some(path) = &self.path else { return Ok(()) };
        let mut guard = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            *guard = Some(OpenOptions::new().create(true).append(true).open(path)?);
        }
        let Some(file) = guard.as_mut() else { return Ok(()) };
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        if file.metadata()?.len() + buf.len() as u64 > self.max_bytes {
            // The file may have been rotated meanwhile: the next attempt opens the path afresh.
            *guard = None;
            return Err(AppendError::Full {
                records: records.len(),
                max_bytes: self.max_bytes,
            });
        }
        let written = file.write_all(&buf).and_then(|()| file.sync_data());
        if written.is_err() {
            *guard = None;
        }
        Ok(written?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_are_json_lines_and_a_full_file_holds_them_until_it_has_room() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dl/dead.jsonl");
        let metrics = Metrics::unregistered().expect("metrics");
        let cfg = DeadLetterConfig {
            path: Some(path.clone()),
            max_bytes: 500,
            topic: None,
        };
        let stop = CancellationToken::new();
        let dl = DeadLetter::new(&cfg, metrics.clone()).with_stop(stop.clone());
        let mut r = Record::new("influx", "rejected", "partial write: x");
        r.status = Some(400);
        r.line = Some("readings,device=a,site=b x=1.0 1".into());
        assert!(dl.append(vec![r.clone()]).await);
        let text = std::fs::read_to_string(&path).expect("file");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        assert_eq!(lines[0]["reason"], "rejected");
        assert_eq!(lines[0]["status"], 400);
        assert!(lines[0].get("topic").is_none());

        // Three more do not fit: the append waits (blocked alarm) instead of dropping them…
        let pending = tokio::spawn({
            let (dl, r) = (dl.clone(), r.clone());
            async move { dl.append(vec![r.clone(), r.clone(), r]).await }
        });
        while metrics.dead_letter_blocked.get() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            std::fs::read_to_string(&path).expect("file"),
            text,
            "nothing half-written"
        );
        // … until the file is rotated away, then they are stored and the alarm clears.
        std::fs::rename(&path, dir.path().join("dl/dead.jsonl.1")).expect("rotate");
        assert!(pending.await.expect("task"));
        assert_eq!(std::fs::read_to_string(&path).expect("file").lines().count(), 3);
        assert_eq!(metrics.dead_letter_blocked.get(), 0);
        assert_eq!(metrics.dead_letters.with_label_values(&["influx"]).get(), 4);

        // Blocked at shutdown: false, the messages stay unacknowledged.
        let big = vec![r; 20];
        let blocked = tokio::spawn({
            let dl = dl.clone();
            async move { dl.append(big).await }
        });
        while metrics.dead_letter_blocked.get() == 0 {
            tokio::task::yield_now().await;
        }
        stop.cancel();
        assert!(!blocked.await.expect("task"));
    }

    #[tokio::test]
    async fn without_a_file_records_are_logged_and_count_as_handled() {
        let metrics = Metrics::unregistered().expect("metrics");
        let dl = DeadLetter::new(&DeadLetterConfig::default(), metrics.clone());
        assert!(dl.append(vec![Record::new("bus", "malformed", "x")]).await);
        assert_eq!(metrics.dead_letters.with_label_values(&["bus"]).get(), 1);
    }
}
