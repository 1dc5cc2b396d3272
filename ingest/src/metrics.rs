//! Ingest metrics: every reading is either written, spooled, dead-lettered (with a reason) or still pending.
//!
//! Names follow Prometheus conventions (`promtool check metrics` clean): counters end in `_total`, sizes in
//! `_bytes`, ages in `_seconds`; labels are low-cardinality reasons only.

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Ingest counters and gauges.
#[derive(Clone)]
pub struct Metrics {
    /// Bus messages received (a batch message counts once).
    pub messages: IntCounter,
    /// Bus messages of another instance's partition, acknowledged unread (`ingest.partitions` > 1).
    pub other_partition: IntCounter,
    /// Readings received from the bus (each element of a batch; an invalid batch envelope counts as one).
    pub received: IntCounter,
    /// Readings rejected before writing, by reason.
    pub rejected: IntCounterVec,
    /// Points accepted by InfluxDB (direct and replayed).
    pub written: IntCounter,
    /// Failed write attempts, by reason (unavailable, rejected, auth, too_large, not_found).
    pub write_errors: IntCounterVec,
    /// 1 while InfluxDB refuses our credentials (401/403): data is spooled, someone must fix the token.
    pub auth_failing: IntGauge,
    /// Readings received but not yet written or spooled and acknowledged.
    pub pending: IntGauge,
    /// Duration of successful writes.
    pub write_seconds: Histogram,
    /// Points currently in the spool.
    pub spool_points: IntGauge,
    /// Line-protocol bytes currently in the spool.
    pub spool_bytes: IntGauge,
    /// Age of the oldest spooled batch (0 when empty).
    pub spool_oldest_age: Gauge,
    /// Points written to the spool.
    pub spooled: IntCounter,
    /// Spooled points written to InfluxDB.
    pub replayed: IntCounter,
    /// Times a batch had to wait because the spool was full (acknowledgements stop meanwhile).
    pub spool_full: IntCounter,
    /// Spool I/O failures (the batch stays unacknowledged and is retried).
    pub spool_errors: IntCounter,
    /// 1 when this start found the spool file unreadable and moved it aside (an alarm until the next start).
    pub spool_quarantined: IntGauge,
    /// Time a push waited for its batch to be committed (one redb write transaction with fsync).
    pub spool_commit_seconds: Histogram,
    /// Spool write transactions committed for pushes (group commits: several batches each).
    pub spool_commits: IntCounter,
    /// Records written to the dead-letter store, by source (`bus`, `influx`, `import`).
    pub dead_letters: IntCounterVec,
    /// 1 while dead letters cannot be stored (file full or failing) and their messages wait unacknowledged.
    pub dead_letter_blocked: IntGauge,
    /// Failed attempts to store dead letters (each retried with back-off).
    pub dead_letter_retries: IntCounter,
    /// Messages the broker holds (its `$SYS` stored-message count; see `[ingest.broker_watch]`).
    pub broker_stored: IntGauge,
    /// The broker's `max_queued_messages` as configured in `[ingest.broker_watch]`.
    pub broker_max_queued: IntGauge,
    /// Times the broker's stored-message count crossed the warning level.
    pub broker_queue_warnings: IntCounter,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self::unregistered()?;
        for c in m.collectors() {
            r.register(c)?;
        }
        Ok(m)
    }

    /// Creates the metrics without registering them (for `import` and tests).
    pub fn unregistered() -> prometheus::Result<Self> {
        let counter = |n: &str, h: &str| IntCounter::new(n, h);
        let gauge = |n: &str, h: &str| IntGauge::new(n, h);
        let vec = |n: &str, h: &str, l: &str| IntCounterVec::new(Opts::new(n, h), &[l]);
        Ok(Self {
            messages: counter(
                "zw_ingest_messages_received_total",
                "Bus messages received; a batch of readings counts once.",
            )?,
            other_partition: counter(
                "zw_ingest_messages_other_partition_total",
                "Bus messages of another instance's partition, acknowledged unread.",
            )?,
            received: counter(
                "zw_ingest_readings_received_total",
                "Readings received from the bus; each element of a batch counts.",
            )?,
            rejected: vec(
                "zw_ingest_readings_rejected_total",
                "Readings rejected before writing.",
                "reason",
            )?,
            written: counter("zw_ingest_points_written_total", "Points accepted by InfluxDB.")?,
            write_errors: vec(
                "zw_ingest_write_errors_total",
                "Failed InfluxDB write attempts.",
                "reason",
            )?,
            auth_failing: gauge(
                "zw_ingest_influx_auth_failing",
                "1 while InfluxDB refuses the configured credentials.",
            )?,
            pending: gauge(
                "zw_ingest_pending_readings",
                "Readings received but not yet written or spooled.",
            )?,
            write_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "zw_ingest_write_duration_seconds",
                    "Duration of successful InfluxDB writes.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
            )?,
            spool_points: gauge("zw_ingest_spool_points", "Points waiting in the spool.")?,
            spool_bytes: gauge(
                "zw_ingest_spool_bytes",
                "Line-protocol bytes waiting in the spool.",
            )?,
            spool_oldest_age: Gauge::new(
                "zw_ingest_spool_oldest_age_seconds",
                "Age of the oldest spooled batch; 0 when the spool is empty.",
            )?,
            spooled: counter(
                "zw_ingest_spool_points_spooled_total",
                "Points written to the spool.",
            )?,
            replayed: counter(
                "zw_ingest_spool_points_replayed_total",
                "Spooled points written to InfluxDB.",
            )?,
            spool_full: counter(
                "zw_ingest_spool_full_total",
                "Times a batch waited because the spool was full.",
            )?,
            spool_errors: counter("zw_ingest_spool_errors_total", "Spool I/O failures.")?,
            spool_quarantined: gauge(
                "zw_ingest_spool_quarantined",
                "1 when the spool file was unreadable at start and was moved aside.",
            )?,
            spool_commit_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "zw_ingest_spool_commit_duration_seconds",
                    "Duration of spool commits (write transaction with fsync).",
                )
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
            )?,
            spool_commits: counter(
                "zw_ingest_spool_commits_total",
                "Spool write transactions committed for pushes (one fsync each).",
            )?,
            dead_letters: vec(
                "zw_ingest_dead_letter_records_total",
                "Records written to the dead-letter store.",
                "source",
            )?,
            dead_letter_blocked: gauge(
                "zw_ingest_dead_letter_blocked",
                "1 while dead letters cannot be stored and their messages wait unacknowledged.",
            )?,
            dead_letter_retries: counter(
                "zw_ingest_dead_letter_retries_total",
                "Failed attempts to store dead letters (file full or unwritable), each retried.",
            )?,
            broker_stored: gauge(
                "zw_ingest_broker_stored_messages",
                "Messages the broker holds, from its $SYS stored-message count.",
            )?,
            broker_max_queued: gauge(
                "zw_ingest_broker_max_queued_messages",
                "The broker's max_queued_messages, as configured for ingest.",
            )?,
            broker_queue_warnings: counter(
                "zw_ingest_broker_queue_warnings_total",
                "Times the broker's stored messages crossed the warning level.",
            )?,
        })
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.messages.clone()),
            Box::new(self.other_partition.clone()),
            Box::new(self.received.clone()),
            Box::new(self.rejected.clone()),
            Box::new(self.written.clone()),
            Box::new(self.write_errors.clone()),
            Box::new(self.auth_failing.clone()),
            Box::new(self.pending.clone()),
            Box::new(self.write_seconds.clone()),
            Box::new(self.spool_points.clone()),
            Box::new(self.spool_bytes.clone()),
            Box::new(self.spool_oldest_age.clone()),
            Box::new(self.spooled.clone()),
            Box::new(self.replayed.clone()),
            Box::new(self.spool_full.clone()),
            Box::new(self.spool_errors.clone()),
            Box::new(self.spool_quarantined.clone()),
            Box::new(self.spool_commit_seconds.clone()),
            Box::new(self.spool_commits.clone()),
            Box::new(self.dead_letters.clone()),
            Box::new(self.dead_letter_blocked.clone()),
            Box::new(self.dead_letter_retries.clone()),
            Box::new(self.broker_stored.clone()),
            Box::new(self.broker_max_queued.clone()),
            Box::new(self.broker_queue_warnings.clone()),
        ]
    }
}
