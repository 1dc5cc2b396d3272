//! Tasmota `SENSOR` through serde_json: a typed borrowed struct for `ENERGY`, a `Value` for SML sections.

use serde::Deserialize;
use serde_json::Value;
use zw_model::Quantity;
use zw_model::reading::Values;

use crate::adapters::num::Phased;
use crate::adapters::{AdapterError, Message, number, reading};

#[derive(Deserialize)]
struct Sensor {
    #[serde(rename = "ENERGY")]
    energy: Option<Energy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Energy {
    total: Option<Phased>,
    export_active: Option<Phased>,
    power: Option<Phased>,
    apparent_power: Option<Phased>,
    reactive_power: Option<Phased>,
    factor: Option<Phased>,
    frequency: Option<Phased>,
    voltage: Option<Phased>,
    current: Option<Phased>,
}

const L: [Quantity; 3] = [
    Quantity::ActivePowerL1,
    Quantity::ActivePowerL2,
    Quantity::ActivePowerL3,
];
const V: [Quantity; 3] = [Quantity::VoltageL1, Quantity::VoltageL2, Quantity::VoltageL3];
const I: [Quantity; 3] = [Quantity::CurrentL1, Quantity::CurrentL2, Quantity::CurrentL3];

/// Decodes a `SENSOR` payload's `ENERGY` object.
pub fn decode_sensor(payload: &[u8]) -> Result<Message, AdapterError> {
    let s: Sensor = serde_json::from_slice(payload).map_err(|e| AdapterError::from_serde(&e))?;
    let e = s.energy.ok_or(AdapterError::NoValues)?;
    let mut values = Values::new();
    let mut put = |q, v: Option<f64>| {
        if let Some(v) = v {
            values.insert(q, v);
        }
    };
    put(Quantity::EnergyImport, e.total.map(|p| sum(p) * 1000.0));
    put(Quantity::EnergyExport, e.export_active.map(|p| sum(p) * 1000.0));
    put(Quantity::ApparentPower, e.apparent_power.map(sum));
    put(Quantity::ReactivePower, e.reactive_power.map(sum));
    // A per-phase power factor has no canonical quantity; only a single one is the total.
    put(Quantity::PowerFactor, e.factor.and_then(single));
    put(Quantity::Frequency, e.frequency.map(first));
    put(Quantity::ActivePower, e.power.map(sum));
    for (p, phases) in [(e.power, L), (e.voltage, V), (e.current, I)] {
        match p {
            Some(Phased::Many(xs, n)) => (0..n).for_each(|i| put(phases[i], Some(xs[i]))),
            // A scalar power is the total (already put); a scalar voltage or current is L1.
            Some(Phased::One(x)) if phases != L => put(phases[0], Some(x)),
            _ => {}
        }
    }
    reading(None, values)
}

fn sum(p: Phased) -> f64 {
    match p {
        Phased::One(x) => x,
        Phased::Many(xs, n) => xs[..n].iter().sum(),
    }
}

fn first(p: Phased) -> f64 {
    match p {
        Phased::One(x) | Phased::Many([x, _, _], _) => x,
    }
}

fn single(p: Phased) -> Option<f64> {
    match p {
        Phased::One(x) | Phased::Many([x, _, _], 1) => Some(x),
        Phased::Many(..) => None,
    }
}

/// Decodes the mapped fields of an SML meter section.
pub fn decode_sml(
    payload: &[u8],
    section: &str,
    fields: &[(String, Quantity, f64)],
) -> Result<Message, AdapterError> {
    let root: Value = serde_json::from_slice(payload).map_err(|e| AdapterError::from_serde(&e))?;
    let Some(meter) = root.get(section) else {
        return Err(AdapterError::NoValues);
    };
    if !meter.is_object() {
        return Err(AdapterError::Field {
            field: section.into(),
            problem: format!("expected an object, got {meter}"),
        });
    }
    let mut values = Values::new();
    for (key, q, scale) in fields {
        if let Some(v) = meter.get(key) {
            values.insert(*q, number(v, &format!("{section}.{key}"), false)? * scale);
        }
    }
    reading(None, values)
}
