//! Several gateways splitting one inventory (`[gateway.shards]`, issue 23).
//!
//! Every gateway loads the whole inventory; with `enabled` each one joins the `gateway` membership
//! ([`zw_bus::membership`]: heartbeats on `zw/v1/members/gateway/{instance}`) and works only on the shard
//! keys it owns among the live gateways (rendezvous hashing of the key over the members):
//!
//! | device | shard key ([`device_key`]) | what only the owner does |
//! |---|---|---|
//! | Modbus TCP / RTU | its connection ([`ModbusEndpoint::key`]) | polls every device on it |
//! | wired M-Bus, SML | its bus or stream ([`StreamEndpoint::key`]) | polls / reads it |
//! | device MQTT, wireless M-Bus | the device id | adapts, publishes, keeps its health |
//!
//! One bus line or TCP gateway stays with one gateway, so no two gateways ever talk on it at once. Device
//! MQTT messages still reach every gateway (each subscribes to all device topics): the others take them
//! unread and count them in `zw_gateway_shard_skipped_total`. The one
//! [`Publisher`](crate::publish::Publisher) publishes only readings of owned devices, whatever path they came
//! from (wireless M-Bus is gated there: its telegrams are decoded by every gateway that hears them).
//!
//! Handover follows [`zw_bus::Owners`]: a key is released at once when the member set changes and taken
//! one settle window (one heartbeat) after the set stopped changing. A gateway that is killed is seen at once
//! (its will clears its heartbeat); one that falls silent after `timeout`. Each handover is logged once with
//! the devices taken and released and counted in `zw_gateway_shard_handovers_total{direction}`; the devices
//! owned now are in `zw_gateway_shard_owned_devices`. Without `enabled` a gateway owns everything, as before.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;
use zw_bus::{LiveInventory, Membership, MembershipConfig, Owners};
use zw_model::inventory::{ModbusEndpoint, StreamEndpoint};
use zw_model::{Device, DeviceSource, Id, Inventory};

/// `[gateway.shards]`: whether several gateways split the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShardsConfig {
    /// Split the inventory with the other gateways on the broker that have it enabled (default `false`:
    /// this gateway works on every device).
    pub enabled: bool,
    /// Interval of this gateway's membership heartbeat; also the settle window before it takes devices.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// A gateway not heard of for this long is gone and its devices move to the others (a killed process is
    /// seen at once through its will).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ShardsConfig {
    fn default() -> Self {
        let m = MembershipConfig::default();
        Self {
            enabled: false,
            heartbeat: m.heartbeat,
            timeout: m.timeout,
        }
    }
}

impl ShardsConfig {
    /// The membership settings.
    pub fn membership(&self) -> MembershipConfig {
        MembershipConfig {
            heartbeat: self.heartbeat,
            timeout: self.timeout,
        }
    }

    /// Every invalid setting, prefixed with `gateway.shards.`: `heartbeat` between 100ms and 1min, `timeout`
    /// at least 3 heartbeats.
    pub fn validate(&self) -> Vec<String> {
        self.membership().validate("gateway.shards")
    }
}

/// The shard key of a device: its connection for polled ones, its id for the others.
pub fn device_key(device: &Device) -> String {
    let key = match &device.source {
        DeviceSource::Modbus { endpoint, .. } => ModbusEndpoint::parse(endpoint).ok().map(|e| e.key()),
        DeviceSource::Mbus { endpoint, .. } => {
            StreamEndpoint::parse(endpoint, 2400, "E").ok().map(|e| e.key())
        }
        DeviceSource::Sml { endpoint } => StreamEndpoint::parse(endpoint, 9600, "N").ok().map(|e| e.key()),
        _ => None,
    };
    key.unwrap_or_else(|| device.id.to_string())
}

/// The devices of `inventory` whose shard key `me` owns in `owners`.
pub fn owned_devices(inventory: &Inventory, owners: &Owners, me: &str) -> BTreeSet<Id> {
    inventory
        .devices()
        .filter(|(_, d)| owners.owns(me, &device_key(d)))
        .map(|(_, d)| d.id.clone())
        .collect()
}

/// The shard metrics.
#[derive(Clone)]
pub struct ShardMetrics {
    /// Device messages and readings this gateway left to their owner.
    pub skipped: IntCounter,
    /// Devices this gateway owns now.
    pub owned: IntGauge,
    /// Devices taken over and released, by `direction`.
    pub handovers: IntCounterVec,
}

impl ShardMetrics {
    /// Creates the metrics and registers them in `r`.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let skipped = IntCounter::new(
            "zw_gateway_shard_skipped_total",
            "Device messages and readings of devices another gateway owns, left unread.",
        )?;
        let owned = IntGauge::new(
            "zw_gateway_shard_owned_devices",
            "Devices this gateway owns (all with [gateway.shards] disabled).",
        )?;
        let handovers = IntCounterVec::new(
            Opts::new(
                "zw_gateway_shard_handovers_total",
                "Devices taken over from or released to other gateways.",
            ),
            &["direction"],
        )?;
        r.register(Box::new(skipped.clone()))?;
        r.register(Box::new(owned.clone()))?;
        r.register(Box::new(handovers.clone()))?;
        Ok(Self {
            skipped,
            owned,
            handovers,
        })
    }
}

/// What this gateway owns now; cheap to clone. [`Shard::all`] without shards.
#[derive(Clone)]
pub struct Shard {
    me: String,
    owners: Option<watch::Receiver<Owners>>,
    devices: Option<watch::Receiver<Arc<BTreeSet<Id>>>>,
}

impl Shard {
    /// Owns everything (shards disabled).
    pub fn all() -> Self {
        Self {
            me: String::new(),
            owners: None,
            devices: None,
        }
    }

    /// Whether this gateway works on shard key `key` now.
    pub fn owns_key(&self, key: &str) -> bool {
        self.owners
            .as_ref()
            .is_none_or(|o| o.borrow().owns(&self.me, key))
    }

    /// Whether this gateway publishes readings of `device` now.
    pub fn owns_device(&self, device: &Id) -> bool {
        self.devices.as_ref().is_none_or(|d| d.borrow().contains(device))
    }
}

/// Runs `run` while this gateway owns `key`: started (with a child token of `stop`) when it takes the key,
/// cancelled and awaited when it releases it, started again when it takes it back; returns at `stop`.
pub async fn while_owned<F, Fut>(key: String, shard: Shard, stop: CancellationToken, mut run: F)
where
    F: FnMut(CancellationToken) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(mut owners) = shard.owners.clone() else {
        run(stop).await;
        return;
    };
    let me = shard.me.clone();
    loop {
        let taken = tokio::select! {
            () = stop.cancelled() => return,
            r = owners.wait_for(|o| o.owns(&me, &key)) => r.is_ok(),
        };
        if !taken {
            // The membership stopped: the gateway is shutting down.
            stop.cancelled().await;
            return;
        }
        let token = stop.child_token();
        let task = run(token.clone());
        tokio::pin!(task);
        tokio::select! {
            () = &mut task => return,
            released = async { owners.wait_for(|o| !o.owns(&me, &key)).await.is_ok() } => {
                token.cancel();
                task.await;
                if !released {
                    stop.cancelled().await;
                    return;
                }
            }
        }
        if stop.is_cancelled() {
            return;
        }
    }
}

/// The running shards: the membership and the task that follows ownership and inventory.
pub struct Shards {
    membership: Membership,
    task: JoinHandle<()>,
}

impl Shards {
    /// Joins the gateways' membership if `cfg.shards.enabled`: the returned [`Shard`] follows it, and the
    /// gauge, counters and handover log follow `live`'s devices. Without shards: [`Shard::all`], no task.
    pub fn start(
        cfg: &crate::Config,
        bus: &zw_bus::Bus,
        live: &LiveInventory,
        metrics: &ShardMetrics,
        shutdown: CancellationToken,
    ) -> (Shard, Option<Self>) {
        if !cfg.shards.enabled {
            let n = live.current().devices().count();
            metrics.owned.set(i64::try_from(n).unwrap_or(i64::MAX));
            return (Shard::all(), None);
        }
        let membership = Membership::spawn(
            bus,
            "gateway",
            &cfg.instance,
            cfg.shards.membership(),
            shutdown.clone(),
        );
        let (tx, devices) = watch::channel(Arc::new(BTreeSet::new()));
        metrics.owned.set(0);
        let shard = Shard {
            me: cfg.instance.clone(),
            owners: Some(membership.owners()),
            devices: Some(devices),
        };
        let task = tokio::spawn(follow(
            cfg.instance.clone(),
            membership.owners(),
            live.subscribe(),
            tx,
            metrics.clone(),
            shutdown,
        ));
        info!(
            heartbeat = ?cfg.shards.heartbeat,
            timeout = ?cfg.shards.timeout,
            "Gateway shards enabled: this gateway works on the devices it owns among the live gateways."
        );
        (shard, Some(Self { membership, task }))
    }

    /// Waits until the heartbeat is cleared (after the shutdown).
    pub async fn stopped(self) {
        let _ = self.task.await;
        self.membership.stopped().await;
    }
}

/// Recomputes the owned devices on every change of the owners or the inventory; logs and counts handovers.
async fn follow(
    me: String,
    mut owners: watch::Receiver<Owners>,
    mut inventory: watch::Receiver<Arc<Inventory>>,
    tx: watch::Sender<Arc<BTreeSet<Id>>>,
    metrics: ShardMetrics,
    shutdown: CancellationToken,
) {
    loop {
        let (o, inv) = (
            owners.borrow_and_update().clone(),
            inventory.borrow_and_update().clone(),
        );
        let next = owned_devices(&inv, &o, &me);
        let before = tx.borrow().clone();
        let taken = next.difference(&before).count();
        let released = before.difference(&next).count();
        if taken + released > 0 {
            metrics
                .handovers
                .with_label_values(&["taken"])
                .inc_by(taken as u64);
            metrics
                .handovers
                .with_label_values(&["released"])
                .inc_by(released as u64);
            metrics.owned.set(i64::try_from(next.len()).unwrap_or(i64::MAX));
            info!(
                taken,
                released,
                owned = next.len(),
                devices = inv.devices().count(),
                members = %o.current,
                settled = o.is_settled(),
                "Gateway shard handover."
            );
            tx.send_replace(Arc::new(next));
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            r = owners.changed() => if r.is_err() { return },
            r = inventory.changed() => if r.is_err() { shutdown.cancelled().await; return },
        }
    }
}

#[cfg(test)]
mod tests;
