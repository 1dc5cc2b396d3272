//! Device MQTT: routes each subscribed device topic to its adapter and publishes canonical readings.
//!
//! The route table is built from the inventory, so every subscribed topic belongs to exactly one device. A
//! message that fails to decode is counted per adapter and reason and logged, and the process carries on.

use std::collections::HashMap;

use chrono::Utc;
use tracing::{debug, warn};
use zw_bus::{BusClient, Inbound};
use zw_model::{DeviceSource, Id, Inventory, Reading};

use crate::adapters::{self, AdapterError, Decoded};
use crate::{Config, Metrics};

/// Which decoder a topic feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    /// Tasmota SENSOR telemetry.
    Tasmota,
    /// The Things Stack uplink from a Dragino LSE01.
    TtnLse01,
}

impl Adapter {
    fn label(self) -> &'static str {
        match self {
            Adapter::Tasmota => "tasmota",
            Adapter::TtnLse01 => "ttn",
        }
    }

    fn decode(self, payload: &[u8]) -> Result<Decoded, AdapterError> {
        match self {
            Adapter::Tasmota => adapters::tasmota::decode(payload),
            Adapter::TtnLse01 => adapters::ttn::decode_lse01(payload),
        }
    }
}

/// Topic → (site, device, adapter).
pub type Routes = HashMap<String, (Id, Id, Adapter)>;

/// Builds the route table from the inventory.
pub fn routes(cfg: &Config, inventory: &Inventory) -> Routes {
    let mut routes = Routes::new();
    for (site, dev) in inventory.devices() {
        let route = match &dev.source {
            DeviceSource::Tasmota { topic } => (cfg.tasmota_topic(topic, "SENSOR"), Adapter::Tasmota),
            DeviceSource::Ttn { topic, .. } => (topic.clone(), Adapter::TtnLse01),
            DeviceSource::Modbus { .. } => continue,
        };
        routes.insert(route.0, (site.id.clone(), dev.id.clone(), route.1));
    }
    routes
}

/// Consumes device messages until the inbound queue closes.
pub async fn run(mut inbound: Inbound, routes: Routes, cfg: Config, bus: BusClient, metrics: Metrics) {
    while let Some(msg) = inbound.recv().await {
        let Some((site, device, adapter)) = routes.get(msg.topic.as_str()) else {
            // Only configured topics are subscribed, so this is a broker-side surprise; count it.
            metrics
                .messages_rejected
                .with_label_values(&["unknown", "unknown_topic"])
                .inc();
            debug!(topic = %msg.topic, "Message on an unrouted topic.");
            continue;
        };
        let decoded = if msg.payload.len() > cfg.max_payload_bytes {
            Err(AdapterError::TooLarge(msg.payload.len()))
        } else {
            adapter.decode(&msg.payload)
        };
        match decoded {
            Ok(d) => {
                let reading = Reading::new(
                    site.clone(),
                    device.clone(),
                    d.ts.unwrap_or_else(Utc::now),
                    d.values,
                );
                crate::modbus::publish(&bus, &reading, adapter.label(), &metrics).await;
            }
            Err(e) => {
                metrics
                    .messages_rejected
                    .with_label_values(&[adapter.label(), e.reason()])
                    .inc();
                warn!(device = %device, topic = %msg.topic, error = %e, "Rejected device message.");
            }
        }
    }
}
