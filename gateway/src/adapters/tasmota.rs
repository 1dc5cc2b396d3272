//! Tasmota: `SENSOR` telemetry (the `ENERGY` object, or an SML meter section), `STATE` and `LWT`.
//!
//! Units on the wire: `Total`, `ExportActive` in kWh (→ Wh on the bus); `Power` W; `Voltage` V; `Current` A;
//! `Factor` 0–1; `Period` is Wh since the last telemetry and not used (the counter is). Multi-phase drivers
//! send arrays: per-phase values map to L1..L3, power, apparent and reactive power and energy arrays are
//! summed into their totals. Tasmota's `Time` is local time without an offset, so the receive time is used.
//!
//! SML meters read by Tasmota's script arrive as `{"<section>":{"<key>":value,…}}` with names chosen in the
//! script; the inventory maps each key to an OBIS code and a unit ([`zw_model::inventory::SmlField`]).
//! `STATE` is a sign of life; `LWT` is `Online` / `Offline`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use zw_model::Quantity;
use zw_model::inventory::SmlField;

use super::num::Phased;
use super::{AdapterError, Message, availability, number, reading};

/// Which Tasmota topic a message came on (the last FullTopic level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `SENSOR` telemetry.
    Sensor,
    /// `STATE` (uptime, Wi-Fi, relay).
    State,
    /// `LWT`: `Online` / `Offline`.
    Lwt,
}

impl Part {
    /// The part for a topic's last level, if it is one we read.
    pub fn from_suffix(s: &str) -> Option<Part> {
        match s {
            "SENSOR" => Some(Part::Sensor),
            "STATE" => Some(Part::State),
            "LWT" => Some(Part::Lwt),
            _ => None,
        }
    }
}

/// SML fields: JSON key, quantity, factor to the quantity's unit.
type SmlFields = Vec<(String, Quantity, f64)>;

/// A Tasmota device's decoder: plain energy monitoring, or an SML meter section with mapped OBIS fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoder {
    sml: Option<(String, SmlFields)>,
}

impl Decoder {
    /// A decoder for the `ENERGY` object only.
    pub fn energy() -> Self {
        Self::default()
    }

    /// A decoder for an SML meter section; fails on an unknown OBIS code or a unit that does not fit.
    pub fn sml(section: &str, fields: &[SmlField]) -> Result<Self, String> {
        let fields = fields
            .iter()
            .map(|f| f.resolve().map(|(q, scale)| (f.key.clone(), q, scale)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            sml: Some((section.to_owned(), fields)),
        })
    }

    /// Decodes one message.
    pub fn decode(&self, part: Part, payload: &[u8]) -> Result<Message, AdapterError> {
        match (part, &self.sml) {
            (Part::Sensor, None) => decode_sensor(payload),
            (Part::Sensor, Some((section, fields))) => decode_sml(payload, section, fields),
            (Part::State, _) => {
                serde_json::from_slice::<IgnoredAny>(payload).map_err(|e| AdapterError::from_serde(&e))?;
                Ok(Message::Alive)
            }
            (Part::Lwt, _) => availability(payload, "Online", "Offline"),
        }
    }
}

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
    let mut values = BTreeMap::new();
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
fn decode_sml(
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
    let mut values = BTreeMap::new();
    for (key, q, scale) in fields {
        if let Some(v) = meter.get(key) {
            values.insert(*q, number(v, &format!("{section}.{key}"), false)? * scale);
        }
    }
    reading(None, values)
}

#[cfg(test)]
#[path = "tasmota_tests.rs"]
mod tests;
