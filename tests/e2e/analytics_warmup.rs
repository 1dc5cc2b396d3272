//! A restart does not cost the trees their trend: analytics reads each tree sensor's recent soil readings
//! from InfluxDB at start, so the first tree status already has a drying trend and a forecast, before any
//! live reading arrives.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use zw_config::Config;
use zw_model::{Device, Inventory, Tree};
use zw_tests::Stack;

use crate::fixture::WAIT;
use crate::support::config::{connected, write};
use crate::support::{Zaehlwerk, eventually};

fn config(stack: &Stack) -> Config {
    let mut cfg = connected(stack);
    cfg.analytics.tick_interval = Duration::from_millis(200);
    cfg.analytics.trees.interval = Duration::from_secs(1);
    let sensor = Device::ttn("soil-1", "v3/a@ttn/devices/soil-1/up", "lse01").class("soil_sensor");
    cfg.inventory = Inventory::builder()
        .park("park", [sensor])
        .tree(Tree::new("t-1", "park", &["soil-1"]))
        .build();
    cfg
}

/// The latest retained status of tree `t-1`, read by a fresh subscriber.
async fn tree_status(stack: &Stack) -> Option<serde_json::Value> {
    let opts = zw_tests::mqtt::options("e2e-warmup", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut events) = AsyncClient::new(opts, 10);
    client.subscribe("zw/v1/trees/t-1", QoS::AtMostOnce).await.ok()?;
    let mut found = None;
    while let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_millis(500), events.poll()).await {
        if let Event::Incoming(Packet::Publish(p)) = ev {
            found = serde_json::from_slice(&p.payload).ok();
            break;
        }
    }
    let _ = client.disconnect().await;
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tree_trend_is_warmed_from_influxdb_history() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let influx = crate::support::influx(&stack)?;
    // Three days of an LSE01 drying 2 %/day from 30 %, every 20 minutes, the last one 10 minutes ago.
    let now = Utc::now();
    let mut body = String::new();
    for i in 0..216_i32 {
        let t = now - TimeDelta::minutes(10) - TimeDelta::minutes(20 * i64::from(215 - i));
        let moisture = 30.0 - 2.0 * f64::from(i) / 72.0;
        // The client writes with millisecond precision.
        let ms = t.timestamp_millis();
        body.push_str(&format!(
            "readings,device=soil-1,site=park soil_moisture={moisture},battery_voltage=3.6 {ms}\n"
        ));
    }
    influx.write(body).await?;

    let cfg = write(&stack, &config(&stack))?;
    let analytics = Zaehlwerk::start("analytics", &cfg, stack.state_dir())?;
    let status = eventually(WAIT, "a tree status with a trend", || async {
        tree_status(&stack)
            .await
            .filter(|s| s["sensors"][0]["trend_per_day"].is_number())
    })
    .await
    .with_context(|| analytics.log_tail())?;
    // The sensor's trend is in its own unit (%/day); the tree's is on the combined dryness scale.
    let trend = status["sensors"][0]["trend_per_day"].as_f64().context("trend")?;
    assert!(
        (-2.3..=-1.7).contains(&trend),
        "drying 2 %/day, got {trend}: {status}"
    );
    assert!(status["days_until_critical"].is_number(), "no forecast: {status}");
    let moisture = status["moisture_pct"].as_f64().context("moisture")?;
    assert!(
        (moisture - 24.03).abs() < 0.1,
        "last stored value, got {moisture}: {status}"
    );
    assert!(
        analytics.log_tail().contains("soil_readings=216"),
        "{}",
        analytics.log_tail()
    );
    analytics.stop(Duration::from_secs(15)).await
}
