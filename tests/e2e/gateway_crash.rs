//! Issue 16, the gateway's faults while connected.
//!
//! A kill -9 of the gateway (here `zaehlwerk all`, so ingest and analytics die with it) while it
//! publishes loses no reading the broker took. An independent QoS 1 subscriber records every reading the
//! broker delivered before and around the kill, from the moment ingest's session demonstrably exists (on a
//! fresh broker it starts with ingest's first subscription); after a restart, InfluxDB holds each of them,
//! exactly once per device and timestamp. What the gateway had read but not yet handed to the broker at the kill is not
//! covered (it never reached the broker).
//!
//! A network partition between the gateway and the broker (a proxy the test controls holds every byte, as a
//! partition does, for `ZW_TEST_PARTITION_SECS`, 10 s by default): the gateway notices by its keep-alive,
//! buffers, and after the link heals every meter has one point per poll interval with no gap.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rumqttc::QoS;
use zw_model::reading::{TimeWindow, for_each_in_message};
use zw_model::topic;
use zw_tests::Stack;

use crate::gateway_outage::{all_reached, assert_one_per_second, ready, stamps, system, system_config};
use crate::ingest_outage::partition;
use crate::support::{Zaehlwerk, eventually};

const WAIT: Duration = Duration::from_secs(60);
const METERS: u8 = 20;

/// `(device, timestamp)` of every reading in the messages received so far.
fn drain(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    into: &mut BTreeSet<(String, DateTime<Utc>)>,
) {
    while let Ok((t, payload)) = rx.try_recv() {
        for_each_in_message(&t, &payload, Utc::now(), TimeWindow::default(), |r| {
            if let Ok(r) = r {
                into.insert((r.device.as_str().to_owned(), r.ts));
            }
        });
    }
}

/// `(device, timestamp)` of every point stored since `since`.
async fn stored_all(stack: &Stack, since: DateTime<Utc>) -> Option<BTreeSet<(String, DateTime<Utc>)>> {
    let points = stamps(stack, since).await.ok()?;
    Some(
        points
            .into_iter()
            .flat_map(|(d, ts)| ts.into_iter().map(move |t| (d.clone(), t)))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_killed_while_publishing_loses_nothing_the_broker_took() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (cfg_path, api) = system(&stack, METERS)?;
    let mut observer = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-gateway-crash-observer",
        &[topic::READINGS_FILTER, topic::BATCHES_FILTER],
        QoS::AtLeastOnce,
    )
    .await?;
    let sim = Zaehlwerk::start("sim", &cfg_path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    ready(&api).await.map_err(|e| e.context(all.log_tail()))?;
    // `all` starts the gateway before ingest, and on a fresh broker ingest's session exists only from its
    // first subscription: a reading published before then reaches the observer but no session of ingest
    // (MQTT delivers to the subscriptions that exist). So the readings counted are those read after every
    // meter has a stored point, when ingest's session demonstrably exists.
    let t0 = Utc::now();
    eventually(WAIT, "a stored reading of every meter", || {
        all_reached(&stack, METERS, t0 - TimeDelta::seconds(5), t0)
    })
    .await
    .map_err(|e| e.context(all.log_tail()))?;
    let start = Utc::now();
    let mut seen = BTreeSet::new();
    eventually(WAIT, "readings of every meter at the broker", || {
        drain(&mut observer.messages, &mut seen);
        let recent: Vec<_> = seen.iter().filter(|(_, ts)| *ts >= start).collect();
        let devices: BTreeSet<_> = recent.iter().map(|(d, _)| d.clone()).collect();
        std::future::ready(
            (devices.len() == usize::from(METERS) && recent.len() >= 5 * usize::from(METERS)).then_some(()),
        )
    })
    .await?;

    // SIGKILL in mid-stream: the gateway, ingest and analytics die at once. Its log is kept apart (the
    // restarted process writes a new one) for the diagnosis if a reading goes missing.
    let killed_log = all.log.with_file_name("all-killed.log");
    drop(all);
    // Whatever the broker had taken before the kill reaches the observer: read until it falls quiet.
    while let Ok(Some((t, payload))) =
        tokio::time::timeout(Duration::from_secs(1), observer.messages.recv()).await
    {
        for_each_in_message(&t, &payload, Utc::now(), TimeWindow::default(), |r| {
            if let Ok(r) = r {
                seen.insert((r.device.as_str().to_owned(), r.ts));
            }
        });
    }
    let taken: BTreeSet<_> = seen.iter().filter(|(_, ts)| *ts >= start).cloned().collect();
    anyhow::ensure!(!taken.is_empty(), "the observer saw no reading");

    std::fs::copy(stack.state_dir().join("all.log"), &killed_log)?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    ready(&api).await.map_err(|e| e.context(all.log_tail()))?;
    let since = start;
    let result = eventually(WAIT, "every reading the broker took stored", || async {
        let stored = stored_all(&stack, since).await?;
        taken.is_subset(&stored).then_some(stored.len())
    })
    .await;
    let stored = match result {
        Ok(n) => n,
        Err(e) => {
            let stored = stored_all(&stack, since).await.unwrap_or_default();
            let missing: Vec<_> = taken.difference(&stored).take(10).collect();
            let metrics = reqwest::get(format!("{api}/metrics")).await?.text().await?;
            let counters: Vec<_> = metrics
                .lines()
                .filter(|l| l.starts_with("zw_ingest_") || l.starts_with("zw_bus_"))
                .collect();
            let killed = std::fs::read_to_string(&killed_log).unwrap_or_default();
            let warnings: Vec<_> = killed.lines().filter(|l| !l.contains(" INFO ")).collect();
            anyhow::bail!(
                "{e}: {} of {} missing, e.g. {missing:?}\nrestarted:\n{}\nkilled (not INFO):\n{}\nmetrics after the restart:\n{}\n{}",
                taken.difference(&stored).count(),
                taken.len(),
                all.log_tail(),
                warnings.join("\n"),
                counters.join("\n"),
                stack.log_tails()
            );
        }
    };
    println!(
        "gateway SIGKILL while publishing: {} readings the broker took before the kill, all stored ({stored} points of {METERS} meters)",
        taken.len()
    );
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_partitioned_from_the_broker_loses_nothing() -> anyhow::Result<()> {
    const METERS: u8 = 10;
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let link = zw_tests::Partition::start(stack.mqtt_port()).await?;
    let (cfg, _) = system_config(&stack, METERS);
    let main = crate::support::config::write(&stack, &cfg)?;
    // The gateway alone reaches the broker through the link; ingest directly.
    let mut gw = cfg.clone();
    gw.bus.port = link.port();
    gw.bus.keep_alive = Duration::from_secs(2);
    let gw_path = stack.state_dir().join("gateway.toml");
    std::fs::write(&gw_path, gw.to_toml()?)?;
    let sim = Zaehlwerk::start("sim", &main, stack.state_dir())?;
    let ingest = Zaehlwerk::start("ingest", &main, stack.state_dir())?;
    let gateway = Zaehlwerk::start("gateway", &gw_path, stack.state_dir())?;
    let logs = || format!("gateway:\n{}\ningest:\n{}", gateway.log_tail(), ingest.log_tail());
    let start = Utc::now();
    eventually(WAIT, "readings of every meter stored", || {
        all_reached(&stack, METERS, start, start)
    })
    .await
    .map_err(|e| e.context(logs()))?;

    let cut = Utc::now();
    link.cut();
    // The partition itself: a deliberate duration, not a wait for readiness.
    tokio::time::sleep(partition()).await;
    link.heal();
    let healed = Utc::now();
    let after = healed + TimeDelta::seconds(5);
    eventually(WAIT, "points after the partition for every meter", || {
        all_reached(&stack, METERS, start, after)
    })
    .await
    .map_err(|e| e.context(logs()))?;
    let mut during = 0;
    for (d, ts) in stamps(&stack, start).await? {
        during += ts.iter().filter(|t| **t >= cut && **t <= healed).count();
        assert_one_per_second(&d, &ts).map_err(|e| e.context(logs()))?;
    }
    println!(
        "gateway partitioned {:.1} s from the broker: {during} readings of the partition, all stored, no gap",
        (healed - cut).as_seconds_f64()
    );
    gateway.stop(Duration::from_secs(15)).await?;
    ingest.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}
