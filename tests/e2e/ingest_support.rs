//! Helpers for the ingest end-to-end tests: an ingest process that can be SIGKILLed, a QoS 1 publisher that
//! survives broker restarts, canonical test readings, point counts and metric scrapes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{TimeDelta, Utc};
use rumqttc::{AsyncClient, Event, Packet, QoS};
use secrecy::ExposeSecret as _;
use tokio::process::{Child, Command};
use zw_config::Config;
use zw_model::{Id, Quantity, Reading};
use zw_tests::{Stack, free_port, influx_query, series_values};

use crate::support::{config, eventually};

/// Upper bound for any wait on the pipeline.
pub const WAIT: Duration = Duration::from_secs(60);

/// One `zaehlwerk ingest` process with its own spool, dead-letter file and metrics port.
pub struct Ingest {
    child: Child,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub metrics_port: u16,
    /// `ZW__…` overrides the process gets (secrets the config file does not hold).
    secrets: Vec<(String, String)>,
}

impl Ingest {
    /// Starts instance `name` on a config built from types: the stack's broker and database, quick batches
    /// and retries, its own spool, dead-letter file and topic, and metrics port; `tweak` changes what the test
    /// is about. Secrets (`influx.token`, `influx.password`) are not serialized into the file: they reach the
    /// process as `ZW__INFLUX__…` overrides.
    pub fn start(stack: &Stack, name: &str, tweak: impl FnOnce(&mut Config)) -> anyhow::Result<Self> {
        let dir = stack.state_dir().join(name);
        std::fs::create_dir_all(&dir)?;
        let metrics_port = free_port();
        // A stack without influxd (VictoriaMetrics, say): the test's `tweak` names the database.
        let mut cfg = if stack.has_influxd() {
            config::connected(stack)
        } else {
            let mut cfg = Config::default();
            cfg.bus.port = stack.mqtt_port();
            cfg.bus.accounts = config::bus_accounts(stack);
            cfg
        };
        cfg.bus.reconnect_max = Duration::from_millis(500);
        cfg.influx.timeout = Duration::from_secs(2);
        cfg.ingest.instance = name.into();
        cfg.ingest.batch_size = 500;
        cfg.ingest.batch_interval = Duration::from_millis(100);
        cfg.ingest.retry_min = Duration::from_millis(50);
        cfg.ingest.retry_max = Duration::from_millis(500);
        cfg.ingest.spool.path = Some(dir.join("spool.redb"));
        cfg.ingest.spool.max_bytes = 64 << 20;
        cfg.ingest.dead_letter.path = Some(dir.join("dead.jsonl"));
        cfg.ingest.dead_letter.topic = Some(format!("zw/v1/deadletter/ingest/{name}"));
        cfg.telemetry.metrics_listen = Some(([127, 0, 0, 1], metrics_port).into());
        tweak(&mut cfg);
        let errors = cfg.validate();
        anyhow::ensure!(
            errors.is_empty(),
            "the test's ingest config is invalid: {errors:#?}"
        );
        let config = dir.join("ingest.toml");
        std::fs::write(&config, cfg.to_toml().context("rendering the config")?)?;
        let secrets: Vec<(&str, String)> = [
            ("ZW__INFLUX__TOKEN", &cfg.influx.token),
            ("ZW__INFLUX__PASSWORD", &cfg.influx.password),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_ref()?.expose_secret().to_owned())))
        .collect();
        let child = spawn(&config, &dir, &secrets)?;
        Ok(Self {
            child,
            dir,
            config,
            metrics_port,
            secrets: secrets.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        })
    }

    /// SIGKILL, then a fresh process with the same config, spool and session.
    pub async fn kill9_and_restart(&mut self) -> anyhow::Result<()> {
        self.kill9().await?;
        self.restart()
    }

    /// SIGKILL; the broker keeps the persistent session.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// A fresh process with the same config, spool and session (after [`Ingest::kill9`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let secrets: Vec<(&str, String)> = self
            .secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        self.child = spawn(&self.config, &self.dir, &secrets)?;
        Ok(())
    }

    /// The metrics page; empty if unreachable.
    pub async fn metrics_text(&self) -> String {
        let Ok(resp) = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.metrics_port)).await else {
            return String::new();
        };
        resp.text().await.unwrap_or_default()
    }

    /// The value of an unlabelled metric (or the sum over its labels); 0 if absent or unreachable.
    pub async fn metric(&self, name: &str) -> f64 {
        let text = self.metrics_text().await;
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Records of the dead-letter file.
    pub fn dead_letters(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.join("dead.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The last lines of the process log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("ingest.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// The ingest side of a fault test: one instance (the default setup) or `n` on static partitions of the
/// stream (the scale-out setup, `ingest.partitions = n`), seen as one.
pub struct Ingests(pub Vec<Ingest>);

impl Ingests {
    /// Starts `n` instances `ingest1..`, each changed by `tweak`.
    pub fn start(stack: &Stack, n: u32, tweak: impl Fn(&mut Config)) -> anyhow::Result<Self> {
        (0..n)
            .map(|i| {
                Ingest::start(stack, &format!("ingest{}", i + 1), |c| {
                    c.ingest.partitions = n;
                    c.ingest.partition = i;
                    tweak(c);
                })
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    /// A metric summed over the instances.
    pub async fn metric(&self, name: &str) -> f64 {
        let mut sum = 0.0;
        for i in &self.0 {
            sum += i.metric(name).await;
        }
        sum
    }

    /// The smallest value of a metric among the instances (e.g. reconnects: every instance must have).
    pub async fn metric_min(&self, name: &str) -> f64 {
        let mut min = f64::INFINITY;
        for i in &self.0 {
            min = min.min(i.metric(name).await);
        }
        min
    }

    /// The dead letters of every instance.
    pub fn dead_letters(&self) -> Vec<serde_json::Value> {
        self.0.iter().flat_map(Ingest::dead_letters).collect()
    }

    /// The log tails of every instance.
    pub fn log_tail(&self) -> String {
        self.0
            .iter()
            .map(|i| format!("{}:\n{}", i.dir.display(), i.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn spawn(config: &Path, dir: &Path, env: &[(&str, String)]) -> anyhow::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("ingest.log"))?;
    Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["ingest", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .context("spawning zaehlwerk ingest")
}

/// Reading `i` of a test stream on `site`: 10 devices, one point per reading (unique device + timestamp).
pub fn reading(site: &str, i: u64) -> (String, Vec<u8>) {
    let base = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |d| d.and_utc());
    let r = Reading::new(
        Id::new(site).expect("site id"),
        Id::new(format!("dev-{}", i % 10)).expect("device id"),
        // Today's midnight minus a day keeps every test in one InfluxDB shard and inside the 7-day window.
        base - TimeDelta::days(1) + TimeDelta::milliseconds(i as i64),
        BTreeMap::from([(Quantity::ActivePower, i as f64)]),
    );
    (format!("zw/v1/readings/{site}/{}", r.device), r.to_json())
}

/// Points with an `active_power` value on `site`.
pub async fn count(stack: &Stack, site: &str) -> anyhow::Result<u64> {
    let q = format!("SELECT count(active_power) FROM readings WHERE site = '{site}'");
    let answer = influx_query(&stack.influx_url(), stack.influx_db(), &q).await?;
    Ok(series_values(&answer)
        .first()
        .and_then(|row| row.get(1)?.as_u64())
        .unwrap_or(0))
}

/// Waits until `site` holds exactly `n` points.
pub async fn await_count(stack: &Stack, site: &str, n: u64, logs: &str) -> anyhow::Result<()> {
    let last = std::cell::Cell::new(0);
    eventually(WAIT, &format!("{n} points on {site}"), || {
        let last = &last;
        async move {
            last.set(count(stack, site).await.unwrap_or(0));
            (last.get() == n).then_some(())
        }
    })
    .await
    .with_context(|| format!("last count {}; {logs}", last.get()))?;
    // Nothing more trickles in (a count above n would mean duplicates: it cannot, points are idempotent).
    anyhow::ensure!(count(stack, site).await? == n);
    Ok(())
}

/// Publishes probe readings on site `probe` until `ready` holds: proves the subscription is in place.
pub async fn await_subscribed<F, Fut>(publisher: &Publisher, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut i = 0;
    eventually(WAIT, "ingest subscribed", || {
        i += 1;
        let fut = ready();
        async move {
            let _ = publisher.publish_chunk(&[reading("probe", i)]).await;
            fut.await.then_some(())
        }
    })
    .await
}

/// A QoS 1 publisher that re-publishes a chunk until the broker acknowledged all of it, across reconnects.
/// A reading published twice is the same point, so re-publishing is safe.
pub struct Publisher {
    client: AsyncClient,
    acks: Arc<AtomicU64>,
    connects: Arc<AtomicU64>,
}

impl Publisher {
    /// Connects to the stack's broker; the event loop reconnects on its own.
    pub fn new(stack: &Stack, id: &str) -> Self {
        let mut opts = zw_tests::mqtt::options(id, stack.mqtt_host(), stack.mqtt_port());
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(opts, 1000);
        let acks = Arc::new(AtomicU64::new(0));
        let connects = Arc::new(AtomicU64::new(0));
        let (a, c) = (acks.clone(), connects.clone());
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        a.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(_) => {}
                    // The broker is down: this is the reconnect interval, not a readiness wait.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Self {
            client,
            acks,
            connects,
        }
    }

    /// Publishes `msgs` until every one of them was acknowledged on one connection.
    pub async fn publish_chunk(&self, msgs: &[(String, Vec<u8>)]) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "broker did not take the chunk"
            );
            let (acks0, conn0) = (
                self.acks.load(Ordering::SeqCst),
                self.connects.load(Ordering::SeqCst),
            );
            for (t, p) in msgs {
                self.client
                    .publish(t.clone(), QoS::AtLeastOnce, false, p.clone())
                    .await?;
            }
            let want = acks0 + msgs.len() as u64;
            let ok = eventually(Duration::from_secs(5), "PUBACKs", || async {
                let reconnected = self.connects.load(Ordering::SeqCst) != conn0;
                (reconnected || self.acks.load(Ordering::SeqCst) >= want).then_some(!reconnected)
            })
            .await;
            if ok.unwrap_or(false) {
                return Ok(());
            }
        }
    }

    /// Publishes readings `range` of `site` in chunks of `chunk`, calling `between(chunk_index)` after each.
    pub async fn stream<F, Fut>(&self, site: &str, n: u64, chunk: u64, mut between: F) -> anyhow::Result<()>
    where
        F: FnMut(u64) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<()>>,
    {
        for (k, start) in (0..n).step_by(chunk as usize).enumerate() {
            let msgs: Vec<_> = (start..(start + chunk).min(n))
                .map(|i| reading(site, i))
                .collect();
            self.publish_chunk(&msgs).await?;
            between(k as u64).await?;
        }
        Ok(())
    }
}
