//! Issue 23: VictoriaMetrics as a complete storage backend, reads included. Two ingest instances take the
//! same readings from the bus, one writing to InfluxDB 1.x, one to VictoriaMetrics: two days of 1-minute
//! readings of the town hall's main meter (power, and an energy counter with a 3-hour gap and a reset).
//! `zaehlwerk rollup` builds the rollups on each engine through the one read interface; then an API on
//! each engine (`influx.read_backend`) answers every GET route of its OpenAPI document that reads time
//! series (history with every aggregate, energy, cost, ranking, top consumers, forecasts, the normal, the
//! peak, the report, the CSV export, the household page) the same, numbers equal up to 1e-9 relative, and
//! with data (not two empty answers). A route the document lists that is neither swept here nor in
//! [`NOT_TIME_SERIES`] fails the test, so a new one is not missed. Last, `zaehlwerk erase` of household
//! `hh-1` on VictoriaMetrics leaves none of its series and every one of the town hall's.

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
        // A slow rise on top of a weekly-ish pattern: no two quarter hours hold the same energy, so the
        // peak is one quarter hour on both engines, not a tie decided by rounding.
        counter += 1000.0 / 60.0 + (m % 7) as f64 + m as f64 / 1000.0;
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
        if m % 15 == 0 {
            let plug = Reading::new(
                Id::new("hh-1").expect("site"),
                Id::new("hh-1-plug").expect("device"),
                t,
                [(Quantity::ActivePower, 5.0 + (m % 60) as f64)]
                    .into_iter()
                    .collect::<std::collections::BTreeMap<_, _>>(),
            );
            out.push(("zw/v1/readings/hh-1/hh-1-plug".to_string(), plug.to_json()));
        }
    }
    out
}

/// GET routes of the OpenAPI document that read no time series (inventory, the bus's live values, the
/// relational store, health): not swept. Every other GET route must be in the sweep.
const NOT_TIME_SERIES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/devices",
    "/api/v1/devices/{id}/live",
    "/api/v1/sites",
    "/api/v1/sites/{id}/live",
    "/api/v1/stream",
    "/api/v1/alerts",
    "/api/v1/alerts/{id}",
    "/api/v1/trees",
    "/api/v1/trees/season",
    "/api/v1/trees/watering",
    "/api/v1/trees/{id}/waterings",
];

/// The route of a request path: the id after `devices`, `sites`, `alerts` or `trees` (when a segment
/// follows it) replaced by `{id}`, the query dropped.
fn route(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    let id_at = |i: usize| {
        i + 1 < parts.len()
            && i.checked_sub(1)
                .is_some_and(|j| matches!(parts[j], "devices" | "sites" | "alerts" | "trees"))
    };
    (0..parts.len())
        .map(|i| if id_at(i) { "{id}" } else { parts[i] })
        .collect::<Vec<_>>()
        .join("/")
}

/// Status and body of a GET (the body as text: JSON or CSV), as the facility manager (as the resident
/// `anna` for her household `hh-1`).
async fn fetch(url: &str) -> anyhow::Result<(u16, String)> {
    let token = if url.contains("/hh-1/") {
        "anna"
    } else if url.contains("/trees/") {
        "parks"
    } else {
        "fm"
    };
    let resp = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .timeout(std::time::Duration::from_secs(60))
        .send()
        .await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

/// An API over `influx` (the model's town, token = user name) on a free port; its base URL.
async fn serve(influx: zw_influx::Config) -> anyhow::Result<String> {
    let client = zw_influx::Client::new(influx)?;
    // One tree in the park, whose rain is the town's weather area.
    let mut inventory = town();
    inventory
        .trees
        .push(zw_model::Tree::new("linde-1", "park", &["soil-1"]));
    let mut state = zw_api::AppState::new(Arc::new(inventory), client, None, prometheus::Registry::new())?;
    let mut cfg = zw_api::Config::default();
    cfg.trees.default_area = Some("town".into());
    state.configure(cfg);
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
    let n = msgs.iter().filter(|m| m.0.contains("/rathaus/")).count() as u64;
    eventually(WAIT, "every reading on both engines", || async {
        (probes("rathaus").await == (n, n)).then_some(())
    })
    .await
    .with_context(|| format!("{}\n{}", on_influx.log_tail(), on_vm.log_tail()))?;

    // The rain that fell in the town on the two days, hourly, the same lines on both engines.
    let rain: Vec<String> = (0..48)
        .map(|h| {
            let ms = (t0 + TimeDelta::hours(h)).timestamp_millis();
            format!(
                "{},{}=town {}={} {ms}",
                zw_model::weather::RAIN_MEASUREMENT,
                zw_model::weather::TAG_AREA,
                zw_model::weather::FIELD_RAIN_MM,
                (h % 5) as f64 * 0.3
            )
        })
        .collect();
    zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &rain.join("\n")).await?;
    let resp = reqwest::Client::new()
        .post(format!("{vm_url}/write?precision=ms"))
        .body(rain.join("\n"))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "rain on VictoriaMetrics: HTTP {}",
        resp.status()
    );

    let since = (today - TimeDelta::days(3)).to_string();
    rollup(&stack, "influx", &influx_cfg, &since)?;
    let rolled = rollup(&stack, "victoria", &vm_cfg, &since)?;
    // The rollups exist on VictoriaMetrics too (the state rows and the quarter rows).
    let quarters = victoria_count(&vm_url, "{__name__=~\"rollup_15m_.*\"}").await?;
    anyhow::ensure!(quarters > 0, "no rollups written to VictoriaMetrics: {rolled}");

    let (a, b) = (serve(influx_cfg).await?, serve(vm_cfg.clone()).await?);
    let (from, to) = (t0.to_rfc3339(), (t0 + TimeDelta::days(2)).to_rfc3339());
    let range = format!("from={}&to={}", urlencode(&from), urlencode(&to));
    let until = today.to_string();
    let year = t0.format("%Y").to_string();
    let (month_from, month_to) = (t0.format("%Y-%m").to_string(), today.format("%Y-%m").to_string());
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
        "/api/v1/sites/rathaus/normal".to_string(),
        "/api/v1/normal".to_string(),
        "/api/v1/sites/rathaus/forecast/accuracy".to_string(),
        format!("/api/v1/devices/rathaus-main/peak?year={year}"),
        format!("/api/v1/sites/rathaus/peak?year={year}"),
        format!("/api/v1/report?year={year}"),
        format!("/api/v1/sites/rathaus/report?year={year}"),
        format!("/api/v1/sites/rathaus/export.csv?from={month_from}&to={month_to}"),
        format!("/api/v1/sites/hh-1/household?year={year}"),
        format!("/api/v1/trees/linde-1/rain?{range}"),
    ];
    // Every GET route of the document is swept or known not to read time series.
    let (_, doc) = fetch(&format!("{a}/api/v1/openapi.json")).await?;
    let doc: Value = serde_json::from_str(&doc).context("the OpenAPI document")?;
    let swept: std::collections::BTreeSet<String> = paths.iter().map(|p| route(p)).collect();
    let unchecked: Vec<&String> = doc["paths"]
        .as_object()
        .context("paths")?
        .iter()
        .filter(|(path, ops)| {
            ops.get("get").is_some()
                && !path.starts_with("/api/v1/admin/")
                && !NOT_TIME_SERIES.contains(&path.as_str())
                && !swept.contains(path.as_str())
        })
        .map(|(path, _)| path)
        .collect();
    anyhow::ensure!(
        unchecked.is_empty(),
        "GET routes neither swept on both engines nor listed in NOT_TIME_SERIES: {unchecked:?}"
    );
    let mut differences = Vec::new();
    let started = std::time::Instant::now();
    for p in &paths {
        let (sa, ta) = fetch(&format!("{a}{p}")).await?;
        let (sb, tb) = fetch(&format!("{b}{p}")).await?;
        anyhow::ensure!(sa == 200, "{p} on InfluxDB: {sa} {ta}");
        let parsed = |t: &str| serde_json::from_str::<Value>(t).unwrap_or_else(|_| Value::String(t.into()));
        if let Err(d) = same(&parsed(&ta), &parsed(&tb), "").map_err(|d| format!("{p}: {sb} {d}")) {
            differences.push(d);
        }
    }
    eprintln!(
        "{} requests on each engine in {:?}",
        paths.len(),
        started.elapsed()
    );
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

    // Erase on VictoriaMetrics: none of the household's series is left, the town hall's are all there.
    let household = "{site=\"hh-1\"}";
    anyhow::ensure!(
        victoria_count(&vm_url, household).await? > 0,
        "no household readings"
    );
    let rathaus = victoria_count(&vm_url, "{site=\"rathaus\"}").await?;
    let mut cfg = config::connected(&stack);
    cfg.influx = vm_cfg.clone();
    cfg.inventory = town();
    // Ingest's spool and dead letters are not this test's subject (the running ingest holds its spool).
    cfg.ingest.spool.path = None;
    cfg.ingest.dead_letter.path = None;
    let path = stack.state_dir().join("erase-victoria.toml");
    std::fs::write(&path, cfg.to_toml()?)?;
    let store = format!("sqlite://{}", stack.state_dir().join("no-store.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["erase", "--site", "hh-1", "--store", &store, "--config"])
        .arg(&path)
        .output()?;
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    anyhow::ensure!(out.status.success(), "zaehlwerk erase on VictoriaMetrics: {said}");
    anyhow::ensure!(
        said.contains("victoria-metrics: deleted readings_active_power"),
        "{said}"
    );
    assert_eq!(victoria_count(&vm_url, household).await?, 0, "{said}");
    assert_eq!(
        victoria_count(&vm_url, "{site=\"rathaus\"}").await?,
        rathaus,
        "{said}"
    );
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

/// A reading written twice (ingest's at-least-once delivery after a crash) is one sample on
/// VictoriaMetrics, as it is one point on InfluxDB: the harness runs it as deployments should, with
/// `-dedup.minScrapeInterval=1ms`. Without that flag this test fails (two samples).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_written_twice_is_one_sample_on_victoria_metrics() -> anyhow::Result<()> {
    let stack = Stack::builder().victoria_metrics().start().await?;
    let url = stack.victoria_url();
    let client = reqwest::Client::new();
    let line = "readings,site=dedup,device=m1 active_power=1.5 1700000000123000000";
    for _ in 0..2 {
        let resp = client.post(format!("{url}/write")).body(line).send().await?;
        anyhow::ensure!(resp.status().is_success(), "write: HTTP {}", resp.status());
    }
    assert_eq!(
        victoria_count(&url, "readings_active_power{site=\"dedup\"}").await?,
        1
    );
    // What the services check at start (and warn about when unset): the flag as the server reports it.
    let reader = zw_influx::Client::new(zw_influx::Config {
        url: url.clone(),
        read_backend: ReadBackend::VictoriaMetrics,
        ..zw_influx::Config::default()
    })?;
    assert_eq!(reader.victoria_dedup_interval().await?, Some("1ms".into()));
    Ok(())
}
