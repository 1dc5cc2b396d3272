//! Buildings of a scenario: a main meter summing office load, a thermostat-cycled heater and three plugs
//! (kettle, desk, fan heater), with holidays, weather and the labelled incidents.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Timelike, Utc};
use zw_model::inventory::{Device, DeviceSource, Site};
use zw_model::{Id, Inventory, Quantity, Reading, SiteKind};

use super::{Incident, IncidentKind, ScenarioConfig, workday};
use crate::curves::{mix, secs, smooth, uniform, unit};
use crate::time::{berlin, berlin_offset_secs};

const MIN: i64 = 60_000;

/// One building and its devices.
#[derive(Debug, Clone)]
pub(super) struct Building {
    site: Id,
    seed: u64,
    town: u64,
    base_w: f64,
    office_w: f64,
    main: Id,
    heater: (Id, f64, f64),
    kettle: Id,
    desk: (Id, f64),
    fan: (Id, f64),
    /// Windows `[from, to)` in ms with a fixed override power per device index (1 heater, 3 desk, 4 fan).
    overrides: Vec<(usize, i64, i64, f64)>,
    creep: Option<(i64, f64)>,
}

fn id(s: String) -> Id {
    Id::new(s).expect("generated ids use the id alphabet")
}

/// UTC instant of local `hh:mm` on the local date of `t`.
fn local_at(t: DateTime<Utc>, h: u32, m: u32) -> DateTime<Utc> {
    let date = berlin(t).date();
    let naive = date.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default());
    naive.and_utc() - TimeDelta::seconds(berlin_offset_secs(t))
}

/// Hours since local midnight (fractional) and the local day number.
fn local_hour(t: DateTime<Utc>) -> (f64, i64) {
    let l = berlin(t);
    (
        f64::from(l.num_seconds_from_midnight()) / 3600.0,
        i64::from(l.date().num_days_from_ce()),
    )
}

fn ramp(x: f64, a: f64, b: f64) -> f64 {
    let s = ((x - a) / (b - a)).clamp(0.0, 1.0);
    s * s * (3.0 - 2.0 * s)
}

impl Building {
    fn desk_hours(&self, day: i64) -> (f64, f64) {
        let d = day as u64;
        (
            uniform(self.seed, d * 16 + 1, 7.5, 9.0),
            uniform(self.seed, d * 16 + 2, 16.0, 18.5),
        )
    }

    fn weather(&self, s: f64) -> f64 {
        crate::weather::climate::cold(self.town, s)
    }

    /// Whether the fan heater runs at `t` of its own accord: on workday mornings (08:00–09:30) when it is
    /// cold.
    pub(super) fn fan_runs(&self, t: DateTime<Utc>) -> bool {
        let (hour, _) = local_hour(t);
        workday(t) && (8.0..9.5).contains(&hour) && self.weather(secs(t)) > 1.05
    }

    /// When a fan heater switched on at `from` (08:00) and never switched off becomes anomalous: the first
    /// minute it would not run of its own accord. On a cold morning that is when its usual run ends
    /// (09:30); on a mild one it is at once, since a fan heater running on a mild morning is itself
    /// unusual.
    fn fan_anomalous_from(&self, from: DateTime<Utc>) -> DateTime<Utc> {
        (0..90)
            .map(|m| from + TimeDelta::minutes(m))
            .find(|&t| !self.fan_runs(t))
            .unwrap_or(from + TimeDelta::minutes(90))
    }

    /// Power of (main, heater, kettle, desk, fan) at `t`.
    fn power(&self, t: DateTime<Utc>) -> [f64; 5] {
        let (s, ms) = (secs(t), t.timestamp_millis());
        let (hour, day) = local_hour(t);
        let work = workday(t);
        let cold = self.weather(s);
        let minute = (ms / MIN) as u64;
        let occ = if work {
            let lunch = ramp(hour, 12.0, 12.5) * (1.0 - ramp(hour, 13.0, 13.5));
            ramp(hour, 7.0, 9.0) * (1.0 - ramp(hour, 17.0, 19.0)) * (1.0 - 0.2 * lunch)
        } else {
            0.0
        };
        let creep = self.creep.map_or(0.0, |(from, w)| {
            if ms > from {
                w * (ms - from) as f64 / 86_400_000.0
            } else {
                0.0
            }
        });
        let base =
            self.base_w * (1.0 + 0.05 * smooth(mix(self.seed, 10), s, 900.0)) * (0.95 + 0.05 * cold) + creep;
        let office = self.office_w * occ * (0.85 + 0.15 * smooth(mix(self.seed, 11), s, 300.0));
        let duty = match (work, hour) {
            (true, h) if (5.5..6.5).contains(&h) => 0.9,
            (true, h) if (6.5..18.0).contains(&h) => 0.35 * cold * cold,
            _ => 0.15 * cold,
        };
        let phase = ((s / 60.0 + self.heater.2) % 12.0) / 12.0;
        let mut p = [0.0, if phase < duty { self.heater.1 } else { 5.0 }, 1.0, 1.5, 0.5];
        if work {
            let m = hour * 60.0;
            let burst = (0..6).any(|k| {
                let at = 450.0 + (unit(self.seed, day as u64 * 64 + 20 + k) * 570.0).floor();
                (at..at + 3.0).contains(&m)
            });
            if burst {
                p[2] = 2000.0;
            }
            let (arrive, leave) = self.desk_hours(day);
            if (arrive..leave).contains(&hour) {
                p[3] = self.desk.1 * (1.0 + 0.05 * (2.0 * unit(self.seed, minute * 8 + 3) - 1.0));
            }
            if self.fan_runs(t) {
                p[4] = self.fan.1;
            }
        }
        for &(dev, from, to, w) in &self.overrides {
            if (from..to).contains(&ms) {
                p[dev] = w;
            }
        }
        let noise = 0.03 * base * (2.0 * unit(self.seed, minute * 8 + 1) - 1.0);
        p[0] = base + office + noise + p[1] + p[2] + p[3] + p[4];
        p
    }

    /// This minute's readings of the building's five devices.
    pub(super) fn readings(&self, t: DateTime<Utc>, out: &mut Vec<Reading>) {
        let p = self.power(t);
        let ids = [
            &self.main,
            &self.heater.0,
            &self.kettle,
            &self.desk.0,
            &self.fan.0,
        ];
        for (d, w) in ids.into_iter().zip(p) {
            let values = BTreeMap::from([(Quantity::ActivePower, (w * 10.0).round() / 10.0)]);
            out.push(Reading::new(self.site.clone(), d.clone(), t, values));
        }
    }
}

fn device(id: &Id, class: &str) -> Device {
    Device {
        id: id.clone(),
        name: String::new(),
        class: class.into(),
        source: DeviceSource::Tasmota {
            topic: id.to_string(),
            sml_section: None,
            sml: Vec::new(),
        },
    }
}

/// Workday `n` (0-based) of the evaluation weeks, at local midnight.
fn eval_workday(from: DateTime<Utc>, end: DateTime<Utc>, n: u64) -> Option<DateTime<Utc>> {
    let mut t = from;
    let mut k = 0;
    while t < end {
        if workday(t + TimeDelta::hours(12)) {
            if k == n {
                return Some(t);
            }
            k += 1;
        }
        t += TimeDelta::days(1);
    }
    None
}

/// Builds the buildings, their inventory and their incidents.
pub(super) fn generate(
    cfg: &ScenarioConfig,
    learn_until: DateTime<Utc>,
    end: DateTime<Utc>,
    inv: &mut Inventory,
) -> (Vec<Building>, Vec<Incident>) {
    let (mut buildings, mut incidents) = (Vec::new(), Vec::new());
    let workdays = (cfg.eval_weeks * 5).saturating_sub(3).max(1) as u64;
    for i in 0..cfg.buildings {
        let seed = mix(cfg.seed, 1000 + i as u64);
        let name = |d: &str| id(format!("b{i}-{d}"));
        let mut b = Building {
            site: id(format!("b{i}")),
            seed,
            town: mix(cfg.seed, 1),
            base_w: uniform(seed, 1, 800.0, 2000.0),
            office_w: uniform(seed, 2, 2000.0, 6000.0),
            main: name("main"),
            heater: (
                name("heater"),
                uniform(seed, 3, 2000.0, 3000.0),
                uniform(seed, 4, 0.0, 12.0),
            ),
            kettle: name("kettle"),
            desk: (name("desk"), uniform(seed, 5, 60.0, 150.0)),
            fan: (name("fan"), uniform(seed, 6, 1000.0, 2000.0)),
            overrides: Vec::new(),
            creep: None,
        };
        let pick = |k: u64| (unit(seed, 100 + k) * workdays as f64) as u64;
        let (d1, d2) = (pick(1), pick(2));
        let d3 = (d2 + 2 + pick(3) % 4) % workdays;
        let mut label = |kind, devs: Vec<Id>, start: DateTime<Utc>, end: DateTime<Utc>| {
            incidents.push(Incident {
                kind,
                site: b.site.clone(),
                devices: devs,
                start,
                end,
            });
        };
        // A desk plug left on: from leaving until 07:00 the next day; anomalous from 19:00.
        if let Some(day) = eval_workday(learn_until, end, d1) {
            let (_, leave) = b.desk_hours(local_hour(day + TimeDelta::hours(12)).1);
            let from = day + TimeDelta::minutes((leave * 60.0) as i64);
            let until = local_at(day + TimeDelta::hours(36), 7, 0);
            b.overrides
                .push((3, from.timestamp_millis(), until.timestamp_millis(), b.desk.1));
            label(
                IncidentKind::LeftOn,
                vec![b.desk.0.clone(), b.main.clone()],
                local_at(day + TimeDelta::hours(12), 19, 0),
                until,
            );
        }
        // A fan heater switched on at 08:00 and not switched off: anomalous once its usual morning run
        // ends (09:30), or at once on a mild morning, when it would not have run at all.
        if let Some(day) = eval_workday(learn_until, end, d2) {
            let from = local_at(day + TimeDelta::hours(12), 8, 0);
            let until = local_at(day + TimeDelta::hours(36), 7, 0);
            b.overrides
                .push((4, from.timestamp_millis(), until.timestamp_millis(), b.fan.1));
            let start = b.fan_anomalous_from(from);
            label(
                IncidentKind::LeftOn,
                vec![b.fan.0.clone(), b.main.clone()],
                start,
                until,
            );
        }
        // A fan heater above the plug limit for 1–3 h, every other building.
        if let (0, Some(day)) = (i % 2, eval_workday(learn_until, end, d3)) {
            let from = local_at(day + TimeDelta::hours(12), 10, 0)
                + TimeDelta::minutes((unit(seed, 7) * 240.0) as i64);
            let until = from + TimeDelta::minutes(60 + (unit(seed, 8) * 120.0) as i64);
            b.overrides.push((
                4,
                from.timestamp_millis(),
                until.timestamp_millis(),
                uniform(seed, 9, 3300.0, 4500.0),
            ));
            label(
                IncidentKind::OverLimit,
                vec![b.fan.0.clone(), b.main.clone()],
                from,
                until,
            );
        }
        // A heater stuck at full power for 6–48 h.
        let span = (end - learn_until).num_minutes() - 48 * 60;
        let from = learn_until + TimeDelta::minutes((unit(seed, 10) * span as f64) as i64);
        let until = from + TimeDelta::minutes(360 + (unit(seed, 11) * 42.0 * 60.0) as i64);
        b.overrides.insert(
            0,
            (1, from.timestamp_millis(), until.timestamp_millis(), b.heater.1),
        );
        label(
            IncidentKind::StuckHeater,
            vec![b.heater.0.clone(), b.main.clone()],
            from,
            until,
        );
        // Baseload creep of 80–150 W/day in every fourth building.
        if i % 4 == 1 {
            let from = learn_until + TimeDelta::hours(24 + (unit(seed, 12) * 72.0) as i64);
            b.creep = Some((from.timestamp_millis(), uniform(seed, 13, 80.0, 150.0)));
            label(IncidentKind::BaseloadCreep, vec![b.main.clone()], from, end);
        }
        let devices = vec![
            device(&b.main, "main_meter"),
            device(&b.heater.0, "heater"),
            device(&b.kettle, "plug"),
            device(&b.desk.0, "plug"),
            device(&b.fan.0, "plug"),
        ];
        inv.sites.push(Site {
            id: b.site.clone(),
            name: format!("Building {i}"),
            kind: SiteKind::Building,
            category: None,
            floor_area_m2: None,
            devices,
        });
        buildings.push(b);
    }
    (buildings, incidents)
}
