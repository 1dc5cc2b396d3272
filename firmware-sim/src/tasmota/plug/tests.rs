//! Unit tests of the Tasmota plug: payload shape and number formats, counters, determinism.

use super::*;
use crate::time::at;

/// The raw text of a JSON number field, e.g. `11.302` for `"Total"`.
fn raw_field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let start = json.find(&pat).map(|i| i + pat.len()).unwrap_or(json.len());
    let rest = &json[start..];
    &rest[..rest.find([',', '}']).unwrap_or(rest.len())]
}

fn decimals(raw: &str) -> usize {
    raw.split_once('.').map_or(0, |(_, d)| d.len())
}

#[test]
fn sensor_payload_has_tasmotas_keys_order_and_formats() {
    let mut plug = TasmotaPlug::new(5, at("2026-11-21T10:00:00Z"));
    let json = plug.sensor_payload(at("2026-11-21T10:20:54Z"));
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["Time"], "2026-11-21T11:20:54", "local time, no offset");
    let keys = [
        "TotalStartTime",
        "Total",
        "Yesterday",
        "Today",
        "Period",
        "Power",
        "ApparentPower",
        "ReactivePower",
        "Factor",
        "Voltage",
        "Current",
    ];
    let energy = v["ENERGY"].as_object().expect("ENERGY object");
    assert_eq!(energy.keys().count(), keys.len());
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| json.find(&format!("\"{k}\":")).unwrap_or(0))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "key order {positions:?} in {json}"
    );
    // Table: (key, decimals as Tasmota formats them).
    let formats = [
        ("Total", 3),
        ("Yesterday", 3),
        ("Today", 3),
        ("Period", 0),
        ("Power", 0),
        ("ApparentPower", 0),
    ];
    let formats = formats.into_iter().chain([
        ("ReactivePower", 0),
        ("Factor", 2),
        ("Voltage", 0),
        ("Current", 3),
    ]);
    for (key, places) in formats {
        let raw = raw_field(&json, key);
        assert_eq!(decimals(raw), places, "{key} = {raw} in {json}");
        assert!(energy[key].is_number(), "{key}");
    }
    let start = energy["TotalStartTime"].as_str().unwrap_or("");
    assert!(
        chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M:%S").is_ok(),
        "{start}"
    );
}

#[test]
fn electrical_values_are_consistent() {
    let mut plug = TasmotaPlug::new(1, at("2026-11-21T06:00:00Z"));
    for i in 1..200 {
        let v: serde_json::Value = serde_json::from_str(
            &plug.sensor_payload(at("2026-11-21T06:00:00Z") + TimeDelta::seconds(i * 97)),
        )
        .expect("valid JSON");
        let e = &v["ENERGY"];
        let f = |k: &str| e[k].as_f64().unwrap_or(f64::NAN);
        assert!((225.0..=235.0).contains(&f("Voltage")), "{e}");
        assert!((0.0..=1.0).contains(&f("Factor")), "{e}");
        assert!(
            (f("Voltage") * f("Current") - f("ApparentPower")).abs() <= 2.0,
            "{e}"
        );
        assert!((0.0..2500.0).contains(&f("Power")), "{e}");
    }
}

#[test]
fn periods_add_up_to_total_and_today_rolls_over_at_local_midnight() {
    let t0 = at("2026-11-21T20:00:00Z"); // 21:00 local
    let mut plug = TasmotaPlug::new(9, t0);
    let first_total = plug.total_kwh();
    let mut periods = 0.0;
    let mut last_today = 0.0;
    let mut rolled = false;
    for i in 1..=1000 {
        let json = plug.sensor_payload(t0 + TimeDelta::seconds(i * 30)); // until 05:20 local
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        periods += v["ENERGY"]["Period"].as_f64().unwrap_or(f64::NAN);
        let today = v["ENERGY"]["Today"].as_f64().unwrap_or(f64::NAN);
        if today < last_today {
            rolled = true;
            assert_eq!(
                v["ENERGY"]["Yesterday"].as_f64(),
                Some(last_today),
                "Yesterday = previous Today"
            );
        }
        last_today = today;
    }
    assert!(rolled, "Today never restarted");
    let grown_wh = (plug.total_kwh() - first_total) * 1000.0;
    assert!(
        grown_wh > 0.0 && (periods - grown_wh).abs() < 1.0,
        "{periods} vs {grown_wh}"
    );
}

#[test]
fn same_seed_same_payloads() {
    let t = at("2026-11-21T10:00:00Z");
    let (mut a, mut b, mut c) = (
        TasmotaPlug::new(3, t),
        TasmotaPlug::new(3, t),
        TasmotaPlug::new(4, t),
    );
    let later = t + TimeDelta::minutes(90);
    assert_eq!(a.sensor_payload(later), b.sensor_payload(later));
    assert_ne!(a.sensor_payload(later), c.sensor_payload(later));
}

#[test]
fn fridge_cycles_and_kettle_boils_sometimes() {
    let t0 = at("2026-11-23T06:00:00Z");
    let samples: Vec<f64> = (0..16 * 360)
        .map(|i| plug_load(2, t0 + TimeDelta::seconds(i * 10)).0)
        .collect();
    assert!(samples.iter().any(|&p| p < 5.0), "compressor off");
    assert!(
        samples.iter().any(|&p| (80.0..100.0).contains(&p)),
        "compressor on"
    );
    assert!(samples.iter().any(|&p| p > 1500.0), "kettle");
}

#[test]
fn state_reports_wifi_quality_in_percent_and_signal_in_dbm() {
    for (dbm, pct) in [(-78, 44), (-50, 100), (-40, 100), (-100, 0), (-105, 0), (-68, 64)] {
        assert_eq!(rssi_quality(dbm), pct, "{dbm} dBm");
    }
    let plug = TasmotaPlug::new(1, at("2026-11-21T10:00:00Z"));
    let json = plug
        .state_payload(at("2026-11-22T11:02:03Z"))
        .expect("serializes");
    let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(v["Uptime"], "1T01:02:03");
    assert_eq!(v["UptimeSec"], 90_123);
    assert_eq!(v["POWER"], "ON");
    let (rssi, signal) = (v["Wifi"]["RSSI"].as_i64(), v["Wifi"]["Signal"].as_i64());
    assert_eq!(rssi, signal.map(rssi_quality), "{json}");
    for key in ["Time", "Heap", "SleepMode", "Sleep", "LoadAvg", "MqttCount"] {
        assert!(v.get(key).is_some(), "{key} missing in {json}");
    }
}
