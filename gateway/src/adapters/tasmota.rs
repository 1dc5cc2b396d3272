//! Tasmota: `SENSOR` telemetry (the `ENERGY` object, or an SML meter section), `STATE` and `LWT`.
//!
//! Units on the wire: `Total`, `ExportActive` in kWh (→ Wh on the bus); `Power` W; `Voltage` V; `Current` A;
//! `Factor` 0–1; `Period` is Wh since the last telemetry and not used (the counter is). Multi-phase drivers
//! send arrays: per-phase values map to L1..L3, power, apparent and reactive power and energy arrays are
//! summed into their totals. Tasmota's `Time` is local time without an offset, so the receive time is used.
//!
//! SML meters read by Tasmota's script arrive as `{"<section>":{"<key>":value,…}}` with names chosen in the
//! script; the inventory maps each key to an OBIS code and a unit ([`zw_model::inventory::SmlField`]).
//! `STATE` is a sign of life; `LWT` is `Online` / `Offline`. The replies to `Status 8` / `Status 10`
//! (`stat/<topic>/STATUS8`, `STATUS10`) wrap the same sensor object in `{"StatusSNS":{…}}` and are read like
//! `SENSOR` (they come when someone polls the device, so they are readings like any other).
//!
//! Payloads are read with the [`zw_jsonscan`] scanner; the serde_json decoder in
//! `reference::tasmota` (test-only) is the differential reference.

use zw_model::Quantity;
use zw_model::inventory::SmlField;
use zw_model::reading::Values;

use super::Scanner;
use super::num::Phased;
use super::{AdapterError, Message, availability, reading};
use zw_jsonscan::{KeyIndex, Kind, Seen, is, wrong_type};

/// Which Tasmota topic a message came on (the last FullTopic level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `SENSOR` telemetry.
    Sensor,
    /// `STATE` (uptime, Wi-Fi, relay).
    State,
    /// `LWT`: `Online` / `Offline`.
    Lwt,
    /// `STATUS8` / `STATUS10` (under the `stat` prefix): the sensor object wrapped in `StatusSNS`.
    Status,
}

impl Part {
    /// The part for a topic's prefix (`tele`, `stat`) and last level, if it is one we read.
    pub fn from_topic(prefix: &str, suffix: &str) -> Option<Part> {
        match (prefix, suffix) {
            ("tele", "SENSOR") => Some(Part::Sensor),
            ("tele", "STATE") => Some(Part::State),
            ("tele", "LWT") => Some(Part::Lwt),
            ("stat", "STATUS8" | "STATUS10") => Some(Part::Status),
            _ => None,
        }
    }

    /// The part for a `tele` topic's last level.
    pub fn from_suffix(s: &str) -> Option<Part> {
        Self::from_topic("tele", s)
    }
}

/// One SML field as configured: JSON key, quantity, factor to the quantity's unit.
pub type SmlFieldMap = (String, Quantity, f64);

/// One mapped SML field.
#[derive(Debug, Clone, PartialEq)]
struct SmlMapped {
    /// JSON key in the section.
    key: String,
    /// `<section>.<key>`, named in errors.
    path: String,
    quantity: Quantity,
    /// Factor to the quantity's unit.
    scale: f64,
}

/// SML fields.
type SmlFields = Vec<SmlMapped>;

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
        let fields: SmlFields = fields
            .iter()
            .map(|f| {
                f.resolve().map(|(quantity, scale)| SmlMapped {
                    key: f.key.clone(),
                    path: format!("{section}.{}", f.key),
                    quantity,
                    scale,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            sml: Some((section.to_owned(), fields)),
        })
    }

    /// Decodes one message.
    pub fn decode(&self, part: Part, payload: &[u8]) -> Result<Message, AdapterError> {
        match part {
            Part::Sensor => self.sensor(payload, false),
            Part::Status => self.sensor(payload, true),
            Part::State => {
                zw_jsonscan::validate(payload)?;
                Ok(Message::Alive)
            }
            Part::Lwt => availability(payload, "Online", "Offline"),
        }
    }

    /// The SML section and fields as (JSON key, quantity, factor to its unit), if this is an SML meter.
    pub fn sml_fields(&self) -> Option<(&str, Vec<SmlFieldMap>)> {
        self.sml.as_ref().map(|(s, f)| {
            let fields = f.iter().map(|m| (m.key.clone(), m.quantity, m.scale)).collect();
            (s.as_str(), fields)
        })
    }

    /// A `SENSOR` object, or (`wrapped`) a status reply holding it in `StatusSNS`.
    fn sensor(&self, payload: &[u8], wrapped: bool) -> Result<Message, AdapterError> {
        let mut s = Scanner::new(payload);
        let (mut values, mut energy) = (Values::new(), None);
        let mut found = false;
        if wrapped {
            let mut seen = Seen::default();
            s.object_field("status", |s, key| {
                if key != b"StatusSNS" {
                    return s.skip();
                }
                seen.first(0, "StatusSNS")?;
                found = self.sensor_object(s, &mut values, &mut energy)?;
                Ok(())
            })?;
        } else {
            found = self.sensor_object(&mut s, &mut values, &mut energy)?;
        }
        s.end()?;
        if !found {
            return Err(AdapterError::NoValues);
        }
        match energy {
            Some(e) => e.reading(),
            None => reading(None, values),
        }
    }

    /// Reads the sensor object into `energy` (the `ENERGY` object) or `values` (the SML section); whether
    /// it held either.
    fn sensor_object(
        &self,
        s: &mut Scanner<'_>,
        values: &mut Values,
        energy_out: &mut Option<Energy>,
    ) -> Result<bool, AdapterError> {
        let mut found = false;
        let mut seen = Seen::default();
        match &self.sml {
            None => s.object_field("sensor", |s, key| {
                if key != b"ENERGY" {
                    return s.skip();
                }
                seen.first(0, "ENERGY")?;
                if let Some(e) = s.nullable(energy)? {
                    *energy_out = Some(e);
                    found = true;
                }
                Ok(())
            })?,
            Some((section, fields)) => s.object_field("sensor", |s, key| {
                if key != section.as_bytes() {
                    return s.skip();
                }
                seen.first(0, section)?;
                values.clear();
                s.object_field(section, |s, key| {
                    match fields.iter().find(|f| is(&f.key, key)) {
                        Some(f) => {
                            values.insert(f.quantity, s.number(&f.path)? * f.scale);
                        }
                        None => s.skip()?,
                    }
                    Ok(())
                })?;
                found = true;
                Ok(())
            })?,
        }
        Ok(found)
    }
}

/// The `ENERGY` fields we read (key, path for errors), by [`Seen`] bit.
const ENERGY_KEYS: [(&str, &str); 9] = [
    ("Total", "ENERGY.Total"),
    ("ExportActive", "ENERGY.ExportActive"),
    ("Power", "ENERGY.Power"),
    ("ApparentPower", "ENERGY.ApparentPower"),
    ("ReactivePower", "ENERGY.ReactivePower"),
    ("Factor", "ENERGY.Factor"),
    ("Frequency", "ENERGY.Frequency"),
    ("Voltage", "ENERGY.Voltage"),
    ("Current", "ENERGY.Current"),
];

/// The `ENERGY` keys alone, for [`ENERGY_INDEX`].
const ENERGY_NAMES: [&str; 9] = {
    let mut names = [""; 9];
    let mut i = 0;
    while i < 9 {
        names[i] = ENERGY_KEYS[i].0;
        i += 1;
    }
    names
};

static ENERGY_INDEX: KeyIndex = KeyIndex::new(&ENERGY_NAMES);

/// The `ENERGY` object, in [`ENERGY_KEYS`] order.
#[derive(Default)]
struct Energy([Option<Phased>; 9]);

fn energy(s: &mut Scanner<'_>) -> Result<Energy, AdapterError> {
    let mut e = Energy::default();
    let mut seen = Seen::default();
    s.object_field("ENERGY", |s, key| {
        let Some(i) = ENERGY_INDEX.find(&ENERGY_NAMES, key) else {
            return s.skip();
        };
        let name = ENERGY_KEYS[i].1;
        seen.first(i as u32, name)?;
        e.0[i] = s.nullable(|s| phased(s, name))?;
        Ok(())
    })?;
    Ok(e)
}

/// A number, or an array of 1 to 3 numbers.
fn phased(s: &mut Scanner<'_>, field: &str) -> Result<Phased, AdapterError> {
    match s.kind()? {
        Kind::Number => s.number_value().map(Phased::One),
        Kind::Array => {
            let mut xs = [0.0; 3];
            match s.number_array(&mut xs, field)? {
                Some(0) => Err(AdapterError::Field {
                    field: field.into(),
                    problem: "empty array".into(),
                }),
                Some(n) => Ok(Phased::Many(xs, n)),
                None => Err(AdapterError::Field {
                    field: field.into(),
                    problem: "more than 3 phases".into(),
                }),
            }
        }
        k => Err(wrong_type(field, "a number or an array of 1 to 3 numbers", k)),
    }
}

const L: [Quantity; 3] = [
    Quantity::ActivePowerL1,
    Quantity::ActivePowerL2,
    Quantity::ActivePowerL3,
];
const V: [Quantity; 3] = [Quantity::VoltageL1, Quantity::VoltageL2, Quantity::VoltageL3];
const I: [Quantity; 3] = [Quantity::CurrentL1, Quantity::CurrentL2, Quantity::CurrentL3];

impl Energy {
    /// The reading, checked by [`reading`].
    fn reading(&self) -> Result<Message, AdapterError> {
        let [
            total,
            export,
            power,
            apparent,
            reactive,
            factor,
            frequency,
            voltage,
            current,
        ] = self.0;
        let mut values = Values::new();
        let mut put = |q, v: Option<f64>| {
            if let Some(v) = v {
                values.insert(q, v);
            }
        };
        put(Quantity::ActivePower, power.map(sum));
        let phases = |p: Option<Phased>, scalar_is_l1: bool| match p {
            Some(Phased::Many(xs, n)) => [0, 1, 2].map(|i| (i < n).then_some(xs[i])),
            // A scalar power is the total (put above); a scalar voltage or current is L1.
            Some(Phased::One(x)) if scalar_is_l1 => [Some(x), None, None],
            _ => [None; 3],
        };
        for (q, v) in L.into_iter().zip(phases(power, false)) {
            put(q, v);
        }
        put(Quantity::ApparentPower, apparent.map(sum));
        put(Quantity::ReactivePower, reactive.map(sum));
        for (q, v) in V.into_iter().zip(phases(voltage, true)) {
            put(q, v);
        }
        for (q, v) in I.into_iter().zip(phases(current, true)) {
            put(q, v);
        }
        // A per-phase power factor has no canonical quantity; only a single one is the total.
        put(Quantity::PowerFactor, factor.and_then(single));
        put(Quantity::Frequency, frequency.map(first));
        put(Quantity::EnergyImport, total.map(|p| sum(p) * 1000.0));
        put(Quantity::EnergyExport, export.map(|p| sum(p) * 1000.0));
        reading(None, values)
    }
}

/// Decodes a `SENSOR` payload's `ENERGY` object.
pub fn decode_sensor(payload: &[u8]) -> Result<Message, AdapterError> {
    Decoder::energy().decode(Part::Sensor, payload)
}

pub(crate) fn sum(p: Phased) -> f64 {
    match p {
        Phased::One(x) => x,
        Phased::Many(xs, n) => xs[..n].iter().sum(),
    }
}

pub(crate) fn first(p: Phased) -> f64 {
    match p {
        Phased::One(x) | Phased::Many([x, _, _], _) => x,
    }
}

pub(crate) fn single(p: Phased) -> Option<f64> {
    match p {
        Phased::One(x) | Phased::Many([x, _, _], 1) => Some(x),
        Phased::Many(..) => None,
    }
}

#[cfg(test)]
mod tests;
