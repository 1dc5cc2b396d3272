//! Issue 23: VictoriaMetrics as a complete storage backend, reads included. Two ingest instances take the
//! same readings from the bus, one writing to InfluxDB 1.x, one to VictoriaMetrics: two days of 1-minute
//! readings of the town hall's main meter (power, and an energy counter with a 3-hour gap and a reset).
//! `zaehlwerk rollup` builds the rollups on each engine through the one read interface; then an API on
//! each engine (`influx.read_backend`) answers every endpoint that reads time series (history with every
//! aggregate, device and site energy per day and week, cost, ranking, top consumers, forecasts) the same,
//! numbers equal up to 1e-9 relative, and with data (not two empty answers).

use std::process::Command;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use zw_influx::ReadBackend;
use zw_model::inventory::fixtures::town;
use zw_model::{Id, Quantity, Reading};
use zw_tests::{Stack, victoria_count};

use crate::ingest_support::{Ingest, Publisher, WAIT, await_subscribed, count};
use crate::support::{config, eventually, get};

/// One reading a minute for two days from `t0`, none in hours 10 to 13, the counter reset to 0 at hour 30.
fn readings(t0: DateTime<Utc>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut counter = 50_000.0;
    for m in 0..(2 * 24 * 60) {
        let t = t0 + TimeDelta::minutes(m);
        counter += 1000.0 / 60.0 + (m % 7) as f64;
        if m == 30 * 60 {
            counter = 0.0;
        }
        if (10 * 60..13 * 60).contains(&m) {
            continue;
        }
        let r = Reading::new(
            Id::new("rathaus").expect("site"),
            Id::new("rathaus-main").expect("device"),
            t,
            [
                (Quantity::EnergyImport, counter),
                (Quantity::ActivePower, 1000.0 + 60.0 * (m % 7) as f64),
            ]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>(),
        );
        out.push(("zw/v1/readings/rathaus/rathaus-main".to_string(), r.to_json()));
    }
    out
}

/// An API over `influx` (the model's town, token = user name) on a free port; its base URL.
async fn serve(influx: zw_influx::Config) -> anyhow::Result<String> {
    let client = zw_influx::Client::new(influx)?;
    let state = zw_api::AppState::new(Arc::new(town()), client, None, prometheus::Registry::new())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, zw_api::app(state)).await });
    Ok(format!("http://{addr}"))
}

fn rollup(stack: &Stack, name: &str, influx: &zw_influx::Config, since: &str) -> anyhow::Result<String> {
    let mut cfg = config::connected(stack);
    cfg.influx = influx.clone();
    cfg.inventory = town();
    let path = stack.state_dir().join(format!("rollup-{name}.toml"));
    std::fs::write(&path, cfg.to_toml()?)?;
    let out = Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["rollup", "--since", since, "--config"])
        .arg(&path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "zaehlwerk rollup on {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// Equal JSON, numbers up to 1e-9 relative; the first difference otherwise.
fn same(a: &Value, b: &Value, at: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            let ok = (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
            ok.then_some(()).ok_or_else(|| format!("{at}: {x} != {y}"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (x, y))| same(x, y, &format!("{at}[{i}]"))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => x
            .iter()
            .try_for_each(|(k, v)| same(v, y.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}"))),
        _ => (a == b).then_some(()).ok_or_else(|| format!("{at}: {a} != {b}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_time_series_endpoint_answers_the_same_on_victoria_metrics() -> anyhow::Result<()> {
    let stack = Stack::builder()
        .mosquitto()
        .influxd()
        .victoria_metrics()
        .start()
        .await?;
    let vm_url = stack.victoria_url();
    let influx_cfg = config::connected(&stack).influx;
    let vm_cfg = zw_influx::Config {
        url: vm_url.clone(),
        read_backend: ReadBackend::VictoriaMetrics,
        ..influx_cfg.clone()
    };
    let on_influx = Ingest::start(&stack, "ingest-influx", |_| {})?;
    let vm = vm_cfg.clone();
    let on_vm = Ingest::start(&stack, "ingest-vm", move |c| c.influx = vm)?;
    let publisher = Publisher::new(&stack, "pub-reads");
    let probes = |site: &'static str| {
        let (stack, url) = (&stack, vm_url.clone());
        async move {
            let on_vm = victoria_count(&url, &format!("readings_active_power{{site=\"{site}\"}}")).await;
            (count(stack, site).await.unwrap_or(0), on_vm.unwrap_or(0) as u64)
        }
    };
    await_subscribed(&publisher, || async {
        let (a, b) = probes("probe").await;
        a > 0 && b > 0
    })
    .await?;

    let today = Utc::now().date_naive();
    let t0 = (today - TimeDelta::days(2))
        .and_hms_opt(0, 0, 0)
        .context("midnight")?
        .and_utc();
    let msgs = readings(t0);
    for chunk in msgs.chunks(500) {
        publisher.publish_chunk(chunk).await?;
    }
    let n = msgs.len() as u64;
    eventually(WAIT, "every reading on both engines", || async {
        (probes("rathaus").await == (n, n)).then_some(())
    })
    .await
    .with_context(|| format!("{}\n{}", on_influx.log_tail(), on_vm.log_tail()))?;

    let since = (today - TimeDelta::days(3)).to_string();
    rollup(&stack, "influx", &influx_cfg, &since)?;
    let rolled = rollup(&stack, "victoria", &vm_cfg, &since)?;
    // The rollups exist on VictoriaMetrics too (the state rows and the quarter rows).
    let quarters = victoria_count(&vm_url, "{__name__=~\"rollup_15m_.*\"}").await?;
    anyhow::ensure!(quarters > 0, "no rollups written to VictoriaMetrics: {rolled}");

    let (a, b) = (serve(influx_cfg).await?, serve(vm_cfg).await?);
    let (from, to) = (t0.to_rfc3339(), (t0 + TimeDelta::days(2)).to_rfc3339());
    let range = format!("from={}&to={}", urlencode(&from), urlencode(&to));
    let until = today.to_string();
    let paths = [
        format!("/api/v1/devices/rathaus-main/history?quantity=active_power&{range}&window=15m&agg=mean"),
        format!("/api/v1/devices/rathaus-main/history?quantity=active_power&{range}&window=1h&agg=max"),
        format!("/api/v1/devices/rathaus-main/history?quantity=active_power&{range}&window=7m&agg=min"),
        format!("/api/v1/devices/rathaus-main/history?quantity=energy_import&{range}&window=1h&agg=last"),
        format!("/api/v1/devices/rathaus-main/energy?period=day&count=3&until={until}"),
        format!("/api/v1/devices/rathaus-main/energy?period=week&count=1&until={until}"),
        format!("/api/v1/sites/rathaus/energy?period=day&count=3&until={until}"),
        format!("/api/v1/devices/rathaus-main/cost?period=day&count=3&until={until}"),
        format!("/api/v1/sites/rathaus/cost?period=day&count=3&until={until}"),
        format!("/api/v1/ranking?period=day&until={until}"),
        format!("/api/v1/sites/rathaus/top?period=day&until={until}"),
        "/api/v1/devices/rathaus-main/forecast".to_string(),
        "/api/v1/sites/rathaus/forecast".to_string(),
    ];
    let mut differences = Vec::new();
    for p in &paths {
        let (sa, ja) = get(&format!("{a}{p}"), Some("fm")).await?;
        let (sb, jb) = get(&format!("{b}{p}"), Some("fm")).await?;
        anyhow::ensure!(sa == 200, "{p} on InfluxDB: {sa} {ja}");
        if let Err(d) = same(&ja, &jb, "").map_err(|d| format!("{p}: {sb} {d}")) {
            differences.push(d);
        }
    }
    anyhow::ensure!(differences.is_empty(), "{differences:#?}");
    // Not two empty answers: the data is there.
    let (_, h) = get(&format!("{b}{}", paths[0]), Some("fm")).await?;
    let points = h["points"].as_array().map_or(0, Vec::len);
    assert_eq!(
        points,
        2 * 96 - 12,
        "15-minute windows with data, the 3-hour gap absent: {h}"
    );
    let (_, e) = get(&format!("{b}{}", paths[4]), Some("fm")).await?;
    let energy = e["periods"].as_array().context("periods")?;
    assert!(
        energy.iter().any(|p| p["wh"].as_f64().is_some_and(|w| w > 0.0)),
        "{e}"
    );
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}
