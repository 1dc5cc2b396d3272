//! Inventory-driven identity end to end: two channels of one Shelly Pro 2PM are two devices, generic JSON
//! devices on one topic pattern are told apart by the `+` level (the device id, or an explicit
//! `topic_key`), a topic under the pattern that names no device is counted as unknown, and each device's
//! retained status carries `last_seen`, also set by the last will (`online` = `false`).

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use zw_config::Config;
use zw_model::inventory::JsonField;
use zw_model::{Device, Inventory, Quantity};
use zw_tests::{Stack, free_port};

use super::{WAIT, client, value};
use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

fn config(stack: &Stack, api: u16) -> Config {
    let mut cfg = serving(stack, api);
    let watts = || [JsonField::new("/w", Quantity::ActivePower)];
    let pattern = "sensors/+/state";
    cfg.inventory = Inventory::builder()
        .building(
            "depot",
            [
                Device::shelly("pm-a", "shellypro2pm-e2e"),
                Device::shelly("pm-b", "shellypro2pm-e2e").channel(1),
                Device::json("room-1", pattern, watts()),
                Device::json("hall", pattern, watts()).topic_key("h1"),
            ],
        )
        .build();
    cfg.inventory.users.push(admin());
    cfg
}

const MESSAGES: [(&str, &str); 4] = [
    (
        "shellypro2pm-e2e/status/switch:0",
        r#"{"id":0,"output":true,"apower":10.5,"voltage":230.1,"aenergy":{"total":100.0}}"#,
    ),
    (
        "shellypro2pm-e2e/status/switch:1",
        r#"{"id":1,"output":true,"apower":20.5,"voltage":230.2,"aenergy":{"total":200.0}}"#,
    ),
    ("sensors/room-1/state", r#"{"w":5.5}"#),
    ("sensors/h1/state", r#"{"w":7.5}"#),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shelly_channels_and_json_patterns_are_distinct_devices_with_last_seen() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let cfg_path = write(&stack, &config(&stack, api_port))?;
    let (mqtt, mut seen) = client(&stack, &["zw/v1/status/device/pm-b"]).await;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    let live = |device: &'static str| {
        let url = format!("{api}/api/v1/devices/{device}/live");
        async move {
            let (s, body) = get(&url, Some("tok-admin")).await.ok()?;
            (s == 200).then(|| value(&body, "active_power")).flatten()
        }
    };
    let powers = eventually(WAIT, "live power of all four devices", || {
        let mqtt = mqtt.clone();
        async move {
            for (topic, payload) in MESSAGES {
                mqtt.publish(topic, QoS::AtLeastOnce, false, payload).await.ok()?;
            }
            let mut p = Vec::new();
            for d in ["pm-a", "pm-b", "room-1", "hall"] {
                p.push(live(d).await?);
            }
            Some(p)
        }
    })
    .await
    .with_context(|| all.log_tail())?;
    assert_eq!(
        powers,
        [10.5, 20.5, 5.5, 7.5],
        "each device reads its own channel / topic level"
    );

    // A topic under the pattern naming no device: counted as unknown under the json adapter.
    mqtt.publish("sensors/nobody/state", QoS::AtLeastOnce, false, r#"{"w":1}"#)
        .await?;
    eventually(WAIT, "unknown pattern topic counted", || async {
        let m = metrics(&api).await?;
        m.contains(r#"zw_gateway_messages_rejected_total{adapter="json",reason="unknown_topic"} 1"#)
            .then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // The last will: both channels go offline, and the status says when the device was last heard of.
    let before = chrono::Utc::now();
    mqtt.publish("shellypro2pm-e2e/online", QoS::AtLeastOnce, false, "false")
        .await?;
    let status = loop {
        let (_, body) = tokio::time::timeout(WAIT, seen.recv())
            .await
            .with_context(|| all.log_tail())?
            .context("subscription closed")?;
        let s = zw_model::status::DeviceStatus::from_json(&body).map_err(anyhow::Error::msg)?;
        if s.state == zw_model::status::HealthState::Offline {
            break s;
        }
        assert!(s.last_seen.is_some(), "an online device was heard of: {s:?}");
    };
    let last_seen = status.last_seen.context("offline status without last_seen")?;
    // Same clock (this machine), full precision: every earlier message arrived before `before`.
    assert!(
        last_seen >= before,
        "last_seen {last_seen} is the last will's arrival, after {before}"
    );
    assert_eq!(status.source, "shelly");
    all.stop(Duration::from_secs(15)).await?;
    Ok(())
}
