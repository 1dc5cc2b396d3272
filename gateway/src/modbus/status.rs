//! Putting a polled device's retained status on the bus (readings go through [`crate::publish`]).
//! Never waits on the broker: with the bus client's queue full (the broker away) the status is dropped and
//! counted (`zw_gateway_statuses_dropped_total`); it is retained state, published again on the next change
//! or refresh, and polling must not stall behind it.

use chrono::Utc;
use tracing::debug;
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
    match bus.try_publish(topic, QoS::AtLeastOnce, true, status.to_json()) {
        Ok(()) => metrics.modbus.status_published.inc(),
        Err(_) => {
            metrics.statuses_dropped.inc();
            debug!(device = %status.device, "Device status not published: the bus client's queue is full.");
        }
    }
}
