//! The gateway following the inventory while it runs (issue 18): every change of its
//! [`zw_bus::LiveInventory`] is applied without a restart.
//!
//! | source | on a change |
//! |---|---|
//! | Modbus | re-planned; [`crate::modbus::Supervisor`] stops the tasks of endpoints gone or changed, starts new and changed ones, keeps the rest with their connections and schedules |
//! | device MQTT | the router is rebuilt and the subscriptions changed ([`crate::device_mqtt::run`] follows the inventory itself) |
//! | wireless M-Bus | the receiver's meters and keys are replaced ([`crate::wmbus::run`]); the receivers' connection is opened once the first `wmbus` meter appears |
//!
//! Each change is counted (`zw_gateway_inventory_applied_total`) and logged in one line with the devices
//! added, removed and changed. A Modbus device the new plan cannot poll (unknown profile, endpoint that does
//! not parse) is left out with a warning: at start such a device stops the gateway, at run time the rest
//! goes on. Wired M-Bus and SML meters are planned at start only.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{BusClient, LiveInventory};
use zw_model::Inventory;

use crate::publish::Publisher;
use crate::{Config, Metrics, ProfileSet, modbus, wmbus};

/// The wireless M-Bus path while it runs: its task, client and connection driver.
pub(crate) struct WmbusTask {
    pub task: JoinHandle<()>,
    pub client: BusClient,
    pub driver: JoinHandle<()>,
}

impl WmbusTask {
    /// Opens the receivers' connection if the inventory needs it and starts the path on it.
    pub fn start(
        cfg: &Config,
        live: &LiveInventory,
        (bus, stop): (&zw_bus::Bus, CancellationToken),
        publisher: Publisher,
        metrics: &Metrics,
    ) -> Option<Self> {
        let updates = live.subscribe();
        let inventory = updates.borrow().clone();
        let c = wmbus::connect(cfg, &inventory, bus, stop)?;
        let receiver = wmbus::Receiver::new(&cfg.wmbus, &inventory);
        let w = &cfg.wmbus;
        let tz = w.tz().unwrap_or(chrono_tz::Europe::Berlin);
        let times = (w.stale_after, w.status_refresh);
        let freshness = wmbus::Freshness::new(&inventory, times, tz, &cfg.instance, chrono::Utc::now());
        let tick = times.0.min(times.1).min(std::time::Duration::from_secs(10));
        let task = tokio::spawn(wmbus::run(
            c.inbound,
            (receiver, freshness, updates),
            (publisher, c.client.clone(), tick),
            metrics.wmbus.clone(),
        ));
        Some(Self {
            task,
            client: c.client,
            driver: c.driver,
        })
    }
}

/// What the gateway follows the inventory with.
pub(crate) struct Follower<'a> {
    pub cfg: Config,
    pub profiles: ProfileSet,
    pub bus: &'a zw_bus::Bus,
    /// The token of the gateway's bus connections (cancelled after everything stopped).
    pub bus_stop: CancellationToken,
    pub publisher: Publisher,
    pub metrics: Metrics,
    pub modbus: modbus::Supervisor,
    pub wmbus: Option<WmbusTask>,
}

impl Follower<'_> {
    /// Applies every change of `live` until `shutdown`; returns the Modbus tasks and the wireless M-Bus path
    /// for the shutdown.
    pub async fn run(
        mut self,
        live: &LiveInventory,
        shutdown: CancellationToken,
    ) -> (modbus::Supervisor, Option<WmbusTask>) {
        let mut updates = live.subscribe();
        let mut current = updates.borrow_and_update().clone();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                changed = updates.changed() => {
                    if changed.is_err() {
                        shutdown.cancelled().await;
                        break;
                    }
                    let next = updates.borrow_and_update().clone();
                    self.apply(&current, &next, live).await;
                    current = next;
                }
            }
        }
        (self.modbus, self.wmbus)
    }

    async fn apply(&mut self, before: &Inventory, after: &Arc<Inventory>, live: &LiveInventory) {
        let plan = modbus::endpoint_plan(after, &self.profiles);
        for problem in &plan.problems {
            warn!(%problem, "Modbus device of the changed inventory is not polled.");
        }
        let polled = self.modbus.apply(plan.into_endpoints()).await;
        if self.wmbus.is_none() {
            self.wmbus = WmbusTask::start(
                &self.cfg,
                live,
                (self.bus, self.bus_stop.clone()),
                self.publisher.clone(),
                &self.metrics,
            );
        }
        let (added, removed, changed) = device_changes(before, after);
        self.metrics.inventory_applied.inc();
        info!(
            added = ?added,
            removed = ?removed,
            changed = ?changed,
            modbus_started = polled.started,
            modbus_stopped = polled.stopped,
            modbus_kept = polled.kept,
            "Inventory change applied."
        );
    }
}

/// Device ids added, removed, and changed (site or settings) between two inventories, each sorted.
pub fn device_changes(before: &Inventory, after: &Inventory) -> (Vec<String>, Vec<String>, Vec<String>) {
    let index = |inv: &Inventory| -> BTreeMap<String, (String, zw_model::Device)> {
        inv.devices()
            .map(|(s, d)| (d.id.to_string(), (s.id.to_string(), d.clone())))
            .collect()
    };
    let (old, new) = (index(before), index(after));
    let added = new.keys().filter(|k| !old.contains_key(*k)).cloned().collect();
    let removed = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    let changed = new
        .iter()
        .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
        .map(|(k, _)| k.clone())
        .collect();
    (added, removed, changed)
}

#[cfg(test)]
mod tests {
    use zw_model::inventory::Device;

    use super::*;

    #[test]
    fn device_changes_name_added_removed_and_changed_devices() {
        let before = Inventory::builder()
            .building(
                "b",
                [
                    Device::tasmota("p1", "plug1"),
                    Device::tasmota("p2", "plug2"),
                    Device::modbus("m", "10.0.0.1:502", 1, "sdm630"),
                ],
            )
            .build();
        let after = Inventory::builder()
            .building(
                "b",
                [
                    Device::tasmota("p1", "plug1"),
                    Device::tasmota("p3", "plug3"),
                    Device::modbus("m", "10.0.0.1:502", 2, "sdm630"),
                ],
            )
            .build();
        let (added, removed, changed) = device_changes(&before, &after);
        assert_eq!(added, ["p3"]);
        assert_eq!(removed, ["p2"]);
        assert_eq!(changed, ["m"]);
        let none = device_changes(&after, &after);
        assert_eq!(none, (vec![], vec![], vec![]));
    }
}
