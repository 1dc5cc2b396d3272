//! Waterings logged by the parks department, taken in as water given to a tree.
//!
//! The API announces every logged watering on [`zw_model::topic::TREE_WATERED`] (QoS 1, not retained) as
//! JSON `{"v":1,"tree":"t-1","site":"park-nord","litres":80.0,"at":"…","by":"crew 2"}`. A watering counts
//! like rain of `litres / area` mm on the tree pit ([`millimetres`]; the pit's area is
//! [`PIT_AREA_M2`] until the inventory knows each tree's): from [`WETTING_MM`] on it restarts the drying
//! segment of each of the tree's sensors, as a sharp wetting in the readings does, so the trend and the
//! forecast no longer extrapolate the drying before the watering, and the soil state follows the next
//! reading. A smaller amount changes nothing. Every watering taken in counts in the season report
//! ([`Trees::season_report`]: litres per tree and district against 100 L per tree and week).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use zw_model::Id;
use zw_model::tree::season::{SeasonReport, WateringRecord};

use super::Trees;

/// The tree pit's area a watering spreads over, m² (a 2 m × 2 m pit, the usual size for street trees).
pub const PIT_AREA_M2: f64 = 4.0;

/// The least water, in mm on the pit, that counts as a wetting (a light shower does not reach the roots).
pub const WETTING_MM: f64 = 5.0;

/// Most litres one watering may carry (a water truck's tank); more is refused as implausible.
pub const MAX_LITRES: f64 = 20_000.0;

/// A watering as announced by the API.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Watered {
    /// Schema version (1).
    pub v: u32,
    /// The tree.
    pub tree: Id,
    /// Litres given.
    pub litres: f64,
    /// When.
    pub at: DateTime<Utc>,
}

/// Why a watering announcement was not taken in.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WateringError {
    /// The payload is not a watering announcement.
    #[error("not a watering announcement: {0}")]
    Malformed(String),
    /// The litres are not a positive amount of at most [`MAX_LITRES`].
    #[error("{0} litres is not between 0 (exclusive) and {MAX_LITRES}")]
    Litres(f64),
    /// No watched tree has this id.
    #[error("tree {0} is not watched")]
    UnknownTree(Id),
}

impl WateringError {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            WateringError::Malformed(_) => "malformed_watering",
            WateringError::Litres(_) => "implausible_watering",
            WateringError::UnknownTree(_) => "unknown_tree",
        }
    }
}

/// Water depth of `litres` spread over `area_m2` (1 L/m² = 1 mm).
pub fn millimetres(litres: f64, area_m2: f64) -> f64 {
    litres / area_m2
}

impl Watered {
    /// Parses and checks an announcement.
    pub fn parse(payload: &[u8]) -> Result<Self, WateringError> {
        let w: Watered =
            serde_json::from_slice(payload).map_err(|e| WateringError::Malformed(e.to_string()))?;
        if !(w.litres.is_finite() && w.litres > 0.0 && w.litres <= MAX_LITRES) {
            return Err(WateringError::Litres(w.litres));
        }
        Ok(w)
    }
}

impl Trees {
    /// Takes in a watering: returns the mm it gave the tree's pit; from [`WETTING_MM`] on, the tree's
    /// sensors restart their drying segment.
    pub fn watered(&mut self, w: &Watered) -> Result<f64, WateringError> {
        let tree = self
            .trees
            .iter()
            .find(|t| t.tree.id == w.tree)
            .ok_or_else(|| WateringError::UnknownTree(w.tree.clone()))?;
        let mm = millimetres(w.litres, PIT_AREA_M2);
        if mm >= WETTING_MM {
            for &s in &tree.sensors {
                self.sensors[s].wetted();
            }
        }
        self.log.push(WateringRecord {
            tree: w.tree.clone(),
            at: w.at,
            litres: w.litres,
        });
        Ok(mm)
    }

    /// The season report over `[from, to)` of the waterings taken in since start: litres per tree and
    /// district against the guideline ([`SeasonReport`]).
    pub fn season_report(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> SeasonReport {
        let trees: Vec<zw_model::Tree> = self.trees.iter().map(|t| t.tree.clone()).collect();
        SeasonReport::compute(&trees, &self.log, from, to)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use zw_model::inventory::{Device, DeviceSource, Site};
    use zw_model::{Inventory, Quantity, Reading, SiteKind, Tree};

    use super::*;
    use crate::config::TreesConfig;

    fn id(s: &str) -> Id {
        Id::new(s).expect("id")
    }

    fn trees() -> Trees {
        let dev = Device {
            id: id("soil-1"),
            name: String::new(),
            class: "soil_sensor".into(),
            source: DeviceSource::Ttn {
                topic: "v3/a@ttn/devices/soil-1/up".into(),
                model: "dl-trs21".into(),
            },
        };
        let inv = Inventory {
            sites: vec![Site {
                id: id("park"),
                name: String::new(),
                kind: SiteKind::Park,
                category: None,
                floor_area_m2: None,
                devices: vec![dev],
            }],
            trees: vec![Tree {
                id: id("t-1"),
                site: id("park"),
                species: "Tilia cordata".into(),
                planted: 2022,
                lat: 51.2,
                lon: 6.6,
                sensors: vec![id("soil-1")],
                district: None,
            }],
            ..Default::default()
        };
        Trees::new(&TreesConfig::default(), &inv)
    }

    /// Two days of drying soil, one reading every 30 min.
    fn drying(t: &mut Trees) {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        for i in 0..96 {
            let ts = t0 + chrono::TimeDelta::minutes(30 * i);
            let kpa = 20.0 + 0.5 * i as f64;
            let values = std::collections::BTreeMap::from([(Quantity::SoilWaterTension, kpa)]);
            let r = Reading::new(id("park"), id("soil-1"), ts, values);
            t.observe(&r);
        }
    }

    fn announce(tree: &str, litres: f64) -> Vec<u8> {
        format!(r#"{{"v":1,"tree":"{tree}","site":"park","litres":{litres},"at":"2026-06-03T08:00:00Z","by":"crew 2"}}"#)
            .into_bytes()
    }

    #[test]
    fn litres_spread_over_the_pit_are_millimetres() {
        assert_eq!(millimetres(80.0, 4.0), 20.0);
        assert_eq!(millimetres(100.0, PIT_AREA_M2), 25.0);
    }

    #[test]
    fn a_watering_restarts_the_drying_segment_of_the_trees_sensors() {
        let mut t = trees();
        drying(&mut t);
        assert!(
            t.sensors[0].segment_hours() > 40,
            "two days of drying are one segment"
        );
        let w = Watered::parse(&announce("t-1", 100.0)).expect("parse");
        assert_eq!(t.watered(&w), Ok(25.0));
        assert_eq!(
            t.sensors[0].segment_hours(),
            0,
            "the trend starts again after the watering"
        );
    }

    #[test]
    fn waterings_count_in_the_season_report() {
        let mut t = trees();
        for litres in [100.0, 10.0] {
            let w = Watered::parse(&announce("t-1", litres)).expect("parse");
            assert!(t.watered(&w).is_ok());
        }
        let from = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let r = t.season_report(from, from + chrono::TimeDelta::weeks(1));
        let tree = &r.trees[0];
        assert_eq!(
            (tree.waterings, tree.litres, tree.guideline_litres),
            (2, 110.0, 100.0)
        );
        assert_eq!(r.districts[0].district, "park");
    }

    #[test]
    fn a_splash_changes_nothing() {
        let mut t = trees();
        drying(&mut t);
        let before = t.sensors[0].segment_hours();
        let w = Watered::parse(&announce("t-1", 10.0)).expect("parse");
        assert_eq!(t.watered(&w), Ok(2.5));
        assert_eq!(t.sensors[0].segment_hours(), before);
    }

    #[test]
    fn bad_announcements_are_refused_with_a_reason() {
        let mut t = trees();
        let reason = |p: &[u8]| Watered::parse(p).map(|_| ()).map_err(|e| e.reason());
        assert_eq!(reason(b"{}"), Err("malformed_watering"));
        assert_eq!(reason(&announce("t-1", 0.0)), Err("implausible_watering"));
        assert_eq!(reason(&announce("t-1", -5.0)), Err("implausible_watering"));
        assert_eq!(reason(&announce("t-1", 1e9)), Err("implausible_watering"));
        let w = Watered::parse(&announce("t-9", 80.0)).expect("parse");
        assert_eq!(t.watered(&w).map_err(|e| e.reason()), Err("unknown_tree"));
    }
}
