//! The simulator's past as stored history (`[sim] history`, for the demo).
//!
//! The simulator steps its meters, plugs, Shellies and soil sensors through the configured span before it
//! serves ([`zw_sim::Past`]). Each step is read here the way the gateway reads the real device: a meter by
//! the inventory device on that listener and unit id, its meter profile planned into requests, each request
//! answered by the register image, decoded, derived values added; an MQTT device's message (a soil
//! sensor's uplink, a plug's telemetry, a Shelly's status or `NotifyStatus` delta) by the gateway's own
//! device router and adapters. The readings are written to InfluxDB through the ingest write path
//! ([`zw_ingest::to_line`], [`zw_ingest::Writer`]: retries, 413 splits, dead letters). So the demo opens
//! with days of curves, energy totals, soil trends and a normal for analytics to learn, and the live
//! counters continue exactly where the history ends: the same simulated devices were stepped through it.
//!
//! Steps of devices no inventory device reads, and values or uplinks that do not decode, are counted and
//! logged.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_config::Config;
use zw_gateway::adapters::Message;
use zw_gateway::device_mqtt::{Route, Router};
use zw_gateway::profile::{Profile, ProfileSet, Request};
use zw_model::inventory::ModbusEndpoint;
use zw_model::{Id, Inventory, Reading};

/// One inventory device reading a simulated meter.
struct Target {
    site: Id,
    device: Id,
    profile: Arc<Profile>,
    plan: Vec<Request>,
}

/// Readings collected from the simulator's history, as line-protocol batches.
pub struct Backfill {
    /// Inventory devices by (host, port, unit id) of their Modbus TCP or RTU-over-TCP endpoint.
    targets: Vec<((IpAddr, u16, u8), Target)>,
    index: HashMap<(SocketAddr, u8), Option<usize>>,
    /// The gateway's routes to the inventory's MQTT devices, with their decoders.
    router: Router,
    batch_size: usize,
    batches: Vec<(String, usize)>,
    points: u64,
    unmatched: u64,
    undecodable: u64,
}

impl Backfill {
    /// Collects for the MQTT devices of `inventory` and its Modbus devices whose endpoint is an IP address
    /// (or `localhost`).
    pub fn new(
        inventory: &Inventory,
        gateway: &zw_gateway::Config,
        profiles: &ProfileSet,
        batch_size: usize,
    ) -> Self {
        let mut targets = Vec::new();
        for (endpoint, d) in zw_gateway::modbus::endpoint_plan(inventory, profiles).devices {
            let (ModbusEndpoint::Tcp { host, port } | ModbusEndpoint::RtuOverTcp { host, port }) = endpoint
            else {
                continue;
            };
            let ip = match host.as_str() {
                "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
                h => match h.trim_matches(['[', ']']).parse() {
                    Ok(ip) => ip,
                    Err(_) => continue,
                },
            };
            let target = Target {
                site: d.site,
                device: d.device,
                plan: d.profile.plan(),
                profile: d.profile,
            };
            targets.push(((ip, port, d.unit_id), target));
        }
        Self {
            targets,
            index: HashMap::new(),
            router: Router::new(gateway, inventory, chrono::Utc::now()),
            batch_size: batch_size.max(1),
            batches: Vec::new(),
            points: 0,
            unmatched: 0,
            undecodable: 0,
        }
    }

    /// The device reading `unit` on `listener`: same port and unit id, and the same address unless the
    /// simulator listens on all addresses.
    fn target(&mut self, listener: SocketAddr, unit: u8) -> Option<usize> {
        let targets = &self.targets;
        *self.index.entry((listener, unit)).or_insert_with(|| {
            targets.iter().position(|((ip, port, u), _)| {
                *u == unit
                    && *port == listener.port()
                    && (listener.ip().is_unspecified() || *ip == listener.ip())
            })
        })
    }

    /// Reads one piece of the simulated past as the gateway would.
    pub fn record(&mut self, past: zw_sim::Past<'_>) {
        match past {
            zw_sim::Past::Meter(s) => self.sample(s),
            zw_sim::Past::Publish(p) => self.publish(p),
        }
    }

    /// Routes and decodes a past MQTT message like the gateway's device consumer does.
    fn publish(&mut self, p: zw_sim::PastPublish<'_>) {
        let devices: Vec<(usize, _)> = match self.router.route(p.topic) {
            Route::Device(i, part) => vec![(i, part)],
            Route::Group(g, part) => self.router.group(g).iter().map(|&i| (i, part)).collect(),
            Route::Ignored => return,
            Route::Unknown(_) => {
                self.unmatched += 1;
                return;
            }
        };
        for (i, part) in devices {
            let entry = &mut self.router.devices[i];
            match entry.decode(part, p.payload) {
                Ok(Message::Reading(d)) if !d.values.is_empty() => {
                    let r = Reading::new(
                        entry.site.clone(),
                        entry.device.clone(),
                        d.ts.unwrap_or(p.ts),
                        d.values,
                    );
                    self.push(&r);
                }
                Ok(_) => {}
                Err(_) => self.undecodable += 1,
            }
        }
    }

    /// Reads one step of a simulated meter as its inventory device would.
    fn sample(&mut self, s: zw_sim::HistorySample<'_>) {
        let Some(i) = self.target(s.listener, s.unit_id) else {
            self.unmatched += 1;
            return;
        };
        let t = &self.targets[i].1;
        let mut values = BTreeMap::new();
        for req in &t.plan {
            if (req.function == 3) != s.image.is_holding() {
                self.undecodable += req.values.len() as u64;
                continue;
            }
            let Ok(regs) = s.image.read(req.address, req.count) else {
                self.undecodable += req.values.len() as u64;
                continue;
            };
            let undecodable = &mut self.undecodable;
            t.profile
                .decode_response(req, &regs, &mut values, |_| *undecodable += 1);
        }
        t.profile.derive(&mut values);
        if values.is_empty() {
            return;
        }
        let reading = Reading::new(t.site.clone(), t.device.clone(), s.ts, values);
        self.push(&reading);
    }

    /// Appends a reading to the current batch.
    fn push(&mut self, reading: &Reading) {
        if self.batches.last().is_none_or(|(_, n)| *n >= self.batch_size) {
            self.batches.push((String::new(), 0));
        }
        if let Some((body, n)) = self.batches.last_mut()
            && zw_ingest::to_line(reading, body).is_ok()
        {
            body.push('\n');
            *n += 1;
            self.points += 1;
        }
    }

    /// Writes the collected points through the ingest write path; gives up on `stop`.
    pub async fn write(self, cfg: &Config, stop: CancellationToken) -> anyhow::Result<()> {
        if self.unmatched > 0 || self.undecodable > 0 {
            warn!(
                unmatched_steps = self.unmatched,
                undecodable = self.undecodable,
                "Simulator history: steps of devices no inventory device reads, or values and uplinks that did not decode, were left out."
            );
        }
        let metrics = zw_ingest::Metrics::unregistered()?;
        let dead = zw_ingest::DeadLetter::new(&cfg.ingest.dead_letter, metrics.clone());
        let writer = zw_ingest::Writer::new(
            zw_influx::Client::new(cfg.influx.clone())?,
            &cfg.ingest,
            metrics,
            dead,
        );
        let points = self.points;
        for (body, n) in self.batches {
            if !writer.write_retrying(Bytes::from(body), n, &stop).await {
                warn!("Simulator history: stopped before it was written.");
                return Ok(());
            }
        }
        info!(points, span = ?cfg.sim.history, "Simulator history written to InfluxDB.");
        Ok(())
    }
}
