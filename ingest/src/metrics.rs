//! Ingest metrics: every reading is either written, rejected (with a reason) or still pending.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Ingest counters.
#[derive(Clone)]
pub struct Metrics {
    /// Readings received from the bus.
    pub received: IntCounter,
    /// Readings rejected before writing, by reason.
    pub rejected: IntCounterVec,
    /// Points accepted by InfluxDB.
    pub written: IntCounter,
    /// Failed write attempts, by reason (unavailable, rejected, auth, too_large, not_found).
    pub write_errors: IntCounterVec,
    /// Readings received but not yet written and acknowledged.
    pub pending: IntGauge,
    /// Duration of successful writes.
    pub write_seconds: Histogram,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            received: IntCounter::new(
                "zw_ingest_readings_received_total",
                "Readings received from the bus.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "zw_ingest_readings_rejected_total",
                    "Readings rejected before writing.",
                ),
                &["reason"],
            )?,
            written: IntCounter::new("zw_ingest_points_written_total", "Points accepted by InfluxDB.")?,
            write_errors: IntCounterVec::new(
                Opts::new("zw_ingest_write_errors_total", "Failed InfluxDB write attempts."),
                &["reason"],
            )?,
            pending: IntGauge::new(
                "zw_ingest_pending_readings",
                "Readings received but not yet written.",
            )?,
            write_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "zw_ingest_write_duration_seconds",
                    "Duration of successful InfluxDB writes.",
                )
                .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
            )?,
        };
        r.register(Box::new(m.received.clone()))?;
        r.register(Box::new(m.rejected.clone()))?;
        r.register(Box::new(m.written.clone()))?;
        r.register(Box::new(m.write_errors.clone()))?;
        r.register(Box::new(m.pending.clone()))?;
        r.register(Box::new(m.write_seconds.clone()))?;
        Ok(m)
    }
}
