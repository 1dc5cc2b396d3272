//! Metrics of the outage buffer ([`crate::buffer`]).

use prometheus::{IntCounter, IntGauge, Registry};

/// Depth, drops and the full alarm of the outage buffer.
#[derive(Clone)]
pub struct BufferMetrics {
    /// Readings waiting in the buffer.
    pub readings: IntGauge,
    /// Bytes the buffer holds (compressed chunks).
    pub bytes: IntGauge,
    /// 1 from the first drop of a full buffer until it has drained: the alarm.
    pub full: IntGauge,
    /// Readings dropped (the oldest, from a full buffer; or when the buffer could not store them).
    pub dropped: IntCounter,
    /// Readings that went through the buffer instead of straight to the bus.
    pub buffered: IntCounter,
    /// Readings the bus client handed back unacknowledged after a connection loss, buffered again.
    pub returned: IntCounter,
    /// Storage failures (unwritable or unreadable buffer file).
    pub errors: IntCounter,
}

impl BufferMetrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            r.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            r.register(Box::new(c.clone()))?;
            Ok(c)
        };
        Ok(Self {
            readings: gauge(
                "zw_gateway_buffer_readings",
                "Readings waiting in the outage buffer.",
            )?,
            bytes: gauge(
                "zw_gateway_buffer_bytes",
                "Bytes held by the outage buffer (compressed).",
            )?,
            full: gauge(
                "zw_gateway_buffer_full",
                "1 from the first drop of a full outage buffer until it has drained.",
            )?,
            dropped: counter(
                "zw_gateway_buffer_dropped_readings_total",
                "Readings dropped by the outage buffer (the oldest when full, or unstorable).",
            )?,
            buffered: counter(
                "zw_gateway_buffered_readings_total",
                "Readings that went through the outage buffer instead of straight to the bus.",
            )?,
            returned: counter(
                "zw_gateway_buffer_returned_readings_total",
                "Readings handed back unacknowledged by the bus client after a connection loss, buffered again.",
            )?,
            errors: counter(
                "zw_gateway_buffer_errors_total",
                "Outage buffer storage failures.",
            )?,
        })
    }
}
