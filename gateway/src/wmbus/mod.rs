//! Wireless M-Bus (OMS) meters heard by receivers that publish raw telegrams over MQTT (ESP32 with a
//! CC1101/SX1276 radio, wmbusmeters-style bridges), decoded by `zw_meters` and published like every other
//! gateway reading.
//!
//! ```text
//!  receiver ─► wmbus/{receiver}/telegram (hex, or {"telegram":"<hex>"}) ─► Receiver ─┬─► Reading ─► crate::publish
//!                 (own bus connection, subscribed only when                          ├─► duplicate (counted)
//!                  the inventory has a wmbus meter or listen = true)                 ├─► wrong key (counted, logged once)
//!                                                                                    └─► unknown meter (listed, logged once)
//! ```
//!
//! * [`config`]: `[gateway.wmbus]` (topics, duplicate window, size of the unknown list, freshness).
//! * [`payload`]: the receiver's message → telegram bytes.
//! * [`receiver`]: the pure core (inventory meters and keys, duplicates, decoding, outcomes).
//! * [`dedup`], [`unknown`]: duplicate suppression and the bounded list of unknown meters heard.
//! * [`freshness`]: the per-meter freshness alarm (a device status `offline`, "stale: …", raised only
//!   inside the meter's `send_hours`), published retained on the device status topic.
//! * [`metrics`]: the `zw_gateway_wmbus_…` series.
//!
//! Keys come from the inventory (`source = { type = "wmbus", manufacturer, id, key }`); they are never logged.
//! A wrong key never produces values: it is counted (`outcome="wrong_key"`) and logged once per meter.
//! Readings carry the receive time (meters' own clocks are often wrong).

pub mod config;
pub mod dedup;
pub mod freshness;
pub mod metrics;
pub mod payload;
pub mod receiver;
pub mod unknown;

use std::sync::Arc;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zw_bus::{BusClient, ConnectOptions, FullPolicy, Inbound, QoS};
use zw_model::{DeviceSource, Inventory, Reading};

pub use config::WmbusConfig;
pub use freshness::Freshness;
pub use metrics::WmbusMetrics;
pub use receiver::{Outcome, Receiver};

use crate::publish::Publisher;

/// The source label of wireless M-Bus readings.
pub const SOURCE: &str = "wmbus";

/// The receiver connection, when there is anything to receive.
pub struct Connection {
    /// The bus client (for the disconnect).
    pub client: BusClient,
    /// Receiver messages.
    pub inbound: Inbound,
    /// The connection driver.
    pub driver: JoinHandle<()>,
}

/// Opens the receivers' bus connection (client `gateway`, instance `{instance}-wmbus`) if the inventory
/// has a `wmbus` meter or `gateway.wmbus.listen` is set and there are topics.
pub fn connect(
    cfg: &crate::Config,
    inventory: &Inventory,
    bus: &zw_bus::Bus,
    stop: CancellationToken,
) -> Option<Connection> {
    let meters = inventory
        .devices()
        .filter(|(_, d)| matches!(d.source, DeviceSource::Wmbus { .. }))
        .count();
    if cfg.wmbus.topics.is_empty() || (meters == 0 && !cfg.wmbus.listen) {
        return None;
    }
    let opts = ConnectOptions {
        client: "gateway".into(),
        instance: format!("{}-wmbus", cfg.instance),
        clean_session: true,
        subscriptions: cfg
            .wmbus
            .topics
            .iter()
            .map(|t| (t.clone(), QoS::AtLeastOnce))
            .collect(),
        manual_acks: false,
        full_policy: FullPolicy::Block,
        last_will: None,
    };
    let (client, inbound, driver) = bus.connect(opts, stop);
    Some(Connection {
        client,
        inbound,
        driver,
    })
}

/// Publishes the meters' due statuses (retained) on `bus`; never waits on the broker (a full queue drops
/// one: it is published again on the next change or refresh).
fn publish_statuses(bus: &BusClient, freshness: &mut Freshness, now: chrono::DateTime<Utc>) {
    for status in freshness.tick(now) {
        let topic = zw_model::topic::device_status(&status.device);
        if bus
            .try_publish(topic, QoS::AtLeastOnce, true, status.to_json())
            .is_err()
        {
            debug!(device = %status.device, "Meter status not published: the bus client's queue is full.");
        }
    }
}

/// Handles receiver messages until the inbound queue closes; the receiver and the freshness alarm take every
/// later inventory from `updates` ([`Receiver::update`], [`Freshness::update`]: meters and keys follow it).
/// Meter statuses go out on `bus` ([`freshness`]), checked every `tick`.
pub async fn run(
    mut inbound: Inbound,
    (mut receiver, mut freshness, mut updates): (Receiver, Freshness, watch::Receiver<Arc<Inventory>>),
    (publisher, bus, tick): (Publisher, BusClient, std::time::Duration),
    metrics: WmbusMetrics,
) {
    info!(
        meters = receiver.meters(),
        "Wireless M-Bus receiver path started."
    );
    let mut following = true;
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let msg = tokio::select! {
            msg = inbound.recv() => match msg {
                Some(m) => m,
                None => break,
            },
            changed = updates.changed(), if following => {
                match changed {
                    Ok(()) => {
                        let inv = updates.borrow_and_update().clone();
                        receiver.update(&inv);
                        freshness.update(&inv, Utc::now());
                        info!(meters = receiver.meters(), "Wireless M-Bus meters follow the inventory.");
                    }
                    Err(_) => following = false,
                }
                continue;
            }
            _ = ticks.tick() => {
                publish_statuses(&bus, &mut freshness, Utc::now());
                continue;
            }
        };
        let now = Utc::now();
        let outcome = receiver.handle(&msg.payload, now);
        metrics.telegrams.with_label_values(&[outcome.label()]).inc();
        match outcome {
            Outcome::Reading { meter, values } => {
                freshness.heard(&meter.device, now);
                let reading = Reading::new(meter.site, meter.device, now, values);
                publisher.publish(reading, SOURCE).await;
                publish_statuses(&bus, &mut freshness, now);
            }
            Outcome::Unknown(heard) => {
                metrics.heard(&heard.meter, heard.evicted.as_ref(), receiver.unknown().len());
                if heard.new {
                    let m = &heard.meter;
                    warn!(
                        manufacturer = %m.manufacturer,
                        id = %m.id,
                        version = m.version,
                        device_type = %m.device_type,
                        medium = m.medium,
                        topic = %msg.topic,
                        "Wireless M-Bus meter heard that is not in the inventory; further telegrams are only counted."
                    );
                }
            }
            Outcome::Key { meter, reason, first } => {
                if first {
                    let what = match reason {
                        "wrong_key" => "wrong key (the decrypted telegram does not start 2F 2F)",
                        "missing_key" => "encrypted telegram but no key in the inventory",
                        _ => "plaintext although the header announces encryption",
                    };
                    warn!(device = %meter.device, site = %meter.site, reason, "Wireless M-Bus meter: {what}; no values taken, further ones only counted.");
                }
            }
            Outcome::NoValues(meter) => {
                debug!(device = %meter.device, "Wireless M-Bus telegram without current values.");
            }
            Outcome::BadPayload(e) => debug!(topic = %msg.topic, error = %e, "Receiver message rejected."),
            Outcome::Undecodable(e) => debug!(topic = %msg.topic, error = %e, "Telegram does not decode."),
            Outcome::Duplicate => {}
        }
    }
}

#[cfg(test)]
mod tests;
