//! Ingest throughput benchmark (issue 5), run by `bench/ingest.sh`: real mosquitto and influxd from the test
//! harness on free ports, the release `zaehlwerk ingest` as a child process.
//!
//! In one run it measures:
//! 1. the ceiling: raw InfluxDB write rate of a tight writer posting pre-built 5,000-line batches (exactly the
//!    lines ingest produces) from [`WRITERS`] concurrent writers;
//! 2. end-to-end live: canonical readings published with QoS 1 (4 connections) while ingest runs → points
//!    accepted by InfluxDB; with `--rounds R`, R pairs of 1. and 2. (odd rounds live first), each phase on a
//!    settled influxd, and the median of the rounds' ratios (the machine is shared: its state moves within
//!    minutes), besides the median CPU efficiency (all processes' CPU seconds per point, ceiling / live);
//! 3. backlog drain: the same number of readings queued at the broker while ingest is stopped, then drained;
//!
//! 4. with `--outage SECONDS`: the outage run of [`outage`] (InfluxDB down, full-rate publishing spooled to
//!    disk with RSS sampled, then the timed drain of the spool).
//!
//! and reports rates, their ratio to the ceiling, ingest CPU per reading (from /proc), the CPU seconds of
//! every process of the run (ingest, mosquitto, influxd, this publisher), and peak RSS.
//! Arguments: `ZAEHLWERK_BIN [READINGS] [RAW_POINTS] [--batch N] [--rounds R] [--outage SECONDS [--outage-rate READINGS_PER_S]]`.
//! `--batch N` (default 1) publishes N readings per message on `zw/v1/batches/{producer}` instead of one
//! message per reading on the device's topic.

mod outage;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use zw_model::{Id, Quantity, Reading};

/// Concurrent writers of the ceiling (`--writers`, default 4 like ingest's `write_concurrency`), set once at
/// start. Keep both equal for a like-for-like ratio (`ZW__INGEST__WRITE_CONCURRENCY=N`). influxd 1.6 on
/// 2 cores gave the tight writer the same rate with 2 and 4 writers; ingest needed 4.
static WRITERS: AtomicU64 = AtomicU64::new(4);
const BATCH: usize = 5000;
const PUBLISHERS: usize = 4;

/// Readings per published message (`--batch`), set once at start.
static BATCH_READINGS: AtomicU64 = AtomicU64::new(1);

/// Reading `i` of `site`: 1,000 meters, timestamps 1 ms apart from a base fixed for the run, so every
/// reading is its own point.
fn reading(site: &str, i: u64) -> Reading {
    static BASE: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| Utc::now() - TimeDelta::days(2));
    Reading::new(
        Id::new(site).expect("id"),
        Id::new(format!("meter-{}", i % 1000)).expect("id"),
        base + TimeDelta::milliseconds(i as i64),
        BTreeMap::from([
            (Quantity::ActivePower, (i % 5000) as f64 + 0.5),
            (Quantity::EnergyImport, 1_000_000.0 + i as f64),
            (Quantity::VoltageL1, 230.0 + (i % 10) as f64 / 10.0),
        ]),
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().collect();
    // `--outage-rate N` caps the outage publishers at N readings/s in all (default: as fast as the broker
    // takes them, which on a shared machine can exceed what the broker also forwards to ingest).
    let outage_rate: Option<f64> = match args.iter().position(|a| a == "--outage-rate") {
        Some(i) => {
            let rate = args.get(i + 1).context("--outage-rate READINGS_PER_S")?.parse()?;
            args.drain(i..i + 2);
            Some(rate)
        }
        None => None,
    };
    // `--batch N`: readings per published message (1: per-device topics; more: batch messages).
    let batch: u64 = match args.iter().position(|a| a == "--batch") {
        Some(i) => {
            let n = args.get(i + 1).context("--batch N")?.parse()?;
            args.drain(i..i + 2);
            n
        }
        None => 1,
    };
    anyhow::ensure!(
        (1..=zw_model::reading::batch::MAX_READINGS as u64).contains(&batch),
        "--batch must be 1..=1000"
    );
    BATCH_READINGS.store(batch, Ordering::Relaxed);
    // `--rounds R`: R alternating pairs of ceiling and live phase; the median ratio is the result.
    let rounds: usize = match args.iter().position(|a| a == "--rounds") {
        Some(i) => {
            let r = args.get(i + 1).context("--rounds R")?.parse()?;
            args.drain(i..i + 2);
            r
        }
        None => 1,
    };
    anyhow::ensure!(rounds >= 1, "--rounds must be at least 1");
    if let Some(i) = args.iter().position(|a| a == "--writers") {
        let w: u64 = args.get(i + 1).context("--writers N")?.parse()?;
        anyhow::ensure!(w >= 1, "--writers must be at least 1");
        WRITERS.store(w, Ordering::Relaxed);
        args.drain(i..i + 2);
    }
    let outage_secs: Option<u64> = match args.iter().position(|a| a == "--outage") {
        Some(i) => {
            let secs = args.get(i + 1).context("--outage SECONDS")?.parse()?;
            args.drain(i..i + 2);
            Some(secs)
        }
        None => None,
    };
    let bin = args
        .get(1)
        .context("usage: ingest_bench ZAEHLWERK_BIN [READINGS] [RAW_POINTS] [--outage SECONDS]")?
        .clone();
    let n: u64 = args.get(2).map_or(Ok(200_000), |s| s.parse())?;
    let raw_n: usize = args.get(3).map_or(Ok(1_000_000), |s| s.parse())?;
    if std::env::var_os(COLD_ENV).is_none() {
        println!(
            "note      {COLD_ENV} is not set: phases may start with the previous phase's cache (bench/ingest.sh sets it)"
        );
    }
    let mut stack = zw_tests::Stack::builder().mosquitto().influxd().start().await?;
    let influx = zw_influx::Client::new(zw_influx::Config {
        url: stack.influx_url(),
        database: stack.influx_db().into(),
        timeout: Duration::from_secs(60),
        ..Default::default()
    })?;

    // Ingest runs from the start (idle while the ceiling is measured): subscribed once a probe is written.
    let dir = stack.state_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let metrics_port = zw_tests::free_port();
    let cfg = dir.join("ingest.toml");
    std::fs::write(
        &cfg,
        format!(
            "[bus]\nport = {}\n[influx]\nurl = \"{}\"\ndatabase = \"{}\"\n[ingest.spool]\npath = \"{}/spool.redb\"\n[telemetry]\nmetrics_listen = \"127.0.0.1:{metrics_port}\"\n",
            stack.mqtt_port(),
            stack.influx_url(),
            stack.influx_db(),
            dir.display()
        ),
    )?;
    let mut ingest = spawn(&bin, &cfg, &dir)?;
    let written = || metric(metrics_port, "zw_ingest_points_written_total");
    let deadline = Instant::now() + Duration::from_secs(30);
    while written().await < 1.0 {
        anyhow::ensure!(Instant::now() < deadline, "ingest did not start");
        publish(&stack, "probe", 0..1).await?;
    }
    println!(
        "publish   {} reading(s) per message",
        BATCH_READINGS.load(Ordering::Relaxed)
    );

    // 1.–2. Rounds of ceiling and live phase, each starting on a settled influxd (its cache written out,
    // no compaction running), so both pay the same snapshot work and share the machine's state of the
    // moment. Odd rounds run the live phase first: influxd's cost per point grows with the data it holds
    // (later phases paid up to 50 % more CPU per point), and a fixed order would charge that to one side.
    let (mut ratios, mut efficiencies) = (Vec::new(), Vec::new());
    let (mut ceilings, mut lives) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let (raw, live) = if r % 2 == 0 {
            report_settle(settle(&stack).await);
            let raw = ceiling(&stack, &influx, &format!("raw-{r}"), raw_n).await?;
            report_settle(settle(&stack).await);
            let live = live_phase(&stack, &ingest, metrics_port, &format!("live-{r}"), n).await?;
            (raw, live)
        } else {
            report_settle(settle(&stack).await);
            let live = live_phase(&stack, &ingest, metrics_port, &format!("live-{r}"), n).await?;
            report_settle(settle(&stack).await);
            let raw = ceiling(&stack, &influx, &format!("raw-{r}"), raw_n).await?;
            (raw, live)
        };
        println!(
            "round {r}   live {:.0} / ceiling {:.0} points/s = {:.1} %; CPU-s per million points, all processes: live {:.2}, ceiling {:.2} = {:.1} % efficiency",
            live.rate,
            raw.rate,
            100.0 * live.rate / raw.rate,
            live.cpu_per_m,
            raw.cpu_per_m,
            100.0 * raw.cpu_per_m / live.cpu_per_m
        );
        ratios.push(live.rate / raw.rate);
        efficiencies.push(raw.cpu_per_m / live.cpu_per_m);
        ceilings.push(raw.rate);
        lives.push(live.rate);
    }
    println!(
        "e2e CPU   median efficiency {:.1} % (ceiling's CPU-s per point / live's, all processes: on a CPU-bound machine the rate ratio's \
         expectation, and unaffected by CPU time the VM host steals)",
        100.0 * median(&mut efficiencies)
    );
    let raw_rate = median(&mut ceilings);
    let live_rate = median(&mut lives);
    println!(
        "e2e live  median of {rounds} round(s): {:.1} % of the same round's ceiling (rounds: {}); median rates live {live_rate:.0}, ceiling {raw_rate:.0} points/s",
        100.0 * median(&mut ratios.clone()),
        ratios
            .iter()
            .map(|x| format!("{:.1} %", 100.0 * x))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // 3. Backlog drain: stop ingest, queue n readings at the broker, restart, time the drain.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &ingest.id().to_string()])
        .status();
    ingest.wait()?;
    publish_all(&stack, payloads("drain", 0..n)).await?;
    settle(&stack).await;
    let ingest = spawn(&bin, &cfg, &dir)?;
    let split0 = cpu_split(&stack, ingest.id());
    let started = Instant::now();
    let drain = finished(written, || stored(&stack, "drain"), n as f64, started).await?;
    let drain_cpu = cpu_seconds(&ingest)?;
    let drain_rate = n as f64 / drain.as_secs_f64();
    println!(
        "e2e drain {n} readings queued at the broker -> points in InfluxDB:       {drain_rate:>9.0} points/s = {:.1} % of the median ceiling",
        100.0 * drain_rate / raw_rate
    );
    println!(
        "          ingest CPU {:.2} µs per reading (incl. start-up), peak RSS {} MiB",
        drain_cpu * 1e6 / n as f64,
        peak_rss_kib(&ingest)? / 1024
    );
    print_split("drain", &split0, &cpu_split(&stack, ingest.id()));
    let sites: Vec<String> = (0..rounds)
        .map(|r| format!("live-{r}"))
        .chain(["drain".to_owned()])
        .collect();
    for site in &sites {
        let q = format!("SELECT count(active_power) FROM readings WHERE site = '{site}'");
        let answer = zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), &q).await?;
        let stored = zw_tests::series_values(&answer)
            .first()
            .and_then(|r| r.get(1)?.as_u64())
            .unwrap_or(0);
        println!("check     points stored for {site}: {stored} (expected {n})");
    }
    // The ceiling again, on a database that now holds what the phases wrote: how far influxd itself moved.
    settle(&stack).await;
    let after = ceiling(&stack, &influx, "raw-after", raw_n).await?.rate;
    println!(
        "ceiling   after the phases {after:.0} points/s; median live {:.1} %, drain {:.1} % of the mean of it and the median ceiling {:.0}",
        200.0 * live_rate / (raw_rate + after),
        200.0 * drain_rate / (raw_rate + after),
        (raw_rate + after) / 2.0
    );
    if let Some(secs) = outage_secs {
        outage::run(
            &mut stack,
            &influx,
            raw_n,
            &ingest,
            metrics_port,
            secs,
            raw_rate,
            outage_rate,
            batch,
        )
        .await?;
    }
    Ok(())
}

/// A timed phase: its rate and the CPU seconds all processes of the run used per million points.
struct Phase {
    rate: f64,
    cpu_per_m: f64,
}

/// The raw write rate: `points` readings of `site` as pre-built 5,000-line batches from [`WRITERS`] writers.
async fn ceiling(
    stack: &zw_tests::Stack,
    influx: &zw_influx::Client,
    site: &str,
    points: usize,
) -> anyhow::Result<Phase> {
    let mut batches = Vec::new();
    let mut body = String::new();
    for i in 0..points as u64 {
        zw_ingest::to_line(&reading(site, i), &mut body)?;
        if (i + 1) % BATCH as u64 == 0 {
            batches.push(bytes::Bytes::from(std::mem::take(&mut body)));
        }
    }
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicU64::new(0));
    let split0 = cpu_split(stack, 0);
    let started = Instant::now();
    let mut writers = tokio::task::JoinSet::new();
    let n_writers = WRITERS.load(Ordering::Relaxed);
    for _ in 0..n_writers {
        let (b, next, c) = (batches.clone(), next.clone(), influx.clone());
        writers.spawn(async move {
            while let Some(body) = b.get(next.fetch_add(1, Ordering::SeqCst) as usize) {
                c.write(body.clone()).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = writers.join_next().await {
        r??;
    }
    let rate = (batches.len() * BATCH) as f64 / started.elapsed().as_secs_f64();
    println!(
        "ceiling   raw InfluxDB writes of {site}, {n_writers} writers x {BATCH}-line batches: {:>9.0} points/s ({} points)",
        rate,
        batches.len() * BATCH
    );
    let cpu = print_split("ceiling", &split0, &cpu_split(stack, 0));
    Ok(Phase {
        rate,
        cpu_per_m: cpu * 1e6 / (batches.len() * BATCH) as f64,
    })
}

/// One live phase: `n` readings of `site` published over QoS 1 while ingest runs, timed until their points
/// are in InfluxDB. Prints the rate, ingest's CPU per reading and every process's CPU; returns the rate.
async fn live_phase(
    stack: &zw_tests::Stack,
    ingest: &Ingest,
    metrics_port: u16,
    site: &str,
    n: u64,
) -> anyhow::Result<Phase> {
    let written = || metric(metrics_port, "zw_ingest_points_written_total");
    let msgs = payloads(site, 0..n);
    let cpu0 = cpu_seconds(ingest)?;
    let split0 = cpu_split(stack, ingest.id());
    let w0 = written().await;
    let started = Instant::now();
    publish_all(stack, msgs).await?;
    let published = started.elapsed();
    let live = finished(
        || async { written().await - w0 },
        || stored(stack, site),
        n as f64,
        started,
    )
    .await?;
    let live_cpu = cpu_seconds(ingest)? - cpu0;
    let live_rate = n as f64 / live.as_secs_f64();
    println!(
        "e2e live  publish QoS 1 ({PUBLISHERS} connections) -> points in InfluxDB:     {live_rate:>9.0} points/s (publishing alone took {:.2} s for {n})",
        published.as_secs_f64()
    );
    println!(
        "          ingest CPU {:.2} µs per reading",
        live_cpu * 1e6 / n as f64
    );
    let cpu = print_split("live", &split0, &cpu_split(stack, ingest.id()));
    Ok(Phase {
        rate: live_rate,
        cpu_per_m: cpu * 1e6 / n as f64,
    })
}

/// The median of `xs` (reordered); 0 for none.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => 0.0,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// The ingest process under test, killed when dropped: a phase that fails (`?`) must not leave it running.
struct Ingest(std::process::Child);

impl std::ops::Deref for Ingest {
    type Target = std::process::Child;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Ingest {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(bin: &str, cfg: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<Ingest> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("ingest.log"))?;
    Ok(Ingest(
        std::process::Command::new(bin)
            .args(["ingest", "--config"])
            .arg(cfg)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?,
    ))
}

/// The messages carrying readings `range` of `site`, one list per publisher connection: a meter's readings
/// all go through one connection in time order, as from a real gateway (readings of one series arriving
/// out of order cost influxd more per point, which the in-order ceiling does not pay). One message per
/// reading on its device topic, or batches of `--batch` readings on `zw/v1/batches/bench-{site}-{k}`.
fn payloads(site: &str, range: std::ops::Range<u64>) -> Vec<Vec<(String, Vec<u8>)>> {
    let per = BATCH_READINGS.load(Ordering::Relaxed);
    let mut out: Vec<Vec<(String, Vec<u8>)>> = vec![Vec::new(); PUBLISHERS];
    let mut builders: Vec<zw_model::reading::batch::Builder> =
        (0..PUBLISHERS).map(|_| Default::default()).collect();
    for i in range {
        let k = (i % 1000) as usize % PUBLISHERS;
        let r = reading(site, i);
        if per <= 1 {
            out[k].push((format!("zw/v1/readings/{site}/{}", r.device), r.to_json()));
            continue;
        }
        builders[k].push(&r);
        if builders[k].len() as u64 >= per {
            out[k].push((format!("zw/v1/batches/bench-{site}-{k}"), builders[k].finish()));
        }
    }
    for (k, b) in builders.iter_mut().enumerate() {
        if !b.is_empty() {
            out[k].push((format!("zw/v1/batches/bench-{site}-{k}"), b.finish()));
        }
    }
    out
}

async fn publish(stack: &zw_tests::Stack, site: &str, range: std::ops::Range<u64>) -> anyhow::Result<()> {
    publish_all(stack, payloads(site, range)).await
}

/// Publishes each list over its own QoS 1 connection and returns once the broker acknowledged every message.
async fn publish_all(stack: &zw_tests::Stack, lists: Vec<Vec<(String, Vec<u8>)>>) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for (k, chunk) in lists.into_iter().enumerate().filter(|(_, l)| !l.is_empty()) {
        let mut opts =
            zw_tests::mqtt::options(&format!("bench-pub-{k}"), stack.mqtt_host(), stack.mqtt_port());
        opts.set_inflight(1000).set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 10_000);
        tasks.spawn(async move {
            let want = chunk.len();
            let sender = tokio::spawn(async move {
                for (t, p) in chunk {
                    client.publish(t, QoS::AtLeastOnce, false, p).await?;
                }
                anyhow::Ok(client)
            });
            let mut acks = 0;
            while acks < want {
                if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await? {
                    acks += 1;
                }
            }
            let client = sender.await??;
            client.disconnect().await?;
            let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

/// One value of ingest's `/metrics`, 0 if unavailable. One client for all polls (a phase polls every 10 ms:
/// a new client and connection per poll cost the measured machine CPU).
async fn metric(port: u16, name: &str) -> f64 {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(reqwest::Client::new);
    let url = format!("http://127.0.0.1:{port}/metrics");
    let Ok(r) = client.get(url).send().await else {
        return 0.0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Points of `site` in InfluxDB (the end of the end-to-end path).
async fn stored(stack: &zw_tests::Stack, site: &str) -> f64 {
    let q = format!("SELECT count(active_power) FROM readings WHERE site = '{site}'");
    match zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), &q).await {
        Ok(a) => zw_tests::series_values(&a)
            .first()
            .and_then(|r| r.get(1)?.as_f64())
            .unwrap_or(0.0),
        Err(_) => 0.0,
    }
}

/// Polls `read` every 100 ms until it reaches `want` (bounded).
async fn await_metric<F, Fut>(read: F, want: f64) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    poll_until(read, want, Duration::from_millis(100)).await
}

async fn poll_until<F, Fut>(read: F, want: f64, every: Duration) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let deadline = Instant::now() + Duration::from_secs(600);
    while read().await < want {
        anyhow::ensure!(Instant::now() < deadline, "points not written within 10 minutes");
        tokio::time::sleep(every).await;
    }
    Ok(())
}

/// How long after `started` a phase's `n` points were in InfluxDB. Counting them there every 100 ms made
/// influxd scan up to n points per query while it wrote, and the 100 ms steps were 5–10 % of a phase; so
/// ingest's count of points InfluxDB accepted (2xx) is polled every 10 ms, and the stored count confirms
/// it (re-deliveries also count as written: if the stored count is short, the wait goes on for it).
async fn finished<W, WF, S, SF>(written: W, stored: S, n: f64, started: Instant) -> anyhow::Result<Duration>
where
    W: Fn() -> WF,
    WF: std::future::Future<Output = f64>,
    S: Fn() -> SF,
    SF: std::future::Future<Output = f64>,
{
    poll_until(written, n, Duration::from_millis(10)).await?;
    let at = started.elapsed();
    if stored().await >= n {
        return Ok(at);
    }
    await_metric(stored, n).await?;
    Ok(started.elapsed())
}

/// User + system CPU time of the child, from /proc/PID/stat (clock ticks of 10 ms).
fn cpu_seconds(child: &std::process::Child) -> anyhow::Result<f64> {
    pid_cpu(child.id())
}

/// CPU seconds (user + system) of this process, ingest, and the stack's mosquitto and influxd (found by
/// their state directory on the command line).
fn cpu_split(stack: &zw_tests::Stack, ingest: u32) -> Vec<(String, f64)> {
    let mut out = vec![
        ("ingest".to_owned(), pid_cpu(ingest).unwrap_or(0.0)),
        (
            "publisher+bench".to_owned(),
            pid_cpu(std::process::id()).unwrap_or(0.0),
        ),
    ];
    let dir = stack.state_dir().to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        for name in ["mosquitto", "influxd"] {
            if cmdline.contains(dir.as_str()) && cmdline.contains(name) && pid != ingest {
                out.push((name.to_owned(), pid_cpu(pid).unwrap_or(0.0)));
            }
        }
    }
    out
}

/// Environment variable (read by influxd) that makes it write out its cache after this long without writes;
/// `bench/ingest.sh` sets it to `1s` so every phase starts on an empty cache (see [`settle`]).
const COLD_ENV: &str = "INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION";

/// Waits until influxd is settled (at most 120 s): its in-memory cache written out to TSM files (with
/// [`COLD_ENV`] short; otherwise the cache is not waited for), no compaction running, and less than 5 %
/// of a core used in each half second of 2 s (longer than the compaction planner's 1 s tick). A phase that
/// starts with the previous phase's cache or compactions pays for them: without this, the ceiling and the
/// live phase of one run paid for one and two cache snapshots. Returns the wait.
async fn settle(stack: &zw_tests::Stack) -> f64 {
    let started = Instant::now();
    let wait_cache = std::env::var_os(COLD_ENV).is_some();
    let influxd = |s: &[(String, f64)]| {
        s.iter()
            .filter(|(n, _)| n == "influxd")
            .map(|(_, t)| t)
            .sum::<f64>()
    };
    let mut last = influxd(&cpu_split(stack, 0));
    let mut idle_for = 0;
    while started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = influxd(&cpu_split(stack, 0));
        idle_for = if now - last < 0.025 { idle_for + 1 } else { 0 };
        last = now;
        if idle_for >= 4
            && matches!(cache_and_compactions(stack).await, Some((cache, 0)) if cache == 0 || !wait_cache)
        {
            break;
        }
    }
    started.elapsed().as_secs_f64()
}

fn report_settle(secs: f64) {
    println!("settle    influxd settled after {secs:.1} s");
}

/// From one read of influxd's `/debug/vars`: the bytes in its in-memory caches and the compactions
/// (cache snapshots and TSM levels) running, summed over all shards.
async fn cache_and_compactions(stack: &zw_tests::Stack) -> Option<(u64, u64)> {
    let url = format!("{}/debug/vars", stack.influx_url());
    let vars: serde_json::Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    let vars = vars.as_object()?;
    let sum = |prefix: &str, pick: &dyn Fn(&str) -> bool| -> u64 {
        vars.iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .filter_map(|(_, v)| v.get("values")?.as_object())
            .flat_map(|values| values.iter().filter(|(k, _)| pick(k)))
            .filter_map(|(_, v)| v.as_u64())
            .sum()
    };
    Some((
        sum("tsm1_cache", &|name| name == "memBytes"),
        sum("tsm1_engine", &|name| name.ends_with("CompactionsActive")),
    ))
}

/// Prints each process's CPU seconds between the two samples; returns their sum.
fn print_split(phase: &str, before: &[(String, f64)], after: &[(String, f64)]) -> f64 {
    let deltas: Vec<(&str, f64)> = after
        .iter()
        .map(|(name, t)| {
            let t0 = before.iter().find(|(n, _)| n == name).map_or(0.0, |(_, t0)| *t0);
            (name.as_str(), t - t0)
        })
        .collect();
    let parts: Vec<String> = deltas
        .iter()
        .map(|(name, d)| format!("{name} {d:.1} s"))
        .collect();
    println!("          CPU seconds during {phase}: {}", parts.join(", "));
    deltas.iter().map(|(_, d)| d).sum()
}

fn pid_cpu(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// Current resident set of `pid`, KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS value")?.parse()?)
}

fn peak_rss_kib(child: &std::process::Child) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM value")?.parse()?)
}
