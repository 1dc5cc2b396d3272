//! Putting a polled device's retained status on the bus (readings go through [`crate::publish`]).
//! Failures are counted, never silent.

use chrono::Utc;
use tracing::warn;
use zw_bus::{BusClient, QoS};

use super::poll_health::PollHealth;
use crate::Metrics;

/// Publishes the device's status (retained) if it changed or is due for a refresh.
pub(crate) async fn publish_status(
    bus: &BusClient,
    health: &mut PollHealth,
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
