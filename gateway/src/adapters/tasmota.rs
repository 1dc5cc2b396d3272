//! Tasmota `tele/<topic>/SENSOR` telemetry with an `ENERGY` object.
//!
//! Units on the wire: `Total`, `Today`, `Yesterday`, `ExportActive` in kWh (→ Wh on the bus); `Power` W;
//! `Voltage` V; `Current` A; `Factor` 0–1. Multi-phase drivers send arrays: per-phase values map to L1..L3
//! and a power array is also summed into the total. Tasmota's `Time` is local time without an offset, so
//! the receive time is used instead.

use std::collections::BTreeMap;

use serde_json::Value;
use zw_model::Quantity;

use super::{AdapterError, Decoded, number};

/// Decodes a SENSOR payload.
pub fn decode(payload: &[u8]) -> Result<Decoded, AdapterError> {
    let root: Value = serde_json::from_slice(payload).map_err(|e| AdapterError::Json(e.to_string()))?;
    let energy = match root.get("ENERGY") {
        Some(e @ Value::Object(_)) => e,
        Some(other) => {
            return Err(AdapterError::Field {
                field: "ENERGY".into(),
                problem: format!("expected an object, got {other}"),
            });
        }
        None => return Err(AdapterError::NoValues),
    };
    let mut values = BTreeMap::new();
    let scalar = |key: &str,
                  q: Quantity,
                  scale: f64,
                  values: &mut BTreeMap<Quantity, f64>|
     -> Result<(), AdapterError> {
        if let Some(v) = energy.get(key) {
            values.insert(q, number(v, &format!("ENERGY.{key}"), false)? * scale);
        }
        Ok(())
    };
    scalar("Total", Quantity::EnergyImport, 1000.0, &mut values)?;
    scalar("ExportActive", Quantity::EnergyExport, 1000.0, &mut values)?;
    scalar("ApparentPower", Quantity::ApparentPower, 1.0, &mut values)?;
    scalar("ReactivePower", Quantity::ReactivePower, 1.0, &mut values)?;
    scalar("Factor", Quantity::PowerFactor, 1.0, &mut values)?;
    scalar("Frequency", Quantity::Frequency, 1.0, &mut values)?;
    phased(
        energy,
        "Voltage",
        [Quantity::VoltageL1, Quantity::VoltageL2, Quantity::VoltageL3],
        None,
        &mut values,
    )?;
    phased(
        energy,
        "Current",
        [Quantity::CurrentL1, Quantity::CurrentL2, Quantity::CurrentL3],
        None,
        &mut values,
    )?;
    phased(
        energy,
        "Power",
        [
            Quantity::ActivePowerL1,
            Quantity::ActivePowerL2,
            Quantity::ActivePowerL3,
        ],
        Some(Quantity::ActivePower),
        &mut values,
    )?;
    if values.is_empty() {
        return Err(AdapterError::NoValues);
    }
    Ok(Decoded { ts: None, values })
}

/// A scalar maps to the single-phase quantity (L1, or `total` if given); an array maps to L1..L3 and, with
/// `total`, is summed into it as well.
fn phased(
    energy: &Value,
    key: &str,
    phases: [Quantity; 3],
    total: Option<Quantity>,
    values: &mut BTreeMap<Quantity, f64>,
) -> Result<(), AdapterError> {
    let Some(v) = energy.get(key) else { return Ok(()) };
    match v {
        Value::Array(items) => {
            if items.is_empty() || items.len() > 3 {
                return Err(AdapterError::Field {
                    field: format!("ENERGY.{key}"),
                    problem: "expected 1 to 3 phases".into(),
                });
            }
            let mut sum = 0.0;
            for (i, item) in items.iter().enumerate() {
                let x = number(item, &format!("ENERGY.{key}[{i}]"), false)?;
                values.insert(phases[i], x);
                sum += x;
            }
            if let Some(t) = total {
                values.insert(t, sum);
            }
        }
        _ => {
            let x = number(v, &format!("ENERGY.{key}"), false)?;
            values.insert(total.unwrap_or(phases[0]), x);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_phase_plug() {
        let p = br#"{"Time":"2021-12-08T20:22:23","ENERGY":{"TotalStartTime":"2021-07-09T16:56:28","Total":91.117,"Yesterday":0.386,"Today":1.274,"Period":1,"Power":87,"ApparentPower":151,"ReactivePower":124,"Factor":0.58,"Voltage":229,"Current":0.662}}"#;
        let d = decode(p).expect("decodes");
        assert_eq!(d.ts, None);
        let want = [
            (Quantity::EnergyImport, 91_117.0),
            (Quantity::ActivePower, 87.0),
            (Quantity::ApparentPower, 151.0),
            (Quantity::ReactivePower, 124.0),
            (Quantity::PowerFactor, 0.58),
            (Quantity::VoltageL1, 229.0),
            (Quantity::CurrentL1, 0.662),
        ];
        assert_eq!(d.values.len(), want.len(), "{:?}", d.values);
        for (q, v) in want {
            assert!((d.values[&q] - v).abs() < 1e-9, "{q}: {} != {v}", d.values[&q]);
        }
    }

    #[test]
    fn three_phase_arrays() {
        let p =
            br#"{"ENERGY":{"Total":1.5,"Power":[100,0,12],"Voltage":[230,231,229],"Current":[0.5,0,0.1]}}"#;
        let d = decode(p).expect("decodes");
        assert_eq!(d.values[&Quantity::ActivePower], 112.0);
        assert_eq!(d.values[&Quantity::ActivePowerL3], 12.0);
        assert_eq!(d.values[&Quantity::VoltageL2], 231.0);
        assert_eq!(d.values[&Quantity::EnergyImport], 1500.0);
    }

    #[test]
    fn bad_input_is_rejected_with_a_reason() {
        let cases: [(&[u8], &str); 6] = [
            (b"{", "malformed_json"),
            (br#"{"ENERGY":{"Power":"87"}}"#, "bad_field"),
            (br#"{"ENERGY":{"Power":[1,2,3,4]}}"#, "bad_field"),
            (br#"{"ENERGY":{}}"#, "no_values"),
            (br#"{"Time":"x"}"#, "no_values"),
            (br#"{"ENERGY":7}"#, "bad_field"),
        ];
        for (p, reason) in cases {
            let e = decode(p).expect_err(&String::from_utf8_lossy(p));
            assert_eq!(e.reason(), reason, "{}: {e}", String::from_utf8_lossy(p));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode(&bytes);
        }
    }
}
