//! Typed Shelly component statuses and their deltas. A `*Patch` is what a message says (absent = unchanged,
//! `null` = gone); a `*State` is what is known after applying full statuses and deltas in order.

use serde::Deserialize;
use zw_model::Quantity;
use zw_model::reading::Values;

use crate::adapters::num::Patch;

/// Declares a flat component: its patch, its state and the field → quantity mapping.
macro_rules! component {
    ($(#[$doc:meta])* $state:ident, $patch:ident { $($field:ident => $q:ident),* $(,)? }) => {
        #[derive(Debug, Default, Deserialize)]
        pub(super) struct $patch {
            $( #[serde(default)] $field: Patch<f64>, )*
        }

        $(#[$doc])*
        #[derive(Debug, Default, Clone, PartialEq)]
        pub(super) struct $state {
            $( $field: Option<f64>, )*
        }

        impl $state {
            pub(super) fn apply(&mut self, p: $patch) {
                $( p.$field.apply_to(&mut self.$field); )*
            }

            pub(super) fn values(&self, out: &mut Values) {
                $( if let Some(v) = self.$field { out.insert(Quantity::$q, v); } )*
            }
        }
    };
}

component! {
    /// `em:0` of a Pro 3EM (triphase profile): power, voltage, current per phase, in W, V, A, Hz. No energy.
    EmState, EmPatch {
        a_act_power => ActivePowerL1, b_act_power => ActivePowerL2, c_act_power => ActivePowerL3,
        a_voltage => VoltageL1, b_voltage => VoltageL2, c_voltage => VoltageL3,
        a_current => CurrentL1, b_current => CurrentL2, c_current => CurrentL3,
        total_act_power => ActivePower, total_aprt_power => ApparentPower, a_freq => Frequency,
    }
}

component! {
    /// `emdata:0` of a Pro 3EM: energy counters in Wh.
    EmDataState, EmDataPatch { total_act => EnergyImport, total_act_ret => EnergyExport }
}

/// `aenergy` / `ret_aenergy`: only `total` (Wh) is read; `by_minute` (mWh per minute) is not a counter.
#[derive(Debug, Default, Deserialize)]
pub(super) struct CounterPatch {
    #[serde(default)]
    total: Patch<f64>,
}

/// A `switch:N` status delta.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SwitchPatch {
    #[serde(default)]
    apower: Patch<f64>,
    #[serde(default)]
    voltage: Patch<f64>,
    #[serde(default)]
    current: Patch<f64>,
    #[serde(default)]
    freq: Patch<f64>,
    #[serde(default)]
    pf: Patch<f64>,
    #[serde(default)]
    aenergy: Patch<CounterPatch>,
    #[serde(default)]
    ret_aenergy: Patch<CounterPatch>,
}

/// `switch:N` of a Plus/Pro PM or a Gen3 plug.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct SwitchState {
    apower: Option<f64>,
    voltage: Option<f64>,
    current: Option<f64>,
    freq: Option<f64>,
    pf: Option<f64>,
    energy: Option<f64>,
    ret_energy: Option<f64>,
}

impl SwitchState {
    pub(super) fn apply(&mut self, p: SwitchPatch) {
        p.apower.apply_to(&mut self.apower);
        p.voltage.apply_to(&mut self.voltage);
        p.current.apply_to(&mut self.current);
        p.freq.apply_to(&mut self.freq);
        p.pf.apply_to(&mut self.pf);
        for (patch, known) in [
            (p.aenergy, &mut self.energy),
            (p.ret_aenergy, &mut self.ret_energy),
        ] {
            match patch {
                Patch::Absent => {}
                Patch::Null => *known = None,
                Patch::Set(c) => c.total.apply_to(known),
            }
        }
    }

    pub(super) fn values(&self, out: &mut Values) {
        let pairs = [
            (Quantity::ActivePower, self.apower),
            (Quantity::VoltageL1, self.voltage),
            (Quantity::CurrentL1, self.current),
            (Quantity::Frequency, self.freq),
            (Quantity::PowerFactor, self.pf),
            (Quantity::EnergyImport, self.energy),
            (Quantity::EnergyExport, self.ret_energy),
        ];
        for (q, v) in pairs {
            if let Some(v) = v {
                out.insert(q, v);
            }
        }
    }
}
