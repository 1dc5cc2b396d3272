//! Topic → device → adapter, built from the inventory.
//!
//! Subscriptions: Tasmota through wildcard filters derived from the FullTopic pattern (`tele/+/+`,
//! `stat/+/STATUS8` and `stat/+/STATUS10` by default), so topics are matched by pattern and devices missing
//! from the inventory show up as unknown topics; Shelly per device prefix (`online`, `status/+`,
//! `events/rpc`); TTS and generic JSON devices by their exact topic; generic JSON devices on a topic
//! pattern (`sensors/+/state`) by the pattern once, the device found by the `+` level(s) (its `topic_key`,
//! by default its id).
//!
//! Several inventory devices may share one Shelly prefix, one per channel (Pro 2PM/4PM, Pro EM): a status of
//! a channel's component (`switch:N`, `em1:N`, `em1data:N`) goes to that channel's device (or, if no device
//! reads channel N, to the first one as a sign of life); `online`, `events/rpc` and the other components go
//! to all of them ([`Route::Group`]), each reading its own channel.
//!
//! When the inventory changes the router is built anew; [`Router::carry_over`] keeps the decoder state and
//! health of every device whose site and source did not change, and [`Router::filter_changes`] names the
//! filters to subscribe and unsubscribe. A removed device's topics then route as unknown.

use std::collections::HashMap;

use zw_model::inventory::{pattern_key, topic_key};

use chrono::{DateTime, TimeDelta, Utc};
use tracing::error;
use zw_model::{DeviceSource, Id, Inventory};

use super::liveness::Liveness;
use crate::Config;
use crate::adapters::fulltopic::FullTopic;
use crate::adapters::{AdapterError, Message, json, shelly, tasmota, ttn};

/// A device's decoder with its per-device state.
#[derive(Debug, Clone)]
pub enum Decoder {
    /// Tasmota (energy or SML).
    Tasmota(tasmota::Decoder),
    /// Shelly, with the last known component statuses (boxed: the largest state by far).
    Shelly(Box<shelly::State>),
    /// A TTS uplink of a known model.
    Ttn(ttn::Model),
    /// A generic JSON mapping.
    Json(json::Mapping),
}

/// Which topic of its device a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A Tasmota topic.
    Tasmota(tasmota::Part),
    /// A Shelly topic.
    Shelly(shelly::Part),
    /// The device's only topic (TTS uplink, generic JSON).
    Only,
}

/// A routed device: identity, decoder and health.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Site id.
    pub site: Id,
    /// Device id.
    pub device: Id,
    /// Adapter label for metrics and status (`tasmota`, `shelly`, `ttn`, `json`).
    pub adapter: &'static str,
    /// Decoder and its state.
    pub decoder: Decoder,
    /// Liveness state machine.
    pub liveness: Liveness,
    /// How long the device may stay quiet before it is marked offline.
    pub stale_after: TimeDelta,
}

impl Entry {
    /// Decodes a message of this device.
    pub fn decode(&mut self, part: Part, payload: &[u8]) -> Result<Message, AdapterError> {
        match (&mut self.decoder, part) {
            (Decoder::Tasmota(d), Part::Tasmota(p)) => d.decode(p, payload),
            (Decoder::Shelly(s), Part::Shelly(p)) => s.decode(p, payload),
            (Decoder::Ttn(m), Part::Only) => m.decode(payload),
            (Decoder::Json(m), Part::Only) => m.decode(payload),
            _ => Err(AdapterError::UnknownTopic),
        }
    }
}

/// Where a topic leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A configured device's topic.
    Device(usize, Part),
    /// A topic of a Shelly prefix read by several devices (channels); index into [`Router::group`].
    Group(usize, Part),
    /// A configured device's topic we do not read (Tasmota `INFO1`, `RESULT`, …).
    Ignored,
    /// No configured device; the adapter family if the topic matched one of its wildcards.
    Unknown(&'static str),
}

/// The route table.
#[derive(Debug, Clone)]
pub struct Router {
    /// The routed devices, indexed by [`Route::Device`].
    pub devices: Vec<Entry>,
    exact: HashMap<String, usize>,
    /// Shelly prefix → index into `groups`.
    shelly: HashMap<String, usize>,
    /// The devices (channels) of each Shelly prefix, in inventory order.
    groups: Vec<Vec<usize>>,
    /// Generic JSON topic patterns with their devices by key.
    patterns: Vec<(String, HashMap<String, usize>)>,
    tasmota: HashMap<String, usize>,
    full_topic: Option<FullTopic>,
    filters: Vec<String>,
}

impl Router {
    /// Builds the routes for every MQTT device of the inventory. Devices whose mapping does not build (the
    /// inventory's validation prevents that) are logged and left out.
    pub fn new(cfg: &Config, inventory: &Inventory, now: DateTime<Utc>) -> Self {
        let full_topic = FullTopic::parse(&cfg.tasmota_full_topic)
            .map_err(|e| error!(error = %e, "Tasmota devices are not read."))
            .ok();
        let mut r = Router {
            devices: Vec::new(),
            exact: HashMap::new(),
            shelly: HashMap::new(),
            groups: Vec::new(),
            patterns: Vec::new(),
            tasmota: HashMap::new(),
            full_topic,
            filters: Vec::new(),
        };
        for (site, dev) in inventory.devices() {
            let decoder = match &dev.source {
                DeviceSource::Modbus { .. }
                | DeviceSource::Wmbus { .. }
                | DeviceSource::Mbus { .. }
                | DeviceSource::Sml { .. } => continue,
                DeviceSource::Tasmota {
                    sml_section: Some(section),
                    sml,
                    ..
                } => tasmota::Decoder::sml(section, sml).map(Decoder::Tasmota),
                DeviceSource::Tasmota { .. } => Ok(Decoder::Tasmota(tasmota::Decoder::energy())),
                DeviceSource::Shelly { channel, .. } => {
                    Ok(Decoder::Shelly(Box::new(shelly::State::new(*channel))))
                }
                DeviceSource::Ttn { model, .. } => ttn::Model::from_name(model)
                    .map(Decoder::Ttn)
                    .ok_or(format!("unknown model {model:?}")),
                DeviceSource::Json {
                    fields, timestamp, ..
                } => Ok(Decoder::Json(json::Mapping::new(fields, timestamp.as_deref()))),
            };
            let decoder = match decoder {
                Ok(d) => d,
                Err(e) => {
                    error!(device = %dev.id, error = %e, "Device is not read.");
                    continue;
                }
            };
            let idx = r.devices.len();
            match &dev.source {
                DeviceSource::Tasmota { topic, .. } => {
                    r.tasmota.insert(topic.clone(), idx);
                }
                DeviceSource::Shelly { prefix, .. } => r.add_shelly(prefix, idx),
                DeviceSource::Json { topic, topic_key, .. }
                    if let Some(key) = pattern_key(topic, topic_key.as_deref(), dev.id.as_str()) =>
                {
                    r.add_pattern(topic, key, idx);
                }
                DeviceSource::Ttn { topic, .. } | DeviceSource::Json { topic, .. } => {
                    r.exact.insert(topic.clone(), idx);
                    r.filters.push(topic.clone());
                }
                DeviceSource::Modbus { .. }
                | DeviceSource::Wmbus { .. }
                | DeviceSource::Mbus { .. }
                | DeviceSource::Sml { .. } => {}
            }
            r.devices.push(Entry {
                site: site.id.clone(),
                device: dev.id.clone(),
                adapter: dev.source.kind(),
                decoder,
                liveness: Liveness::new(now),
                stale_after: cfg
                    .mqtt_staleness
                    .stale_after(dev.source.kind(), cfg.mqtt_stale_after),
            });
        }
        if let (false, Some(ft)) = (r.tasmota.is_empty(), &r.full_topic) {
            r.filters.push(ft.topic("tele", "+", "+"));
            // Replies to `Status 8` / `Status 10` (someone polled the device) carry the sensor values too.
            for status in ["STATUS8", "STATUS10"] {
                r.filters.push(ft.topic("stat", "+", status));
            }
        }
        r
    }

    fn add_shelly(&mut self, prefix: &str, idx: usize) {
        if let Some(&g) = self.shelly.get(prefix) {
            self.groups[g].push(idx);
            return;
        }
        self.shelly.insert(prefix.to_owned(), self.groups.len());
        self.groups.push(vec![idx]);
        for s in ["online", "status/+", "events/rpc"] {
            self.filters.push(format!("{prefix}/{s}"));
        }
    }

    fn add_pattern(&mut self, pattern: &str, key: &str, idx: usize) {
        let i = match self.patterns.iter().position(|(p, _)| p == pattern) {
            Some(i) => i,
            None => {
                self.patterns.push((pattern.to_owned(), HashMap::new()));
                self.filters.push(pattern.to_owned());
                self.patterns.len() - 1
            }
        };
        self.patterns[i].1.insert(key.to_owned(), idx);
    }

    /// Takes over from `old` (built from the inventory `before`; this router is built from `after`) the
    /// entries (decoder state, liveness) of every device whose site and source are the same in both.
    pub fn carry_over(&mut self, mut old: Router, before: &Inventory, after: &Inventory) {
        let unchanged = |device: &Id| {
            let was = before.device(device.as_str());
            let is = after.device(device.as_str());
            matches!((was, is), (Some((s1, d1)), Some((s2, d2))) if s1.id == s2.id && d1.source == d2.source)
        };
        let old_idx: HashMap<Id, usize> = old
            .devices
            .iter()
            .enumerate()
            .map(|(i, e)| (e.device.clone(), i))
            .collect();
        for e in &mut self.devices {
            if let Some(&i) = old_idx.get(&e.device)
                && unchanged(&e.device)
            {
                std::mem::swap(e, &mut old.devices[i]);
            }
        }
    }

    /// The filters this router needs that `old` did not subscribe, and those of `old` it no longer needs.
    pub fn filter_changes(&self, old: &Router) -> (Vec<String>, Vec<String>) {
        let add = self
            .filters
            .iter()
            .filter(|f| !old.filters.contains(f))
            .cloned()
            .collect();
        let remove = old
            .filters
            .iter()
            .filter(|f| !self.filters.contains(f))
            .cloned()
            .collect();
        (add, remove)
    }

    /// The devices of a [`Route::Group`].
    pub fn group(&self, g: usize) -> &[usize] {
        self.groups.get(g).map_or(&[], Vec::as_slice)
    }

    /// The subscription filters (named like a map's keys for the gateway's start-up code).
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.filters.iter()
    }

    /// Number of subscription filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether there is nothing to subscribe to.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Routes one topic.
    pub fn route(&self, topic: &str) -> Route {
        if let Some(&i) = self.exact.get(topic) {
            return Route::Device(i, Part::Only);
        }
        let mut pattern_matched = false;
        for (pattern, keys) in &self.patterns {
            if let Some(key) = topic_key(pattern, topic) {
                match keys.get(key.as_ref()) {
                    Some(&i) => return Route::Device(i, Part::Only),
                    None => pattern_matched = true,
                }
            }
        }
        if let Some(route) = self.route_shelly(topic) {
            return route;
        }
        if let Some(m) = self.full_topic.as_ref().and_then(|f| f.matches(topic)) {
            return match (
                self.tasmota.get(m.topic),
                tasmota::Part::from_topic(m.prefix, m.suffix),
            ) {
                (Some(&i), Some(p)) => Route::Device(i, Part::Tasmota(p)),
                (Some(_), _) => Route::Ignored,
                (None, _) if pattern_matched => Route::Unknown("json"),
                (None, _) => Route::Unknown("tasmota"),
            };
        }
        Route::Unknown(if pattern_matched { "json" } else { "unknown" })
    }

    fn route_shelly(&self, topic: &str) -> Option<Route> {
        let (prefix, rest) = if let Some(p) = topic.strip_suffix("/online") {
            (p, "online")
        } else if let Some(p) = topic.strip_suffix("/events/rpc") {
            (p, "events/rpc")
        } else {
            let (p, _) = topic.rsplit_once("/status/")?;
            (p, &topic[p.len() + 1..])
        };
        let g = *self.shelly.get(prefix)?;
        let devices = self.group(g);
        let Some(part) = shelly::Part::from_suffix(rest) else {
            return Some(Route::Ignored);
        };
        let route = match (devices, part) {
            ([i], _) => Route::Device(*i, Part::Shelly(part)),
            (_, shelly::Part::Status(c)) if c.channel().is_some() => {
                let own = devices.iter().find(|&&i| {
                    matches!(&self.devices[i].decoder, Decoder::Shelly(s) if Some(s.channel()) == c.channel())
                });
                Route::Device(*own.or(devices.first())?, Part::Shelly(part))
            }
            _ => Route::Group(g, Part::Shelly(part)),
        };
        Some(route)
    }
}

#[cfg(test)]
mod tests;
