//! Putting gateway output on the bus: canonical readings (validated first, QoS 1) and retained device
//! status. Failures are counted, never silent.

use chrono::Utc;
use tracing::warn;
use zw_bus::{BusClient, QoS};
use zw_model::{Reading, reading::TimeWindow};

use crate::Metrics;
use crate::health::Health;

/// Publishes a reading after validating it; failures are counted, never silent.
pub(crate) async fn publish(bus: &BusClient, reading: &Reading, source: &str, metrics: &Metrics) {
    if let Err(e) = reading.validate(Utc::now(), TimeWindow::default()) {
        metrics
            .messages_rejected
            .with_label_values(&[source, e.reason()])
            .inc();
        warn!(device = %reading.device, error = %e, "Dropped invalid reading.");
        return;
    }
    let topic = zw_model::topic::readings(&reading.site, &reading.device);
    match bus
        .publish(topic, QoS::AtLeastOnce, false, reading.to_json())
        .await
    {
        Ok(()) => metrics.readings_published.with_label_values(&[source]).inc(),
        Err(e) => {
            metrics.publish_errors.inc();
            warn!(device = %reading.device, error = %e, "Could not publish reading.");
        }
    }
}

/// Publishes the device's status (retained) if it changed or is due for a refresh.
pub(crate) async fn publish_status(
    bus: &BusClient,
    health: &mut Health,
    refresh: std::time::Duration,
    metrics: &Metrics,
) {
    let Some(status) = health.publish_due(Utc::now(), refresh) else {
        return;
    };
    let topic = zw_model::topic::device_status(&status.device);
    match bus.publish(topic, QoS::AtLeastOnce, true, status.to_json()).await {
        Ok(()) => metrics.modbus.status_published.inc(),
        Err(e) => {
            metrics.publish_errors.inc();
            warn!(device = %status.device, error = %e, "Could not publish device status.");
        }
    }
}
