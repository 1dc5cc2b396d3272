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

/// A quantity computed as the sum of other values of the same poll (a `[[derived]]` table of a profile file).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
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
    defs: Vec<Derived>,
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
    defs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    const PHASES: &str = r#"
    name = "three-phase"
    max_registers = 64
    [defaults]
    function = 4
    type = "f32"
    order = "ABCD"
    [[values]]
    quantity = "active_power_l1"
    address = 0
    unit = "W"
    [[values]]
    quantity = "active_power_l2"
    address = 2
    unit = "W"
    [[values]]
    quantity = "active_power_l3"
    address = 4
    unit = "W"
    [[values]]
    quantity = "voltage_l1"
    address = 6
    unit = "V"
    "#;

    #[test]
    fn derived_total_is_the_sum_only_when_every_part_was_read() {
        let text = format!(
            "{PHASES}[[derived]]\nquantity = \"active_power\"\nsum = [\"active_power_l1\", \"active_power_l2\", \"active_power_l3\"]\n"
        );
        let p = Profile::parse("t", &text).expect("parses");
        let l = [
            Quantity::ActivePowerL1,
            Quantity::ActivePowerL2,
            Quantity::ActivePowerL3,
        ];
        // Table: (phase values present, expected total).
        type Case<'a> = (&'a [(Quantity, f64)], Option<f64>);
        let cases: [Case; 4] = [
            (&[(l[0], 100.0), (l[1], 250.5), (l[2], -50.0)], Some(300.5)),
            (&[(l[0], 100.0), (l[2], -50.0)], None),
            (&[], None),
            (&[(l[0], 0.0), (l[1], 0.0), (l[2], 0.0)], Some(0.0)),
        ];
        for (present, want) in cases {
            let mut values: std::collections::BTreeMap<Quantity, f64> = present.iter().copied().collect();
            p.derive(&mut values);
            assert_eq!(values.get(&Quantity::ActivePower).copied(), want, "{present:?}");
            assert_eq!(values.len(), present.len() + usize::from(want.is_some()));
        }
        // A measured total is never overwritten.
        let mut values: std::collections::BTreeMap<Quantity, f64> = [
            (l[0], 1.0),
            (l[1], 1.0),
            (l[2], 1.0),
            (Quantity::ActivePower, 7.0),
        ]
        .into();
        p.derive(&mut values);
        assert_eq!(values[&Quantity::ActivePower], 7.0);
    }

    #[test]
    fn derived_definitions_are_checked() {
        // Table: (derived table, expected fragment of the error).
        let cases = [
            (
                "quantity = \"active_power\"\nsum = [\"active_power_l1\"]",
                "at least two",
            ),
            (
                "quantity = \"active_power\"\nsum = [\"active_power_l1\", \"current_l1\"]",
                "current_l1 is not a register value",
            ),
            (
                "quantity = \"active_power\"\nsum = [\"active_power_l1\", \"voltage_l1\"]",
                "voltage_l1 is in V",
            ),
            (
                "quantity = \"active_power\"\nsum = [\"active_power_l1\", \"active_power_l1\"]",
                "listed twice",
            ),
            (
                "quantity = \"voltage_l1\"\nsum = [\"active_power_l1\", \"active_power_l2\"]",
                "also read from a register",
            ),
            (
                "quantity = \"active_power\"\nsum = [\"active_power_l1\", \"active_power_l2\"]\nscale = 2",
                "unknown field",
            ),
        ];
        for (table, want) in cases {
            let text = format!("{PHASES}[[derived]]\n{table}\n");
            let err = Profile::parse("t", &text).expect_err(table).to_string();
            assert!(err.contains(want), "{table}: {err}");
        }
    }

    #[test]
    fn janitza_derives_total_active_power_from_its_phases() {
        let profiles = Profile::builtin().expect("builtin profiles parse");
        let b23 = profiles
            .iter()
            .find(|p| p.name == "janitza-b23")
            .expect("shipped");
        assert_eq!(
            b23.derived,
            [Derived {
                quantity: Quantity::ActivePower,
                sum: vec![
                    Quantity::ActivePowerL1,
                    Quantity::ActivePowerL2,
                    Quantity::ActivePowerL3
                ],
            }]
        );
        assert!(
            profiles
                .iter()
                .filter(|p| p.name != "janitza-b23")
                .all(|p| p.derived.is_empty())
        );
    }
}
