//! Labelled scenarios for evaluating analytics: simulated weeks of buildings, plugs and park trees, with the
//! incidents and sensor faults they contain and the trees' true soil water.
//!
//! A scenario is generated from a seed ([`Scenario::generate`]) and replayed minute by minute
//! ([`Scenario::replay`]) as canonical readings, as fast as the consumer can take them (an accelerated
//! clock). The first `learn_weeks` hold normal life only (holidays, weather, routines), so detectors can learn;
//! incidents happen in the `eval_weeks` after:
//!
//! * [`IncidentKind::LeftOn`]: a desk or heater plug stays on overnight after usage hours;
//! * [`IncidentKind::StuckHeater`]: a thermostat-cycled heater runs at full power for hours or days;
//! * [`IncidentKind::OverLimit`]: a plug draws more than its class limit (3 kW) for hours;
//! * [`IncidentKind::BaseloadCreep`]: a building's always-on load grows day by day.
//!
//! Trees dry at their own rates (`trees`), rain wets the park, the parks department waters critical trees
//! after a delay, and some soil sensors get stuck, fall silent, run low on battery or report impossible
//! values ([`SensorFault`]). The weather they dry in is published as a feed of reference evapotranspiration,
//! observed hourly and forecast daily with errors growing with lead time ([`crate::weather`],
//! [`Scenario::weather`]).
//! The truth ([`Scenario::true_days_until_critical`]) comes from the noise-free
//! soil water the sensors measure. Everything is a pure function of the config.

mod energy;
pub mod peak;
mod trees;

/// The weather the trees dry in (its home is [`crate::weather`]; this path is kept for callers).
pub use crate::weather;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use zw_model::{Id, Inventory, Reading};

use crate::time::berlin;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioConfig {
    /// Seed of everything random.
    pub seed: u64,
    /// First simulated instant (UTC).
    pub start: DateTime<Utc>,
    /// Weeks of normal life before incidents start.
    pub learn_weeks: u32,
    /// Weeks with incidents.
    pub eval_weeks: u32,
    /// Buildings (each: a main meter, a heater, three plugs).
    pub buildings: usize,
    /// Trees (each with one to three soil sensors).
    pub trees: usize,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            // Monday 2026-04-06 00:00 in Berlin (Easter Monday): spring, heating still on, trees drying.
            start: DateTime::parse_from_rfc3339("2026-04-05T22:00:00Z")
                .map_or(DateTime::UNIX_EPOCH, |d| d.with_timezone(&Utc)),
            learn_weeks: 3,
            eval_weeks: 3,
            buildings: 12,
            trees: 24,
        }
    }
}

/// A kind of energy incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentKind {
    /// A plug left on overnight.
    LeftOn,
    /// A heater stuck at full power.
    StuckHeater,
    /// A plug drawing more than its class limit.
    OverLimit,
    /// A building's baseload growing day by day.
    BaseloadCreep,
}

/// A labelled energy incident: what, where, when. Alerts on any of `devices` or on the site match it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// What happened.
    pub kind: IncidentKind,
    /// The building.
    pub site: Id,
    /// The device at fault and the meters that see it.
    pub devices: Vec<Id>,
    /// When the anomaly starts (for a plug left on: the end of usage hours).
    pub start: DateTime<Utc>,
    /// When it ends.
    pub end: DateTime<Utc>,
}

/// A kind of simulated soil sensor fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SensorFault {
    /// The value freezes.
    Stuck,
    /// No uplinks.
    Gap,
    /// The battery runs down below 3.3 V (values stay right).
    LowBattery,
    /// Every other value is garbage (0 %, 255 kPa).
    Impossible,
    /// The probe is pulled out of the soil: values jump to bone dry.
    Jump,
}

/// A labelled sensor fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultLabel {
    /// What.
    pub kind: SensorFault,
    /// The park.
    pub site: Id,
    /// The tree the sensor belongs to.
    pub tree: Id,
    /// The sensor.
    pub device: Id,
    /// From.
    pub start: DateTime<Utc>,
    /// Until.
    pub end: DateTime<Utc>,
}

/// A generated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What it was generated from.
    pub config: ScenarioConfig,
    /// Sites, devices (with classes) and trees.
    pub inventory: Inventory,
    /// Soil profiles used: name → (field capacity %, wilting point %).
    pub soils: BTreeMap<String, (f64, f64)>,
    /// Soil profile name per tree id.
    pub tree_soil: BTreeMap<String, String>,
    /// Depth per sensor device id, cm.
    pub sensor_depth: BTreeMap<String, u16>,
    /// End of the learning weeks.
    pub learn_until: DateTime<Utc>,
    /// End of the scenario.
    pub end: DateTime<Utc>,
    /// Energy incidents.
    pub incidents: Vec<Incident>,
    /// Sensor faults.
    pub faults: Vec<FaultLabel>,
    buildings: Vec<energy::Building>,
    park: trees::Park,
}

/// Public holidays in the simulated period (Lower Saxony / NRW 2026): offices stay closed.
fn holiday(d: NaiveDate) -> bool {
    const DAYS: [(u32, u32); 6] = [(4, 3), (4, 6), (5, 1), (5, 14), (5, 25), (6, 4)];
    use chrono::Datelike;
    DAYS.contains(&(d.month(), d.day()))
}

/// Whether offices are open on the local date of `t` (a weekday that is not a holiday).
pub(crate) fn workday(t: DateTime<Utc>) -> bool {
    use chrono::Datelike;
    let d = berlin(t).date();
    d.weekday().num_days_from_monday() < 5 && !holiday(d)
}

impl Scenario {
    /// Generates the scenario for `config`.
    pub fn generate(config: ScenarioConfig) -> Scenario {
        let learn_until = config.start + TimeDelta::weeks(i64::from(config.learn_weeks));
        let end = learn_until + TimeDelta::weeks(i64::from(config.eval_weeks));
        let mut inventory = Inventory::default();
        let (buildings, incidents) = energy::generate(&config, learn_until, end, &mut inventory);
        let (park, faults) = trees::Park::generate(&config, end, &mut inventory);
        Scenario {
            soils: trees::SOILS
                .iter()
                .map(|(n, fc, wp)| ((*n).to_string(), (*fc, *wp)))
                .collect(),
            tree_soil: park.tree_soil(),
            sensor_depth: park.depths(),
            config,
            inventory,
            learn_until,
            end,
            incidents,
            faults,
            buildings,
            park,
        }
    }

    /// The counterfactual of the park: the same trees, soil water, weather and sensor noise, but every
    /// sensor working throughout, and no buildings. Comparing what the detectors say on it with what they
    /// said on the real scenario shows which watering alerts a sensor fault caused.
    pub fn trees_without_faults(&self) -> Scenario {
        Scenario {
            buildings: Vec::new(),
            incidents: Vec::new(),
            faults: Vec::new(),
            park: self.park.without_faults(),
            ..self.clone()
        }
    }

    /// Replays the scenario: calls `f` once per simulated minute with that minute's readings.
    pub fn replay(&self, mut f: impl FnMut(DateTime<Utc>, &[Reading])) {
        let mut batch = Vec::new();
        let mut t = self.config.start;
        while t < self.end {
            batch.clear();
            for b in &self.buildings {
                b.readings(t, &mut batch);
            }
            self.park.readings(t, &mut batch);
            f(t, &batch);
            t += TimeDelta::minutes(1);
        }
    }

    /// The weather message (ET0 of area [`weather::area`]) issued in the minute starting at `t`, if any:
    /// hourly observations of the past hour, and once a day the forecast. Hand it to a consumer at `t`,
    /// not before: that is when it would exist.
    pub fn weather(&self, t: DateTime<Utc>) -> Option<zw_model::weather::Weather> {
        self.park.feed.message(t)
    }

    /// True days from `t` until `tree` first turns critical (any depth at or below 50 % of plant-available
    /// water), if that happens within `horizon` days and before the scenario ends; `Some(0)` if critical.
    pub fn true_days_until_critical(&self, tree: &Id, t: DateTime<Utc>, horizon: f64) -> Option<f64> {
        self.park.days_until_critical(tree, t, horizon)
    }

    /// Whether `tree` only dried between `from` and `to` (no rain or watering wetted any depth): the
    /// situations a forecast without a weather forecast can be judged on.
    pub fn dries_throughout(&self, tree: &Id, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.park.dries_throughout(tree, from, to)
    }

    /// Whether `tree` truly needs water at `t`: critical now, or critical within `within` days.
    pub fn needs_water(&self, tree: &Id, t: DateTime<Utc>, within: f64) -> bool {
        self.true_days_until_critical(tree, t, within).is_some()
    }
}

#[cfg(test)]
mod tests;
