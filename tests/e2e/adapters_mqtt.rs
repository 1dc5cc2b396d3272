//! Device MQTT adapters end to end: vendor payloads published to a real broker reach the API's live values
//! through the real gateway (Shelly Pro 3EM and plug with a NotifyStatus delta, Decentlab DL-TRS21 via a TTS
//! uplink, a generic JSON device), and bad messages (malformed JSON, a value that is not finite, a number
//! sent as a string, an absurd timestamp, an oversize payload) are counted per reason and dead-lettered.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, QoS};
use tokio::sync::mpsc;
use zw_config::Config;
use zw_model::inventory::JsonField;
use zw_model::{Device, Inventory, Quantity};
use zw_sim::mqtt::faults::MqttFaults;
use zw_sim::shelly::{ShellyConfig, ShellyModel};
use zw_tests::{Stack, free_port};

use crate::support::config::{admin, serving, soil_sensor, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const WAIT: Duration = Duration::from_secs(30);

fn config(stack: &Stack, api: u16) -> Config {
    let mut cfg = serving(stack, api);
    cfg.gateway.deadletter_interval = Duration::from_secs(3600);
    cfg.gateway.max_payload_bytes = 4096;
    let kwh = JsonField::new("/sensor/kwh", Quantity::EnergyImport).scale(1000.0);
    let trs21 = Device::ttn("trs-1", "v3/soil-app@ttn/devices/trs-e2e/up", "dl-trs21");
    cfg.inventory = Inventory::builder()
        .building(
            "schule",
            [
                Device::shelly("em-1", "shellypro3em-e2e"),
                Device::shelly("plug-1", "shellyplugsg3-e2e"),
                Device::json("gen-1", "sensors/e2e/kwh", [kwh]),
            ],
        )
        .park("park", [trs21])
        .build();
    cfg.inventory.users.push(admin());
    cfg
}

/// A test MQTT client: publishes, and forwards everything under `filters`.
async fn client(
    stack: &Stack,
    filters: &[&str],
) -> (AsyncClient, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-adapters",
        filters,
        QoS::AtLeastOnce,
    )
    .await
    .expect("subscribe");
    (sub.client, sub.messages)
}

/// The device messages, in order: full statuses before the delta that is merged onto them.
fn messages() -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
    // The DL-TRS21 codec example 02 01 92 00 03 00 75 80 a1 0c 25: −11.7 kPa, 16.1 °C, 3.109 V.
    let trs21 = "AgGSAAMAdYChDCU=";
    vec![
        // The API's live view shows a device's latest reading, so the energy reading goes last.
        ("shellypro3em-e2e/status/em:0", r#"{"id":0,"a_act_power":951.2,"b_act_power":-48.5,"c_act_power":39.4,"a_voltage":236.1,"total_act_power":942.1}"#.into()),
        ("shellypro3em-e2e/status/emdata:0", r#"{"id":0,"total_act":8436.4,"total_act_ret":12.5}"#.into()),
        ("shellyplugsg3-e2e/status/switch:0", r#"{"id":0,"output":true,"apower":9.5,"voltage":237.0,"current":0.149,"aenergy":{"total":11009.330,"by_minute":[212.395,0,0],"minute_ts":1743801600}}"#.into()),
        ("shellyplugsg3-e2e/events/rpc", format!(r#"{{"src":"shellyplugsg3-e2e","method":"NotifyStatus","params":{{"ts":{now},"switch:0":{{"id":0,"apower":120.5,"aenergy":{{"total":11011.5}}}}}}}}"#)),
        ("v3/soil-app@ttn/devices/trs-e2e/up", format!(r#"{{"received_at":"{}","uplink_message":{{"f_port":1,"f_cnt":7,"frm_payload":"{trs21}"}}}}"#, chrono::Utc::now().to_rfc3339())),
        ("sensors/e2e/kwh", r#"{"sensor":{"kwh":12.5}}"#.into()),
    ]
}

fn value(live: &serde_json::Value, q: &str) -> Option<f64> {
    live["values"][q]["value"].as_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vendor_payloads_reach_the_api_and_bad_ones_are_dead_lettered() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let cfg_path = write(&stack, &config(&stack, api_port))?;
    let (mqtt, mut seen) = client(
        &stack,
        &["zw/v1/deadletter/gateway/#", "zw/v1/readings/schule/em-1"],
    )
    .await;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // Publish until the gateway (subscribing asynchronously) has passed every device's values through.
    let live = |device: &'static str| {
        let url = format!("{api}/api/v1/devices/{device}/live");
        async move {
            get(&url, Some("tok-admin"))
                .await
                .ok()
                .filter(|(s, _)| *s == 200)
                .map(|(_, b)| b)
        }
    };
    let last = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let result = eventually(WAIT, "live values of all four devices", || {
        let (mqtt, last) = (mqtt.clone(), last.clone());
        async move {
            for (topic, payload) in messages() {
                mqtt.publish(topic, QoS::AtLeastOnce, false, payload).await.ok()?;
            }
            let mut bodies = Vec::new();
            for d in ["em-1", "plug-1", "trs-1", "gen-1"] {
                bodies.push(live(d).await.unwrap_or(serde_json::Value::Null));
            }
            *last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = bodies.clone();
            let [em, plug, trs, gen_]: [serde_json::Value; 4] = bodies.try_into().ok()?;
            let ready = value(&em, "energy_import").is_some()
                && value(&plug, "active_power") == Some(120.5)
                && value(&trs, "soil_water_tension").is_some()
                && value(&gen_, "energy_import").is_some();
            ready.then_some((em, plug, trs, gen_))
        }
    })
    .await;
    let (em, plug, trs, gen_) = result.with_context(|| {
        format!(
            "last live values {:?}\n{}",
            last.lock().map(|l| l.clone()),
            all.log_tail()
        )
    })?;
    assert_eq!(value(&em, "energy_import"), Some(8436.4), "{em}");
    assert_eq!(value(&em, "energy_export"), Some(12.5), "{em}");
    // The delta changed power and energy; the voltage is the one of the last full status.
    assert_eq!(value(&plug, "energy_import"), Some(11011.5), "{plug}");
    assert_eq!(value(&plug, "voltage_l1"), Some(237.0), "{plug}");
    assert_eq!(value(&trs, "soil_water_tension"), Some(11.7), "{trs}");
    assert_eq!(value(&trs, "soil_temperature"), Some(16.1), "{trs}");
    assert_eq!(value(&gen_, "energy_import"), Some(12_500.0), "{gen_}");

    // The Pro 3EM's power reading went over the bus as well, export negative.
    let power = loop {
        let (topic, body) = tokio::time::timeout(WAIT, seen.recv())
            .await?
            .context("subscription closed")?;
        let r: serde_json::Value = serde_json::from_slice(&body)?;
        if topic.ends_with("/em-1") && r["values"]["active_power_l2"].is_number() {
            break r;
        }
    };
    assert_eq!(power["values"]["active_power_l2"], -48.5, "{power}");
    assert_eq!(power["values"]["active_power"], 942.1, "{power}");

    // A malformed message: counted per adapter and reason, and sampled to the dead-letter topic.
    mqtt.publish(
        "shellypro3em-e2e/status/em:0",
        QoS::AtLeastOnce,
        false,
        r#"{"a_act_power":"#,
    )
    .await?;
    let letter = loop {
        let (topic, body) = tokio::time::timeout(WAIT, seen.recv())
            .await?
            .context("subscription closed")?;
        if topic.starts_with("zw/v1/deadletter/") {
            assert_eq!(topic, "zw/v1/deadletter/gateway/gw1/em-1");
            break body;
        }
    };
    let letter: serde_json::Value = serde_json::from_slice(&letter)?;
    assert_eq!(letter["reason"], "malformed_json", "{letter}");
    assert_eq!(letter["adapter"], "shelly", "{letter}");
    assert_eq!(letter["payload"], r#"{"a_act_power":"#, "{letter}");
    let text = reqwest::get(format!("{api}/metrics")).await?.text().await?;
    assert!(
        text.contains(r#"zw_gateway_messages_rejected_total{adapter="shelly",reason="malformed_json"} 1"#),
        "{text}"
    );

    // One of each kind of bad input, through the broker: each counted under its reason, the first per
    // device dead-lettered with it (later ones of the same device only counted).
    let bad = [
        // 1e306 kWh is 1e309 Wh: not a finite number.
        ("sensors/e2e/kwh", r#"{"sensor":{"kwh":1e306}}"#.to_owned(), "json", "not_finite"),
        // A number sent as a string where the mapping does not allow it.
        ("sensors/e2e/kwh", r#"{"sensor":{"kwh":"12.5"}}"#.to_owned(), "json", "bad_field"),
        // A timestamp years in the past.
        (
            "v3/soil-app@ttn/devices/trs-e2e/up",
            r#"{"received_at":"2001-01-01T00:00:00Z","uplink_message":{"f_port":1,"frm_payload":"AgGSAAMAdYChDCU="}}"#.to_owned(),
            "ttn",
            "timestamp",
        ),
        // Over gateway.max_payload_bytes.
        (
            "shellyplugsg3-e2e/status/switch:0",
            format!(r#"{{"id":0,"apower":1,"pad":"{}"}}"#, "x".repeat(5000)),
            "shelly",
            "too_large",
        ),
    ];
    for (topic, payload, _, _) in &bad {
        mqtt.publish(*topic, QoS::AtLeastOnce, false, payload.clone())
            .await?;
    }
    let mut letters = std::collections::BTreeMap::new();
    while letters.len() < 3 {
        let (topic, body) = tokio::time::timeout(WAIT, seen.recv())
            .await?
            .context("subscription closed")?;
        if let Some(device) = topic.strip_prefix("zw/v1/deadletter/gateway/gw1/") {
            let letter: serde_json::Value = serde_json::from_slice(&body)?;
            letters.insert(
                device.to_owned(),
                letter["reason"].as_str().unwrap_or_default().to_owned(),
            );
        }
    }
    assert_eq!(
        letters,
        [
            ("gen-1", "not_finite"),
            ("plug-1", "too_large"),
            ("trs-1", "timestamp")
        ]
        .map(|(d, r)| (d.to_owned(), r.to_owned()))
        .into(),
    );
    eventually(WAIT, "every rejection counted by reason", || async {
        let m = metrics(&api).await?;
        bad.iter()
            .all(|(_, _, adapter, reason)| {
                m.contains(&format!(
                    r#"zw_gateway_messages_rejected_total{{adapter="{adapter}",reason="{reason}"}} 1"#
                ))
            })
            .then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;
    all.stop(Duration::from_secs(15)).await?;
    Ok(())
}

/// The simulator's Shelly Pro 3EM, Shelly plug and DL-TRS21 speak formats the gateway reads; its malformed
/// messages on demand are rejected and counted, never published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_shelly_and_tension_sensor_reach_the_api() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = config(&stack, api_port);
    let every = Duration::from_millis(200);
    let shelly = |prefix: &str, model| ShellyConfig {
        prefix: prefix.into(),
        model,
        interval: every,
    };
    cfg.sim = zw_sim::Config {
        modbus_listen: ([127, 0, 0, 1], 0).into(),
        meters: Vec::new(),
        plugs: Vec::new(),
        soil_sensors: Vec::new(),
        shellies: vec![
            shelly("shellypro3em-e2e", ShellyModel::Pro3em),
            shelly("shellyplugsg3-e2e", ShellyModel::Plug),
        ],
        tension_sensors: vec![soil_sensor("trs-e2e", every)],
        mqtt_faults: MqttFaults {
            malformed_every: 4,
            ..MqttFaults::default()
        },
        ..zw_sim::Config::default()
    };
    let cfg_path = write(&stack, &cfg)?;
    let sim = Zaehlwerk::start("sim", &cfg_path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    let live = |device: &'static str, q: &'static str| {
        let url = format!("{api}/api/v1/devices/{device}/live");
        async move {
            let (s, body) = get(&url, Some("tok-admin")).await.ok()?;
            (s == 200).then(|| value(&body, q)).flatten()
        }
    };
    let checks = [
        ("em-1", "active_power_l1"),
        ("em-1", "energy_import"),
        ("plug-1", "energy_import"),
        ("trs-1", "soil_water_tension"),
    ];
    for (device, q) in checks {
        let v = eventually(WAIT, &format!("{device} {q}"), || live(device, q))
            .await
            .with_context(|| format!("sim:\n{}\nall:\n{}", sim.log_tail(), all.log_tail()))?;
        assert!(v.is_finite(), "{device} {q} = {v}");
    }
    let tension = live("trs-1", "soil_water_tension").await.context("tension")?;
    assert!(
        (0.0..=240.0).contains(&tension),
        "tension {tension} kPa is positive and in range"
    );
    let rejected = eventually(WAIT, "malformed sim messages counted", || async {
        let text = metrics(&api).await?;
        text.lines()
            .any(|l| {
                l.starts_with(
                    r#"zw_gateway_messages_rejected_total{adapter="shelly",reason="malformed_json"}"#,
                )
            })
            .then_some(())
    })
    .await;
    rejected.with_context(|| all.log_tail())?;
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}

mod channels;
