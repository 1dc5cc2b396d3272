//! Device MQTT: routes each device topic to its adapter, publishes canonical readings, keeps each device's
//! health on its retained status topic, and samples rejected messages to the dead-letter topic.
//!
//! ```text
//!  tele/+/+, <shelly>/…, v3/…/up, json topics ─► Router ─► adapter (per-device state) ─► Reading
//!                                                   │                │ rejected     ─► crate::publish (readings, batches)
//!                                    unknown topic ─┘                ▼
//!                 (counted, logged once)     zw_gateway_messages_rejected_total{adapter,reason}
//!                                            + sampled zw/v1/deadletter/gateway/{instance}/{device}
//!  every message + a 1 s tick ─► Liveness ─► zw/v1/status/device/{device} (retained, on change + refresh)
//!                     (stale after a multiple of the adapter's expected interval, see [`crate::config::Staleness`])
//! ```
//!
//! Guarantees: the process never panics on input; a message is rejected (never half-published) when its
//! payload is over `gateway.max_payload_bytes`, does not decode, or carries a timestamp outside the
//! plausible window (7 days back, 5 minutes ahead); rejections are counted per adapter and reason, and at
//! most one per device per `gateway.deadletter_interval` is published as a dead letter. Unknown topics are
//! logged once each (up to [`MAX_LISTED_UNKNOWN`] distinct topics), then only counted.
//!
//! A payload over `bus.max_message_bytes` (issue 16: a household's own device, or anyone on the broker, can
//! send one, retained) is rejected before the topic's adapter sees it, on any topic: reason `oversized`,
//! counted, dead-lettered with a [`OVERSIZED_PREVIEW`]-byte preview, never parsed. The bus client's framing
//! limit is above that, so such a message never breaks the connection (see `zw_bus::oversized`).
//!
//! The routes follow the inventory: on every change of the [`zw_bus::LiveInventory`] the router is rebuilt,
//! unchanged devices keep their decoder state and health ([`Router::carry_over`]), new filters are
//! subscribed and unneeded ones unsubscribed on the running connection. A removed device's topics are
//! unknown from then on.

mod deadletter;
mod liveness;
mod router;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::{MissedTickBehavior, interval};
use tracing::{debug, info, warn};
use zw_bus::{BusClient, Inbound, LiveInventory, QoS};
use zw_model::reading::TimeWindow;
use zw_model::{Inventory, Reading};

use crate::adapters::{AdapterError, Message};
use crate::publish::Publisher;
use crate::{Config, Metrics};
pub use deadletter::{DeadLetter, Sampler};
pub use liveness::Liveness;
pub use router::{Decoder, Entry, Part, Route, Router};

/// Distinct unknown topics that are logged by name; later ones are only counted.
pub const MAX_LISTED_UNKNOWN: usize = 1000;

/// How much of a payload over `bus.max_message_bytes` its dead letter keeps (as ingest's do).
pub const OVERSIZED_PREVIEW: usize = 1024;

/// Builds the route table from the inventory.
pub fn routes(cfg: &Config, inventory: &Inventory) -> Router {
    Router::new(cfg, inventory, Utc::now())
}

/// Everything the consumer loop keeps between messages.
struct Worker {
    router: Router,
    /// The inventory the router was built from.
    inventory: Arc<Inventory>,
    cfg: Config,
    bus: BusClient,
    publisher: Publisher,
    metrics: Metrics,
    sampler: Sampler,
    unknown: HashSet<String>,
    /// `bus.max_message_bytes`: larger payloads are rejected unparsed.
    max_message_bytes: usize,
    /// The devices this gateway adapts (`[gateway.shards]`); the others' messages are skipped unread.
    shard: crate::shards::Shard,
}

/// Consumes device messages until the inbound queue closes; payloads over `max_message_bytes`
/// (`bus.max_message_bytes`) are rejected unparsed. `router` is built from `live`'s current inventory; it is
/// rebuilt on every change, and `bus` (the connection `inbound` comes from) subscribes to the new filters.
/// Only messages of devices `shard` owns are adapted (and their health kept); the others are counted unread.
pub async fn run(
    mut inbound: Inbound,
    (router, live): (Router, &LiveInventory),
    cfg: Config,
    (bus, max_message_bytes): (BusClient, usize),
    publisher: Publisher,
    metrics: Metrics,
    shard: crate::shards::Shard,
) {
    let mut updates = live.subscribe();
    let inventory = updates.borrow_and_update().clone();
    let mut w = Worker::new(router, cfg, (bus, max_message_bytes), publisher, metrics);
    w.inventory = inventory;
    w.shard = shard;
    let mut tick = interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut following = true;
    loop {
        tokio::select! {
            msg = inbound.recv() => match msg {
                Some(m) => w.handle(&m.topic, &m.payload, Utc::now()).await,
                None => break,
            },
            _ = tick.tick() => w.tick(Utc::now()).await,
            changed = updates.changed(), if following => match changed {
                Ok(()) => {
                    let inv = updates.borrow_and_update().clone();
                    w.reroute(inv, Utc::now()).await;
                }
                Err(_) => following = false,
            },
        }
    }
}

fn delta(d: std::time::Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Worker {
    fn new(
        router: Router,
        cfg: Config,
        (bus, max_message_bytes): (BusClient, usize),
        publisher: Publisher,
        metrics: Metrics,
    ) -> Self {
        Self {
            sampler: Sampler::new(delta(cfg.deadletter_interval)),
            router,
            inventory: Arc::default(),
            cfg,
            bus,
            publisher,
            metrics,
            unknown: HashSet::new(),
            max_message_bytes,
            shard: crate::shards::Shard::all(),
        }
    }

    /// Rebuilds the routes for `inventory`, keeping unchanged devices' state, and changes the subscriptions.
    async fn reroute(&mut self, inventory: Arc<Inventory>, now: DateTime<Utc>) {
        let mut router = Router::new(&self.cfg, &inventory, now);
        let (add, remove) = router.filter_changes(&self.router);
        let old = std::mem::replace(
            &mut self.router,
            Router::new(&self.cfg, &Inventory::default(), now),
        );
        router.carry_over(old, &self.inventory, &inventory);
        self.router = router;
        self.inventory = inventory;
        if !add.is_empty() {
            let filters = add.iter().map(|f| (f.clone(), QoS::AtLeastOnce)).collect();
            if let Err(e) = self.bus.subscribe(filters).await {
                warn!(error = %e, "Could not subscribe to new device topics.");
            }
        }
        if !remove.is_empty()
            && let Err(e) = self.bus.unsubscribe(remove.clone()).await
        {
            warn!(error = %e, "Could not unsubscribe from device topics no longer in the inventory.");
        }
        // A topic unknown before may belong to a device now, and one of a removed device is logged again.
        self.unknown.clear();
        info!(
            devices = self.router.devices.len(),
            subscribed = add.len(),
            unsubscribed = remove.len(),
            "Device MQTT routes follow the inventory."
        );
    }

    async fn handle(&mut self, topic: &str, payload: &[u8], now: DateTime<Utc>) {
        if payload.len() > self.max_message_bytes {
            self.reject_oversized(topic, payload, now).await;
            return;
        }
        let (idx, part) = match self.router.route(topic) {
            router::Route::Device(i, p) => (i, p),
            router::Route::Group(g, p) => {
                // A Shelly prefix read by several channels: each device reads the message for its channel.
                for k in 0..self.router.group(g).len() {
                    let i = self.router.group(g)[k];
                    self.handle_device(i, p, topic, payload, now).await;
                }
                return;
            }
            router::Route::Ignored => return,
            router::Route::Unknown(family) => {
                self.metrics
                    .messages_rejected
                    .with_label_values(&[family, "unknown_topic"])
                    .inc();
                if self.unknown.len() < MAX_LISTED_UNKNOWN && self.unknown.insert(topic.to_owned()) {
                    warn!(
                        topic,
                        "Message on a topic of no configured device; further ones are only counted."
                    );
                }
                self.dead_letter(None, family, topic, payload, &AdapterError::UnknownTopic, now)
                    .await;
                return;
            }
        };
        self.handle_device(idx, part, topic, payload, now).await;
    }

    /// Decodes one message of a routed device, publishes the reading or the rejection, updates its health.
    async fn handle_device(
        &mut self,
        idx: usize,
        part: router::Part,
        topic: &str,
        payload: &[u8],
        now: DateTime<Utc>,
    ) {
        let entry = &mut self.router.devices[idx];
        if !self.shard.owns_device(&entry.device) {
            self.metrics.shards.skipped.inc();
            return;
        }
        let result = decide(entry, part, payload, self.cfg.max_payload_bytes, now);
        match result {
            Ok(Message::Reading(d)) => {
                let reading = Reading::new(
                    entry.site.clone(),
                    entry.device.clone(),
                    d.ts.unwrap_or(now),
                    d.values,
                );
                entry.liveness.on_values(now);
                self.publisher.publish(reading, entry.adapter).await;
            }
            Ok(Message::Availability(online)) => entry.liveness.on_availability(online, now),
            Ok(Message::Alive) => entry.liveness.on_alive(now),
            Err(e) => {
                count_rejection(&self.metrics, entry.adapter, &e);
                entry.liveness.on_rejected(e.reason(), &e.to_string(), now);
                let (device, adapter) = (entry.device.clone(), entry.adapter);
                debug!(device = %device, topic, error = %e, "Rejected device message.");
                self.dead_letter(Some(device.as_str()), adapter, topic, payload, &e, now)
                    .await;
            }
        }
        self.publish_status(idx, now).await;
    }

    /// Rejects a payload over `bus.max_message_bytes` without parsing it: counted under the adapter of the
    /// topic's device (`other` for a topic no adapter reads), dead-lettered with a short preview. The
    /// device's health notes the rejection like any other.
    async fn reject_oversized(&mut self, topic: &str, payload: &[u8], now: DateTime<Utc>) {
        let e = AdapterError::Oversized {
            size: payload.len(),
            limit: self.max_message_bytes,
        };
        let idx = match self.router.route(topic) {
            router::Route::Device(i, _) => Some(i),
            router::Route::Group(g, _) => self.router.group(g).first().copied(),
            router::Route::Ignored | router::Route::Unknown(_) => None,
        };
        let (device, adapter) = match idx {
            Some(i) => {
                let entry = &mut self.router.devices[i];
                entry.liveness.on_rejected(e.reason(), &e.to_string(), now);
                (Some(entry.device.clone()), entry.adapter)
            }
            None => match self.router.route(topic) {
                router::Route::Unknown(family) => (None, family),
                _ => (None, "other"),
            },
        };
        count_rejection(&self.metrics, adapter, &e);
        warn!(
            topic,
            size = payload.len(),
            limit = self.max_message_bytes,
            "Device message over bus.max_message_bytes rejected unparsed."
        );
        self.dead_letter(
            device.as_ref().map(|d| d.as_str()),
            adapter,
            topic,
            payload,
            &e,
            now,
        )
        .await;
        if let Some(i) = idx {
            self.publish_status(i, now).await;
        }
    }

    /// Marks quiet devices offline and publishes due statuses.
    async fn tick(&mut self, now: DateTime<Utc>) {
        for i in 0..self.router.devices.len() {
            let e = &mut self.router.devices[i];
            if !self.shard.owns_device(&e.device) {
                continue;
            }
            e.liveness.tick(now, e.stale_after);
            self.publish_status(i, now).await;
        }
    }

    async fn publish_status(&mut self, idx: usize, now: DateTime<Utc>) {
        let refresh = delta(self.cfg.mqtt_status_refresh);
        let e = &mut self.router.devices[idx];
        if !e.liveness.due(now, refresh) {
            return;
        }
        let Some(status) =
            e.liveness
                .publish((&e.site, &e.device), &self.cfg.instance, e.adapter, now, refresh)
        else {
            return;
        };
        let topic = zw_model::topic::device_status(&e.device);
        if let Err(err) = self
            .bus
            .publish(topic, QoS::AtLeastOnce, true, status.to_json())
            .await
        {
            self.metrics.publish_errors.inc();
            warn!(device = %e.device, error = %err, "Could not publish device status.");
        }
    }

    async fn dead_letter(
        &mut self,
        device: Option<&str>,
        adapter: &str,
        topic: &str,
        payload: &[u8],
        e: &AdapterError,
        now: DateTime<Utc>,
    ) {
        let Some(suppressed) = self.sampler.admit(device.unwrap_or("_unknown"), now) else {
            return;
        };
        let excerpt_bytes = match e {
            AdapterError::Oversized { .. } => OVERSIZED_PREVIEW.min(self.cfg.deadletter_excerpt_bytes),
            _ => self.cfg.deadletter_excerpt_bytes,
        };
        let letter = DeadLetter {
            v: 1,
            gateway: &self.cfg.instance,
            adapter,
            device,
            topic,
            reason: e.reason(),
            error: e.to_string(),
            received: now,
            payload_bytes: payload.len(),
            payload: deadletter::excerpt(payload, excerpt_bytes),
            suppressed,
        };
        if device.is_some() {
            info!(device, reason = e.reason(), error = %e, suppressed, "Device message rejected (sampled to the dead-letter topic).");
        }
        let body = serde_json::to_vec(&letter).unwrap_or_default();
        match self
            .bus
            .publish(letter.topic(), QoS::AtLeastOnce, false, body)
            .await
        {
            Ok(()) => self.metrics.deadletters.inc(),
            Err(err) => {
                self.metrics.publish_errors.inc();
                warn!(error = %err, "Could not publish dead letter.");
            }
        }
    }
}

/// Decodes one message of a routed device: the size limit, the adapter, the timestamp window.
fn decide(
    entry: &mut Entry,
    part: Part,
    payload: &[u8],
    max_payload_bytes: usize,
    now: DateTime<Utc>,
) -> Result<Message, AdapterError> {
    if payload.len() > max_payload_bytes {
        return Err(AdapterError::TooLarge(payload.len()));
    }
    entry.decode(part, payload).and_then(|m| plausible(m, now))
}

/// Counts a rejected message under its adapter and reason.
fn count_rejection(metrics: &Metrics, adapter: &str, e: &AdapterError) {
    metrics
        .messages_rejected
        .with_label_values(&[adapter, e.reason()])
        .inc();
}

/// Rejects readings whose own timestamp is far in the past or the future.
fn plausible(m: Message, now: DateTime<Utc>) -> Result<Message, AdapterError> {
    if let Message::Reading(d) = &m
        && let Some(ts) = d.ts
    {
        let w = TimeWindow::default();
        if ts < now - w.max_age || ts > now + w.max_future {
            return Err(AdapterError::Timestamp(ts));
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests;
