//! Derived values: quantities a meter model has no register for but a profile can compute from values it does
//! read. The Janitza B23, for one, reports active power per phase only; its total is the sum of the three.
//!
//! ```toml
//! [[derived]]
//! quantity = "active_power"
//! sum = ["active_power_l1", "active_power_l2", "active_power_l3"]
//! ```
//!
//! A derived value exists only when **every** part was read in the same poll: a phase that failed to decode
//! makes the total missing, never a partial sum that looks like a drop in consumption.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use zw_model::Quantity;

/// One `[[derived]]` table of a profile file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DerivedDef {
    quantity: Quantity,
    sum: Vec<Quantity>,
}

/// A quantity computed as the sum of other values of the same poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// The quantity produced.
    pub quantity: Quantity,
    /// The values added up; all must be present.
    pub sum: Vec<Quantity>,
}

impl Derived {
    /// Adds the derived value to `values` if every part is there and the quantity is not already measured.
    pub fn apply(&self, values: &mut BTreeMap<Quantity, f64>) {
        if values.contains_key(&self.quantity) {
            return;
        }
        let total: Option<f64> = self.sum.iter().map(|q| values.get(q).copied()).sum();
        if let Some(t) = total.filter(|t| t.is_finite()) {
            values.insert(self.quantity, t);
        }
    }
}

/// Checks the definitions against the quantities the profile reads from registers; problems are appended.
pub(super) fn resolve(
    defs: Vec<DerivedDef>,
    mapped: &HashSet<Quantity>,
    problems: &mut Vec<String>,
) -> Vec<Derived> {
    let mut produced = HashSet::new();
    for d in &defs {
        let q = d.quantity;
        if mapped.contains(&q) {
            problems.push(format!("derived {q}: is also read from a register"));
        }
        if !produced.insert(q) {
            problems.push(format!("derived {q}: defined twice"));
        }
        if d.sum.len() < 2 {
            problems.push(format!("derived {q}: sum needs at least two values"));
        }
        let mut parts = HashSet::new();
        for p in &d.sum {
            if !mapped.contains(p) {
                problems.push(format!(
                    "derived {q}: {p} is not a register value of this profile"
                ));
            }
            if !parts.insert(*p) {
                problems.push(format!("derived {q}: {p} listed twice"));
            }
            if p.unit() != q.unit() || p.kind() != q.kind() {
                problems.push(format!(
                    "derived {q}: {p} is in {} ({:?}), {q} in {} ({:?})",
                    p.unit().symbol(),
                    p.kind(),
                    q.unit().symbol(),
                    q.kind()
                ));
            }
        }
    }
    defs.into_iter()
        .map(|d| Derived {
            quantity: d.quantity,
            sum: d.sum,
        })
        .collect()
}
