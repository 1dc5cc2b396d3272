//! Issue 16, the gateway's side: a broker outage costs no reading and never stalls polling. The gateway polls
//! 80 of the simulator's Modbus meters every second with its outage buffer on disk; the broker is stopped for
//! about 20 s and started again: about 1,600 readings, more than the bus client's own queue (1,024
//! requests) could hold, which is where the gateway used to stall. Afterwards every reading of the outage
//! is in InfluxDB: per device, one point per poll interval with no gap from before the outage to after it,
//! and `zw_gateway_polls_skipped_total` is still 0. And a gateway killed with SIGKILL during an outage keeps
//! what it had buffered on disk: restarted once the broker is back, it publishes every reading it produced
//! before the kill (the readings lost are only those of the last moment, not yet in the file: measured and
//! printed).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use zw_model::{Device, Inventory};
use zw_sim::MeterConfig;
use zw_tests::{Stack, free_port, influx_query};

use crate::support::config::{serving, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const WAIT: Duration = Duration::from_secs(60);
const OUTAGE: Duration = Duration::from_secs(20);
const METERS: u8 = 80;

/// The timestamps of every device's points since `since`, in order.
pub(crate) async fn stamps(
    stack: &Stack,
    since: DateTime<Utc>,
) -> anyhow::Result<BTreeMap<String, Vec<DateTime<Utc>>>> {
    let q = format!(
        "SELECT active_power FROM readings WHERE site = 'plant' AND time >= '{}' GROUP BY device",
        since.to_rfc3339()
    );
    let answer = influx_query(&stack.influx_url(), stack.influx_db(), &q).await?;
    let mut out = BTreeMap::new();
    let series = answer.pointer("/results/0/series").and_then(|s| s.as_array());
    for s in series.into_iter().flatten() {
        let device = s
            .pointer("/tags/device")
            .and_then(|d| d.as_str())
            .context("a device tag")?;
        let mut ts = Vec::new();
        for row in s["values"].as_array().into_iter().flatten() {
            let t = row[0].as_str().context("a time")?;
            ts.push(DateTime::parse_from_rfc3339(t)?.with_timezone(&Utc));
        }
        out.insert(device.to_owned(), ts);
    }
    Ok(out)
}

/// Whether each of `meters` meters has a point at or after `t` (and at least 3 since `since`).
pub(crate) async fn all_reached(
    stack: &Stack,
    meters: u8,
    since: DateTime<Utc>,
    t: DateTime<Utc>,
) -> Option<()> {
    let all = stamps(stack, since).await.ok()?;
    (all.len() == usize::from(meters) && all.values().all(|ts| ts.len() >= 3 && ts.last() >= Some(&t)))
        .then_some(())
}

/// One point per poll interval, no gap: the grid is fixed, so consecutive polls of `device` are 1 s apart.
pub(crate) fn assert_one_per_second(device: &str, ts: &[DateTime<Utc>]) -> anyhow::Result<()> {
    for w in ts.windows(2) {
        let gap = (w[1] - w[0]).as_seconds_f64();
        anyhow::ensure!(
            (0.5..1.5).contains(&gap),
            "{device}: {gap:.3} s between {} and {}",
            w[0],
            w[1]
        );
    }
    Ok(())
}

/// The value of the metric line starting with `series`, 0 if absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// `meters` simulated SDM630s polled every second, the gateway's buffer on disk; returns the config's path
/// and the API's URL.
pub(crate) fn system(stack: &Stack, meters: u8) -> anyhow::Result<(std::path::PathBuf, String)> {
    let (cfg, api) = system_config(stack, meters);
    Ok((write(stack, &cfg)?, api))
}

/// The config [`system`] writes, and the API's URL.
pub(crate) fn system_config(stack: &Stack, meters: u8) -> (zw_config::Config, String) {
    let (api_port, modbus_port) = (free_port(), free_port());
    let mut cfg = serving(stack, api_port);
    cfg.sim.modbus_listen = ([127, 0, 0, 1], modbus_port).into();
    cfg.sim.meters = (1..=meters).map(MeterConfig::sdm630).collect();
    cfg.sim.plugs = Vec::new();
    cfg.sim.soil_sensors = Vec::new();
    cfg.gateway.buffer.path = Some(stack.state_dir().join("gateway-buffer.redb"));
    let endpoint = format!("127.0.0.1:{modbus_port}");
    let devices = (1..=meters).map(|unit| {
        Device::modbus(&format!("m-{unit}"), &endpoint, unit, "sdm630").every(Duration::from_secs(1))
    });
    cfg.inventory = Inventory::builder().building("plant", devices).build();
    cfg.inventory.users.push(crate::support::config::admin());
    (cfg, format!("http://127.0.0.1:{api_port}"))
}

/// Waits for the API of a started `all` to be ready.
pub(crate) async fn ready(api: &str) -> anyhow::Result<()> {
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_outage_loses_no_reading_and_never_stalls_polling() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (cfg_path, api) = system(&stack, METERS)?;
    let sim = Zaehlwerk::start("sim", &cfg_path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let logs = || format!("sim:\n{}\nall:\n{}", sim.log_tail(), all.log_tail());
    ready(&api).await.with_context(logs)?;
    let start = Utc::now();
    // Readings flow for a few seconds before the outage.
    eventually(WAIT, "readings of every meter stored", || {
        all_reached(&stack, METERS, start, start)
    })
    .await
    .with_context(logs)?;

    let down = Utc::now();
    stack.stop_mosquitto().await;
    tokio::time::sleep(OUTAGE).await;
    stack.start_mosquitto().await?;
    let up = Utc::now();

    // The buffer drains, ingest stores: every device has points up to after the outage.
    let after = up + chrono::TimeDelta::seconds(5);
    eventually(WAIT, "points after the outage for every meter", || {
        all_reached(&stack, METERS, start, after)
    })
    .await
    .with_context(logs)?;
    let text = metrics(&api).await.context("/metrics")?;
    let mut produced = 0;
    for (d, ts) in stamps(&stack, start).await? {
        let during = ts.iter().filter(|t| **t >= down && **t <= up).count();
        produced += during;
        assert!(
            during as f64 >= OUTAGE.as_secs_f64() - 1.0,
            "{d}: {during} points during the {:?} outage\n{}",
            up - down,
            logs()
        );
        assert_one_per_second(&d, &ts).with_context(|| format!("outage {down} .. {up}\n{text}"))?;
    }
    println!(
        "outage {:.1} s: {produced} readings produced during it, all stored; buffered {} readings, handed back {}",
        (up - down).as_seconds_f64(),
        value(&text, "zw_gateway_buffered_readings_total"),
        value(&text, "zw_gateway_buffer_returned_readings_total"),
    );
    assert_eq!(value(&text, "zw_gateway_polls_skipped_total"), 0.0, "{text}");
    assert!(value(&text, "zw_gateway_buffered_readings_total") > 0.0, "{text}");
    assert_eq!(
        value(&text, "zw_gateway_buffer_dropped_readings_total"),
        0.0,
        "{text}"
    );
    assert_eq!(value(&text, "zw_gateway_buffer_full"), 0.0, "{text}");
    eventually(WAIT, "the buffer empty", || async {
        let t = metrics(&api).await?;
        (value(&t, "zw_gateway_buffer_readings") == 0.0).then_some(())
    })
    .await?;
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_killed_during_an_outage_keeps_its_buffered_readings() -> anyhow::Result<()> {
    const METERS: u8 = 10;
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (cfg_path, api) = system(&stack, METERS)?;
    let sim = Zaehlwerk::start("sim", &cfg_path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    ready(&api).await.with_context(|| all.log_tail())?;
    let start = Utc::now();
    eventually(WAIT, "readings of every meter stored", || {
        all_reached(&stack, METERS, start, start)
    })
    .await
    .with_context(|| all.log_tail())?;

    // The broker goes away; the gateway buffers ten seconds of readings and is then killed (SIGKILL).
    stack.stop_mosquitto().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let killed = Utc::now();
    drop(all);
    stack.start_mosquitto().await?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    ready(&api).await.with_context(|| all.log_tail())?;
    let restarted = Utc::now();
    let after = restarted + chrono::TimeDelta::seconds(3);
    eventually(WAIT, "points after the restart for every meter", || {
        all_reached(&stack, METERS, start, after)
    })
    .await
    .with_context(|| all.log_tail())?;

    // Before the kill: one point per second with no gap, up to the kill's last moment.
    let mut lost = 0.0;
    for (d, ts) in stamps(&stack, start).await? {
        let before: Vec<_> = ts.iter().filter(|t| **t < killed).collect();
        for w in before.windows(2) {
            let gap = (*w[1] - *w[0]).as_seconds_f64();
            assert!(
                (0.5..1.5).contains(&gap),
                "{d}: {gap:.3} s between {} and {}",
                w[0],
                w[1]
            );
        }
        let last = before.last().context("points before the kill")?;
        let tail = (killed - **last).as_seconds_f64();
        // The last reading kept is at most one interval (plus the moment of the kill) before the kill.
        assert!(
            tail < 2.0,
            "{d}: the last {tail:.3} s before the kill are missing\n{}",
            all.log_tail()
        );
        lost += (tail - 1.0).max(0.0).ceil();
    }
    println!(
        "gateway SIGKILL during an outage: at most {lost} readings of {METERS} meters lost (polled in the last moment)"
    );
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}
