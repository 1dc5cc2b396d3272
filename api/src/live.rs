//! The live view: the latest reading of every inventory device, kept in memory and fed by the bus.
//!
//! Readings arrive one per message or in batches ([`zw_model::reading::for_each_in_message`]). Only readings
//! of devices in the inventory, with their own site (and on their own topic, for single ones), are kept; an older reading never
//! replaces a newer one (the bus does not guarantee order across reconnects). The inbound queue drops the
//! newest message when full (counted): for a live view the next reading supersedes a lost one anyway.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use tokio::sync::broadcast;
use tracing::debug;
use zw_bus::Inbound;
use zw_model::reading::{self, ReadingError, TimeWindow};
use zw_model::{Inventory, Quantity, Reading};

/// Latest reading per device id, plus a broadcast of every stored reading for live streams.
#[derive(Clone)]
pub struct LiveCache {
    latest: Arc<RwLock<HashMap<String, DeviceLive>>>,
    updates: broadcast::Sender<Arc<Reading>>,
}

impl Default for LiveCache {
    fn default() -> Self {
        // A slow stream client that falls more than this many readings behind skips ahead (counted).
        Self {
            latest: Arc::default(),
            updates: broadcast::channel(4096).0,
        }
    }
}

impl LiveCache {
    /// Every reading stored from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Reading>> {
        self.updates.subscribe()
    }

    /// The latest value of every quantity of `device`, if any arrived yet.
    pub fn get(&self, device: &str) -> Option<DeviceLive> {
        self.latest.read().ok()?.get(device).cloned()
    }

    /// Runs `f` on the live state of `device` under the read lock, without copying it.
    pub fn with<R>(&self, device: &str, f: impl FnOnce(Option<&DeviceLive>) -> R) -> R {
        match self.latest.read() {
            Ok(map) => f(map.get(device)),
            Err(_) => f(None),
        }
    }

    /// Time of the newest reading of `device`, if any arrived yet.
    pub fn last_seen(&self, device: &str) -> Option<DateTime<Utc>> {
        self.latest.read().ok()?.get(device).map(|l| l.ts)
    }

    /// Merges `r` per quantity: a value replaces the stored one unless that is newer. Devices that report
    /// different quantities in different messages (a Shelly Pro 3EM sends power and energy apart) keep all of
    /// them, each with its own timestamp. Returns whether anything was stored.
    pub fn update(&self, r: Reading) -> bool {
        {
            let Ok(mut map) = self.latest.write() else {
                return false;
            };
            let entry = map.entry(r.device.to_string()).or_insert_with(|| DeviceLive {
                ts: r.ts,
                values: BTreeMap::new(),
            });
            let mut stored = false;
            for (q, v) in &r.values {
                if entry.values.get(q).is_none_or(|(_, ts)| *ts <= r.ts) {
                    entry.values.insert(*q, (*v, r.ts));
                    stored = true;
                }
            }
            if !stored {
                return false;
            }
            entry.ts = entry.ts.max(r.ts);
        }
        // No subscribers is fine: nobody is streaming.
        let _ = self.updates.send(Arc::new(r));
        true
    }
}

/// The merged live state of one device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceLive {
    /// Time of the newest value.
    pub ts: DateTime<Utc>,
    /// Latest value of each quantity with its own measurement time.
    pub values: BTreeMap<Quantity, (f64, DateTime<Utc>)>,
}

/// Live-feed metrics.
#[derive(Clone)]
pub struct LiveMetrics {
    /// Readings stored in the live cache.
    pub updates: IntCounter,
    /// Bus messages not stored, by reason.
    pub rejected: IntCounterVec,
}

impl LiveMetrics {
    /// Creates and registers the metrics.
    pub fn register(r: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            updates: IntCounter::new(
                "zw_api_live_updates_total",
                "Readings stored in the API's live cache.",
            )?,
            rejected: IntCounterVec::new(
                Opts::new(
                    "zw_api_live_rejected_total",
                    "Bus messages not stored in the live cache.",
                ),
                &["reason"],
            )?,
        };
        r.register(Box::new(m.updates.clone()))?;
        r.register(Box::new(m.rejected.clone()))?;
        Ok(m)
    }
}

/// Feeds the cache (readings) and the mirrored views (alerts, trees, device health) until the queue closes.
pub async fn feed(
    mut inbound: Inbound,
    cache: LiveCache,
    views: Arc<crate::views::Views>,
    inventory: zw_bus::LiveInventory,
    metrics: LiveMetrics,
) {
    while let Some(msg) = inbound.recv().await {
        // A single reading or a batch of them, each through `store`; one inventory snapshot per message, not
        // a lock and a clone per reading of a batch.
        let known = inventory.current();
        let readings =
            reading::for_each_in_message(&msg.topic, &msg.payload, Utc::now(), TimeWindow::default(), |r| {
                store(r, &cache, &known, &metrics)
            });
        if !readings && views.apply(&msg.topic, &msg.payload) == crate::views::Applied::Invalid {
            metrics.rejected.with_label_values(&["invalid_state"]).inc();
            debug!(topic = %msg.topic, "Ignored unparsable retained state.");
        }
    }
}

/// Stores one reading of an inventory device in the cache, or counts why not.
fn store(r: Result<Reading, ReadingError>, cache: &LiveCache, inventory: &Inventory, metrics: &LiveMetrics) {
    let reading = match r {
        Ok(r) => r,
        // A reading on another device's topic was always counted as an unknown device here.
        Err(ReadingError::TopicMismatch { .. }) => {
            metrics.rejected.with_label_values(&["unknown_device"]).inc();
            return;
        }
        Err(e) => {
            metrics.rejected.with_label_values(&[e.reason()]).inc();
            debug!(error = %e, "Ignored invalid reading.");
            return;
        }
    };
    let known = inventory
        .device(reading.device.as_str())
        .is_some_and(|(s, _)| s.id == reading.site);
    if !known {
        metrics.rejected.with_label_values(&["unknown_device"]).inc();
        return;
    }
    if cache.update(reading) {
        metrics.updates.inc();
    } else {
        metrics.rejected.with_label_values(&["stale"]).inc();
    }
}
