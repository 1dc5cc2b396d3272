//! The analytics service following its `LiveInventory`, on a real mosquitto: readings of a household that
//! is not in the inventory are ignored and counted; once it is added (as the admin API's change notice
//! makes the process do) its plug gets its class's detectors and an alert opens; once it is retired the
//! alert resolves as `retired`. Every wait is for messages on the broker, with a deadline.

use std::time::Duration;

use anyhow::{Result, bail};
use chrono::{TimeDelta, Utc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zw_bus::{LiveInventory, QoS};
use zw_model::alert::{Alert, AlertKind, AlertState};
use zw_model::{Device, Inventory};

fn town(with_household: bool) -> Inventory {
    let mut b = Inventory::builder().building("hall", [Device::tasmota("p0", "p0").class("plug")]);
    if with_household {
        b = b.household("hh-1", [Device::tasmota("p1", "p1").class("plug")]);
    }
    b.build()
}

/// A batch of 40 readings a minute apart, the newest a minute ago, of each (site, device) at `watts`.
fn batch(devices: &[(&str, &str)], watts: f64) -> Vec<u8> {
    let now = Utc::now();
    let readings: Vec<serde_json::Value> = (0..40)
        .flat_map(|m| {
            let ts = now - TimeDelta::minutes(41 - m);
            devices.iter().map(move |(site, device)| {
                serde_json::json!({"v": 1, "site": site, "device": device, "ts": ts, "values": {"active_power": watts}})
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({"v": 1, "readings": readings})).expect("json")
}

/// Publishes `payload` as a batch every 500 ms until an alert on `device` satisfying `want` arrives.
async fn until_alert(
    sub: &mut zw_tests::mqtt::Subscription,
    payload: Option<Vec<u8>>,
    device: &str,
    want: impl Fn(&Alert) -> bool,
) -> Result<Alert> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(p) = &payload {
            sub.client
                .publish("zw/v1/batches/test", QoS::AtLeastOnce, false, p.clone())
                .await?;
        }
        let round = Instant::now() + Duration::from_millis(500);
        while let Ok(Some((_, body))) = tokio::time::timeout_at(round, sub.messages.recv()).await {
            if let Ok(Some(a)) = Alert::from_json(&body)
                && a.subject.device.as_ref().is_some_and(|d| d.as_str() == device)
                && want(&a)
            {
                return Ok(a);
            }
        }
        if Instant::now() > deadline {
            bail!("no such alert on {device}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_added_while_running_gets_detectors_and_its_alert_retires_with_it() -> Result<()> {
    let stack = zw_tests::Stack::builder().mosquitto().start().await?;
    let login = stack.mqtt_credentials(zw_tests::Role::Analytics);
    let bus = zw_bus::Bus {
        config: zw_bus::Config {
            port: stack.mqtt_port(),
            username: Some(login.username),
            password: Some(login.password.into()),
            ..zw_bus::Config::default()
        },
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let mut sub = zw_tests::mqtt::subscribe(
        "127.0.0.1",
        stack.mqtt_port(),
        "test-alerts",
        &["zw/v1/alerts/+"],
        QoS::AtLeastOnce,
    )
    .await?;
    let live = LiveInventory::new(town(false));
    let registry = prometheus::Registry::new();
    let metrics = zw_analytics::Metrics::register(&registry)?;
    let stop = CancellationToken::new();
    let mut cfg = zw_analytics::Config::default();
    cfg.alerts.restore_wait = Duration::from_millis(500);
    cfg.alerts.restore_quiet = Duration::from_millis(200);
    let over = cfg.limits["plug"].0 + 500.0;
    let task = {
        let (bus, stop, live) = (bus.clone(), stop.clone(), live.clone());
        tokio::spawn(async move { zw_analytics::run(cfg, live, None, &bus, metrics, stop).await })
    };

    // The hall's plug over its limit (this also waits until the service is subscribed); the household's
    // plug in the same batches is not in the inventory: ignored and counted.
    let both = batch(&[("hall", "p0"), ("hh-1", "p1")], over);
    let p0 = until_alert(&mut sub, Some(both), "p0", |a| a.state == AlertState::Open).await?;
    // Over the plug limit in usage hours; outside them (the test may run at night) left on as well.
    let energy = [AlertKind::HighConsumption, AlertKind::LeftOn];
    assert!(energy.contains(&p0.kind), "{p0:?}");
    let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather())?;
    assert!(
        text.contains("zw_analytics_readings_rejected_total{reason=\"unknown_device\"}"),
        "{text}"
    );

    // Onboarded: the household's plug gets the plug limit.
    live.replace(town(true));
    let p1 = batch(&[("hh-1", "p1")], over);
    let opened = until_alert(&mut sub, Some(p1), "p1", |a| a.state == AlertState::Open).await?;
    assert!(
        energy.contains(&opened.kind) && opened.site.as_str() == "hh-1",
        "{opened:?}"
    );

    // Retired: its open alert resolves as retired.
    live.replace(town(false));
    let resolved = until_alert(&mut sub, None, "p1", |a| a.state == AlertState::Resolved).await?;
    assert!(
        resolved.explanation.text.starts_with("resolved: retired"),
        "{}",
        resolved.explanation.text
    );
    let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather())?;
    assert!(text.contains("zw_analytics_inventory_applied_total 2"), "{text}");
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await??;
    Ok(())
}
