//! Differential tests: our decoders against the well-kept crates on every fixture.
//!
//! * M-Bus/wM-Bus: `m-bus-parser` (its std output layer) must see the same meter and, record by record, the same
//!   function, storage number and numeric value (compared as decimals after its unit normalisation, e.g. kWh →
//!   Wh). Where it cannot decode (a pre-decrypted capture) or reports differently (a wrong key), the test pins
//!   that difference, which is why the decoder is ours (README).
//! * SML: our registers against `sml-rs`' complete (allocating) parser.

use m_bus_parser::{DecodeOptions, decode_hex};
use serde_json::Value as Json;

use crate::fixtures;
use zw_meters::mbus::record::{Function, Value};
use zw_meters::wmbus::{self, Key};
use zw_meters::{Decimal, mbus, sml};

/// A decimal from the oracle's value text (`304.663`, `-0.009`, `154000`); `None` if not a plain number.
fn parse_decimal(s: &str) -> Option<Decimal> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let m: i64 = format!("{int}{frac}").parse().ok()?;
    Some(Decimal::new(m, -(frac.len() as i8)).normalized())
}

fn function_name(f: Function) -> &'static str {
    match f {
        Function::Instantaneous => "Instantaneous value",
        Function::Maximum => "Maximum value",
        Function::Minimum => "Minimum value",
        Function::DuringError => "Value during error state",
    }
}

#[test]
fn mbus_records_agree_with_m_bus_parser_on_every_fixture() {
    let all = fixtures("mbus_telegrams.json");
    let mut compared = 0;
    for t in all["telegrams"].as_array().expect("telegrams") {
        let name = t["name"].as_str().expect("name");
        let hex = t["hex"].as_str().expect("hex");
        let bytes = hex::decode(hex).expect("hex");
        let key = t["key"].as_str().map(|k| Key::from_hex(k).expect("key"));
        let ours = match (t["kind"].as_str(), &key, t["payload_predecrypted"] == true) {
            (Some("wired"), _, _) => mbus::decode(&bytes).expect("decodes"),
            (_, _, true) => wmbus::decode_predecrypted(&bytes).expect("decodes"),
            (_, Some(k), _) => wmbus::decode(&bytes, k).expect("decodes"),
            _ => wmbus::decode(&bytes, &()).expect("decodes"),
        };
        let options = DecodeOptions {
            key: key.as_ref().map(|k| k.0),
            ..DecodeOptions::default()
        };
        let oracle = decode_hex(hex, &options).expect("oracle decodes");
        let meter = ours.meter.expect("identity");
        let id = oracle.meter.identity.as_ref().expect("oracle identity");
        assert_eq!(id.id.as_deref(), Some(meter.id.to_string().as_str()), "{name}");
        assert_eq!(
            id.manufacturer_code.as_deref(),
            Some(meter.manufacturer.to_string().as_str()),
            "{name}"
        );
        if t["payload_predecrypted"] == true {
            // The oracle has no way to read a capture stored decrypted.
            assert_eq!(oracle.security.decryption_state, "key_missing", "{name}");
            assert!(oracle.records.is_empty(), "{name}");
            continue;
        }
        assert_eq!(
            ours.records.records.len(),
            oracle.records.len(),
            "{name}: record count"
        );
        for (i, (a, b)) in ours.records.records.iter().zip(&oracle.records).enumerate() {
            assert_eq!(function_name(a.function), b.function, "{name} record {i}");
            assert_eq!(a.storage, b.storage_number, "{name} record {i}");
            let Value::Number(d) = a.value else { continue };
            let Some(Json::String(text)) = &b.value.value else {
                continue;
            };
            let Some(theirs) = parse_decimal(text) else {
                continue;
            };
            // The oracle reports Wh-scaled energy and W-scaled power in the base unit, as we do.
            assert_eq!(d.normalized(), theirs, "{name} record {i} ({:?})", b.quantities);
            compared += 1;
        }
    }
    assert!(compared >= 50, "compared {compared} numeric records");
}

#[test]
fn a_wrong_key_is_not_an_error_in_the_oracle_but_is_in_ours() {
    let all = fixtures("mbus_telegrams.json");
    let t = all["telegrams"]
        .as_array()
        .expect("telegrams")
        .iter()
        .find(|t| t["key"].is_string())
        .expect("keyed");
    let hex = t["hex"].as_str().expect("hex");
    let oracle = decode_hex(
        hex,
        &DecodeOptions {
            key: Some([0x11; 16]),
            ..DecodeOptions::default()
        },
    )
    .expect("the oracle still returns a decode");
    assert!(oracle.records.is_empty());
    assert_ne!(oracle.security.decryption_state, "decrypted");
    let ours = wmbus::decode(&hex::decode(hex).expect("hex"), &Key([0x11; 16]));
    assert!(matches!(ours, Err(wmbus::Error::WrongKey(_))));
}

#[test]
fn sml_registers_agree_with_the_sml_rs_complete_parser() {
    use sml_rs::parser::common::Value as V;
    use sml_rs::parser::complete::MessageBody;
    let all = fixtures("sml_captures.json");
    for c in all["captures"].as_array().expect("captures") {
        let name = c["name"].as_str().expect("name");
        let bytes = hex::decode(c["data"].as_str().expect("data")).expect("hex");
        let ours = sml::decode_file(&bytes).expect("decodes");
        let mut reader = sml_rs::SmlReader::from_slice(&bytes);
        let file = reader
            .read::<sml_rs::parser::complete::File>()
            .expect("sml-rs decodes");
        let mut theirs = Vec::new();
        for m in &file.messages {
            if let MessageBody::GetListResponse(g) = &m.message_body {
                for e in &g.val_list {
                    let raw: i64 = match e.value {
                        V::I8(v) => v.into(),
                        V::I16(v) => v.into(),
                        V::I32(v) => v.into(),
                        V::I64(v) => v,
                        V::U8(v) => v.into(),
                        V::U16(v) => v.into(),
                        V::U32(v) => v.into(),
                        V::U64(v) => i64::try_from(v).expect("fits"),
                        _ => continue,
                    };
                    theirs.push((
                        e.obj_name.to_vec(),
                        e.unit,
                        Decimal::new(raw, e.scaler.unwrap_or(0)),
                    ));
                }
            }
        }
        let ours: Vec<_> = ours
            .registers
            .iter()
            .map(|r| (r.obis.0.to_vec(), r.unit, r.value))
            .collect();
        if name == "dzg_dvs7412_jmberg" {
            // The one intended difference: sml-rs has no DZG correction (−299.12 W where the meter means 356.24 W).
            assert_eq!(theirs.last().map(|r| r.2), Some(Decimal::new(-29_912, -2)));
            assert_eq!(ours.last().map(|r| r.2), Some(Decimal::new(35_624, -2)));
            assert_eq!(ours[..ours.len() - 1], theirs[..theirs.len() - 1], "{name}");
        } else {
            assert_eq!(ours, theirs, "{name}");
        }
    }
}

/// The first file through the sml-rs transport decoder (byte by byte, as from a serial port).
fn via_stream(bytes: &[u8]) -> Option<sml::SmlReading> {
    let mut stream = sml::SmlStream::new();
    bytes.iter().find_map(|b| match stream.push(*b) {
        Some(Ok(r)) => Some(Some(r)),
        Some(Err(sml::Error::Discarded(_))) | None => None,
        Some(Err(_)) => Some(None),
    })?
}

#[test]
fn sml_transport_agrees_with_the_sml_rs_decoder_on_every_capture_truncation_and_bit_flip() {
    let all = fixtures("sml_captures.json");
    let mut agreed_ok = 0;
    for c in all["captures"].as_array().expect("captures") {
        let bytes = hex::decode(c["data"].as_str().expect("data")).expect("hex");
        let mut cases = vec![bytes.clone()];
        cases.extend((0..bytes.len()).map(|n| bytes[..n].to_vec()));
        for bit in 0..bytes.len() * 8 {
            let mut f = bytes.clone();
            f[bit / 8] ^= 1 << (bit % 8);
            cases.push(f);
        }
        for case in cases {
            let ours = sml::decode_file(&case).ok();
            assert_eq!(ours, via_stream(&case), "{} {}", c["name"], hex::encode(&case));
            agreed_ok += usize::from(ours.is_some());
        }
    }
    assert!(agreed_ok >= 6);
}
