//! Gateway metrics. No device ids as labels: per-device state belongs on the status topic, not in Prometheus.
//! The Modbus poller's own are in [`modbus`].

pub mod buffer;
pub mod modbus;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};

pub use buffer::BufferMetrics;
pub use modbus::ModbusMetrics;

/// Gateway counters and histograms.
#[derive(Clone)]
pub struct Metrics {
    /// Modbus requests by result: ok, exception, timeout, transport.
    pub modbus_requests: IntCounterVec,
    /// Lateness of polls against their fixed schedule.
    pub poll_lateness: Histogram,
    /// Schedule slots skipped because a poll ran too late.
    pub polls_skipped: IntCounter,
    /// Register values dropped because they did not decode (short response, NaN).
    pub values_dropped: IntCounterVec,
    /// Canonical readings published, by source (modbus, tasmota, ttn).
    pub readings_published: IntCounterVec,
    /// Device MQTT messages rejected, by adapter and reason.
    pub messages_rejected: IntCounterVec,
    /// Publishes that failed because the bus client stopped.
    pub publish_errors: IntCounter,
    /// Rejected device messages sampled to the dead-letter topic.
    pub deadletters: IntCounter,
    /// Modbus poller metrics.
    pub modbus: ModbusMetrics,
    /// Outage buffer metrics.
    pub buffer: BufferMetrics,
    /// Wireless M-Bus receiver metrics.
    pub wmbus: crate::wmbus::WmbusMetrics,
    /// Wired M-Bus poller metrics.
    pub mbus: crate::mbus::MbusMetrics,
    /// SML stream metrics.
    pub sml: crate::mbus::SmlMetrics,
    /// Several gateways splitting the inventory (`[gateway.shards]`).
    pub shards: crate::shards::ShardMetrics,
    /// Device statuses not published because the bus client's queue was full (the broker away): they are
    /// retained state, published again on the next change or refresh.
    pub statuses_dropped: IntCounter,
    /// Inventory changes applied while running (see [`crate::follow`]).
    pub inventory_applied: IntCounter,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            modbus_requests: IntCounterVec::new(
                Opts::new("zw_gateway_modbus_requests_total", "Modbus requests by result."),
                &["result"],
            )?,
            poll_lateness: Histogram::with_opts(
                HistogramOpts::new(
                    "zw_gateway_poll_lateness_seconds",
                    "Poll start lateness against the schedule.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 5.0,
                ]),
            )?,
            polls_skipped: IntCounter::new(
                "zw_gateway_polls_skipped_total",
                "Schedule slots skipped (late polls).",
            )?,
            values_dropped: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_values_dropped_total",
                    "Register values dropped during decoding.",
                ),
                &["reason"],
            )?,
            readings_published: IntCounterVec::new(
                Opts::new(
                    "zw_gateway_readings_published_total",
                    "Canonical readings published.",
                ),
                &["source"],
            )?,
            messages_rejected: IntCounterVec::new(
                Opts::new("zw_gateway_messages_rejected_total", "Device messages rejected."),
                &["adapter", "reason"],
            )?,
            publish_errors: IntCounter::new(
                "zw_gateway_publish_errors_total",
                "Failed publishes to the bus.",
            )?,
            deadletters: IntCounter::new(
                "zw_gateway_deadletters_published_total",
                "Rejected device messages sampled to the dead-letter topic.",
            )?,
            modbus: ModbusMetrics::register(r)?,
            buffer: BufferMetrics::register(r)?,
            wmbus: crate::wmbus::WmbusMetrics::register(r)?,
            mbus: crate::mbus::MbusMetrics::register(r)?,
            sml: crate::mbus::SmlMetrics::register(r)?,
            shards: crate::shards::ShardMetrics::register(r)?,
            statuses_dropped: IntCounter::new(
                "zw_gateway_statuses_dropped_total",
                "Device statuses not published because the bus client's queue was full.",
            )?,
            inventory_applied: IntCounter::new(
                "zw_gateway_inventory_applied_total",
                "Inventory changes applied while running (devices re-planned and re-routed).",
            )?,
        };
        r.register(Box::new(m.modbus_requests.clone()))?;
        r.register(Box::new(m.poll_lateness.clone()))?;
        r.register(Box::new(m.polls_skipped.clone()))?;
        r.register(Box::new(m.values_dropped.clone()))?;
        r.register(Box::new(m.readings_published.clone()))?;
        r.register(Box::new(m.messages_rejected.clone()))?;
        r.register(Box::new(m.publish_errors.clone()))?;
        r.register(Box::new(m.deadletters.clone()))?;
        r.register(Box::new(m.statuses_dropped.clone()))?;
        r.register(Box::new(m.inventory_applied.clone()))?;
        Ok(m)
    }
}
