//! Trees that need water, and soil sensors that need a technician.
//!
//! Every sensor listed under a tree in the inventory ([`zw_model::Tree::sensors`]) reports VWC (%) or
//! tension (kPa). [`Trees::observe`] checks each reading for plausibility and keeps hourly means
//! ([`sensor`]); [`Trees::tick`] evaluates every tree each `trees.interval`: dryness on one scale
//! ([`scale`]), trend and forecast ([`trend`], [`combine`]), urgency and rank ([`status`]), and publishes a
//! [`TreeStatus`] per tree. Watering alerts need the tree critical (or forecast critical within
//! `alert_within_days`) for `alert_hold`, in the vegetation period, on trusted sensors only; sensor faults
//! raise maintenance alerts and never watering alerts.
//!
//! The forecast is weather-aware where it can be: [`Trees::weather`] takes the reference
//! evapotranspiration (ET0) of the configured weather areas ([`weather`]); each sensor learns its drying
//! per mm of ET0 from its day-on-day drying and the observed ET0, and the ET0 forecast times that gives
//! its drying hour by hour. Without a fresh forecast (or before the drying per mm is learned) the trend
//! is extrapolated as before, and the status says so.
//!
//! A multi-depth probe (one device, several depths: `soil_moisture`, `soil_moisture_2`, … at the depths
//! of `trees.sensor_depths_cm`) is a sensor per depth, with one maintenance alert for the device. Each
//! depth counts by the share of the species' roots in its layer ([`zw_model::tree::root`]).
//!
//! Trees without a sensor inherit an estimate from reference trees of the same soil, species and age class
//! nearby ([`inherit`]), marked as inherited; a rain forecast due before a tree turns critical holds its
//! watering alert ([`status`]).
//!
//! [`Trees::apply`] follows an inventory change: the trees and sensors are planned anew, and every sensor
//! and tree still there keeps its series, trend, fault state and open conditions.

mod combine;
mod inherit;
mod maintenance;
pub mod rain;
pub mod scale;
mod sensor;
mod status;
pub mod trend;
pub mod watering;
pub mod weather;

use std::collections::HashMap;

use zw_model::alert::{AlertKind, Subject};
use zw_model::inventory::DeviceSource;
use zw_model::tree::TreeStatus;
use zw_model::weather::Weather;
use zw_model::{Id, Inventory, Quantity, Reading, Tree};

use crate::calendar::Local;
use crate::condition::Condition;
use crate::config::TreesConfig;
use crate::explain::Signal;
pub use scale::Scale;
pub use sensor::Sensor;

/// One tree and its sensors.
#[derive(Debug, Clone)]
struct TreeSt {
    tree: Tree,
    /// Its sensors, every depth of a multi-depth probe apart.
    sensors: Vec<usize>,
    /// Per sensor, the share of the tree's roots in its layer (`None` when a sensor has no depth).
    root_share: Vec<Option<f64>>,
    vwc: Scale,
    water: Condition,
    refresh: i64,
    /// The weather area of its park, if configured.
    area: Option<Id>,
}

/// The tree detector.
#[derive(Debug, Clone)]
pub struct Trees {
    cfg: TreesConfig,
    /// Every sensor; a multi-depth probe's depths follow each other, from the top.
    sensors: Vec<Sensor>,
    /// Per device, its first sensor and its number of depths.
    sensor_idx: HashMap<Id, (usize, usize)>,
    /// For each sensor, the tree (and its site) its maintenance alert names.
    owner: Vec<(Id, Id)>,
    trees: Vec<TreeSt>,
    /// ET0 of every configured weather area.
    areas: HashMap<Id, weather::Area>,
    next_eval: i64,
    scratch: Vec<f64>,
    /// Waterings taken in ([`watering`]), for the season report.
    log: Vec<zw_model::tree::season::WateringRecord>,
}

impl Trees {
    /// Detectors for the trees of `inv`.
    pub fn new(cfg: &TreesConfig, inv: &Inventory) -> Self {
        let mut t = Self {
            cfg: cfg.clone(),
            sensors: Vec::new(),
            sensor_idx: HashMap::new(),
            owner: Vec::new(),
            trees: Vec::new(),
            areas: HashMap::new(),
            next_eval: i64::MIN,
            scratch: Vec::new(),
            log: Vec::new(),
        };
        for tree in &inv.trees {
            let mut sensors = Vec::new();
            for d in &tree.sensors {
                let (first, n) = *t.sensor_idx.entry(d.clone()).or_insert_with(|| {
                    let model = inv.device(d.as_str()).and_then(|(_, dev)| match &dev.source {
                        DeviceSource::Ttn { model, .. } => Some(model.as_str()),
                        _ => None,
                    });
                    let low = cfg.faults.battery_low_v_of(d.as_str(), model);
                    let depths: Vec<Option<u16>> = match cfg.sensor_depths_cm.get(d.as_str()) {
                        Some(ds) => ds.iter().map(|x| Some(*x)).collect(),
                        None => vec![cfg.sensor_depth_cm.get(d.as_str()).copied()],
                    };
                    let first = t.sensors.len();
                    for (k, depth) in depths.iter().enumerate() {
                        let mut s = Sensor::new(d.clone(), low);
                        s.depth_cm = *depth;
                        s.depths = if k == 0 { depths.len() } else { 0 };
                        t.sensors.push(s);
                        t.owner.push((tree.site.clone(), tree.id.clone()));
                    }
                    (first, depths.len())
                });
                sensors.extend(first..first + n);
            }
            let depths: Vec<Option<u16>> = sensors.iter().map(|&i| t.sensors[i].depth_cm).collect();
            let root_share =
                zw_model::tree::root::layer_shares(zw_model::tree::root::beta(&tree.species), &depths);
            let soil = cfg
                .soil_of(tree.id.as_str())
                .cloned()
                .unwrap_or(crate::config::SoilProfile {
                    field_capacity_pct: 28.0,
                    wilting_point_pct: 14.0,
                    moderate_depletion: 0.25,
                    critical_depletion: 0.5,
                });
            // Ids were validated with the config; an invalid one counts as none.
            let area = cfg
                .weather
                .area_of(tree.site.as_str())
                .and_then(|a| Id::new(a).ok());
            if let Some(a) = &area {
                t.areas.entry(a.clone()).or_default();
            }
            t.trees.push(TreeSt {
                tree: tree.clone(),
                sensors,
                root_share,
                vwc: Scale::vwc(&soil),
                water: Condition::default(),
                refresh: 0,
                area,
            });
        }
        for tr in &t.trees {
            for &s in &tr.sensors {
                t.sensors[s].scale.get_or_insert(tr.vwc);
            }
        }
        t
    }

    /// Follows a changed inventory: new trees and sensors start fresh, those that stay keep their state
    /// (a sensor its series and faults if its tree and site are the same; a tree its watering condition),
    /// those that left are dropped (the caller resolves their open alerts).
    pub fn apply(&mut self, inv: &Inventory) {
        let mut next = Trees::new(&self.cfg, inv);
        for (id, &(i, n)) in &next.sensor_idx {
            if let Some(&(j, m)) = self.sensor_idx.get(id)
                && self.owner[j] == next.owner[i]
                && m == n
            {
                for k in 0..n {
                    let depth = next.sensors[i + k].depth_cm;
                    next.sensors[i + k] = self.sensors[j + k].clone();
                    next.sensors[i + k].depth_cm = depth;
                }
            }
        }
        for t in &mut next.trees {
            if let Some(old) = self
                .trees
                .iter()
                .find(|o| o.tree.id == t.tree.id && o.tree.site == t.tree.site)
            {
                t.water = old.water;
                t.refresh = old.refresh;
            }
        }
        for (id, area) in &mut next.areas {
            if let Some(old) = self.areas.remove(id) {
                *area = old;
            }
        }
        next.next_eval = self.next_eval;
        next.log = std::mem::take(&mut self.log);
        *self = next;
    }

    /// Every tree sensor's device id.
    pub fn sensor_ids(&self) -> impl Iterator<Item = &Id> {
        self.sensor_idx.keys()
    }

    /// Whether `device` is a tree sensor.
    pub fn watches(&self, device: &Id) -> bool {
        self.sensor_idx.contains_key(device)
    }

    /// Feeds a reading of a tree sensor (others are ignored).
    pub fn observe(&mut self, r: &Reading) {
        let Some(&(first, n)) = self.sensor_idx.get(&r.device) else {
            return;
        };
        let battery = r.values.get(&Quantity::BatteryVoltage).copied();
        let window_h = i64::try_from(self.cfg.trend_window.as_secs() / 3600).unwrap_or(96);
        for (k, s) in self.sensors[first..first + n].iter_mut().enumerate() {
            // A probe's depths from the top: soil_moisture, soil_moisture_2, …
            let tension = r
                .values
                .get(&Quantity::SoilWaterTension)
                .copied()
                .filter(|_| k == 0);
            if tension.is_some() {
                // A tension sensor: its scale is fixed by the bands, not by the soil.
                s.scale = Some(scale::tension(&self.cfg));
            }
            let moisture = Quantity::SOIL_MOISTURE_BY_DEPTH.get(k);
            let value = tension.or_else(|| moisture.and_then(|q| r.values.get(q)).copied());
            s.observe(
                r.ts.timestamp_millis(),
                value,
                battery,
                &self.cfg.faults,
                window_h,
                self.cfg.wetting_step,
            );
        }
    }

    /// Takes in a validated weather message; `false` (and nothing changes) when no park uses its area.
    pub fn weather(&mut self, w: &Weather) -> bool {
        match self.areas.get_mut(&w.area) {
            Some(a) => {
                a.observe(w);
                true
            }
            None => false,
        }
    }

    /// Time-driven work at `now` (local `local`): gaps every call; a full evaluation of every tree each
    /// `trees.interval`, returning their statuses.
    pub fn tick(&mut self, now: i64, local: Local, out: &mut Vec<Signal>) -> Vec<TreeStatus> {
        for s in &mut self.sensors {
            s.tick(now, &self.cfg.faults);
        }
        if now < self.next_eval {
            return Vec::new();
        }
        let interval = i64::try_from(self.cfg.interval.as_millis()).unwrap_or(i64::MAX);
        self.next_eval = now - now.rem_euclid(interval) + interval;
        // One maintenance alert per device: a probe's depths together.
        let mut i = 0;
        while i < self.sensors.len() {
            let n = self.sensors[i].depths.max(1);
            let (site, tree) = &self.owner[i];
            maintenance::maintenance(&mut self.sensors[i..i + n], site, tree, now, &self.cfg, out);
            i += n;
        }
        status::evaluate(self, now, local, out)
    }

    /// Re-arms the condition behind a watering or maintenance alert that was open before a restart.
    pub fn restore(&mut self, kind: AlertKind, subject: &Subject, since: i64) -> bool {
        match (kind, &subject.device, &subject.tree) {
            (AlertKind::SensorFault, Some(d), _) => self.sensor_idx.get(d).is_some_and(|&(i, _)| {
                self.sensors[i].alert.restore(since);
                true
            }),
            (AlertKind::TreeWater, None, Some(t)) => {
                self.trees.iter_mut().find(|x| &x.tree.id == t).is_some_and(|x| {
                    x.water.restore(since);
                    true
                })
            }
            _ => false,
        }
    }

    /// Number of trees watched.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Whether no tree is watched.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }
}

#[cfg(test)]
mod tests;
