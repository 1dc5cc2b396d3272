//! The receiver core on the golden telegrams of `meters/tests/fixtures` (their expected values are in the
//! fixture file): values in canonical units, duplicates, keys right, wrong and missing, unknown meters.

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::{Device, Inventory, Quantity};

use super::*;

const FIXTURES: &str = include_str!("../../../meters/tests/fixtures/mbus_telegrams.json");

fn fixture(name: &str) -> (String, serde_json::Value) {
    let all: serde_json::Value = serde_json::from_str(FIXTURES).expect("fixture file");
    let t = all["telegrams"]
        .as_array()
        .expect("telegrams")
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    (t["hex"].as_str().expect("hex").to_owned(), t.clone())
}

const ELSTER_KEY: &str = "0102030405060708090A0B0C0D0E0F11";

fn inventory(elster_key: Option<&str>) -> Inventory {
    Inventory::builder()
        .building(
            "schule",
            [
                Device::wmbus("heat-1", "EFE", "21750444", None),
                Device::wmbus("gas-1", "ELS", "12345678", elster_key),
            ],
        )
        .build()
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000, 0).expect("time")
}

fn reading(o: Outcome) -> (String, zw_model::reading::Values) {
    match o {
        Outcome::Reading { meter, values } => (meter.device.to_string(), values),
        other => panic!("expected a reading, got {other:?}"),
    }
}

#[test]
fn an_unencrypted_heat_meter_gives_its_values_in_canonical_units() {
    let (hex, f) = fixture("engelmann_sensostar_heat_wireless");
    let mut r = Receiver::new(&WmbusConfig::default(), &inventory(None));
    let (device, v) = reading(r.handle(hex.as_bytes(), t0()));
    assert_eq!(device, "heat-1");
    let e = &f["expect"];
    let kwh = e["total_energy_kwh"].as_f64().expect("test data");
    assert_eq!(v.get(&Quantity::HeatEnergy), Some(&(kwh * 1000.0)));
    assert_eq!(v.get(&Quantity::Volume), e["total_volume_m3"].as_f64().as_ref());
    assert_eq!(
        v.get(&Quantity::VolumeFlow),
        e["volume_flow_m3h"].as_f64().as_ref()
    );
    assert_eq!(
        v.get(&Quantity::FlowTemperature),
        e["flow_temperature_c"].as_f64().as_ref()
    );
    assert_eq!(
        v.get(&Quantity::ReturnTemperature),
        e["return_temperature_c"].as_f64().as_ref()
    );
}

#[test]
fn the_same_telegram_from_a_second_receiver_is_a_duplicate_until_the_window_ends() {
    let (hex, _) = fixture("engelmann_sensostar_heat_wireless");
    let cfg = WmbusConfig::default();
    let mut r = Receiver::new(&cfg, &inventory(None));
    assert!(matches!(r.handle(hex.as_bytes(), t0()), Outcome::Reading { .. }));
    let json = format!(r#"{{"telegram":"{}","rssi":-80}}"#, hex.to_lowercase());
    assert_eq!(
        r.handle(json.as_bytes(), t0() + TimeDelta::seconds(2)),
        Outcome::Duplicate
    );
    let later = t0() + TimeDelta::from_std(cfg.duplicate_window).expect("test data") + TimeDelta::seconds(5);
    assert!(matches!(r.handle(hex.as_bytes(), later), Outcome::Reading { .. }));
}

#[test]
fn a_format_a_telegram_and_its_stripped_copy_are_duplicates() {
    let (hex, _) = fixture("elster_gas_mode5_oms_example");
    let bytes = hex::decode(&hex).expect("test data");
    let mut stripped = [0u8; 256];
    let (n, _) = zw_meters::wmbus::link::normalize(&bytes, &mut stripped).expect("test data");
    let mut r = Receiver::new(&WmbusConfig::default(), &inventory(Some(ELSTER_KEY)));
    assert!(matches!(r.handle(hex.as_bytes(), t0()), Outcome::Reading { .. }));
    let copy = hex::encode(&stripped[..n]);
    assert_eq!(r.handle(copy.as_bytes(), t0()), Outcome::Duplicate);
}

#[test]
fn an_encrypted_gas_meter_decodes_with_its_key_and_a_wrong_key_gives_no_values() {
    let (hex, f) = fixture("elster_gas_mode5_oms_example");
    assert_eq!(f["key"], ELSTER_KEY);
    let mut r = Receiver::new(&WmbusConfig::default(), &inventory(Some(ELSTER_KEY)));
    let (device, v) = reading(r.handle(hex.as_bytes(), t0()));
    assert_eq!(device, "gas-1");
    assert_eq!(
        v.get(&Quantity::GasVolume),
        f["expect"]["total_volume_m3"].as_f64().as_ref()
    );
    assert_eq!(v.len(), 1, "{v:?}");

    let wrong = "0102030405060708090A0B0C0D0E0F12";
    let mut r = Receiver::new(&WmbusConfig::default(), &inventory(Some(wrong)));
    let first = r.handle(hex.as_bytes(), t0());
    assert!(
        matches!(&first, Outcome::Key { reason: "wrong_key", first: true, meter } if meter.device.as_str() == "gas-1"),
        "{first:?}"
    );
    assert_eq!(first.label(), "wrong_key");
    let again = r.handle(hex.as_bytes(), t0() + TimeDelta::hours(1));
    assert!(
        matches!(
            again,
            Outcome::Key {
                reason: "wrong_key",
                first: false,
                ..
            }
        ),
        "{again:?}"
    );

    let mut r = Receiver::new(&WmbusConfig::default(), &inventory(None));
    let missing = r.handle(hex.as_bytes(), t0());
    assert!(
        matches!(
            missing,
            Outcome::Key {
                reason: "missing_key",
                ..
            }
        ),
        "{missing:?}"
    );
}

#[test]
fn meters_not_in_the_inventory_are_listed_encrypted_or_not() {
    let mut r = Receiver::new(&WmbusConfig::default(), &Inventory::default());
    let (water, _) = fixture("sensus_iperl_water_t1");
    let Outcome::Unknown(h) = r.handle(water.as_bytes(), t0()) else {
        panic!("expected unknown");
    };
    assert!(h.new);
    assert_eq!(
        (
            h.meter.manufacturer.as_str(),
            h.meter.id.as_str(),
            h.meter.medium,
            h.meter.device_type.as_str()
        ),
        ("SEN", "33225544", "water", "07")
    );
    let (gas, _) = fixture("elster_gas_mode5_oms_example");
    let Outcome::Unknown(h) = r.handle(gas.as_bytes(), t0()) else {
        panic!("expected unknown");
    };
    assert_eq!(
        (h.meter.manufacturer.as_str(), h.meter.id.as_str(), h.meter.medium),
        ("ELS", "12345678", "gas")
    );
    let Outcome::Unknown(h) = r.handle(water.as_bytes(), t0() + TimeDelta::hours(1)) else {
        panic!("expected unknown");
    };
    assert!(!h.new);
    assert_eq!(h.meter.count, 2);
    assert_eq!(r.unknown().len(), 2);
}

#[test]
fn every_wireless_fixture_gives_an_outcome_without_panicking_and_garbage_is_rejected() {
    let all: serde_json::Value = serde_json::from_str(FIXTURES).expect("test data");
    let mut r = Receiver::new(&WmbusConfig::default(), &Inventory::default());
    for t in all["telegrams"]
        .as_array()
        .expect("test data")
        .iter()
        .filter(|t| t["kind"] == "wireless")
    {
        let o = r.handle(t["hex"].as_str().expect("test data").as_bytes(), t0());
        assert!(matches!(o, Outcome::Unknown(_)), "{}: {o:?}", t["name"]);
    }
    assert!(matches!(r.handle(b"not hex", t0()), Outcome::BadPayload(_)));
    assert!(matches!(r.handle(b"0A44", t0()), Outcome::Undecodable(_)));
}

#[test]
fn the_key_is_neither_in_debug_output_nor_serialized() {
    let inv = inventory(Some(ELSTER_KEY));
    let debug = format!("{inv:?}");
    assert!(!debug.contains(ELSTER_KEY), "{debug}");
    let json = serde_json::to_string(&inv).expect("test data");
    assert!(
        !json.contains(ELSTER_KEY) && !json.contains("0102030405"),
        "{json}"
    );
    assert!(!format!("{:?}", Receiver::new(&WmbusConfig::default(), &inv)).contains("0102"));
}

#[test]
fn an_updated_inventory_brings_meters_and_keys_without_a_new_receiver() {
    let (hex, _) = fixture("elster_gas_mode5_oms_example");
    let without_gas = Inventory::builder()
        .building("schule", [Device::wmbus("heat-1", "EFE", "21750444", None)])
        .build();
    let mut r = Receiver::new(&WmbusConfig::default(), &without_gas);
    assert!(matches!(r.handle(hex.as_bytes(), t0()), Outcome::Unknown(_)));

    // The meter is added with a wrong key: known now, counted as a key problem (first time).
    r.update(&inventory(Some("0102030405060708090A0B0C0D0E0F12")));
    assert_eq!(r.meters(), 2);
    let later = t0() + TimeDelta::hours(1);
    assert!(matches!(
        r.handle(hex.as_bytes(), later),
        Outcome::Key {
            reason: "wrong_key",
            first: true,
            ..
        }
    ));
    // The key is corrected: values.
    r.update(&inventory(Some(ELSTER_KEY)));
    let (device, _) = reading(r.handle(hex.as_bytes(), later + TimeDelta::hours(1)));
    assert_eq!(device, "gas-1");
    // The meter is removed: unknown again.
    r.update(&without_gas);
    assert_eq!(r.meters(), 1);
    assert!(matches!(
        r.handle(hex.as_bytes(), later + TimeDelta::hours(2)),
        Outcome::Unknown(_)
    ));
}
