//! Trees without a sensor inherit an estimate from reference trees: those with sensors of the same soil
//! profile, species and age class within [`RADIUS_M`] (the rule shared with the season report,
//! [`zw_model::tree::inherit`]). Their mean dryness and days until critical become
//! the tree's state, forecast and urgency, so it appears in the watering list, marked as inherited
//! ([`zw_model::tree::TreeStatus::inherited_from`]). An inherited estimate never raises a watering alert:
//! nothing was measured at the tree. Without a reference tree the tree stays unknown.

use chrono::Datelike;
use zw_model::tree::{AgeClass, SoilState, TreeStatus};

use super::TreeSt;
use crate::config::TreesConfig;
use crate::explain::round;

pub use zw_model::tree::inherit::RADIUS_M;
use zw_model::tree::inherit::metres;

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
