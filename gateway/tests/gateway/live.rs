//! The gateway following its `LiveInventory` while it runs, against the simulator's Modbus meters and a
//! real mosquitto: a Modbus meter added is polled within seconds and one removed stops; a Shelly added is
//! subscribed and routed; a Tasmota plug removed is counted as an unknown topic. Nothing is slept for: every
//! wait is for messages on the broker, with a deadline.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use rumqttc::QoS;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use zw_bus::LiveInventory;
use zw_model::inventory::Device;
use zw_model::inventory::fixtures::building_with_meters;
use zw_model::{Inventory, Reading};
use zw_sim::MeterConfig;

const POLL: Duration = Duration::from_millis(200);

fn inventory(modbus: &str, meters: &[(&str, u8)], mqtt: Vec<Device>) -> Inventory {
    let meters: Vec<_> = meters.iter().map(|(d, u)| (*d, modbus, *u, "sdm630")).collect();
    let inv = Inventory::builder()
        .site(building_with_meters("hall", &meters, POLL))
        .household("hh-9", mqtt)
        .build();
    assert!(inv.validate().is_empty(), "{:?}", inv.validate());
    inv
}

/// Readings per device seen until `until` holds for the readings so far or `within` passes.
async fn readings_until(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    within: Duration,
    until: impl Fn(&HashMap<String, usize>) -> bool,
) -> Result<HashMap<String, usize>> {
    let deadline = Instant::now() + within;
    let mut seen: HashMap<String, usize> = HashMap::new();
    while !until(&seen) {
        let Ok(Some((topic, payload))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            return Ok(seen);
        };
        if topic.starts_with("zw/v1/readings/") {
            let r: Reading = serde_json::from_slice(&payload)?;
            *seen.entry(r.device.to_string()).or_default() += 1;
        }
    }
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_added_and_removed_while_running_are_polled_routed_and_dropped() -> Result<()> {
    let stack = zw_tests::Stack::builder().mosquitto().start().await?;
    let login = stack.mqtt_credentials(zw_tests::Role::Gateway);
    let bus = zw_bus::Bus {
        config: zw_bus::Config {
            port: stack.mqtt_port(),
            username: Some(login.username),
            password: Some(login.password.into()),
            ..zw_bus::Config::default()
        },
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let stop = CancellationToken::new();
    let sim_cfg = zw_sim::Config {
        modbus_listen: "127.0.0.1:0".parse()?,
        meters: vec![MeterConfig::sdm630(1), MeterConfig::sdm630(2)],
        plugs: vec![],
        soil_sensors: vec![],
        update_interval: Duration::from_millis(100),
        ..zw_sim::Config::default()
    };
    let sim = zw_sim::start(sim_cfg, &bus, stop.clone()).await?;
    let ep = format!("tcp://{}", sim.modbus_addr);
    let mut sub = zw_tests::mqtt::subscribe(
        "127.0.0.1",
        stack.mqtt_port(),
        "test-live",
        &["zw/v1/readings/#"],
        QoS::AtMostOnce,
    )
    .await?;

    // Start: meter m1 and two Tasmota plugs (read through one wildcard subscription).
    let plug = Device::tasmota("plug-9", "plug9").class("plug");
    let other = Device::tasmota("plug-8", "plug8").class("plug");
    let live = LiveInventory::new(inventory(&ep, &[("m1", 1)], vec![plug.clone(), other.clone()]));
    let registry = prometheus::Registry::new();
    let metrics = zw_gateway::Metrics::register(&registry)?;
    let gw = {
        let (bus, stop, live) = (bus.clone(), stop.clone(), live.clone());
        let cfg = zw_gateway::Config::default();
        tokio::spawn(async move { zw_gateway::run(cfg, live, &bus, metrics, stop).await })
    };
    let seen = readings_until(&mut sub.messages, Duration::from_secs(15), |s| {
        s.contains_key("m1")
    })
    .await?;
    anyhow::ensure!(seen.contains_key("m1"), "m1 never polled: {seen:?}");

    // Add meter m2 and a Shelly; the plug stays.
    let shelly = Device::shelly("sh-9", "shellies/hh9").class("plug");
    live.replace(inventory(
        &ep,
        &[("m1", 1), ("m2", 2)],
        vec![plug, other.clone(), shelly.clone()],
    ));
    let changed = Instant::now();
    let seen = readings_until(&mut sub.messages, Duration::from_secs(10), |s| {
        s.contains_key("m2")
    })
    .await?;
    anyhow::ensure!(
        seen.contains_key("m2"),
        "m2 not polled after it was added: {seen:?}"
    );
    // One poll interval plus a second, as promised (the endpoint's task restarts with its new device).
    let took = changed.elapsed();
    anyhow::ensure!(
        took < POLL + Duration::from_secs(1) + Duration::from_millis(500),
        "m2 took {took:?}"
    );
    // The Shelly's topics are subscribed now: a status of its switch becomes a reading (retried until the
    // subscription is in place, bounded).
    let status = br#"{"id":0,"output":true,"apower":42.5,"voltage":230.0}"#.to_vec();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        sub.client
            .publish(
                "shellies/hh9/status/switch:0",
                QoS::AtLeastOnce,
                false,
                status.clone(),
            )
            .await?;
        let seen = readings_until(&mut sub.messages, Duration::from_millis(500), |s| {
            s.contains_key("sh-9")
        })
        .await?;
        if seen.contains_key("sh-9") {
            break;
        }
        if Instant::now() > deadline {
            bail!("the added Shelly's status never became a reading");
        }
    }

    // Remove m1 and plug-9: m1's readings stop (after those in flight), m2 goes on; plug-9's topic is unknown
    // now (plug-8 keeps the Tasmota wildcard subscribed).
    live.replace(inventory(&ep, &[("m2", 2)], vec![other, shelly]));
    let removed = Instant::now();
    // Readings published before the change may still be on their way: skip the first second.
    readings_until(&mut sub.messages, Duration::from_secs(1), |_| false).await?;
    let after = readings_until(&mut sub.messages, Duration::from_secs(3), |_| false).await?;
    anyhow::ensure!(
        !after.contains_key("m1"),
        "m1 still polled {:?} after removal: {after:?}",
        removed.elapsed()
    );
    anyhow::ensure!(
        after.get("m2").copied().unwrap_or(0) >= 8,
        "m2 stopped with m1: {after:?}"
    );
    let unknown = "zw_gateway_messages_rejected_total{adapter=\"tasmota\",reason=\"unknown_topic\"}";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        sub.client
            .publish(
                "tele/plug9/SENSOR",
                QoS::AtLeastOnce,
                false,
                br#"{"ENERGY":{"Total":1.5,"Power":87}}"#.to_vec(),
            )
            .await?;
        let seen = readings_until(&mut sub.messages, Duration::from_millis(300), |_| false).await?;
        anyhow::ensure!(
            !seen.contains_key("plug-9"),
            "the removed plug still publishes readings"
        );
        let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather())?;
        if text.contains(unknown) {
            assert!(text.contains("zw_gateway_inventory_applied_total 2"), "{text}");
            break;
        }
        if Instant::now() > deadline {
            bail!("the removed plug's message was not counted as unknown:\n{text}");
        }
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), gw).await???;
    Ok(())
}
