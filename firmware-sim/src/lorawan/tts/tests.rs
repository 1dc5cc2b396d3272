//! Unit tests of the TTS uplink: shape, omitted zero fields, airtime and determinism.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::time::at;

fn device(seed: u64) -> Lse01Device {
    let cfg = SoilConfig {
        application: "soil-app".into(),
        tenant: "ttn".into(),
        device_id: "lse01-park-1".into(),
        interval: Duration::from_secs(5),
    };
    Lse01Device::new(&cfg, seed, at("2026-05-01T10:00:00Z"))
}

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

#[test]
fn uplink_has_the_tts_shape() {
    let mut dev = device(1);
    assert_eq!(dev.topic(), "v3/soil-app@ttn/devices/lse01-park-1/up");
    let v = parse(
        &dev.uplink(at("2026-05-01T10:00:01.123456789Z"))
            .expect("serializes"),
    );
    let ids = &v["end_device_ids"];
    assert_eq!(ids["device_id"], "lse01-park-1");
    assert_eq!(ids["application_ids"]["application_id"], "soil-app");
    for (key, len) in [("dev_eui", 16), ("join_eui", 16), ("dev_addr", 8)] {
        let s = ids[key].as_str().unwrap_or("");
        assert!(
            s.len() == len && s.chars().all(|c| c.is_ascii_hexdigit()),
            "{key} = {s}"
        );
    }
    assert!(
        v["correlation_ids"][0]
            .as_str()
            .is_some_and(|c| c.starts_with("as:up:") && c.len() == 32)
    );
    assert_eq!(v["received_at"], "2026-05-01T10:00:01.123456789Z");
    let up = &v["uplink_message"];
    assert_eq!(up["f_port"], 2);
    assert!(up.get("f_cnt").is_none(), "f_cnt 0 is omitted like TTS does");
    assert_eq!(
        BASE64
            .decode(up["session_key_id"].as_str().unwrap_or(""))
            .map(|k| k.len())
            .ok(),
        Some(16)
    );
    let payload = BASE64
        .decode(up["frm_payload"].as_str().unwrap_or(""))
        .expect("base64");
    assert_eq!(payload.len(), 11);
    assert_eq!(
        up["decoded_payload"],
        decoded_payload(&payload).expect("11 bytes")
    );
    let rx = &up["rx_metadata"][0];
    for key in [
        "gateway_ids",
        "time",
        "timestamp",
        "rssi",
        "channel_rssi",
        "snr",
        "uplink_token",
    ] {
        assert!(rx.get(key).is_some(), "rx_metadata.{key} missing in {rx}");
    }
    assert!(rx["rssi"].is_i64() && rx["timestamp"].is_u64());
    let settings = &up["settings"];
    assert!(
        settings["frequency"]
            .as_str()
            .is_some_and(|f| f.parse::<u64>().is_ok()),
        "frequency is a string"
    );
    assert_eq!(settings["data_rate"]["lora"]["spreading_factor"], 7);
    assert_eq!(settings["coding_rate"], "4/5");
    assert_eq!(up["consumed_airtime"], "0.061696s");
    let times = [
        rx["time"].as_str(),
        up["received_at"].as_str(),
        v["received_at"].as_str(),
    ];
    let times: Vec<DateTime<Utc>> = times.iter().map(|t| at(t.unwrap_or(""))).collect();
    assert!(
        times[0] < times[1] && times[1] < times[2],
        "gateway < NS < AS: {times:?}"
    );
}

#[test]
fn frame_counter_increments_and_appears_from_one() {
    let mut dev = device(2);
    let t = at("2026-05-01T10:00:00Z");
    let counts: Vec<Option<u64>> = (0..4)
        .map(|i| {
            parse(&dev.uplink(t + TimeDelta::seconds(i * 5)).expect("ok"))["uplink_message"]["f_cnt"].as_u64()
        })
        .collect();
    assert_eq!(counts, [None, Some(1), Some(2), Some(3)]);
}

#[test]
fn same_seed_same_uplinks() {
    let t = at("2026-05-01T12:00:00Z");
    let (mut a, mut b, mut c) = (device(5), device(5), device(6));
    let (ua, ub, uc) = (
        a.uplink(t).expect("ok"),
        b.uplink(t).expect("ok"),
        c.uplink(t).expect("ok"),
    );
    assert_eq!(ua, ub);
    assert_ne!(ua, uc);
}
