//! Analytics metrics: counts of what was observed, concluded, published and dropped. Labels are bounded
//! (alert kinds, states, reasons, sinks), never device or tree ids.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// Analytics metrics.
#[derive(Clone)]
pub struct Metrics {
    /// Readings observed.
    pub observed: IntCounter,
    /// Messages not observed, by reason.
    pub rejected: IntCounterVec,
    /// Alert changes published, by kind and resulting state.
    pub alert_changes: IntCounterVec,
    /// Active alerts, by kind.
    pub alerts_active: IntGaugeVec,
    /// Tree statuses published.
    pub tree_statuses: IntCounter,
    /// Acknowledgements received, by result.
    pub acks: IntCounterVec,
    /// Alert changes not delivered to a sink (queue full, retries exhausted), by sink and reason.
    pub sink_dropped: IntCounterVec,
    /// Alert changes delivered, by sink.
    pub sink_delivered: IntCounterVec,
    /// Delivery attempts repeated after a failure, by sink.
    pub sink_retries: IntCounterVec,
    /// Historic windows learned at start.
    pub warmup_windows: IntCounter,
    /// Alerts read back from the bus at start.
    pub restored: IntCounter,
    /// Fleet-wide notices (a common cause starting or ending).
    pub notices: IntCounter,
    /// Publishes that failed because the bus client stopped.
    pub publish_errors: IntCounter,
    /// Alert changes and tree statuses published again after a connection loss handed them back.
    pub republished: IntCounter,
    /// Weather messages taken in, or ignored because no park uses their area, by result.
    pub weather: IntCounterVec,
    /// Weather messages rejected, by reason.
    pub weather_rejected: IntCounterVec,
    /// Inventory changes applied while running.
    pub inventory_applied: IntCounter,
    /// Quarter hours of sites with a demand charge that ended, by result (`new_peak`, `below`,
    /// `incomplete`) and whether a peak warning was open during it (`warned`: `yes`/`no`).
    pub peak_quarters: IntCounterVec,
    /// Quarter hours of past peaks learned from InfluxDB at start.
    pub peak_warmup_quarters: IntCounter,
    /// Sites whose detectors run in this instance ([`crate::partition`]; every site without partitions).
    pub sites_owned: IntGauge,
    /// Sites handed over, by direction (`gained`, `lost`).
    pub handovers: IntCounterVec,
    /// Readings of sites another instance owns, acknowledged unread.
    pub skipped: IntCounter,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self::unregistered()?;
        r.register(Box::new(m.observed.clone()))?;
        r.register(Box::new(m.inventory_applied.clone()))?;
        r.register(Box::new(m.rejected.clone()))?;
        r.register(Box::new(m.alert_changes.clone()))?;
        r.register(Box::new(m.alerts_active.clone()))?;
        r.register(Box::new(m.tree_statuses.clone()))?;
        r.register(Box::new(m.acks.clone()))?;
        r.register(Box::new(m.sink_dropped.clone()))?;
        r.register(Box::new(m.sink_delivered.clone()))?;
        r.register(Box::new(m.sink_retries.clone()))?;
        r.register(Box::new(m.warmup_windows.clone()))?;
        r.register(Box::new(m.restored.clone()))?;
        r.register(Box::new(m.notices.clone()))?;
        r.register(Box::new(m.publish_errors.clone()))?;
        r.register(Box::new(m.republished.clone()))?;
        r.register(Box::new(m.weather.clone()))?;
        r.register(Box::new(m.weather_rejected.clone()))?;
        r.register(Box::new(m.peak_quarters.clone()))?;
        r.register(Box::new(m.peak_warmup_quarters.clone()))?;
        r.register(Box::new(m.sites_owned.clone()))?;
        r.register(Box::new(m.handovers.clone()))?;
        r.register(Box::new(m.skipped.clone()))?;
        Ok(m)
    }

    /// Metrics not registered anywhere (tests, tools).
    pub fn unregistered() -> prometheus::Result<Self> {
        let vec = |name: &str, help: &str, labels: &[&str]| IntCounterVec::new(Opts::new(name, help), labels);
        Ok(Self {
            observed: IntCounter::new(
                "zw_analytics_readings_observed_total",
                "Readings observed by analytics.",
            )?,
            rejected: vec(
                "zw_analytics_readings_rejected_total",
                "Messages analytics could not use.",
                &["reason"],
            )?,
            alert_changes: vec(
                "zw_analytics_alert_changes_total",
                "Alert changes published, by kind and resulting state.",
                &["kind", "state"],
            )?,
            alerts_active: IntGaugeVec::new(
                Opts::new(
                    "zw_analytics_alerts_active",
                    "Open or acknowledged alerts, by kind.",
                ),
                &["kind"],
            )?,
            tree_statuses: IntCounter::new("zw_analytics_tree_statuses_total", "Tree statuses published.")?,
            acks: vec(
                "zw_analytics_acks_total",
                "Alert acknowledgements received, by result.",
                &["result"],
            )?,
            sink_dropped: vec(
                "zw_analytics_sink_dropped_total",
                "Alert changes not delivered to a sink, by sink and reason.",
                &["sink", "reason"],
            )?,
            sink_delivered: vec(
                "zw_analytics_sink_delivered_total",
                "Alert changes delivered, by sink.",
                &["sink"],
            )?,
            sink_retries: vec(
                "zw_analytics_sink_retries_total",
                "Alert change deliveries repeated after a failure, by sink.",
                &["sink"],
            )?,
            warmup_windows: IntCounter::new(
                "zw_analytics_warmup_windows_total",
                "Historic power windows learned from InfluxDB at start.",
            )?,
            restored: IntCounter::new(
                "zw_analytics_restored_alerts_total",
                "Alerts read back from their retained topics at start.",
            )?,
            notices: IntCounter::new(
                "zw_analytics_notices_total",
                "Fleet-wide notices: a device class elevated at many sites at once, starting or ending.",
            )?,
            publish_errors: IntCounter::new(
                "zw_analytics_publish_errors_total",
                "Publishes that failed because the bus client stopped.",
            )?,
            republished: IntCounter::new(
                "zw_analytics_republished_total",
                "Alert changes and tree statuses published again after a connection loss handed them back unacknowledged.",
            )?,
            weather: vec(
                "zw_analytics_weather_messages_total",
                "Weather (ET0) messages: used, or unused because no park uses the area.",
                &["result"],
            )?,
            weather_rejected: vec(
                "zw_analytics_weather_rejected_total",
                "Weather (ET0) messages rejected, by reason.",
                &["reason"],
            )?,
            inventory_applied: IntCounter::new(
                "zw_analytics_inventory_applied_total",
                "Inventory changes applied while running (detectors added and retired).",
            )?,
            peak_quarters: vec(
                "zw_analytics_peak_quarters_total",
                "Quarter hours of sites with a demand charge that ended, by result (new_peak, below, incomplete) and whether a peak warning was open.",
                &["result", "warned"],
            )?,
            peak_warmup_quarters: IntCounter::new(
                "zw_analytics_peak_warmup_quarters_total",
                "Past quarter hours of sites with a demand charge learned from InfluxDB at start (the peak so far).",
            )?,
            sites_owned: IntGauge::new(
                "zw_analytics_sites_owned",
                "Sites whose detectors run in this analytics instance.",
            )?,
            handovers: vec(
                "zw_analytics_handovers_total",
                "Sites handed over between analytics instances, by direction (gained, lost).",
                &["direction"],
            )?,
            skipped: IntCounter::new(
                "zw_analytics_readings_skipped_total",
                "Readings of sites another analytics instance owns, acknowledged unread.",
            )?,
        })
    }
}
