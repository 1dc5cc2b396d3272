//! The scanner decoders against the serde_json reference decoders: on realistic documents with random
//! values and types at the known keys, and on their truncated or corrupted forms, both give the same values
//! (within serde_json's float parsing, which may be one ulp off) or both reject, with the same reason.

use proptest::prelude::*;
use serde_json::{Value, json};
use zw_jsonscan::test_support::{repaired, take_skips};
use zw_model::Quantity;
use zw_model::inventory::{JsonField, SmlField};
use zw_model::reading::Values;

use super::{AdapterError, Message, json as generic, reference, shelly, tasmota, ttn};

/// A value as devices send it, or a wrong one: numbers (also as strings), null, booleans, short arrays of
/// numbers, objects of `keys`.
fn value(keys: &'static [&'static str], depth: u32) -> BoxedStrategy<Value> {
    let number = prop_oneof![
        any::<i32>().prop_map(|x| json!(x)),
        (-1e7f64..1e7).prop_map(|x| json!(x)),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(|x| json!(x)),
    ];
    let leaf = prop_oneof![
        6 => number.clone(),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => (-1e4f64..1e4).prop_map(|x| Value::String(format!("{x} V"))),
        1 => "[a-z0-9 .]{0,6}".prop_map(Value::String),
        1 => proptest::collection::vec(number, 0..5).prop_map(Value::Array),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![3 => leaf, 1 => object(keys, depth - 1)].boxed()
}

/// An object whose keys are mostly from `keys`.
fn object(keys: &'static [&'static str], depth: u32) -> BoxedStrategy<Value> {
    let key = prop_oneof![4 => proptest::sample::select(keys).prop_map(str::to_owned), 1 => "[a-z_]{1,8}"];
    proptest::collection::vec((key, value(keys, depth)), 0..8)
        .prop_map(|kv| Value::Object(kv.into_iter().collect()))
        .boxed()
}

/// A document and its bytes: as serialised, or truncated, or with a byte inserted or replaced.
fn bytes(doc: BoxedStrategy<Value>) -> impl Strategy<Value = (Value, Vec<u8>)> {
    (doc, any::<proptest::sample::Index>(), any::<u8>(), 0u8..6).prop_map(|(v, at, byte, mode)| {
        let mut b = serde_json::to_vec(&v).unwrap_or_default();
        let at = at.index(b.len().max(1)).min(b.len());
        match mode {
            0 => b.truncate(at),
            1 => b.insert(at, byte),
            2 => {
                if let Some(x) = b.get_mut(at) {
                    *x = byte;
                }
            }
            _ => {}
        }
        (v, b)
    })
}

/// Whether an array stands where a struct is expected: serde's derive reads a struct from an array too
/// (`"aenergy":[5]` is `{"total":5}`), the scanner rejects it as a bad field; no device sends that.
fn struct_as_array(v: &Value, struct_keys: &[&str]) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, x)| {
            (x.is_array() && struct_keys.contains(&k.as_str())) || struct_as_array(x, struct_keys)
        }),
        Value::Array(xs) => xs.iter().any(|x| struct_as_array(x, struct_keys)),
        _ => false,
    }
}

/// Whether an object of the payload names a key twice. RFC 8259 § 4 leaves the meaning open: the scanner
/// reads the first value, serde_json's map keeps the last; no device sends that.
fn duplicate_keys(payload: &[u8]) -> bool {
    struct Unique;
    impl<'de> serde::Deserialize<'de> for Unique {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Unique)
        }
    }
    impl<'de> serde::de::Visitor<'de> for Unique {
        type Value = Unique;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON without duplicate keys")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Unique, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(k) = m.next_key::<String>()? {
                if !seen.insert(k) {
                    return Err(serde::de::Error::custom("duplicate key"));
                }
                m.next_value::<Unique>()?;
            }
            Ok(Unique)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Unique, A::Error> {
            while s.next_element::<Unique>()?.is_some() {}
            Ok(Unique)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
            Ok(Unique)
        }
        fn visit_unit<E>(self) -> Result<Unique, E> {
            Ok(Unique)
        }
    }
    serde_json::from_slice::<Unique>(payload).is_err_and(|e| e.to_string().starts_with("duplicate key"))
}

fn close(a: &Values, b: &Values) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((qa, x), (qb, y))| qa == qb && (x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())))
}

/// Same values, or both rejected, for the same reason when the payload is valid JSON. Known, deliberate
/// differences: for a broken payload serde_json may meet a type error before the syntax error (and the
/// scanner the other way round); the scanner requires every string it reads to be UTF-8 (serde_json only
/// those it decodes); the `Value`-based references reject numbers beyond `f64` that no mapping reads; see
/// also [`struct_as_array`] and [`duplicate_keys`]. `payload` is what serde_json decoded (see [`check`]).
fn agree(
    doc: &Value,
    payload: &[u8],
    struct_keys: &[&str],
    fast: &Result<Message, AdapterError>,
    slow: &Result<Message, AdapterError>,
) -> Result<(), TestCaseError> {
    let utf8 = std::str::from_utf8(payload).is_ok();
    let odd = struct_as_array(doc, struct_keys);
    let clean = utf8 && !odd && zw_jsonscan::validate(payload).is_ok();
    match (fast, slow) {
        (Ok(Message::Reading(a)), Ok(Message::Reading(b))) => {
            prop_assert_eq!(a.ts, b.ts);
            prop_assert!(close(&a.values, &b.values), "{:?} vs {:?}", a.values, b.values);
        }
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
        (_, Err(AdapterError::Json(m))) if m.contains("number out of range") => {}
        (Err(a), Err(b)) if clean => prop_assert_eq!(a.reason(), b.reason(), "{} vs {}", a, b),
        (Err(_), Err(_)) => {}
        (Err(AdapterError::Json(_)), Ok(_)) if !utf8 => {}
        _ if odd || duplicate_keys(payload) => {}
        _ => prop_assert!(false, "scanner {fast:?} vs serde_json {slow:?}"),
    }
    Ok(())
}

/// Whether two results say the same: equal messages, or rejections for the same reason.
fn same(a: &Result<Message, AdapterError>, b: &Result<Message, AdapterError>) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.reason() == b.reason(),
        _ => false,
    }
}

/// The scanner decoder against the serde_json reference on one payload. The scanner skips values it does
/// not read without validating them (the On-Demand rule, `zw_jsonscan`), so serde_json judges the payload with
/// those of them that are not valid JSON replaced by `null`: what the scanner reads must agree with
/// serde_json exactly. `fast_again` (the scanner decoder in the state before `fast`) checks that the
/// replacement changes nothing for the scanner either.
fn check(
    (doc, payload): &(Value, Vec<u8>),
    struct_keys: &[&str],
    fast: impl FnOnce(&[u8]) -> Result<Message, AdapterError>,
    fast_again: impl FnOnce(&[u8]) -> Result<Message, AdapterError>,
    slow: impl FnOnce(&[u8]) -> Result<Message, AdapterError>,
) -> Result<(), TestCaseError> {
    take_skips();
    let got = fast(payload);
    let fixed = repaired(payload, take_skips());
    let judged = fixed.as_deref().unwrap_or(payload);
    if let Some(fixed) = &fixed {
        let again = fast_again(fixed);
        prop_assert!(
            same(&got, &again),
            "{got:?} vs {again:?} after replacing skipped values"
        );
    }
    agree(doc, judged, struct_keys, &got, &slow(judged))
}

const TASMOTA_KEYS: &[&str] = &[
    "Time",
    "ENERGY",
    "Total",
    "ExportActive",
    "Power",
    "ApparentPower",
    "ReactivePower",
    "Factor",
    "Frequency",
    "Voltage",
    "Current",
    "Today",
    "SML",
    "Total_in",
    "Total_out",
    "Power_curr",
];
const SHELLY_KEYS: &[&str] = &[
    "id",
    "apower",
    "voltage",
    "current",
    "freq",
    "pf",
    "aenergy",
    "ret_aenergy",
    "total",
    "by_minute",
    "a_act_power",
    "b_act_power",
    "c_act_power",
    "a_voltage",
    "a_current",
    "total_act_power",
    "total_aprt_power",
    "a_freq",
    "total_act",
    "total_act_ret",
    "switch:0",
    "em:0",
    "emdata:0",
    "ts",
];
const TTN_KEYS: &[&str] = &[
    "received_at",
    "uplink_message",
    "f_port",
    "frm_payload",
    "decoded_payload",
    "water_SOIL",
    "temp_SOIL",
    "conduct_SOIL",
    "Bat",
    "BatV",
    "TempC_DS18B20",
    "water_potential",
    "soil_temperature",
    "battery_voltage",
    "value",
    "rx_metadata",
];
const JSON_KEYS: &[&str] = &["ts", "sensor", "kwh", "w", "env", "t", "0", "1", "values"];

/// Shelly documents: a status, or an RPC frame around one.
fn shelly_doc() -> BoxedStrategy<Value> {
    let method = proptest::sample::select(&["NotifyStatus", "NotifyFullStatus", "NotifyEvent"][..]);
    let ts = prop_oneof![
        Just(Value::Null),
        (1.6e9f64..1.8e9).prop_map(|x| json!(x)),
        Just(json!(1e12))
    ];
    let rpc = (method, ts, object(SHELLY_KEYS, 2)).prop_map(|(m, ts, mut params)| {
        if let Value::Object(p) = &mut params {
            p.insert("ts".into(), ts);
        }
        json!({"src": "shellypro3em-x", "dst": "user_1", "method": m, "params": params})
    });
    prop_oneof![object(SHELLY_KEYS, 2), rpc].boxed()
}

/// TTS uplinks with a decoded payload and a valid or broken frame.
fn ttn_doc() -> BoxedStrategy<Value> {
    let frame = prop_oneof![
        Just(json!("zikA8QelCZtuKJA=")),
        Just(json!("AgGSAAMAdYChDCU=")),
        Just(json!("AAAA")),
        Just(json!("not base64")),
        Just(Value::Null),
    ];
    let at = prop_oneof![
        Just(json!("2024-05-01T10:00:00.999Z")),
        Just(json!("yesterday")),
        Just(Value::Null)
    ];
    let port = prop_oneof![
        Just(json!(1)),
        Just(json!(2)),
        Just(json!(3)),
        Just(json!(-1)),
        Just(json!(2.5))
    ];
    (object(TTN_KEYS, 2), frame, at, port, any::<bool>())
        .prop_map(|(decoded, frame, at, port, with_decoded)| {
            let mut up = json!({"f_port": port, "frm_payload": frame, "received_at": at,
                "rx_metadata": [{"gateway_ids": {"gateway_id": "gtw1"}, "rssi": -85}]});
            if with_decoded {
                up["decoded_payload"] = decoded;
            }
            json!({"end_device_ids": {"device_id": "d"}, "uplink_message": up})
        })
        .boxed()
}

fn sml() -> tasmota::Decoder {
    let f = |key: &str, obis: &str| SmlField {
        key: key.into(),
        obis: obis.into(),
        unit: None,
    };
    tasmota::Decoder::sml(
        "SML",
        &[
            f("Total_in", "1.8.0"),
            f("Total_out", "2.8.0"),
            f("Power_curr", "16.7.0"),
        ],
    )
    .unwrap_or_default()
}

fn mapping(fields: &[(&str, Quantity, bool)], ts: Option<&str>) -> (generic::Mapping, generic::ValueMapping) {
    let fields: Vec<JsonField> = fields
        .iter()
        .map(|(pointer, quantity, numeric_strings)| JsonField {
            pointer: (*pointer).into(),
            quantity: *quantity,
            scale: 1000.0,
            offset: 1.0,
            numeric_strings: *numeric_strings,
        })
        .collect();
    (
        generic::Mapping::new(&fields, ts),
        generic::ValueMapping::new(&fields, ts),
    )
}

#[test]
fn a_key_named_twice_is_found() {
    assert!(duplicate_keys(br#"{"0":null,"w":false,"w":4082328.27}"#));
    assert!(duplicate_keys(br#"{"a":[{"k":1,"k":2}]}"#));
    assert!(!duplicate_keys(br#"{"a":{"k":1},"b":{"k":"x"},"k":[1,2]}"#));
    assert!(!duplicate_keys(br#"{"a":1,"b":"#), "broken, not duplicate");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tasmota_sensor_agrees(b in bytes(object(TASMOTA_KEYS, 3))) {
        check(&b, &["ENERGY"], tasmota::decode_sensor, tasmota::decode_sensor, reference::tasmota::decode_sensor)?;
    }

    #[test]
    fn tasmota_sml_agrees(b in bytes(object(TASMOTA_KEYS, 3))) {
        let d = sml();
        let Some((section, fields)) = d.sml_fields() else { return Err(TestCaseError::fail("sml")) };
        let fast = |p: &[u8]| d.decode(tasmota::Part::Sensor, p);
        check(&b, &[], fast, fast, |p| reference::tasmota::decode_sml(p, section, &fields))?;
    }

    #[test]
    fn shelly_agrees(docs in proptest::collection::vec((bytes(shelly_doc()), 0usize..5), 1..6)) {
        let (mut fast, mut slow) = (shelly::State::default(), reference::shelly::State::default());
        for (b, part) in docs {
            let part = [
                shelly::Part::Rpc,
                shelly::Part::Status(shelly::Component::Switch(0)),
                shelly::Part::Status(shelly::Component::Em),
                shelly::Part::Status(shelly::Component::EmData),
                shelly::Part::Status(shelly::Component::Other),
            ][part];
            let keys = ["aenergy", "ret_aenergy", "switch:0", "em:0", "emdata:0", "params"];
            let before = fast.clone();
            check(&b, &keys, |p| fast.decode(part, p), |p| before.clone().decode(part, p), |p| slow.decode(part, p))?;
        }
    }

    #[test]
    fn ttn_agrees(b in bytes(ttn_doc()), trs in any::<bool>()) {
        let model = if trs { ttn::Model::DlTrs21 } else { ttn::Model::Lse01 };
        let keys = ["uplink_message", "decoded_payload", "water_potential", "soil_temperature", "battery_voltage"];
        check(&b, &keys, |p| model.decode(p), |p| model.decode(p), |p| reference::ttn::decode(model, p))?;
    }

    #[test]
    fn generic_json_agrees(b in bytes(object(JSON_KEYS, 3)), lenient in any::<bool>(), with_ts in any::<bool>()) {
        let (fast, slow) = mapping(
            &[
                ("/sensor/kwh", Quantity::EnergyImport, lenient),
                ("/sensor/w", Quantity::ActivePower, false),
                ("/env/t", Quantity::Temperature, true),
                ("/values/1", Quantity::VoltageL1, false),
                ("/w", Quantity::Frequency, lenient),
            ],
            with_ts.then_some("/ts"),
        );
        check(&b, &[], |p| fast.decode(p), |p| fast.decode(p), |p| slow.decode(p))?;
    }
}
