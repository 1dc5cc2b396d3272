//! One dryness scale for every soil sensor, the soil profiles it is drawn from, and the rules by which a
//! tree's sensors are judged: what analytics' tree detector and the API's season report share, so neither
//! stage imports the other.
//!
//! Dryness is piecewise linear in the sensor's own unit with the band edges pinned: `0` wet, `0.5` where
//! `moderate` starts, `1.0` where `critical` starts, continuing with the moderate band's slope beyond. For
//! tension the edges are 33 and 81 kPa (configurable); for VWC they are the soil profile's moderate and
//! critical depletion of the water held between field capacity and wilting point.
//!
//! Trends are fitted on `ln(kPa)` for tension (as soil dries, tension rises roughly exponentially) and on
//! VWC directly (it falls roughly linearly under steady evaporation).
//!
//! [`SoilRules`] is the part of `[analytics.trees]` a reader of soil readings needs (bands, soil profiles,
//! depths, how a tree's sensors combine, weather areas); analytics' `TreesConfig::soil_rules` gives it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How the sensors (depths) of one tree are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The driest trusted sensor decides (default: the tree suffers when its main root zone dries, and a
    /// shallow sensor drying first is the early warning).
    #[default]
    Worst,
    /// The mean dryness of the trusted sensors, each depth weighed by the share of the tree's roots in
    /// its layer ([`super::root`]).
    Mean,
}

/// Water retention of a soil texture. VWC thresholds follow the depletion of plant-available water between
/// field capacity and wilting point: `moderate_depletion` and `critical_depletion` (irrigate around 50 %).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SoilProfile {
    /// Volumetric water content at field capacity, %.
    pub field_capacity_pct: f64,
    /// Volumetric water content at the permanent wilting point, %.
    pub wilting_point_pct: f64,
    /// Depletion (0–1) where `moderate` starts.
    #[serde(default = "default_moderate")]
    pub moderate_depletion: f64,
    /// Depletion (0–1) where `critical` starts.
    #[serde(default = "default_critical")]
    pub critical_depletion: f64,
}

fn default_moderate() -> f64 {
    0.25
}
fn default_critical() -> f64 {
    0.5
}

impl SoilProfile {
    /// A profile of field capacity `fc` and wilting point `wp` (VWC %) with the default depletions.
    pub fn new(fc: f64, wp: f64) -> Self {
        Self {
            field_capacity_pct: fc,
            wilting_point_pct: wp,
            moderate_depletion: default_moderate(),
            critical_depletion: default_critical(),
        }
    }

    /// VWC (%) at which the soil turns critical.
    pub fn critical_pct(&self) -> f64 {
        self.field_capacity_pct - self.critical_depletion * (self.field_capacity_pct - self.wilting_point_pct)
    }
}

/// The built-in soil profiles: typical field capacity / wilting point (VWC %) per texture, from standard soil
/// tables (`sand`, `loamy_sand`, `sandy_loam`, `loam`, `silt_loam`, `clay_loam`, `clay`).
pub fn builtin_profiles() -> BTreeMap<String, SoilProfile> {
    let profiles = [
        ("sand", 10.0, 4.0),
        ("loamy_sand", 14.0, 6.0),
        ("sandy_loam", 20.0, 9.0),
        ("loam", 28.0, 14.0),
        ("silt_loam", 32.0, 13.0),
        ("clay_loam", 36.0, 21.0),
        ("clay", 40.0, 26.0),
    ];
    profiles
        .into_iter()
        .map(|(n, fc, wp)| (n.to_string(), SoilProfile::new(fc, wp)))
        .collect()
}

/// How a sensor's values map onto dryness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    /// Soil water tension in kPa with the moderate and critical edges.
    Tension {
        /// Where moderate starts, kPa.
        moderate: f64,
        /// Where critical starts, kPa.
        critical: f64,
    },
    /// Volumetric water content in % with the VWC at the moderate and critical edges (falling = drier).
    Vwc {
        /// Field capacity, %.
        wet: f64,
        /// VWC where moderate starts, %.
        moderate: f64,
        /// VWC where critical starts, %.
        critical: f64,
    },
}

impl Scale {
    /// The tension scale with moderate from `moderate_kpa` and critical from `critical_kpa`.
    pub fn tension(moderate_kpa: f64, critical_kpa: f64) -> Scale {
        Scale::Tension {
            moderate: moderate_kpa,
            critical: critical_kpa,
        }
    }

    /// The VWC scale of a soil profile.
    pub fn vwc(p: &SoilProfile) -> Scale {
        let paw = p.field_capacity_pct - p.wilting_point_pct;
        Scale::Vwc {
            wet: p.field_capacity_pct,
            moderate: p.field_capacity_pct - p.moderate_depletion * paw,
            critical: p.field_capacity_pct - p.critical_depletion * paw,
        }
    }

    /// Dryness of a value in the sensor's unit.
    pub fn dryness(self, v: f64) -> f64 {
        // Distance from wet in the direction of drying, and the two edges on the same axis.
        let (x, m, c) = match self {
            Scale::Tension { moderate, critical } => (v.max(0.0), moderate, critical),
            Scale::Vwc {
                wet,
                moderate,
                critical,
            } => ((wet - v).max(0.0), wet - moderate, wet - critical),
        };
        if x <= m {
            0.5 * x / m
        } else {
            0.5 + 0.5 * (x - m) / (c - m)
        }
    }

    /// The value in the fitted (transformed) space.
    pub fn fit_space(self, v: f64) -> f64 {
        match self {
            Scale::Tension { .. } => v.max(1.0).ln(),
            Scale::Vwc { .. } => v,
        }
    }

    /// Back from the fitted space.
    pub fn from_fit_space(self, y: f64) -> f64 {
        match self {
            Scale::Tension { .. } => y.exp(),
            Scale::Vwc { .. } => y,
        }
    }

    /// The critical edge in the fitted space.
    pub fn critical_fit(self) -> f64 {
        match self {
            Scale::Tension { critical, .. } => self.fit_space(critical),
            Scale::Vwc { critical, .. } => critical,
        }
    }

    /// Dryness linear in the fitted space, pinned at the moderate (0.5) and critical (1.0) edges: equal
    /// steps of soil water are equal steps here, also at the wet end where tension barely moves in kPa.
    /// Wettings (rain, watering) are measured on this scale.
    pub fn fit_dryness(self, y: f64) -> f64 {
        let (m, c) = match self {
            Scale::Tension { moderate, critical } => (self.fit_space(moderate), self.fit_space(critical)),
            Scale::Vwc {
                moderate, critical, ..
            } => (moderate, critical),
        };
        0.5 + 0.5 * (y - m) / (c - m)
    }

    /// +1 when the fitted value rises as the soil dries (tension), −1 when it falls (VWC).
    pub fn drying_sign(self) -> f64 {
        match self {
            Scale::Tension { .. } => 1.0,
            Scale::Vwc { .. } => -1.0,
        }
    }
}

/// The rules a reader of soil readings judges a tree by: the part of `[analytics.trees]` (validated there)
/// the API's season report and soil chart read. Defaults are analytics' defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilRules {
    /// Tension where `moderate` starts, kPa (QTrees: 33).
    pub moderate_kpa: f64,
    /// Tension where `critical` starts, kPa (QTrees: 81).
    pub critical_kpa: f64,
    /// Soil profile of trees not listed in `tree_soil`.
    pub default_soil: String,
    /// Soil profile per tree id.
    pub tree_soil: BTreeMap<String, String>,
    /// Soil profiles by name (the built-in ones and those configured).
    pub soil_profiles: BTreeMap<String, SoilProfile>,
    /// Installation depth per sensor device id, cm.
    pub sensor_depth_cm: BTreeMap<String, u16>,
    /// A multi-depth probe's depths, cm, from the top, per device id.
    pub sensor_depths_cm: BTreeMap<String, Vec<u16>>,
    /// A depth with less than this share of the tree's roots does not decide the tree when one with more
    /// does.
    pub min_root_share: f64,
    /// How a tree's sensors (depths) combine.
    pub combine: Combine,
    /// Weather area of parks not listed in `site_area`.
    pub default_area: Option<String>,
    /// Weather area per park site id.
    pub site_area: BTreeMap<String, String>,
}

impl Default for SoilRules {
    fn default() -> Self {
        Self {
            moderate_kpa: 33.0,
            critical_kpa: 81.0,
            default_soil: "loam".into(),
            tree_soil: BTreeMap::new(),
            soil_profiles: builtin_profiles(),
            sensor_depth_cm: BTreeMap::new(),
            sensor_depths_cm: BTreeMap::new(),
            min_root_share: 0.05,
            combine: Combine::Worst,
            default_area: None,
            site_area: BTreeMap::new(),
        }
    }
}

impl SoilRules {
    /// The name of `tree`'s soil profile.
    pub fn soil_name(&self, tree: &str) -> &str {
        self.tree_soil.get(tree).unwrap_or(&self.default_soil)
    }

    /// The soil profile of `tree` (its own, else the default; `None` for an unknown name).
    pub fn soil_of(&self, tree: &str) -> Option<&SoilProfile> {
        self.soil_profiles.get(self.soil_name(tree))
    }

    /// The tension scale.
    pub fn tension(&self) -> Scale {
        Scale::tension(self.moderate_kpa, self.critical_kpa)
    }

    /// The depths of sensor `device`, cm, from the top: a probe's several, else its one (unknown: `None`).
    pub fn depths_of(&self, device: &str) -> Vec<Option<u16>> {
        match self.sensor_depths_cm.get(device) {
            Some(ds) => ds.iter().map(|d| Some(*d)).collect(),
            None => vec![self.sensor_depth_cm.get(device).copied()],
        }
    }

    /// Each sensor depth of `tree` (device, depth from 1 at the top) with its weight among the tree's
    /// sensors, as analytics' live state weighs them: the share of the tree's roots in its layer
    /// ([`super::root::layer_shares`]) when every depth is known, else 1; 0 for a depth holding less than
    /// `min_root_share` of the roots while another depth holds more (it does not decide).
    pub fn weights(&self, tree: &crate::Tree) -> Vec<(crate::Id, u8, f64)> {
        let mut depths = Vec::new();
        let mut keys = Vec::new();
        for d in &tree.sensors {
            for (k, depth) in self.depths_of(d.as_str()).into_iter().enumerate() {
                depths.push(depth);
                keys.push((d.clone(), u8::try_from(k + 1).unwrap_or(u8::MAX)));
            }
        }
        let shares = super::root::layer_shares(super::root::beta(&tree.species), &depths);
        let rooted = |s: &Option<f64>| s.is_none_or(|r| r >= self.min_root_share);
        let any_rooted = shares.iter().any(rooted);
        let weighted = shares.iter().all(Option::is_some);
        keys.into_iter()
            .zip(&shares)
            .map(|((device, depth), share)| {
                let w = if any_rooted && !rooted(share) {
                    0.0
                } else if weighted {
                    share.unwrap_or(1.0)
                } else {
                    1.0
                };
                (device, depth, w)
            })
            .collect()
    }

    /// The weather area of park `site`, if any.
    pub fn area_of(&self, site: &str) -> Option<&str> {
        self.site_area
            .get(site)
            .or(self.default_area.as_ref())
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn loam() -> Scale {
        Scale::vwc(&builtin_profiles()["loam"])
    }

    fn tension() -> Scale {
        SoilRules::default().tension()
    }

    #[test]
    fn band_edges_are_pinned() {
        let t = tension();
        let cases = [
            (t, 0.0, 0.0),
            (t, 33.0, 0.5),
            (t, 81.0, 1.0),
            (t, 129.0, 1.5),
            (loam(), 28.0, 0.0),
            (loam(), 24.5, 0.5),
            (loam(), 21.0, 1.0),
            (loam(), 35.0, 0.0),
        ];
        for (s, v, d) in cases {
            assert!((s.dryness(v) - d).abs() < 1e-9, "{s:?} {v}: {}", s.dryness(v));
        }
    }

    #[test]
    fn fit_dryness_is_linear_in_soil_water_for_tension() {
        let t = tension();
        let d = |kpa: f64| t.fit_dryness(t.fit_space(kpa));
        assert!((d(33.0) - 0.5).abs() < 1e-9 && (d(81.0) - 1.0).abs() < 1e-9);
        // 10 → 15 kPa is a small step in kPa but a big one in soil water: more than 0.2 on this scale.
        assert!(d(15.0) - d(10.0) > 0.2, "{}", d(15.0) - d(10.0));
        assert!((loam().fit_dryness(21.0) - 1.0).abs() < 1e-9);
        assert!((loam().fit_dryness(28.0) - 0.0).abs() < 1e-9);
    }

    #[test]
    fn rules_look_up_soil_depths_and_areas() {
        let mut r = SoilRules::default();
        r.tree_soil.insert("t".into(), "sand".into());
        r.sensor_depths_cm.insert("probe".into(), vec![10, 30]);
        r.sensor_depth_cm.insert("s".into(), 40);
        r.site_area.insert("park".into(), "town".into());
        assert_eq!(r.soil_of("t").map(SoilProfile::critical_pct), Some(7.0));
        assert_eq!(r.soil_of("u").map(SoilProfile::critical_pct), Some(21.0));
        assert_eq!(r.depths_of("probe"), [Some(10), Some(30)]);
        assert_eq!(r.depths_of("s"), [Some(40)]);
        assert_eq!(r.depths_of("x"), [None]);
        assert_eq!((r.area_of("park"), r.area_of("other")), (Some("town"), None));
        r.default_area = Some("region".into());
        assert_eq!(r.area_of("other"), Some("region"));
    }

    #[test]
    fn depths_are_weighed_by_their_roots_and_a_rootless_one_does_not_decide() {
        let mut r = SoilRules::default();
        let tree = crate::Tree::new("t", "park", &["probe", "single"]);
        // Depths unknown: each weighs 1.
        let w = r.weights(&tree);
        assert_eq!(w.iter().map(|x| x.2).collect::<Vec<_>>(), [1.0, 1.0]);
        r.sensor_depths_cm.insert("probe".into(), vec![10, 40, 300]);
        r.sensor_depth_cm.insert("single".into(), 20);
        let w = r.weights(&tree);
        let got: Vec<(&str, u8)> = w.iter().map(|(d, k, _)| (d.as_str(), *k)).collect();
        assert_eq!(got, [("probe", 1), ("probe", 2), ("probe", 3), ("single", 1)]);
        // 3 m is below the lime's roots: it does not decide; the others share the roots.
        assert_eq!(w[2].2, 0.0);
        let total: f64 = w.iter().map(|x| x.2).sum();
        assert!(total > 0.95 && total <= 1.0 + 1e-9, "{w:?}");
        assert!(w.iter().take(2).all(|x| x.2 > 0.05), "{w:?}");
    }

    proptest! {
        #[test]
        fn dryness_is_monotone_in_the_drying_direction(a in 0.0f64..300.0, b in 0.0f64..300.0) {
            let t = tension();
            prop_assert_eq!(a <= b, t.dryness(a) <= t.dryness(b) || (a - b).abs() < 1e-12);
            let v = loam();
            let (x, y) = (a / 5.0, b / 5.0);
            prop_assert!((x <= y) == (v.dryness(x) >= v.dryness(y)) || (x - y).abs() < 1e-12 || v.dryness(x) == v.dryness(y));
            prop_assert!((t.from_fit_space(t.fit_space(a.max(1.0))) - a.max(1.0)).abs() < 1e-9);
        }
    }
}
