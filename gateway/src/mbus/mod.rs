//! Wired M-Bus meters (heat, water, gas, electricity) polled over an M-Bus/Ethernet gateway or a serial
//! level converter, decoded by `zw_meters` and published like every other gateway reading.
//!
//! ```text
//!  inventory mbus meters ─► plan (one task per bus) ─► poll_bus ─► SND_NKE / select → REQ_UD2 → RSP_UD …
//!                                                        │             (link.rs: one frame per exchange)
//!                                                        ├─► Reading ─► crate::publish
//!                                                        └─► status ─► zw/v1/status/device/{device} (retained)
//! ```
//!
//! Guarantees, as for Modbus ([`crate::modbus`], whose [`Scheduler`](crate::modbus::schedule::Scheduler)
//! and [`PollHealth`](crate::modbus::PollHealth) this reuses):
//! * One request at a time per bus (M-Bus is half duplex); different buses run in parallel.
//! * Every request has a timeout and `retries` repeats with the same FCB; bytes arriving outside an exchange
//!   are discarded and counted; a transport error re-opens the stream with back-off.
//! * A meter that does not answer is backed off on its own and only probed (one SND_NKE or select) within
//!   `failing_share` of the bus's time: a dead meter never delays the others.
//! * Multi-telegram answers (DIF `1F`) are read with the FCB toggled, up to `max_telegrams`.
//! * Timeouts and checksum errors are counted per meter (`zw_gateway_mbus_requests_total`); a value a meter
//!   did not send is missing, never 0.
//!
//! | module | what |
//! |---|---|
//! | [`plan`] (here) | inventory → buses and their meters |
//! | `poller.rs` | one bus's task: stream, grid, probes, publishing |
//! | `read.rs` | one read of one meter: the request sequence |
//! | [`link`] | opening TCP or serial streams; one exchange = one frame |
//! | [`metrics`] | `zw_gateway_mbus_…` and `zw_gateway_sml_…` |
//!
//! Settings are [`crate::config::mbus`] (`[gateway.mbus]`). SML streams, which share the stream opening,
//! are [`crate::sml`].

pub mod link;
pub mod metrics;
mod poller;
mod read;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use tracing::debug;
use zw_bus::{BusClient, QoS};
use zw_meters::mbus::frame::SecondaryAddress;
use zw_model::inventory::StreamEndpoint;
use zw_model::{DeviceSource, Id, Inventory};

pub use metrics::{MbusMetrics, SmlMetrics};
pub use poller::{SOURCE, poll_bus};
pub use read::Target;

use crate::Metrics;
use crate::modbus::PollHealth;

/// A wired M-Bus meter as its bus's task polls it.
#[derive(Debug, Clone)]
pub struct MbusMeter {
    /// Site id.
    pub site: Id,
    /// Device id.
    pub device: Id,
    /// How it is addressed.
    pub target: Target,
    /// Poll interval.
    pub interval: Duration,
}

/// The inventory's wired M-Bus meters by bus (endpoint key order; each bus's meters in inventory order).
/// Sources that do not parse are left out: the inventory's validation reports them.
pub fn plan(inventory: &Inventory) -> Vec<(StreamEndpoint, Vec<MbusMeter>)> {
    let mut buses: BTreeMap<String, (StreamEndpoint, Vec<MbusMeter>)> = BTreeMap::new();
    for (site, dev) in inventory.devices() {
        let DeviceSource::Mbus {
            endpoint,
            address,
            secondary,
            interval,
        } = &dev.source
        else {
            continue;
        };
        let Ok(ep) = StreamEndpoint::parse(endpoint, 2400, "E") else {
            continue;
        };
        let target = match (address, secondary) {
            (Some(a), None) => Target::Primary(*a),
            (None, Some(s)) => match SecondaryAddress::from_id(s) {
                Some(s) => Target::Secondary(s),
                None => continue,
            },
            _ => continue,
        };
        buses
            .entry(ep.key())
            .or_insert_with(|| (ep, Vec::new()))
            .1
            .push(MbusMeter {
                site: site.id.clone(),
                device: dev.id.clone(),
                target,
                interval: *interval,
            });
    }
    buses.into_values().collect()
}

/// Publishes a meter's status (retained) if it changed or is due; never waits on the broker (a full queue
/// drops it, counted in `zw_gateway_statuses_dropped_total`: it is published again on the next change).
pub(crate) fn publish_status(bus: &BusClient, health: &mut PollHealth, refresh: Duration, metrics: &Metrics) {
    let Some(status) = health.publish_due(Utc::now(), refresh) else {
        return;
    };
    let topic = zw_model::topic::device_status(&status.device);
    if bus
        .try_publish(topic, QoS::AtLeastOnce, true, status.to_json())
        .is_err()
    {
        metrics.statuses_dropped.inc();
        debug!(device = %status.device, "Device status not published: the bus client's queue is full.");
    }
}

#[cfg(test)]
mod tests;
