//! Issue 16, the gateway's side: no device message can stop the town's data. On a Tasmota device topic the
//! gateway subscribes to, a 10 MB message is refused by the broker at the door, and a retained 512 KiB one
//! (under the broker's limit, over `bus.max_message_bytes`) is rejected by the gateway unparsed: counted as
//! `oversized` in `/metrics`, dead-lettered with a 1 KiB preview, never a reconnect, also when a restarted
//! gateway gets it again as the retained message. After each, a normal reading of the device is on the
//! readings topic within 5 s.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use tokio::time::Instant;
use zw_model::{Device, Inventory};
use zw_tests::{Stack, free_port};

use crate::ingest_oversize::publish_raw;
use crate::support::config::{connected, write};
use crate::support::{Zaehlwerk, eventually, metrics};

const WAIT: Duration = Duration::from_secs(30);
const FIVE_SECONDS: Duration = Duration::from_secs(5);
const SENSOR: &str = "tele/plug-ovs/SENSOR";

/// Publishes a normal SENSOR message with energy `total` kWh until the gateway's reading of it is in `log`
/// (the first one after a start waits for the gateway's subscription); returns how long that took.
async fn reading_arrives(
    mqtt: &rumqttc::AsyncClient,
    log: &zw_tests::mqtt::JsonLog,
    total: f64,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let wh = total * 1000.0;
    eventually(limit, "the normal reading on the readings topic", || async move {
        let payload = format!(r#"{{"ENERGY":{{"Total":{total},"Power":12}}}}"#);
        mqtt.publish(SENSOR, QoS::AtLeastOnce, false, payload)
            .await
            .ok()?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log.iter()
            .any(|(t, r)| t == "zw/v1/readings/home/plug" && r["values"]["energy_import"] == wh)
            .then_some(())
    })
    .await?;
    Ok(start.elapsed())
}

/// The value of the metric line starting with `series` (name and labels), 0 if absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_rejects_oversized_device_messages_and_keeps_reading() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let metrics_port = free_port();
    let mut cfg = connected(&stack);
    cfg.telemetry.metrics_listen = Some(([127, 0, 0, 1], metrics_port).into());
    cfg.inventory = Inventory::builder()
        .building("home", [Device::tasmota("plug", "plug-ovs")])
        .build();
    let cfg_path = write(&stack, &cfg)?;
    let sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-gw-ovs",
        &["zw/v1/readings/#", "zw/v1/deadletter/gateway/#"],
        QoS::AtLeastOnce,
    )
    .await?;
    let mqtt = sub.client.clone();
    let log = sub.into_json_log();
    let url = format!("http://127.0.0.1:{metrics_port}");
    let gateway = Zaehlwerk::start("gateway", &cfg_path, stack.state_dir())?;
    reading_arrives(&mqtt, &log, 1.0, WAIT)
        .await
        .with_context(|| gateway.log_tail())?;

    // 10 MB: over the broker's max_packet_size (1 MiB); the broker disconnects the sender.
    let big = vec![b'x'; 10_000_000];
    assert!(
        !publish_raw(&stack, "gw-big-10mb", SENSOR, big, false).await,
        "the broker took a 10 MB message"
    );
    reading_arrives(&mqtt, &log, 2.0, FIVE_SECONDS)
        .await
        .with_context(|| gateway.log_tail())?;

    // 512 KiB, retained: passed by the broker, over bus.max_message_bytes (256 KiB).
    let mut payload = br#"{"ENERGY":{"Total":99,"Power":1},"pad":""#.to_vec();
    payload.resize(512 * 1024, b'x');
    payload.extend_from_slice(br#""}"#);
    assert!(
        publish_raw(&stack, "gw-big-512k", SENSOR, payload.clone(), true).await,
        "the broker refused a 512 KiB message"
    );
    reading_arrives(&mqtt, &log, 3.0, FIVE_SECONDS)
        .await
        .with_context(|| gateway.log_tail())?;
    let letter = eventually(WAIT, "the oversized dead letter", || async {
        let log = log.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        log.iter()
            .find(|(t, r)| t == "zw/v1/deadletter/gateway/gw1/plug" && r["reason"] == "oversized")
            .map(|(_, r)| r.clone())
    })
    .await?;
    assert_eq!(letter["topic"], SENSOR, "{letter}");
    assert_eq!(letter["adapter"], "tasmota", "{letter}");
    assert_eq!(letter["payload_bytes"], payload.len(), "{letter}");
    assert_eq!(
        letter["payload"].as_str().unwrap_or_default().len(),
        1024,
        "{letter}"
    );
    let text = rejected_once(&url, "the rejection in /metrics")
        .await
        .with_context(|| gateway.log_tail())?;
    assert!(
        value(&text, r#"zw_bus_messages_oversized_total{client="gateway"}"#) >= 1.0,
        "{text}"
    );
    assert_eq!(
        value(&text, r#"zw_bus_connects_total{client="gateway"}"#),
        1.0,
        "{text}"
    );
    assert!(
        !log.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .any(|(_, r)| r["values"]["energy_import"] == 99_000.0),
        "the oversized message was parsed and published"
    );

    // A restarted gateway subscribes again and gets the retained message at once: rejected again, once,
    // and the device's next reading still arrives within 5 s of being sent.
    gateway.stop(Duration::from_secs(15)).await?;
    let gateway = Zaehlwerk::start("gateway", &cfg_path, stack.state_dir())?;
    let text = rejected_once(&url, "the retained message rejected after the restart")
        .await
        .with_context(|| gateway.log_tail())?;
    assert_eq!(
        value(&text, r#"zw_bus_connects_total{client="gateway"}"#),
        1.0,
        "{text}"
    );
    reading_arrives(&mqtt, &log, 4.0, FIVE_SECONDS)
        .await
        .with_context(|| gateway.log_tail())?;
    let text = metrics(&url).await.context("/metrics")?;
    assert_eq!(
        value(&text, r#"zw_bus_connects_total{client="gateway"}"#),
        1.0,
        "{text}"
    );
    gateway.stop(Duration::from_secs(15)).await?;
    Ok(())
}

/// The gateway's metrics page once it shows exactly one oversized Tasmota message rejected.
async fn rejected_once(url: &str, what: &str) -> anyhow::Result<String> {
    eventually(WAIT, what, || async {
        metrics(url).await.filter(|t| {
            value(
                t,
                r#"zw_gateway_messages_rejected_total{adapter="tasmota",reason="oversized"}"#,
            ) == 1.0
        })
    })
    .await
}
