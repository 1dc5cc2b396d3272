//! The peak-watch scenario: a school paying a demand charge, four winter weeks sampled every 10 s, where
//! on cold Mondays heating, ventilation and kitchen switch on together at 07:00 local (a few minutes
//! either way) instead of one after another, and some of those quarter hours set a new peak of the year.
//!
//! Devices of site `schule`: `main` (the `main_meter`, the sum of the others), `heating`, `ventilation`,
//! `kitchen`, `rest` (lights, classrooms). On ordinary school days the heating starts at 05:30, the
//! ventilation at 06:30, the kitchen at 09:00 and lessons from 07:30; weekends keep the baseload. Every
//! Monday is cold with probability ½ (the first week's never, so the detectors learn a peak first): then
//! the three start at once, each at a size drawn per Monday, so some surges stay below the peak so far and
//! some exceed it by a little or a lot. Everything is a pure function of the seed.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use zw_model::tariff::Tariff;
use zw_model::{Device, DeviceSource, Id, Inventory, Quantity, Reading, Site, SiteKind};

use crate::curves::{mix, smooth, uniform, unit};
use crate::time::berlin;

/// Sample spacing.
pub const STEP: TimeDelta = TimeDelta::seconds(10);

/// The generated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct PeakScenario {
    /// Seed of everything random.
    pub seed: u64,
    /// First instant (Monday 00:00 Berlin).
    pub start: DateTime<Utc>,
    /// Weeks simulated.
    pub weeks: u32,
    /// Per week: `Some((minutes after 07:00, heating W, ventilation W, kitchen W))` if its Monday is cold.
    pub cold_mondays: Vec<Option<(f64, f64, f64, f64)>>,
}

/// The sub-meters, in the order of [`PeakScenario::sub_loads`].
pub const SUBS: [&str; 4] = ["heating", "ventilation", "kitchen", "rest"];

impl PeakScenario {
    /// The scenario of `seed` over `weeks` weeks from Monday 2026-01-05.
    pub fn generate(seed: u64, weeks: u32) -> Self {
        let start = DateTime::parse_from_rfc3339("2026-01-04T23:00:00Z")
            .map_or(DateTime::UNIX_EPOCH, |d| d.with_timezone(&Utc));
        let cold_mondays = (0..weeks)
            .map(|w| {
                let k = u64::from(w) * 16;
                (w > 0 && unit(seed, 1000 + k) < 0.5).then(|| {
                    (
                        uniform(seed, 1001 + k, -4.0, 4.0),
                        uniform(seed, 1002 + k, 10_000.0, 60_000.0),
                        uniform(seed, 1003 + k, 8_000.0, 20_000.0),
                        uniform(seed, 1004 + k, 8_000.0, 25_000.0),
                    )
                })
            })
            .collect();
        Self {
            seed,
            start,
            weeks,
            cold_mondays,
        }
    }

    /// The school's inventory: the main meter and its sub-meters, and a tariff of 110 €/kW a year.
    pub fn inventory(&self) -> Inventory {
        let id = |s: &str| Id::new(s).unwrap_or_else(|_| unreachable!("fixed ids are valid"));
        let device = |d: &str, class: &str| Device {
            id: id(d),
            name: String::new(),
            class: class.into(),
            source: DeviceSource::Tasmota {
                topic: d.into(),
                sml_section: None,
                sml: Vec::new(),
            },
        };
        let mut inv = Inventory::default();
        inv.sites.push(Site {
            id: id("schule"),
            name: "Grundschule".into(),
            kind: SiteKind::Building,
            category: None,
            floor_area_m2: None,
            devices: std::iter::once(device("main", "main_meter"))
                .chain(SUBS.iter().map(|d| device(d, "sub_meter")))
                .collect(),
        });
        inv.tariffs.push(Tariff {
            medium: Default::default(),
            ct_per_m3: 0.0,
            id: id("rlm"),
            name: "RLM".into(),
            valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            valid_to: None,
            sites: vec![id("schule")],
            currency: "EUR".into(),
            vat_percent: 19.0,
            energy_ct_per_kwh: 20.0,
            base_eur_per_month: 0.0,
            feed_in_ct_per_kwh: 0.0,
            windows: Vec::new(),
            demand_eur_per_kw_year: 110.0,
            demand_billing: Default::default(),
            dynamic: None,
        });
        inv
    }

    /// The end (exclusive).
    pub fn end(&self) -> DateTime<Utc> {
        self.start + TimeDelta::weeks(i64::from(self.weeks))
    }

    /// Power of each of [`SUBS`] at `t`, W.
    pub fn sub_loads(&self, t: DateTime<Utc>) -> [f64; 4] {
        let local = berlin(t);
        let h = f64::from(local.num_seconds_from_midnight()) / 3600.0;
        let weekday = local.weekday().num_days_from_monday();
        let week = ((t - self.start).num_days() / 7) as usize;
        let s = (t - self.start).num_milliseconds() as f64 / 1000.0;
        let noise = |k: u64, amp: f64| 1.0 + amp * smooth(mix(self.seed, k), s, 120.0);
        let school = weekday < 5;
        let on = |from: f64, to: f64| if school && h >= from && h < to { 1.0 } else { 0.0 };
        let cold = if weekday == 0 {
            self.cold_mondays.get(week).copied().flatten()
        } else {
            None
        };
        let (heating, ventilation, kitchen) = match cold {
            Some((offset, hw, vw, kw)) => {
                let at = 7.0 + offset / 60.0;
                (
                    hw * on(at, 12.0) + 12_000.0 * on(12.0, 16.0),
                    vw * on(at, 16.0),
                    kw * on(at, 13.5),
                )
            }
            None => (
                12_000.0 * on(5.5, 16.0),
                9_000.0 * on(6.5, 16.0),
                14_000.0 * on(9.0, 13.5),
            ),
        };
        let rest = 6_000.0 + 20_000.0 * on(7.5, 15.5);
        [
            heating * noise(1, 0.05),
            ventilation * noise(2, 0.03),
            kitchen * noise(3, 0.10),
            rest * noise(4, 0.08),
        ]
    }

    /// Every sample in time order: the sub-meters' readings, then the main meter's (their sum).
    pub fn replay(&self, mut f: impl FnMut(Reading)) {
        let site = Id::new("schule").unwrap_or_else(|_| unreachable!());
        let ids: Vec<Id> = SUBS
            .iter()
            .chain(&["main"])
            .filter_map(|d| Id::new(*d).ok())
            .collect();
        let mut t = self.start;
        let end = self.end();
        while t < end {
            let loads = self.sub_loads(t);
            let main: f64 = loads.iter().sum();
            for (id, w) in ids.iter().zip(loads.iter().chain([main].iter())) {
                f(Reading::new(
                    site.clone(),
                    id.clone(),
                    t,
                    [(Quantity::ActivePower, *w)],
                ));
            }
            t += STEP;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_monday_switches_everything_on_at_seven_and_ordinary_days_stagger() {
        let s = (0..50)
            .map(|seed| PeakScenario::generate(seed, 4))
            .find(|s| s.cold_mondays.get(1).copied().flatten().is_some())
            .expect("a cold second Monday among 50 seeds");
        assert_eq!(s.cold_mondays[0], None, "the first week learns");
        let (offset, hw, ..) = s.cold_mondays[1].expect("cold");
        // `start` is local midnight; a minute after the surge's start every load is on.
        let monday = s.start + TimeDelta::weeks(1) + TimeDelta::hours(7);
        let after = monday + TimeDelta::seconds(((offset + 1.0) * 60.0) as i64);
        let loads = s.sub_loads(after);
        assert!(loads[0] > 0.9 * hw, "{loads:?}");
        assert!(loads[1] > 0.0 && loads[2] > 0.0, "{loads:?}");
        // An ordinary Tuesday at 07:00: the heating and ventilation run, the kitchen does not yet.
        let tuesday = s.start + TimeDelta::days(1) + TimeDelta::hours(7);
        let loads = s.sub_loads(tuesday);
        assert!(loads[0] > 0.0 && loads[1] > 0.0 && loads[2] == 0.0, "{loads:?}");
        let mut n = 0;
        PeakScenario {
            weeks: 1,
            ..s.clone()
        }
        .replay(|_| n += 1);
        assert_eq!(n, 5 * 7 * 8640);
    }
}
