//! Field mappings for MQTT devices no built-in adapter fully knows: SML meters read by Tasmota (OBIS-named
//! fields) and generic JSON devices (JSON pointers). Each mapping names a canonical [`Quantity`] and how to
//! convert the device's unit into the quantity's one unit.

use serde::{Deserialize, Serialize};

use crate::Quantity;

/// One field of a Tasmota SML meter section, e.g. `{ key = "Total_in", obis = "1.8.0", unit = "kWh" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmlField {
    /// The JSON key inside the meter section (the name given in the Tasmota meter script).
    pub key: String,
    /// The OBIS code the field carries: `1.8.0`, `1-0:1.8.0` or `1-0:1.8.0*255`.
    pub obis: String,
    /// The unit the script reports in; default kWh for energy, W for power, else the quantity's unit.
    #[serde(default)]
    pub unit: Option<String>,
}

impl SmlField {
    /// The canonical quantity and the factor from the field's unit to it, if the mapping is valid.
    pub fn resolve(&self) -> Result<(Quantity, f64), String> {
        let q = obis_quantity(&self.obis).ok_or_else(|| {
            format!(
                "unknown or unsupported OBIS code {:?} (known: {})",
                self.obis,
                OBIS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
            )
        })?;
        let default = match q.unit() {
            crate::quantity::Unit::WattHour => "kWh",
            u => u.symbol(),
        };
        let unit = self.unit.as_deref().unwrap_or(default);
        let scale = unit_scale(q, unit)
            .ok_or_else(|| format!("unit {unit:?} does not fit {q} (in {})", q.unit().symbol()))?;
        Ok((q, scale))
    }
}

/// One value of a generic JSON device: `{ pointer = "/sensor/kwh", quantity = "energy_import", scale = 1000 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonField {
    /// RFC 6901 JSON pointer to a number (e.g. `/ENERGY/Total`, `/values/0`).
    pub pointer: String,
    /// The canonical quantity the value is.
    pub quantity: Quantity,
    /// Factor from the device's unit to the quantity's unit (kWh → Wh: 1000; −kPa → kPa: −1). Default 1.
    #[serde(default = "one")]
    pub scale: f64,
    /// Added after scaling (e.g. a sensor's calibration offset). Default 0.
    #[serde(default)]
    pub offset: f64,
    /// Accept numbers sent as strings (`"24.1"`) for this field. Default false: a string is a bad field.
    #[serde(default)]
    pub numeric_strings: bool,
}

fn one() -> f64 {
    1.0
}

/// OBIS codes (C.D.E) with a canonical quantity.
const OBIS: &[(&str, Quantity)] = &[
    ("1.8.0", Quantity::EnergyImport),
    ("1.8.1", Quantity::EnergyImportT1),
    ("1.8.2", Quantity::EnergyImportT2),
    ("2.8.0", Quantity::EnergyExport),
    ("16.7.0", Quantity::ActivePower),
    ("36.7.0", Quantity::ActivePowerL1),
    ("56.7.0", Quantity::ActivePowerL2),
    ("76.7.0", Quantity::ActivePowerL3),
    ("32.7.0", Quantity::VoltageL1),
    ("52.7.0", Quantity::VoltageL2),
    ("72.7.0", Quantity::VoltageL3),
    ("31.7.0", Quantity::CurrentL1),
    ("51.7.0", Quantity::CurrentL2),
    ("71.7.0", Quantity::CurrentL3),
    ("14.7.0", Quantity::Frequency),
    ("13.7.0", Quantity::PowerFactor),
];

/// The quantity of an OBIS code in any of the forms `1.8.0`, `1-0:1.8.0`, `1-0:1.8.0*255`.
pub fn obis_quantity(code: &str) -> Option<Quantity> {
    let code = code.trim();
    let code = match code.split_once(':') {
        Some((ab, rest)) if ab.starts_with("1-") => rest,
        Some(_) => return None,
        None => code,
    };
    let code = code.split_once('*').map_or(code, |(c, _)| c);
    OBIS.iter().find(|(c, _)| *c == code).map(|(_, q)| *q)
}

/// Factor converting `unit` into the unit of `q`, if `unit` measures the same thing.
pub fn unit_scale(q: Quantity, unit: &str) -> Option<f64> {
    use crate::quantity::Unit as U;
    let s = match (q.unit(), unit) {
        (U::WattHour, "Wh") | (U::Watt, "W") | (U::Volt, "V") | (U::Ampere, "A") | (U::Hertz, "Hz") => 1.0,
        (U::WattHour, "kWh") | (U::Watt, "kW") => 1e3,
        (U::WattHour, "MWh") => 1e6,
        (U::WattHour, "mWh") | (U::Watt, "mW") | (U::Ampere, "mA") | (U::Volt, "mV") => 1e-3,
        (u, x) if u.symbol() == x => 1.0,
        _ => return None,
    };
    Some(s)
}

/// Checks a JSON pointer's syntax (empty, or `/`-separated tokens with valid `~` escapes).
pub fn valid_pointer(p: &str) -> bool {
    (p.is_empty() || p.starts_with('/')) && {
        let b = p.as_bytes();
        b.iter()
            .enumerate()
            .all(|(i, &c)| c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
    }
}

/// Reports every problem of a generic JSON mapping, prefixed with `path`.
pub(super) fn validate_json(
    fields: &[JsonField],
    timestamp: Option<&str>,
    path: &str,
    errors: &mut Vec<String>,
) {
    if fields.is_empty() {
        errors.push(format!("{path}.fields: map at least one value"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        if !valid_pointer(&f.pointer) {
            errors.push(format!(
                "{path}.fields[{i}].pointer: {:?} is not a JSON pointer",
                f.pointer
            ));
        }
        if !(f.scale.is_finite() && f.scale != 0.0 && f.offset.is_finite()) {
            errors.push(format!(
                "{path}.fields[{i}]: scale must be finite and non-zero, offset finite"
            ));
        }
        if !seen.insert(f.quantity) {
            errors.push(format!(
                "{path}.fields[{i}].quantity: {} is mapped twice",
                f.quantity
            ));
        }
    }
    if let Some(t) = timestamp
        && !valid_pointer(t)
    {
        errors.push(format!("{path}.timestamp: {t:?} is not a JSON pointer"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn obis_forms_and_units() {
        for code in ["1.8.0", "1-0:1.8.0", "1-0:1.8.0*255", " 1.8.0 "] {
            assert_eq!(obis_quantity(code), Some(Quantity::EnergyImport), "{code}");
        }
        assert_eq!(obis_quantity("0-0:1.8.0"), None);
        assert_eq!(obis_quantity("1-0:1.8.1"), Some(Quantity::EnergyImportT1));
        assert_eq!(obis_quantity("1.8.2"), Some(Quantity::EnergyImportT2));
        assert_eq!(obis_quantity("1.8.3"), None);
        let f = |obis: &str, unit: Option<&str>| SmlField {
            key: "x".into(),
            obis: obis.into(),
            unit: unit.map(Into::into),
        };
        assert_eq!(f("1.8.0", None).resolve(), Ok((Quantity::EnergyImport, 1000.0)));
        assert_eq!(
            f("2.8.0", Some("Wh")).resolve(),
            Ok((Quantity::EnergyExport, 1.0))
        );
        assert_eq!(
            f("16.7.0", Some("kW")).resolve(),
            Ok((Quantity::ActivePower, 1000.0))
        );
        assert!(f("16.7.0", Some("kWh")).resolve().is_err());
        assert!(f("99.9.9", None).resolve().is_err());
    }

    #[test]
    fn pointer_syntax() {
        for (p, ok) in [
            ("", true),
            ("/a/b", true),
            ("/a~1b", true),
            ("a", false),
            ("/a~2", false),
        ] {
            assert_eq!(valid_pointer(p), ok, "{p}");
        }
    }
}
