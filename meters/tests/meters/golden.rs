//! Golden tests: every telegram and capture in `tests/fixtures/` decodes to its expected values exactly.
//!
//! Expected values are compared as scaled decimals (the JSON number's digits against the record's mantissa and
//! exponent), never as floats, except the derived kWh of an energy in J, which the fixture rounds to 6 places.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::fixtures;
use zw_meters::Decimal;
use zw_meters::mbus::record::{Function, Record, Value};
use zw_meters::mbus::vif::{TimeUnit, Vif};
use zw_meters::mbus::{self, Telegram};
use zw_meters::sml::{self, Obis};
use zw_meters::wmbus::{self, Key};
use zw_model::Quantity;

/// A JSON number as a decimal, from its text (`304.663` → 304663e-3).
fn dec(v: &Json) -> Decimal {
    let s = v.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let m: i64 = format!("{int}{frac}").parse().expect("integer digits");
    Decimal::new(m, -(frac.len() as i8)).normalized()
}

fn decode(t: &Json) -> Telegram {
    let bytes = hex::decode(t["hex"].as_str().expect("hex")).expect("valid hex");
    match (
        t["kind"].as_str(),
        t["key"].as_str(),
        t["payload_predecrypted"].as_bool(),
    ) {
        (Some("wired"), _, _) => mbus::decode(&bytes).expect("wired frame decodes"),
        (_, _, Some(true)) => wmbus::decode_predecrypted(&bytes).expect("pre-decrypted capture decodes"),
        (_, Some(k), _) => wmbus::decode(&bytes, &Key::from_hex(k).expect("key")).expect("decrypts"),
        _ => wmbus::decode(&bytes, &()).expect("plain telegram decodes"),
    }
}

/// The first record of `vif` with `function` and storage `storage`.
fn find(t: &Telegram, vif: Vif, function: Function, storage: u64) -> &Record {
    t.records
        .records
        .iter()
        .find(|r| r.info.vif == vif && r.function == function && r.storage == storage && !r.info.modified)
        .unwrap_or_else(|| panic!("no {vif:?} {function:?} storage {storage}"))
}

fn number(r: &Record) -> Decimal {
    r.decimal()
        .unwrap_or_else(|| panic!("not a number: {r:?}"))
        .normalized()
}

/// Wire bytes of an integer record as wmbusmeters prints them (`000008`, `1100`).
fn hex_digits(r: &Record, width: usize) -> String {
    format!("{:0width$X}", number(r).mantissa)
}

#[test]
fn every_mbus_fixture_decodes_to_its_expected_values() {
    use Function::{DuringError, Instantaneous as Inst, Maximum};
    let all = fixtures("mbus_telegrams.json");
    let mut checked = 0;
    for t in all["telegrams"].as_array().expect("telegrams") {
        let name = t["name"].as_str().expect("name");
        let tg = decode(t);
        let meter = tg.meter.expect("identity");
        for (key, want) in t["expect"].as_object().expect("expect") {
            let cur = |vif| number(find(&tg, vif, Inst, 0));
            let got: Json = match key.as_str() {
                "meter_id" => meter.id.to_string().into(),
                "dll_id" => tg.link.expect("link").id.to_string().into(),
                "manufacturer" => meter.manufacturer.to_string().into(),
                "version" => format!("{:02X}", meter.version).into(),
                "device_type" | "medium_code" => format!("{:02X}", meter.device_type).into(),
                "c_field" => format!("{:02X}", tg.c_field).into(),
                "primary_address" => tg.primary_address.expect("wired").into(),
                "meter_date" => match find(&tg, Vif::Date, Inst, 0).value {
                    Value::Date(d) => d.map(|d| d.to_string()).into(),
                    v => panic!("{v:?}"),
                },
                "target_date" => match find(&tg, Vif::Date, Inst, 1).value {
                    Value::Date(d) => d.map(|d| d.to_string()).into(),
                    v => panic!("{v:?}"),
                },
                "meter_datetime" => match find(&tg, Vif::DateTime, Inst, 0).value {
                    Value::DateTime(d) => d.map(|d| d.to_string()).into(),
                    v => panic!("{v:?}"),
                },
                "total_energy_kwh" => {
                    let e = tg.values()[&Quantity::HeatEnergy] / 1000.0;
                    assert_eq!(
                        (e * 1e6).round() / 1e6,
                        want.as_f64().expect("number"),
                        "{name} {key}"
                    );
                    checked += 1;
                    continue;
                }
                "meter_version" => hex_digits(find(&tg, Vif::ModelVersion, Inst, 0), 6).into(),
                "parameter_set" => hex_digits(find(&tg, Vif::ParameterSet, Inst, 0), 4).into(),
                _ => {
                    let got = match key.as_str() {
                        "total_energy_j" => cur(Vif::EnergyJ),
                        "total_volume_m3" => cur(Vif::Volume),
                        "flow_temperature_c" => cur(Vif::FlowTemperature),
                        "return_temperature_c" => cur(Vif::ReturnTemperature),
                        "temperature_difference_k" => cur(Vif::TemperatureDifference),
                        "power_w" => cur(Vif::PowerW),
                        "power_kw" => Decimal {
                            exp: cur(Vif::PowerW).exp - 3,
                            ..cur(Vif::PowerW)
                        },
                        "max_power_kw" => {
                            let d = number(find(&tg, Vif::PowerW, Maximum, 0));
                            Decimal { exp: d.exp - 3, ..d }
                        }
                        "volume_flow_m3h" => cur(Vif::VolumeFlowPerHour),
                        // iPerl: wmbusmeters calls its instantaneous 02 3B record max_flow_m3h (fixture note).
                        "max_volume_flow_m3h" if name == "sensus_iperl_water_t1" => {
                            cur(Vif::VolumeFlowPerHour)
                        }
                        "max_volume_flow_m3h" => number(find(&tg, Vif::VolumeFlowPerHour, Maximum, 0)),
                        "on_time_h" => cur(Vif::OnTime(TimeUnit::Hours)),
                        "on_time_in_error_h" => {
                            number(find(&tg, Vif::OnTime(TimeUnit::Hours), DuringError, 0))
                        }
                        "actuality_duration_s" => cur(Vif::ActualityDuration(TimeUnit::Seconds)),
                        "error_flags" => cur(Vif::ErrorFlags),
                        "forward_energy_m3c" => cur(Vif::Manufacturer(Some(0x07))),
                        "return_energy_m3c" => cur(Vif::Manufacturer(Some(0x08))),
                        "total_backwards_m3" => {
                            let r = tg
                                .records
                                .records
                                .iter()
                                .find(|r| r.info.backward)
                                .expect("backward record");
                            assert_eq!(r.info.vif, Vif::Volume);
                            number(r)
                        }
                        other => panic!("{name}: no check for expected key {other}"),
                    };
                    assert_eq!(got.normalized(), dec(want), "{name} {key}");
                    checked += 1;
                    continue;
                }
            };
            assert_eq!(&got, want, "{name} {key}");
            checked += 1;
        }
    }
    let expected: usize = all["telegrams"]
        .as_array()
        .expect("telegrams")
        .iter()
        .map(|t| t["expect"].as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!((checked, expected), (56, 56), "every expected value was compared");
}

#[test]
fn canonical_values_of_the_heat_meters() {
    let all = fixtures("mbus_telegrams.json");
    let by_name: HashMap<&str, &Json> = all["telegrams"]
        .as_array()
        .expect("telegrams")
        .iter()
        .map(|t| (t["name"].as_str().expect("name"), t))
        .collect();
    let kam = decode(by_name["kamstrup_multical303_heat_wired"]).values();
    assert_eq!(kam[&Quantity::HeatEnergy], 154_000.0);
    assert_eq!(kam[&Quantity::Volume], 39.49);
    assert_eq!(kam[&Quantity::HeatPower], 1400.0);
    assert_eq!(kam[&Quantity::VolumeFlow], 1.128);
    assert_eq!(
        (kam[&Quantity::FlowTemperature], kam[&Quantity::ReturnTemperature]),
        (29.3, 28.2)
    );
    let sensostar = decode(by_name["engelmann_sensostar_heat_wireless"]).values();
    assert_eq!(sensostar[&Quantity::VolumeFlow], -0.009);
    let gas = decode(by_name["elster_gas_mode5_oms_example"]).values();
    assert_eq!(gas.get(&Quantity::GasVolume), Some(&28_504.27));
    assert_eq!(gas.get(&Quantity::Volume), None);
    let water = decode(by_name["engelmann_waterstar_m_mode5"]).values();
    assert_eq!(
        water.get(&Quantity::Volume),
        Some(&0.106),
        "the backward register is not the total"
    );
}

#[test]
fn wrong_missing_and_unneeded_keys_are_errors_not_values() {
    let all = fixtures("mbus_telegrams.json");
    for t in all["telegrams"].as_array().expect("telegrams") {
        let bytes = hex::decode(t["hex"].as_str().expect("hex")).expect("hex");
        if let Some(k) = t["key"].as_str() {
            let mut wrong = Key::from_hex(k).expect("key");
            wrong.0[15] ^= 1;
            assert!(
                matches!(wmbus::decode(&bytes, &wrong), Err(wmbus::Error::WrongKey(_))),
                "{}",
                t["name"]
            );
            assert!(
                matches!(wmbus::decode(&bytes, &()), Err(wmbus::Error::MissingKey(_))),
                "{}",
                t["name"]
            );
        }
        if t["payload_predecrypted"] == true {
            let key = Key([7; 16]);
            assert!(
                matches!(wmbus::decode(&bytes, &key), Err(wmbus::Error::NotEncrypted(_))),
                "{}",
                t["name"]
            );
        }
    }
}

#[test]
fn every_sml_capture_decodes_to_its_expected_values() {
    let all = fixtures("sml_captures.json");
    for c in all["captures"].as_array().expect("captures") {
        let name = c["name"].as_str().expect("name");
        let bytes = hex::decode(c["data"].as_str().expect("data")).expect("hex");
        let r = sml::decode_file(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.meter_id().as_deref(), c["meter_id"].as_str(), "{name}");
        assert_eq!(
            hex::encode_upper(&r.server_id),
            c["server_id_hex"].as_str().expect("id"),
            "{name}"
        );
        for (key, want) in c["expect"].as_object().expect("expect") {
            if key == "resolution_wh" {
                assert_eq!(r.energy_resolution_wh(), want.as_f64(), "{name}");
                continue;
            }
            if key.ends_with("_without_quirk_fix") {
                continue;
            }
            let code = key.split('_').next().expect("obis");
            let (c_, rest) = code.trim_start_matches("1-0:").split_once('.').expect("C.D.E");
            let (d, e) = rest.split_once('.').expect("D.E");
            let obis = Obis::electricity(
                c_.parse().expect("C"),
                d.parse().expect("D"),
                e.parse().expect("E"),
            );
            match (r.register(obis), want) {
                (None, Json::Null) => {}
                (Some(reg), want) if !want.is_null() => {
                    assert_eq!(reg.value.normalized(), dec(want), "{name} {key}")
                }
                (got, want) => panic!("{name} {key}: got {got:?}, want {want}"),
            }
        }
        for (code, reg) in c["registers"].as_object().expect("registers") {
            let unit = reg["unit"].as_u64().expect("unit") as u8;
            let found = r
                .registers
                .iter()
                .find(|x| x.obis.to_string() == *code)
                .expect("register present");
            assert_eq!(found.unit, Some(unit), "{name} {code}");
            assert_eq!(
                found.value.exp,
                reg["scaler"].as_i64().expect("scaler") as i8,
                "{name} {code}"
            );
        }
    }
}

#[test]
fn dzg_quirk_only_inside_the_affected_serial_ranges() {
    let all = fixtures("sml_captures.json");
    let get = |name: &str| {
        let c = all["captures"]
            .as_array()
            .expect("captures")
            .iter()
            .find(|c| c["name"] == name)
            .expect("capture");
        sml::decode_file(&hex::decode(c["data"].as_str().expect("data")).expect("hex")).expect("decodes")
    };
    let inside = get("dzg_dvs7412_jmberg");
    assert!(inside.dzg_corrected);
    assert_eq!(inside.values()[&Quantity::ActivePower], 356.24);
    let outside = get("dzg_dvs7420_mtr2_neg");
    assert!(!outside.dzg_corrected);
    assert_eq!(outside.values()[&Quantity::ActivePower], -105.5);
    let pinless = get("holley_dtz541_bdba_without_pin");
    assert_eq!(pinless.values().get(&Quantity::ActivePower), None);
    assert_eq!(pinless.values()[&Quantity::EnergyImport], 2_324_000.0);
}
