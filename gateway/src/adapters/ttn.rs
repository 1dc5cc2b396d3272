//! The Things Stack v3 uplinks (`v3/{app}@{tenant}/devices/{device}/up`) from Dragino LSE01 soil sensors.
//!
//! `decoded_payload` is used when a payload formatter ran. The LSE01 formatter mixes numbers and strings
//! (`"water_SOIL":"19.57"`), older revisions append units (`"3.6 V"`), and firmware 1.2.1 renames `Bat` to
//! `BatV`; all of those are read. Without a decoded payload the 11-byte `frm_payload` (fPort 2) is decoded
//! here. The stack omits zero and empty fields, so an absent field is simply absent. The timestamp is the
//! network's `received_at`.

use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::Value;
use zw_model::Quantity;

use super::{AdapterError, Decoded, number};

/// LSE01 decoded-payload field → quantity.
const LSE01_FIELDS: &[(&str, Quantity)] = &[
    ("water_SOIL", Quantity::SoilMoisture),
    ("temp_SOIL", Quantity::SoilTemperature),
    ("conduct_SOIL", Quantity::SoilConductivity),
    ("Bat", Quantity::BatteryVoltage),
    ("BatV", Quantity::BatteryVoltage),
    ("TempC_DS18B20", Quantity::Temperature),
];

/// Decodes an uplink from an LSE01.
pub fn decode_lse01(payload: &[u8]) -> Result<Decoded, AdapterError> {
    let root: Value = serde_json::from_slice(payload).map_err(|e| AdapterError::Json(e.to_string()))?;
    let up = root.get("uplink_message").ok_or(AdapterError::NoValues)?;
    let ts = received_at(up).or_else(|| received_at(&root)).transpose()?;
    let values = match up.get("decoded_payload") {
        Some(Value::Object(fields)) if !fields.is_empty() => {
            let mut values = BTreeMap::new();
            for (key, q) in LSE01_FIELDS {
                if let Some(v) = fields.get(*key) {
                    values.insert(*q, number(v, &format!("decoded_payload.{key}"), true)?);
                }
            }
            values
        }
        _ => {
            let port = up.get("f_port").and_then(Value::as_u64).unwrap_or(0);
            let b64 = up
                .get("frm_payload")
                .and_then(Value::as_str)
                .ok_or(AdapterError::NoValues)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| AdapterError::Frame(format!("frm_payload is not base64: {e}")))?;
            if port != 2 {
                return Err(AdapterError::Frame(format!("unknown fPort {port}")));
            }
            lse01_frame(&bytes)?
        }
    };
    if values.is_empty() {
        return Err(AdapterError::NoValues);
    }
    Ok(Decoded { ts, values })
}

fn received_at(v: &Value) -> Option<Result<DateTime<Utc>, AdapterError>> {
    let s = v.get("received_at")?;
    Some(
        s.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| AdapterError::Field {
                field: "received_at".into(),
                problem: format!("not RFC 3339: {s}"),
            }),
    )
}

/// Decodes the 11-byte LSE01 frame the way Dragino's `lse01.js` does.
pub fn lse01_frame(b: &[u8]) -> Result<BTreeMap<Quantity, f64>, AdapterError> {
    if b.len() != 11 {
        return Err(AdapterError::Frame(format!(
            "LSE01 frame has {} bytes, expected 11",
            b.len()
        )));
    }
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let i16_at = |i: usize| i16::from_be_bytes([b[i], b[i + 1]]);
    let mut values = BTreeMap::from([
        (Quantity::BatteryVoltage, f64::from(u16_at(0) & 0x3FFF) / 1000.0),
        (Quantity::Temperature, f64::from(i16_at(2)) / 10.0),
    ]);
    // Like Dragino's `lse01.js` (whose official example has flags 0x90), byte 10 is not interpreted here.
    // Firmware 1.2.1 in raw mode is recognised by its decoder's `Raw_*` fields in `decoded_payload` instead.
    values.insert(Quantity::SoilMoisture, f64::from(u16_at(4)) / 100.0);
    values.insert(Quantity::SoilTemperature, f64::from(i16_at(6)) / 100.0);
    values.insert(Quantity::SoilConductivity, f64::from(u16_at(8)));
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPLINK: &str = r#"{"end_device_ids":{"device_id":"lse01-garden-1","application_ids":{"application_id":"soil-app"},"dev_eui":"A84041000181AAAA"},
 "received_at":"2024-05-01T10:00:01.123456789Z",
 "uplink_message":{"f_port":2,"f_cnt":42,"frm_payload":"zikA8QelCZtuKJA=",
  "decoded_payload":{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"},
  "settings":{"frequency":"868100000"},"received_at":"2024-05-01T10:00:00.999999999Z","consumed_airtime":"0.061696s"}}"#;

    fn expected() -> BTreeMap<Quantity, f64> {
        BTreeMap::from([
            (Quantity::BatteryVoltage, 3.625),
            (Quantity::Temperature, 24.1),
            (Quantity::SoilConductivity, 28200.0),
            (Quantity::SoilTemperature, 24.59),
            (Quantity::SoilMoisture, 19.57),
        ])
    }

    #[test]
    fn decoded_payload_with_mixed_types() {
        let d = decode_lse01(UPLINK.as_bytes()).expect("decodes");
        assert_eq!(d.values, expected());
        assert_eq!(
            d.ts.map(|t| t.to_rfc3339()),
            Some("2024-05-01T10:00:00.999999999+00:00".into())
        );
    }

    #[test]
    fn raw_frame_matches_the_official_fixture() {
        let without = UPLINK.replace(r#""decoded_payload":{"Bat":3.625,"TempC_DS18B20":"24.1","conduct_SOIL":28200,"temp_SOIL":"24.59","water_SOIL":"19.57"},"#, "");
        let d = decode_lse01(without.as_bytes()).expect("decodes");
        for (q, v) in expected() {
            assert!((d.values[&q] - v).abs() < 1e-9, "{q}");
        }
    }

    #[test]
    fn newer_decoder_names_and_unit_strings() {
        let p = r#"{"uplink_message":{"decoded_payload":{"BatV":"3.6 V","water_SOIL":"21.00"}}}"#;
        let d = decode_lse01(p.as_bytes()).expect("decodes");
        assert_eq!(
            d.values,
            BTreeMap::from([(Quantity::BatteryVoltage, 3.6), (Quantity::SoilMoisture, 21.0)])
        );
        assert_eq!(d.ts, None);
    }

    #[test]
    fn bad_uplinks_are_rejected() {
        let cases: [(&str, &str); 5] = [
            ("[]", "no_values"),
            (
                r#"{"uplink_message":{"decoded_payload":{"water_SOIL":"wet"}}}"#,
                "bad_field",
            ),
            (
                r#"{"uplink_message":{"f_port":3,"frm_payload":"zikA8QelCZtuKJA="}}"#,
                "bad_frame",
            ),
            (
                r#"{"uplink_message":{"f_port":2,"frm_payload":"AAAA"}}"#,
                "bad_frame",
            ),
            (
                r#"{"received_at":"yesterday","uplink_message":{"decoded_payload":{"Bat":3.6}}}"#,
                "bad_field",
            ),
        ];
        for (p, reason) in cases {
            assert_eq!(decode_lse01(p.as_bytes()).expect_err(p).reason(), reason, "{p}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let _ = decode_lse01(&bytes);
        }
    }
}
