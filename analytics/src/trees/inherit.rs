//! Trees without a sensor inherit an estimate from reference trees: those with sensors of the same soil
//! profile, species and age class within [`RADIUS_M`]. Their mean dryness and days until critical become
//! the tree's state, forecast and urgency, so it appears in the watering list, marked as inherited
//! ([`zw_model::tree::TreeStatus::inherited_from`]). An inherited estimate never raises a watering alert:
//! nothing was measured at the tree. Without a reference tree the tree stays unknown.

use chrono::Datelike;
use zw_model::tree::{AgeClass, SoilState, TreeStatus};

use super::TreeSt;
use crate::config::TreesConfig;
use crate::explain::round;

/// How far a reference tree may stand, metres (the same street or park: soil and exposure alike).
pub const RADIUS_M: f64 = 500.0;

/// Distance in metres between two WGS84 points (equirectangular; exact enough within a town).
fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
    let lat = ((a.0 + b.0) / 2.0).to_radians();
    let dy = (b.0 - a.0) * 110_540.0;
    let dx = (b.1 - a.1) * 111_320.0 * lat.cos();
    (dx * dx + dy * dy).sqrt()
}

/// Fills the statuses of sensorless trees (`statuses[i]` belongs to `trees[i]`) from their references.
pub(super) fn inherit(trees: &[TreeSt], statuses: &mut [TreeStatus], cfg: &TreesConfig) {
    let soil = |t: &TreeSt| cfg.tree_soil.get(t.tree.id.as_str()).unwrap_or(&cfg.default_soil);
    let class = |t: &TreeSt, s: &TreeStatus| AgeClass::of(s.ts.year() - i32::from(t.tree.planted));
    for i in 0..trees.len() {
        let me = &trees[i];
        if !me.sensors.is_empty() {
            continue;
        }
        let mine = class(me, &statuses[i]);
        let refs: Vec<usize> = (0..trees.len())
            .filter(|&j| {
                let r = &trees[j];
                !r.sensors.is_empty()
                    && statuses[j].dryness.is_some()
                    && r.tree.species == me.tree.species
                    && soil(r) == soil(me)
                    && class(r, &statuses[j]) == mine
                    && metres((r.tree.lat, r.tree.lon), (me.tree.lat, me.tree.lon)) <= RADIUS_M
            })
            .collect();
        if refs.is_empty() {
            continue;
        }
        let n = refs.len() as f64;
        let dryness = refs.iter().filter_map(|&j| statuses[j].dryness).sum::<f64>() / n;
        let days: Vec<f64> = refs
            .iter()
            .filter_map(|&j| statuses[j].days_until_critical)
            .collect();
        // Days only when every reference forecasts: one not drying means the estimate is not either.
        let days = (days.len() == refs.len()).then(|| days.iter().sum::<f64>() / n);
        let ids = refs.iter().map(|&j| trees[j].tree.id.clone()).collect();
        let s = &mut statuses[i];
        let forecast_term = days.map_or(0.0, |d| (1.0 - d / cfg.horizon_days).max(0.0));
        let season = if s.urgency.vegetation_period {
            1.0
        } else {
            cfg.dormant_factor
        };
        s.dryness = Some(round(dryness));
        s.state = SoilState::from_dryness(dryness);
        s.days_until_critical = days.map(round);
        s.urgency.forecast_term = round(forecast_term);
        s.urgency.score = round(s.urgency.age_weight * season * (dryness + forecast_term));
        s.inherited_from = ids;
    }
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
}
