//! Analytics end to end: the real `zaehlwerk analytics` on a real broker and InfluxDB. Readings published on
//! the bus raise a high-consumption alert (retained on `zw/v1/alerts/{id}`, stored in InfluxDB) and a tree
//! status (`zw/v1/trees/{tree}`); an acknowledgement from `zw/v1/commands/alerts/ack` is applied; after a
//! restart the alert is taken back, not opened again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use zw_analytics::config::Watts;
use zw_config::Config;
use zw_model::{Device, Inventory, Tree};
use zw_tests::Stack;

use crate::fixture::WAIT;
use crate::support::config::{connected, write};
use crate::support::{Zaehlwerk, eventually};

fn config(stack: &Stack) -> Config {
    let mut cfg = connected(stack);
    let a = &mut cfg.analytics;
    a.tick_interval = Duration::from_millis(200);
    a.power.smoothing = Duration::from_secs(1);
    a.power.hold = Duration::from_secs(2);
    a.power.clear_hold = Duration::from_secs(2);
    a.power.refresh = Duration::from_secs(1);
    a.limits = BTreeMap::from([("plug".to_owned(), Watts(100.0))]);
    a.left_on.classes = Vec::new();
    a.trees.interval = Duration::from_secs(1);
    a.alerts.restore_wait = Duration::from_secs(3);
    a.alerts.restore_quiet = Duration::from_millis(500);
    let sensor = Device::ttn("soil-1", "v3/a@ttn/devices/soil-1/up", "lse01").class("soil_sensor");
    cfg.inventory = Inventory::builder()
        .household("hh-1", [Device::tasmota("plug-1", "plug-1").class("plug")])
        .park("park", [sensor])
        .tree(Tree {
            planted: 2022,
            ..Tree::new("t-1", "park", &["soil-1"])
        })
        .build();
    cfg
}

type Retained = Arc<Mutex<HashMap<String, serde_json::Value>>>;

/// An independent MQTT client: publishes readings every 200 ms and keeps the latest alert and tree payloads.
async fn client(stack: &Stack) -> (AsyncClient, Retained) {
    let opts = zw_tests::mqtt::options("e2e-analytics", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    let seen: Retained = Arc::default();
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Ok(ev) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev {
                let v = serde_json::from_slice(&p.payload).unwrap_or(serde_json::Value::Null);
                sink.lock().map(|mut m| m.insert(p.topic.clone(), v)).ok();
            }
        }
    });
    for f in ["zw/v1/alerts/+", "zw/v1/trees/+"] {
        client.subscribe(f, QoS::AtLeastOnce).await.expect("subscribe");
    }
    let publisher = client.clone();
    tokio::spawn(async move {
        for k in 0u32.. {
            let ts = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
            let plug = format!(
                r#"{{"v":1,"site":"hh-1","device":"plug-1","ts":"{ts}","values":{{"active_power":500.0}}}}"#
            );
            let soil = format!(
                r#"{{"v":1,"site":"park","device":"soil-1","ts":"{ts}","values":{{"soil_moisture":{},"battery_voltage":3.6}}}}"#,
                20.0 + f64::from(k % 7) * 0.01
            );
            for (t, p) in [
                ("zw/v1/readings/hh-1/plug-1", plug),
                ("zw/v1/readings/park/soil-1", soil),
            ] {
                if publisher.publish(t, QoS::AtMostOnce, false, p).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    (client, seen)
}

fn get(seen: &Retained, topic: &str) -> Option<serde_json::Value> {
    seen.lock().ok()?.get(topic).cloned().filter(|v| !v.is_null())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_and_tree_status_are_published_acknowledged_and_survive_a_restart() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let cfg = write(&stack, &config(&stack))?;
    let (mqtt, seen) = client(&stack).await;
    let analytics = Zaehlwerk::start("analytics", &cfg, stack.state_dir())?;
    let topic = "zw/v1/alerts/high_consumption.hh-1.plug-1";

    let alert = eventually(WAIT, "an open high-consumption alert", || async {
        get(&seen, topic).filter(|a| a["state"] == "open")
    })
    .await
    .with_context(|| analytics.log_tail())?;
    assert_eq!(alert["kind"], "high_consumption");
    assert_eq!(alert["category"], "energy");
    assert_eq!(alert["subject"]["device"], "plug-1");
    assert_eq!(alert["explanation"]["unit"], "W");
    assert_eq!(alert["explanation"]["expected"], 100.0);
    let text = alert["explanation"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(text.contains("above the 100 W limit for class plug"), "{text}");

    let tree = eventually(WAIT, "a tree status", || async { get(&seen, "zw/v1/trees/t-1") }).await?;
    assert_eq!(tree["site"], "park");
    assert_eq!(tree["sensors"][0]["device"], "soil-1");
    assert!(tree["urgency"]["rank"] == 1 && tree["young"] == true, "{tree}");

    // Acknowledge, as the API would.
    let ack = format!(
        r#"{{"alert":"high_consumption.hh-1.plug-1","by":"fm","ts":"{}"}}"#,
        Utc::now().to_rfc3339()
    );
    mqtt.publish("zw/v1/commands/alerts/ack", QoS::AtLeastOnce, false, ack)
        .await?;
    eventually(WAIT, "the acknowledged alert", || async {
        get(&seen, topic).filter(|a| a["state"] == "acknowledged" && a["acknowledged_by"] == "fm")
    })
    .await?;

    // The change history is in InfluxDB.
    let influx = crate::support::influx(&stack)?;
    eventually(WAIT, "alert points in InfluxDB", || async {
        let s = influx
            .query(
                "SELECT count(observed) FROM alerts WHERE site = $site",
                &[("site", "hh-1")],
            )
            .await
            .ok()?;
        s.first()?.values.first()?.get(1)?.as_u64().filter(|n| *n > 0)
    })
    .await?;

    // Restart: the alert is taken back (same opening, still acknowledged) and keeps being refreshed.
    analytics.stop(Duration::from_secs(15)).await?;
    let before = get(&seen, topic).context("retained alert")?;
    let analytics = Zaehlwerk::start("analytics", &cfg, stack.state_dir())?;
    let after = eventually(WAIT, "a refresh after the restart", || async {
        get(&seen, topic).filter(|a| a["updated_at"] != before["updated_at"])
    })
    .await
    .with_context(|| analytics.log_tail())?;
    assert_eq!(after["opened_at"], before["opened_at"], "{after}");
    assert_eq!(after["state"], "acknowledged", "{after}");
    analytics.stop(Duration::from_secs(15)).await
}
