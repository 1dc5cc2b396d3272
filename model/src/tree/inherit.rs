//! Which trees a tree without a sensor inherits its estimate from: reference trees with sensors of the same
//! soil profile, species and age class within [`RADIUS_M`]. Analytics' live state takes their mean dryness
//! and forecast; the season report their mean dryness per day. Shared so both pick the same references.

use std::collections::BTreeMap;

use super::AgeClass;
use super::dryness::SoilRules;
use crate::{Id, Tree};

/// How far a reference tree may stand, metres (the same street or park: soil and exposure alike).
pub const RADIUS_M: f64 = 500.0;

/// Distance in metres between two WGS84 points (equirectangular; exact enough within a town).
pub fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.0 + b.0) / 2.0).to_radians();
    let dy = (b.0 - a.0) * 110_540.0;
    let dx = (b.1 - a.1) * 111_320.0 * lat.cos();
    (dx * dx + dy * dy).sqrt()
}

/// Whether `other` (which must have sensors) can stand in for sensorless `me` in `year`: same species, soil
/// profile (`soil_me`, `soil_other`: their names) and age class, within [`RADIUS_M`].
pub fn is_reference(me: &Tree, other: &Tree, soil_me: &str, soil_other: &str, year: i32) -> bool {
    let class = |t: &Tree| AgeClass::of(year - i32::from(t.planted));
    !other.sensors.is_empty()
        && other.id != me.id
        && other.species == me.species
        && soil_me == soil_other
        && class(other) == class(me)
        && metres((other.lat, other.lon), (me.lat, me.lon)) <= RADIUS_M
}

/// Each tree of `trees` without a sensor that has references among `trees` in `year`, with them (by id).
pub fn references(trees: &[Tree], rules: &SoilRules, year: i32) -> BTreeMap<Id, Vec<Id>> {
    trees
        .iter()
        .filter(|me| me.sensors.is_empty())
        .filter_map(|me| {
            let soil = rules.soil_name(me.id.as_str());
            let refs: Vec<Id> = trees
                .iter()
                .filter(|o| is_reference(me, o, soil, rules.soil_name(o.id.as_str()), year))
                .map(|o| o.id.clone())
                .collect();
            (!refs.is_empty()).then(|| (me.id.clone(), refs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_in_town() {
        // 0.001° of latitude is about 110 m; of longitude at 51° about 70 m.
        assert!((metres((51.0, 6.0), (51.001, 6.0)) - 110.5).abs() < 1.0);
        assert!((metres((51.0, 6.0), (51.0, 6.001)) - 70.0).abs() < 1.0);
    }

    #[test]
    fn references_share_species_soil_age_class_and_neighbourhood() {
        let tree = |id: &str, species: &str, planted: u16, lat: f64, sensors: &[&str]| Tree {
            species: species.into(),
            planted,
            lat,
            lon: 6.0,
            ..Tree::new(id, "park", sensors)
        };
        let trees = [
            tree("me", "linde", 2000, 51.0, &[]),
            tree("ref", "linde", 1990, 51.001, &["s-1"]),
            tree("far", "linde", 2000, 51.01, &["s-2"]),
            tree("oak", "eiche", 2000, 51.0, &["s-3"]),
            tree("young", "linde", 2022, 51.0, &["s-4"]),
            tree("sandy", "linde", 2000, 51.0, &["s-5"]),
            tree("alone", "ahorn", 2000, 51.0, &[]),
        ];
        let mut rules = SoilRules::default();
        rules.tree_soil.insert("sandy".into(), "sand".into());
        let refs = references(&trees, &rules, 2026);
        let got: Vec<(&str, Vec<&str>)> = refs
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(Id::as_str).collect()))
            .collect();
        assert_eq!(got, [("me", vec!["ref"])]);
    }
}
