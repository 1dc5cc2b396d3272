//! Shelly component statuses as tables: which keys (and nested `total`s) map to which quantity, what a
//! message says about them (a [`Patch`]: absent = unchanged, `null` = gone) and what is known after applying
//! full statuses and deltas in order ([`Known`]).

use zw_model::Quantity;
use zw_model::reading::Values;

use crate::adapters::AdapterError;
use crate::adapters::num::Patch;
use zw_jsonscan::{KeyIndex, Kind, Seen, wrong_type};

use crate::adapters::Scanner;

/// Most fields any table has.
const MAX: usize = 12;

/// One read field: a key, or a key's nested `total` (`aenergy.total`), and its quantity.
struct Field {
    key: &'static str,
    nested_total: bool,
    quantity: Quantity,
}

const fn f(key: &'static str, quantity: Quantity) -> Field {
    Field {
        key,
        nested_total: false,
        quantity,
    }
}

/// A component's read fields (listed in [`Quantity`] order, as the reading lists them). Keys are found through a perfect hash ([`KeyIndex`]): a key we do not
/// read costs one multiplication and at most one comparison (the Pro 3EM `em:0` sends 25 keys, 12 read).
pub(super) struct Table {
    fields: &'static [Field],
    keys: [&'static str; MAX],
    index: KeyIndex,
}

const fn table(fields: &'static [Field]) -> Table {
    let mut keys = [""; MAX];
    let mut i = 0;
    while i < fields.len() {
        keys[i] = fields[i].key;
        i += 1;
    }
    Table {
        fields,
        keys,
        index: KeyIndex::new(keys.split_at(fields.len()).0),
    }
}

use Quantity as Q;

/// `switch:N` of a Plus/Pro PM or a Gen3 plug: W, V, A, Hz, and the `aenergy` / `ret_aenergy` counters in
/// Wh (`total` only; `by_minute` is mWh per minute and not a counter).
pub(super) const SWITCH: Table = table(&[
    f("apower", Q::ActivePower),
    f("voltage", Q::VoltageL1),
    f("current", Q::CurrentL1),
    f("pf", Q::PowerFactor),
    f("freq", Q::Frequency),
    Field {
        key: "aenergy",
        nested_total: true,
        quantity: Q::EnergyImport,
    },
    Field {
        key: "ret_aenergy",
        nested_total: true,
        quantity: Q::EnergyExport,
    },
]);

/// `em:0` of a Pro 3EM (triphase profile): power, voltage, current per phase, in W, V, A, Hz. No energy.
pub(super) const EM: Table = table(&[
    f("total_act_power", Q::ActivePower),
    f("a_act_power", Q::ActivePowerL1),
    f("b_act_power", Q::ActivePowerL2),
    f("c_act_power", Q::ActivePowerL3),
    f("total_aprt_power", Q::ApparentPower),
    f("a_voltage", Q::VoltageL1),
    f("b_voltage", Q::VoltageL2),
    f("c_voltage", Q::VoltageL3),
    f("a_current", Q::CurrentL1),
    f("b_current", Q::CurrentL2),
    f("c_current", Q::CurrentL3),
    f("a_freq", Q::Frequency),
]);

/// `emdata:0` of a Pro 3EM: energy counters in Wh.
pub(super) const EMDATA: Table = table(&[
    f("total_act", Q::EnergyImport),
    f("total_act_ret", Q::EnergyExport),
]);

/// `em1:N` (Pro EM, Pro 3EM in the monophase profile): one metering channel in W, VA, V, A, Hz.
pub(super) const EM1: Table = table(&[
    f("act_power", Q::ActivePower),
    f("aprt_power", Q::ApparentPower),
    f("voltage", Q::VoltageL1),
    f("current", Q::CurrentL1),
    f("pf", Q::PowerFactor),
    f("freq", Q::Frequency),
]);

/// `em1data:N`: the channel's energy counters in Wh.
pub(super) const EM1DATA: Table = table(&[
    f("total_act_energy", Q::EnergyImport),
    f("total_act_ret_energy", Q::EnergyExport),
]);

/// What one message says about a component.
#[derive(Debug, Clone, Copy)]
pub(super) struct Patches([Patch<f64>; MAX]);

/// What is known about a component.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Known([Option<f64>; MAX]);

fn number_or_null(s: &mut Scanner<'_>, field: &str) -> Result<Patch<f64>, AdapterError> {
    Ok(s.number_or_null(field)?.map_or(Patch::Null, Patch::Set))
}

impl Table {
    /// Reads a component status object (`field` names it in errors).
    pub(super) fn read(&self, s: &mut Scanner<'_>, field: &str) -> Result<Patches, AdapterError> {
        let mut out = Patches([Patch::Absent; MAX]);
        let mut seen = Seen::default();
        s.object_field(field, |s, key| {
            let Some(i) = self.index.find(&self.keys, key) else {
                return s.skip();
            };
            let f = &self.fields[i];
            seen.first(i as u32, f.key)?;
            out.0[i] = if !f.nested_total {
                number_or_null(s, f.key)?
            } else {
                match s.kind()? {
                    Kind::Null => {
                        s.skip()?;
                        Patch::Null
                    }
                    Kind::Object => {
                        let mut total = Patch::Absent;
                        let mut seen = Seen::default();
                        s.object(|s, k| {
                            if k != b"total" {
                                return s.skip();
                            }
                            seen.first(0, "total")?;
                            // `"total": null` inside a present object: the counter is gone.
                            total = number_or_null(s, "total")?;
                            Ok(())
                        })?;
                        // An object without `total` leaves the counter as it was.
                        total
                    }
                    k => return Err(wrong_type(f.key, "an object", k)),
                }
            };
            Ok(())
        })?;
        Ok(out)
    }
}

impl Known {
    /// Applies a message.
    pub(super) fn apply(&mut self, p: &Patches) {
        for (known, patch) in self.0.iter_mut().zip(p.0) {
            patch.apply_to(known);
        }
    }

    /// Adds the known values.
    pub(super) fn values(&self, table: &Table, out: &mut Values) {
        for (f, v) in table.fields.iter().zip(self.0) {
            if let Some(v) = v {
                out.insert(f.quantity, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_in_quantity_order() {
        for t in [&SWITCH, &EM, &EMDATA, &EM1, &EM1DATA] {
            assert!(t.fields.len() <= MAX);
            assert!(
                t.fields.windows(2).all(|w| w[0].quantity < w[1].quantity),
                "{:?}",
                t.fields.iter().map(|f| f.key).collect::<Vec<_>>()
            );
        }
    }
}
