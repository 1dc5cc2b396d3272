//! Topic → device → adapter, built from the inventory.
//!
//! Subscriptions: Tasmota through wildcard filters derived from the FullTopic pattern (`tele/+/+`,
//! `stat/+/STATUS8` and `stat/+/STATUS10` by default), so topics are matched by pattern and devices missing from the inventory show up as unknown
//! topics; Shelly per device prefix (`online`, `status/+`, `events/rpc`); TTS and generic JSON devices by
//! their exact topic.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use tracing::error;
use zw_model::{DeviceSource, Id, Inventory};

use super::health::Health;
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
    /// Health state machine.
    pub health: Health,
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
    shelly: HashMap<String, usize>,
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
            tasmota: HashMap::new(),
            full_topic,
            filters: Vec::new(),
        };
        for (site, dev) in inventory.devices() {
            let decoder = match &dev.source {
                DeviceSource::Modbus { .. } => continue,
                DeviceSource::Tasmota {
                    sml_section: Some(section),
                    sml,
                    ..
                } => tasmota::Decoder::sml(section, sml).map(Decoder::Tasmota),
                DeviceSource::Tasmota { .. } => Ok(Decoder::Tasmota(tasmota::Decoder::energy())),
                DeviceSource::Shelly { .. } => Ok(Decoder::Shelly(Box::default())),
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
                DeviceSource::Shelly { prefix } => {
                    r.shelly.insert(prefix.clone(), idx);
                    for s in ["online", "status/+", "events/rpc"] {
                        r.filters.push(format!("{prefix}/{s}"));
                    }
                }
                DeviceSource::Ttn { topic, .. } | DeviceSource::Json { topic, .. } => {
                    r.exact.insert(topic.clone(), idx);
                    r.filters.push(topic.clone());
                }
                DeviceSource::Modbus { .. } => {}
            }
            r.devices.push(Entry {
                site: site.id.clone(),
                device: dev.id.clone(),
                adapter: dev.source.kind(),
                decoder,
                health: Health::new(now),
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
                (None, _) => Route::Unknown("tasmota"),
            };
        }
        Route::Unknown("unknown")
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
        let &i = self.shelly.get(prefix)?;
        Some(shelly::Part::from_suffix(rest).map_or(Route::Ignored, |p| Route::Device(i, Part::Shelly(p))))
    }
}

#[cfg(test)]
#[path = "router_tests.rs"]
mod tests;
