//! Park trees of a scenario: an hourly soil water balance per sensor depth (evaporation by weather and time
//! of day, rain, watering by the parks department), sensors measuring it with noise, and sensor faults.
//!
//! State is `S`, the fraction of plant-available water (1 = field capacity, 0 = wilting point). A VWC sensor
//! reads `wp + S·(fc − wp)`; a tension sensor reads `10·e^(K(1−S))` kPa, 10 kPa at field capacity and
//! 81 kPa at `S = 0.5`. Both turn critical at `S = 0.5`: 50 % depletion, 81 kPa.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use zw_model::inventory::{Device, DeviceSource, Site};
use zw_model::{Id, Inventory, Quantity, Reading, SiteKind, Tree};

use super::{FaultLabel, ScenarioConfig, SensorFault};
use crate::curves::{mix, uniform, unit};
use crate::time::berlin;
use crate::weather::{Feed, REFERENCE_MM_PER_DAY, diurnal, evaporative_demand};

/// Soil textures used: name, field capacity %, wilting point % (the standard table analytics ships).
pub(super) const SOILS: [(&str, f64, f64); 3] = [
    ("loam", 28.0, 14.0),
    ("sandy_loam", 20.0, 9.0),
    ("clay_loam", 36.0, 21.0),
];
const HOUR: i64 = 3_600_000;
const CRITICAL: f64 = 0.5;

fn tension_of(s: f64) -> f64 {
    10.0 * ((2.0 * 8.1f64.ln()) * (1.0 - s)).exp()
}

#[derive(Debug, Clone)]
struct Sensor {
    id: Id,
    depth: u16,
    tension: bool,
    offset: i64,
    seed: u64,
    /// Hourly S at this sensor's depth.
    s: Vec<f32>,
    fault: Option<(SensorFault, i64, i64)>,
}

#[derive(Debug, Clone)]
struct SimTree {
    id: Id,
    site: Id,
    soil: usize,
    sensors: Vec<Sensor>,
}

/// The park: trees, their sensors and the truth.
#[derive(Debug, Clone)]
pub(super) struct Park {
    start: i64,
    trees: Vec<SimTree>,
    /// The weather feed (reference ET0 of the same weather the trees dry in).
    pub(super) feed: Feed,
}

fn id(s: String) -> Id {
    Id::new(s).expect("generated ids use the id alphabet")
}

/// The weather's evaporative demand at `hr` hours after `start`, relative to an average day, and the
/// share of the day's demand in that hour: what every tree's evaporation and the reference ET0 share.
fn demand(town: u64, start: i64, hr: usize) -> f64 {
    let t = start + hr as i64 * HOUR;
    let utc = DateTime::from_timestamp_millis(t).unwrap_or_default();
    let season = 1.0 + 0.01 * hr as f64 / 24.0;
    evaporative_demand(town, utc) * season * diurnal(berlin(utc).hour())
}

impl Park {
    /// Builds the trees and their sensors with the water balance up to `end` plus ten days.
    pub(super) fn generate(
        cfg: &ScenarioConfig,
        end: DateTime<Utc>,
        inv: &mut Inventory,
    ) -> (Park, Vec<FaultLabel>) {
        let start = cfg.start.timestamp_millis();
        let hours = ((end - cfg.start).num_hours() + 240).max(1) as usize;
        let town = mix(cfg.seed, 1);
        // Rain events over the park: (hour, amount of plant-available water), about every five days.
        let mut rain = Vec::new();
        let mut h = 0.0;
        for k in 0.. {
            h += -(1.0 - unit(mix(cfg.seed, 2), k)).ln() * 5.0 * 24.0;
            if h >= hours as f64 {
                break;
            }
            rain.push((h as usize, uniform(mix(cfg.seed, 3), k, 0.1, 0.7)));
        }
        // Evaporative demand per simulated hour step (step `hr` takes the soil from hour `hr − 1` to `hr`),
        // and the reference ET0 of the same hours (feed hour `p` is step `p + 1`).
        let demand: Vec<f64> = (0..=hours).map(|hr| demand(town, start, hr)).collect();
        let feed = Feed::new(
            cfg.seed,
            start,
            demand[1..].iter().map(|d| REFERENCE_MM_PER_DAY * d).collect(),
        )
        .with_rain(rain.clone());
        let mut sites: Vec<Site> = ["park-nord", "park-sued"]
            .iter()
            .map(|n| Site {
                id: id((*n).into()),
                name: String::new(),
                kind: SiteKind::Park,
                category: None,
                floor_area_m2: None,
                devices: Vec::new(),
            })
            .collect();
        let (mut trees, mut faults) = (Vec::new(), Vec::new());
        for i in 0..cfg.trees {
            let seed = mix(cfg.seed, 5000 + i as u64);
            let site = i % 2;
            let tree_id = id(format!("t-{i:03}"));
            let rate = uniform(seed, 1, 0.07, 0.2);
            let n = 1 + (unit(seed, 2) * 3.0) as usize;
            let tension = unit(seed, 3) < 0.4;
            let mut layers: Vec<Vec<f32>> = (0..n)
                .map(|d| vec![uniform(seed, 10 + d as u64, 0.7, 1.0) as f32])
                .collect();
            let mut water_at: Option<usize> = None;
            for hr in 1..hours {
                let et = rate * demand[hr];
                let min_s = layers.iter().map(|l| l[hr - 1]).fold(1.0f32, f32::min);
                if min_s < CRITICAL as f32 && water_at.is_none() {
                    water_at = Some(hr + 12 + (unit(seed, 100 + hr as u64) * 36.0) as usize);
                }
                for (d, l) in layers.iter_mut().enumerate() {
                    let prev = f64::from(l[hr - 1]);
                    let stress = if prev < 0.35 { prev / 0.35 } else { 1.0 };
                    let mut s = prev - et * [1.0, 0.75, 0.55][d] * stress;
                    let delay = [0, 2, 5][d];
                    for &(rh, amount) in &rain {
                        if (rh + delay..rh + delay + 3).contains(&hr) {
                            s += amount * [1.0, 0.6, 0.3][d] / 3.0;
                        }
                    }
                    if water_at.is_some_and(|w| hr == w + [0, 1, 3][d]) {
                        s += 0.7;
                    }
                    l.push(s.clamp(0.0, 1.0) as f32);
                }
                if water_at.is_some_and(|w| hr > w + 3) {
                    water_at = None;
                }
            }
            let soil = (unit(seed, 4) * SOILS.len() as f64) as usize % SOILS.len();
            let mut sensors = Vec::new();
            for (d, s) in layers.into_iter().enumerate() {
                let depth = [30u16, 60, 90][d];
                let sid = id(format!("soil-{i:03}-{depth}"));
                let fseed = mix(seed, 200 + d as u64);
                let fault = (unit(fseed, 1) < 0.35).then(|| {
                    let kinds = [
                        SensorFault::Stuck,
                        SensorFault::Gap,
                        SensorFault::LowBattery,
                        SensorFault::Impossible,
                        SensorFault::Jump,
                    ];
                    let kind = kinds[(unit(fseed, 2) * 5.0) as usize % 5];
                    let from = cfg.start
                        + TimeDelta::hours(
                            96 + (unit(fseed, 3) * (hours as f64 - 240.0 - 96.0 - 72.0)) as i64,
                        );
                    let len = match kind {
                        SensorFault::Stuck => 24 + (unit(fseed, 4) * 48.0) as i64,
                        SensorFault::Gap => 6 + (unit(fseed, 4) * 30.0) as i64,
                        SensorFault::LowBattery => (end - from).num_hours(),
                        SensorFault::Impossible => 2 + (unit(fseed, 4) * 10.0) as i64,
                        SensorFault::Jump => 12 + (unit(fseed, 4) * 36.0) as i64,
                    };
                    let until = (from + TimeDelta::hours(len)).min(end);
                    faults.push(FaultLabel {
                        kind,
                        site: sites[site].id.clone(),
                        tree: tree_id.clone(),
                        device: sid.clone(),
                        start: from,
                        end: until,
                    });
                    (kind, from.timestamp_millis(), until.timestamp_millis())
                });
                let model = if tension { "dl-trs21" } else { "lse01" };
                sites[site].devices.push(Device {
                    id: sid.clone(),
                    name: String::new(),
                    class: "soil_sensor".into(),
                    source: DeviceSource::Ttn {
                        topic: format!("v3/parks@ttn/devices/{sid}/up"),
                        model: model.into(),
                    },
                });
                sensors.push(Sensor {
                    id: sid,
                    depth,
                    tension,
                    offset: (unit(fseed, 5) * 20.0) as i64,
                    seed: fseed,
                    s,
                    fault,
                });
            }
            inv.trees.push(Tree {
                id: tree_id.clone(),
                site: sites[site].id.clone(),
                species: [
                    "Tilia cordata",
                    "Acer platanoides",
                    "Quercus robur",
                    "Platanus x hispanica",
                ][i % 4]
                    .into(),
                planted: 2012 + (unit(seed, 5) * 14.0) as u16,
                lat: 51.23 + unit(seed, 6) * 0.02,
                lon: 6.61 + unit(seed, 7) * 0.03,
                sensors: sensors.iter().map(|s| s.id.clone()).collect(),
                district: Some(["Nord", "Süd", "Mitte"][i % 3].into()),
            });
            trees.push(SimTree {
                id: tree_id,
                site: sites[site].id.clone(),
                soil,
                sensors,
            });
        }
        inv.sites.extend(sites);
        (Park { start, trees, feed }, faults)
    }

    /// The same park with every sensor working.
    pub(super) fn without_faults(&self) -> Park {
        let mut p = self.clone();
        for s in p.trees.iter_mut().flat_map(|t| t.sensors.iter_mut()) {
            s.fault = None;
        }
        p
    }

    fn s_at(&self, s: &Sensor, t: i64) -> Option<f64> {
        let x = (t - self.start) as f64 / HOUR as f64;
        let (i, f) = (x.floor() as usize, x - x.floor());
        Some(f64::from(*s.s.get(i)?) * (1.0 - f) + f64::from(*s.s.get(i + 1)?) * f)
    }

    /// The readings of sensors reporting in the minute starting at `t` (every 20 minutes each).
    pub(super) fn readings(&self, t: DateTime<Utc>, out: &mut Vec<Reading>) {
        let ms = t.timestamp_millis();
        let minute = (ms - self.start) / 60_000;
        for tree in &self.trees {
            let (_, fc, wp) = SOILS[tree.soil];
            for s in &tree.sensors {
                if (minute - s.offset).rem_euclid(20) != 0 {
                    continue;
                }
                let fault = s.fault.filter(|(_, a, b)| (*a..*b).contains(&ms)).map(|f| f.0);
                if fault == Some(SensorFault::Gap) {
                    continue;
                }
                let at = if fault == Some(SensorFault::Stuck) {
                    s.fault.map_or(ms, |f| f.1 - f.1.rem_euclid(20 * 60_000))
                } else {
                    ms
                };
                let Some(sw) = self.s_at(s, at) else { continue };
                let k = (at / 60_000) as u64;
                let noise =
                    (unit(s.seed, k * 4) + unit(s.seed, k * 4 + 1) + unit(s.seed, k * 4 + 2) - 1.5) * 2.0;
                let garbage = fault == Some(SensorFault::Impossible) && (minute / 20) % 2 == 0;
                let jump = fault == Some(SensorFault::Jump);
                let (q, v) = if s.tension {
                    let v = if garbage {
                        255.0
                    } else if jump {
                        239.0
                    } else {
                        (tension_of(sw) * (1.0 + 0.03 * noise)).clamp(0.0, 239.0)
                    };
                    (Quantity::SoilWaterTension, (v * 10.0).round() / 10.0)
                } else {
                    let v = if garbage {
                        0.0
                    } else if jump {
                        2.5 + 0.1 * noise
                    } else {
                        wp + sw * (fc - wp) + 0.15 * noise
                    };
                    (Quantity::SoilMoisture, (v * 100.0).round() / 100.0)
                };
                let days = (ms - self.start) as f64 / 86_400_000.0;
                let mut battery = 3.62 - 0.0005 * days + 0.005 * noise;
                if let Some((SensorFault::LowBattery, a, _)) = s.fault.filter(|_| fault.is_some()) {
                    battery -= (0.5 * (ms - a) as f64 / (2.0 * 86_400_000.0)).min(0.5);
                }
                let values = BTreeMap::from([
                    (q, v),
                    (Quantity::BatteryVoltage, (battery * 1000.0).round() / 1000.0),
                ]);
                out.push(Reading::new(tree.site.clone(), s.id.clone(), t, values));
            }
        }
    }

    /// True days from `t` until any depth of `tree` reaches critical, within `horizon` days.
    pub(super) fn days_until_critical(&self, tree: &Id, t: DateTime<Utc>, horizon: f64) -> Option<f64> {
        let tr = self.trees.iter().find(|x| &x.id == tree)?;
        let min_s = |ms: i64| {
            tr.sensors
                .iter()
                .filter_map(|s| self.s_at(s, ms))
                .fold(f64::MAX, f64::min)
        };
        let t0 = t.timestamp_millis();
        let (mut prev_t, mut prev) = (t0, min_s(t0));
        if prev <= CRITICAL {
            return Some(0.0);
        }
        let mut next = t0 - (t0 - self.start).rem_euclid(HOUR) + HOUR;
        while ((next - t0) as f64) <= horizon * 86_400_000.0 {
            let s = min_s(next);
            if s == f64::MAX {
                return None;
            }
            if s <= CRITICAL {
                let frac = if prev > s {
                    (prev - CRITICAL) / (prev - s)
                } else {
                    1.0
                };
                let at = prev_t as f64 + frac * (next - prev_t) as f64;
                return Some((at - t0 as f64) / 86_400_000.0);
            }
            (prev_t, prev, next) = (next, s, next + HOUR);
        }
        None
    }

    /// Whether no depth of `tree` got wetter (rain, watering) between `from` and `to`.
    pub(super) fn dries_throughout(&self, tree: &Id, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        let Some(tr) = self.trees.iter().find(|x| &x.id == tree) else {
            return false;
        };
        let h = |t: DateTime<Utc>| ((t.timestamp_millis() - self.start).max(0) / HOUR) as usize;
        let (a, b) = (h(from), h(to) + 1);
        tr.sensors.iter().all(|s| {
            s.s.get(a..=b.min(s.s.len() - 1))
                .is_some_and(|w| w.windows(2).all(|p| p[1] <= p[0] + 1e-6))
        })
    }

    /// Soil profile name per tree.
    pub(super) fn tree_soil(&self) -> BTreeMap<String, String> {
        self.trees
            .iter()
            .map(|t| (t.id.to_string(), SOILS[t.soil].0.to_string()))
            .collect()
    }

    /// Depth per sensor.
    pub(super) fn depths(&self) -> BTreeMap<String, u16> {
        self.trees
            .iter()
            .flat_map(|t| t.sensors.iter().map(|s| (s.id.to_string(), s.depth)))
            .collect()
    }
}
