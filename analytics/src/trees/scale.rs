//! One dryness scale for every soil sensor, and the transform its trend is fitted in.
//!
//! Dryness is piecewise linear in the sensor's own unit with the band edges pinned: `0` wet, `0.5` where
//! `moderate` starts, `1.0` where `critical` starts, continuing with the moderate band's slope beyond. For
//! tension the edges are 33 and 81 kPa (configurable); for VWC they are the soil profile's moderate and
//! critical depletion of the water held between field capacity and wilting point.
//!
//! Trends are fitted on `ln(kPa)` for tension (as soil dries, tension rises roughly exponentially) and on
//! VWC directly (it falls roughly linearly under steady evaporation).

use crate::config::{SoilProfile, TreesConfig};

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
    /// The tension scale of `cfg`.
    pub fn tension(cfg: &TreesConfig) -> Scale {
        Scale::Tension {
            moderate: cfg.moderate_kpa,
            critical: cfg.critical_kpa,
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn loam() -> Scale {
        Scale::vwc(&TreesConfig::default().soil_profiles["loam"])
    }

    #[test]
    fn band_edges_are_pinned() {
        let t = Scale::tension(&TreesConfig::default());
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
        let t = Scale::tension(&TreesConfig::default());
        let d = |kpa: f64| t.fit_dryness(t.fit_space(kpa));
        assert!((d(33.0) - 0.5).abs() < 1e-9 && (d(81.0) - 1.0).abs() < 1e-9);
        // 10 → 15 kPa is a small step in kPa but a big one in soil water: more than 0.2 on this scale.
        assert!(d(15.0) - d(10.0) > 0.2, "{}", d(15.0) - d(10.0));
        assert!((loam().fit_dryness(21.0) - 1.0).abs() < 1e-9);
        assert!((loam().fit_dryness(28.0) - 0.0).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn dryness_is_monotone_in_the_drying_direction(a in 0.0f64..300.0, b in 0.0f64..300.0) {
            let t = Scale::tension(&TreesConfig::default());
            prop_assert_eq!(a <= b, t.dryness(a) <= t.dryness(b) || (a - b).abs() < 1e-12);
            let v = loam();
            let (x, y) = (a / 5.0, b / 5.0);
            prop_assert!((x <= y) == (v.dryness(x) >= v.dryness(y)) || (x - y).abs() < 1e-12 || v.dryness(x) == v.dryness(y));
            prop_assert!((t.from_fit_space(t.fit_space(a.max(1.0))) - a.max(1.0)).abs() < 1e-9);
        }
    }
}
