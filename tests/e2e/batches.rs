//! Batched canonical readings (`zw/v1/batches/{producer}`): a gateway with `batch_max > 1` delivers every
//! reading to InfluxDB and the API's live view; a batch with an invalid reading stores the others and
//! counts and dead-letters the bad one by reason.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use rumqttc::QoS;
use zw_model::{Device, Inventory};
use zw_sim::MeterConfig;
use zw_tests::{Stack, free_port};

use crate::ingest_support::{Ingest, Publisher, WAIT, await_count, await_subscribed, count, reading};
use crate::support::config::{admin, plug, serving, write};
use crate::support::{Zaehlwerk, eventually, get};

/// Every reading message on the bus: `(topic, payload)`.
type Seen = zw_tests::mqtt::JsonLog;

/// Subscribes to both reading forms as an independent client; returns once the broker confirmed.
async fn watch(stack: &Stack) -> anyhow::Result<Seen> {
    let filters = ["zw/v1/batches/+", "zw/v1/readings/+/+"];
    let sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-batch-watch",
        &filters,
        QoS::AtLeastOnce,
    )
    .await?;
    Ok(sub.into_json_log())
}

/// The readings of every batch seen so far, and the largest batch.
fn batched(seen: &Seen) -> (Vec<serde_json::Value>, usize) {
    let seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Vec::new();
    let mut largest = 0;
    for (_, v) in seen.iter().filter(|(t, _)| t == "zw/v1/batches/gw1") {
        let rs = v["readings"].as_array().cloned().unwrap_or_default();
        largest = largest.max(rs.len());
        out.extend(rs);
    }
    (out, largest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_gateway_delivers_every_reading_to_influxdb_and_the_live_view() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let seen = watch(&stack).await?;
    let (api_port, modbus) = (free_port(), free_port());
    let mut config = serving(&stack, api_port);
    config.gateway.publish.batch_max = 4;
    config.gateway.publish.batch_linger = Duration::from_millis(150);
    config.sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
    config.sim.update_interval = Duration::from_secs(3600);
    config.sim.meters = vec![MeterConfig::sdm630(1)];
    config.sim.plugs = vec![plug("plug-b", Duration::from_millis(100))];
    config.sim.soil_sensors = Vec::new();
    let meter = Device::modbus("bt-main", &format!("127.0.0.1:{modbus}"), 1, "sdm630");
    config.inventory = Inventory::builder()
        .building("bt-meter", [meter.every(Duration::from_millis(200))])
        .household("bt-home", [Device::tasmota("bt-plug", "plug-b")])
        .build();
    config.inventory.users.push(admin());
    let cfg = write(&stack, &config)?;
    let sim = Zaehlwerk::start("sim", &cfg, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &cfg, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");

    // The live view shows, for each device, exactly the values of a reading that travelled in a batch.
    for device in ["bt-main", "bt-plug"] {
        let url = format!("{api}/api/v1/devices/{device}/live");
        eventually(WAIT, &format!("{device} live from a batch"), || async {
            let (status, live) = get(&url, Some("tok-admin")).await.ok()?;
            let (readings, _) = batched(&seen);
            let shown = status == 200
                && readings.iter().filter(|r| r["device"] == device).any(|r| {
                    r["values"].as_object().is_some_and(|vs| {
                        vs.iter()
                            .all(|(q, v)| live["values"][q]["value"].as_f64() == v.as_f64())
                    })
                });
            shown.then_some(())
        })
        .await
        .with_context(|| all.log_tail())?;
    }

    // Enough traffic for the checks below (at least 4 readings, some coalesced), awaited rather than assumed:
    // on a loaded machine the live checks can pass after only a few polls.
    eventually(WAIT, "four batched readings, some coalesced", || async {
        let (readings, largest) = batched(&seen);
        (readings.len() >= 4 && largest >= 2).then_some(())
    })
    .await?;
    // No more readings once the simulator is gone; then every reading published is a point.
    sim.stop(std::time::Duration::from_secs(15)).await?;
    let published = std::cell::Cell::new(BTreeMap::new());
    let stored = std::cell::Cell::new(BTreeMap::new());
    eventually(WAIT, "every batched reading stored", || async {
        let (readings, _) = batched(&seen);
        let mut want: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
        // Points are counted by their `active_power` field.
        for r in readings
            .iter()
            .filter(|r| r["values"]["active_power"].is_number())
        {
            let key = (r["device"].as_str()?.to_owned(), r["ts"].as_str()?.to_owned());
            want.entry(r["site"].as_str()?.to_owned())
                .or_default()
                .insert(key);
        }
        let want: BTreeMap<String, u64> = want.into_iter().map(|(s, k)| (s, k.len() as u64)).collect();
        let mut got = BTreeMap::new();
        for site in ["bt-meter", "bt-home"] {
            got.insert(site.to_owned(), count(&stack, site).await.ok()?);
        }
        let done = want.len() == 2 && want == got;
        published.set(want);
        stored.set(got);
        done.then_some(())
    })
    .await
    .with_context(|| format!("published {:?}, stored {:?}", published.take(), stored.take()))?;

    let (readings, largest) = batched(&seen);
    assert!(readings.len() >= 4, "{} readings", readings.len());
    assert!(
        (2..=4).contains(&largest),
        "batches of up to batch_max = 4, some coalesced: {largest}"
    );
    let singles = seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .filter(|(t, _)| t.starts_with("zw/v1/readings/"))
        .count();
    assert_eq!(singles, 0, "with batch_max > 1 nothing goes to per-device topics");
    all.stop(std::time::Duration::from_secs(15)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_an_invalid_reading_stores_the_others() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let ingest = Ingest::start(&stack, "ingest1", |_| {})?;
    let publisher = Publisher::new(&stack, "pub-batch");
    await_subscribed(&publisher, || async {
        count(&stack, "probe").await.unwrap_or(0) > 0
    })
    .await?;

    let mut elements: Vec<String> = (0..9)
        .map(|i| String::from_utf8(reading("bq", i).1))
        .collect::<Result<_, _>>()?;
    let old = (Utc::now() - TimeDelta::days(30))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let bad = String::from_utf8(reading("bq", 100).1)?;
    let ts = serde_json::from_str::<serde_json::Value>(&bad)?["ts"]
        .as_str()
        .context("ts")?
        .to_owned();
    let bad = bad.replace(&ts, &old);
    elements.insert(4, bad.clone());
    let batch = format!(r#"{{"v":1,"readings":[{}]}}"#, elements.join(","));
    let envelope = br#"{"v":1,"readings":[{"v":1}"#.to_vec();
    publisher
        .publish_chunk(&[
            ("zw/v1/batches/e2e".to_owned(), batch.into_bytes()),
            ("zw/v1/batches/e2e".to_owned(), envelope.clone()),
        ])
        .await?;

    await_count(&stack, "bq", 9, &ingest.log_tail()).await?;
    let dead = eventually(WAIT, "two dead letters", || async {
        let d = ingest.dead_letters();
        (d.len() == 2).then_some(d)
    })
    .await?;
    assert_eq!(
        (dead[0]["reason"].as_str(), dead[0]["payload"].as_str()),
        (Some("timestamp"), Some(bad.as_str())),
        "the bad element alone: {dead:?}"
    );
    assert_eq!(dead[1]["reason"], "malformed", "{dead:?}");
    assert_eq!(
        dead[1]["payload"].as_str().map(str::as_bytes),
        Some(&envelope[..])
    );
    assert!(dead.iter().all(|d| d["topic"] == "zw/v1/batches/e2e"), "{dead:?}");
    let rejected = |r: &str| format!("zw_ingest_readings_rejected_total{{reason=\"{r}\"}}");
    assert_eq!(
        (
            ingest.metric(&rejected("timestamp")).await,
            ingest.metric(&rejected("malformed")).await
        ),
        (1.0, 1.0)
    );
    // Probes are single messages; the batch counted 10 readings in one message, the bad envelope one.
    let (messages, readings) = (
        ingest.metric("zw_ingest_messages_received_total").await,
        ingest.metric("zw_ingest_readings_received_total").await,
    );
    assert_eq!(
        readings - messages,
        9.0,
        "messages {messages}, readings {readings}"
    );
    Ok(())
}
