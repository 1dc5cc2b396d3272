//! Two analytics instances split the sites (`[analytics.partitions]`, issue 23), on a real broker and
//! InfluxDB with ingest storing the readings: an anomaly in a site of each instance raises each alert exactly
//! once; `kill -9` of the owner of a site with an open alert hands the site to the other within the timeout
//! plus the warm-up, which carries the open alert on (same opening, never raised again) and raises a new
//! anomaly's alert in that site once.
//!
//! "Once" is counted on the bus: every message on `zw/v1/alerts/+` is recorded, and each alert id may have
//! one opening time and one raise message (`updated_at` = `opened_at`; two instances evaluating the same
//! readings would both publish one), and no resolution while its plug stays high.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use zw_analytics::config::Watts;
use zw_config::Config;
use zw_model::{Device, Inventory};
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::config::{connected, write};
use crate::support::{Zaehlwerk, eventually};

const SITES: usize = 6;
const INSTANCES: [&str; 2] = ["analytics-a", "analytics-b"];
/// How long a silent instance counts as alive.
const TIMEOUT: Duration = Duration::from_millis(1500);

fn inventory() -> Inventory {
    let mut b = Inventory::builder();
    for i in 1..=SITES {
        b = b.household(
            &format!("hh-{i}"),
            [
                Device::tasmota(&format!("plug-{i}"), &format!("plug-{i}")).class("plug"),
                Device::tasmota(&format!("kettle-{i}"), &format!("kettle-{i}")).class("plug"),
            ],
        );
    }
    b.build()
}

/// The stack's broker and database, the inventory, ingest flushing every 200 ms.
fn base(stack: &Stack) -> Config {
    let mut cfg = connected(stack);
    cfg.ingest.batch_interval = Duration::from_millis(200);
    cfg.inventory = inventory();
    cfg
}

/// `cfg` written to `{state}/{name}/zaehlwerk.toml`; returns the directory and the file.
fn written(stack: &Stack, name: &str, cfg: &Config) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = stack.state_dir().join(name);
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("zaehlwerk.toml");
    std::fs::copy(write(stack, cfg)?, &config)?;
    Ok((dir, config))
}

/// One analytics instance: quick power detectors (over 100 W for 2 s raises an alert, refreshed every
/// second), partitions with a 300 ms heartbeat, its own `/metrics`.
struct Instance {
    name: &'static str,
    config: PathBuf,
    dir: PathBuf,
    metrics: String,
}

impl Instance {
    fn new(stack: &Stack, name: &'static str) -> anyhow::Result<Self> {
        let mut cfg = base(stack);
        let a = &mut cfg.analytics;
        a.instance = name.into();
        a.tick_interval = Duration::from_millis(200);
        a.power.smoothing = Duration::from_secs(1);
        a.power.hold = Duration::from_secs(2);
        a.power.clear_hold = Duration::from_secs(2);
        a.power.refresh = Duration::from_secs(1);
        a.limits = BTreeMap::from([("plug".to_owned(), Watts(100.0))]);
        a.left_on.classes = Vec::new();
        a.alerts.restore_wait = Duration::from_secs(2);
        a.alerts.restore_quiet = Duration::from_millis(300);
        a.partitions.enabled = true;
        a.partitions.heartbeat = Duration::from_millis(300);
        a.partitions.timeout = TIMEOUT;
        let port = free_port();
        cfg.telemetry.metrics_listen = Some(([127, 0, 0, 1], port).into());
        let (dir, config) = written(stack, name, &cfg)?;
        Ok(Self {
            name,
            config,
            dir,
            metrics: format!("http://127.0.0.1:{port}"),
        })
    }

    fn start(&self) -> anyhow::Result<Zaehlwerk> {
        Zaehlwerk::start("analytics", &self.config, &self.dir)
    }

    /// The sum of a metric over its labels matching `labels`; `None` while `/metrics` cannot be read.
    async fn metric(&self, name: &str, labels: &str) -> Option<f64> {
        let text = crate::support::metrics(&self.metrics).await?;
        Some(
            text.lines()
                .filter(|l| {
                    l.starts_with(name) && l[name.len()..].starts_with([' ', '{']) && l.contains(labels)
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum(),
        )
    }
}

/// Every alert message seen on the bus, per topic, in order.
type Seen = Arc<Mutex<HashMap<String, Vec<serde_json::Value>>>>;
/// The power each plug draws now (10 W unless set).
type Power = Arc<Mutex<HashMap<String, f64>>>;

/// Publishes every plug's reading every 200 ms and records every alert message.
async fn bus(stack: &Stack) -> anyhow::Result<(Seen, Power)> {
    let opts = zw_tests::mqtt::options("e2e-partitions", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Ok(ev) = eventloop.poll().await {
            if let Event::Incoming(Packet::Publish(p)) = ev
                && let Ok(v) = serde_json::from_slice(&p.payload)
            {
                sink.lock()
                    .map(|mut m| m.entry(p.topic.clone()).or_default().push(v))
                    .ok();
            }
        }
    });
    client.subscribe("zw/v1/alerts/+", QoS::AtLeastOnce).await?;
    let power: Power = Arc::default();
    let now = power.clone();
    tokio::spawn(async move {
        loop {
            let ts = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
            for i in 1..=SITES {
                for device in [format!("plug-{i}"), format!("kettle-{i}")] {
                    let w = now
                        .lock()
                        .ok()
                        .and_then(|m| m.get(&device).copied())
                        .unwrap_or(10.0);
                    let site = format!("hh-{i}");
                    let body = format!(
                        r#"{{"v":1,"site":"{site}","device":"{device}","ts":"{ts}","values":{{"active_power":{w}}}}}"#
                    );
                    let topic = format!("zw/v1/readings/{site}/{device}");
                    if client.publish(topic, QoS::AtMostOnce, false, body).await.is_err() {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Ok((seen, power))
}

/// The messages of alert `id` seen so far.
fn messages(seen: &Seen, id: &str) -> Vec<serde_json::Value> {
    seen.lock()
        .ok()
        .and_then(|m| m.get(&format!("zw/v1/alerts/{id}")).cloned())
        .unwrap_or_default()
}

/// Asserts alert `id` was opened once and never resolved; returns its opening time and message count.
fn opened_once(seen: &Seen, id: &str) -> (String, usize) {
    let all = messages(seen, id);
    let mut openings: Vec<&str> = all.iter().filter_map(|a| a["opened_at"].as_str()).collect();
    openings.dedup();
    assert_eq!(openings.len(), 1, "{id} opened more than once: {all:#?}");
    // Two instances evaluating the same readings would open it at the same time: count the raises.
    let raises = all.iter().filter(|a| a["updated_at"] == a["opened_at"]).count();
    assert_eq!(raises, 1, "{id} raised more than once: {all:#?}");
    assert!(
        all.iter().all(|a| a["state"] == "open"),
        "{id} resolved while its plug stays high: {all:#?}"
    );
    (openings[0].to_owned(), all.len())
}

fn set(power: &Power, device: &str, w: f64) {
    power.lock().map(|mut m| m.insert(device.to_owned(), w)).ok();
}

/// The site of `instance` among the inventory's, by the same rendezvous hashing the instances use.
fn site_of(instance: &str) -> anyhow::Result<usize> {
    let members = zw_bus::Members::new(INSTANCES);
    (1..=SITES)
        .find(|i| members.owner(&format!("hh-{i}")) == Some(instance))
        .with_context(|| format!("no site for {instance}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_split_the_sites_and_hand_over_on_kill_without_repeating_an_alert() -> anyhow::Result<()>
{
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (a, b) = (
        Instance::new(&stack, INSTANCES[0])?,
        Instance::new(&stack, INSTANCES[1])?,
    );
    let (dir, config) = written(&stack, "ingest", &base(&stack))?;
    let ingest = Zaehlwerk::start("ingest", &config, &dir)?;
    let (seen, power) = bus(&stack).await?;
    let run_a = a.start()?;
    let run_b = b.start()?;
    let logs = |runs: &[&Zaehlwerk]| {
        runs.iter()
            .map(|r| r.log_tail())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };

    // Each owns its share: together every site, each some, and each skips the other's readings.
    eventually(WAIT, "the sites split between the two", || async {
        let (na, nb) = (
            a.metric("zw_analytics_sites_owned", "").await?,
            b.metric("zw_analytics_sites_owned", "").await?,
        );
        let skipped = (
            a.metric("zw_analytics_readings_skipped_total", "").await?,
            b.metric("zw_analytics_readings_skipped_total", "").await?,
        );
        (na + nb == SITES as f64 && na > 0.0 && nb > 0.0 && skipped.0 > 0.0 && skipped.1 > 0.0).then_some(())
    })
    .await
    .with_context(|| logs(&[&run_a, &run_b]))?;

    // An anomaly in a site of each instance.
    let (sa, sb) = (site_of(a.name)?, site_of(b.name)?);
    let (alert_a, alert_b) = (
        format!("high_consumption.hh-{sa}.plug-{sa}"),
        format!("high_consumption.hh-{sb}.plug-{sb}"),
    );
    set(&power, &format!("plug-{sa}"), 500.0);
    set(&power, &format!("plug-{sb}"), 500.0);
    // Raised, then refreshed a few times (a second instance raising it would show by now).
    eventually(WAIT, "both alerts open and refreshed", || async {
        (messages(&seen, &alert_a).len() >= 3 && messages(&seen, &alert_b).len() >= 3).then_some(())
    })
    .await
    .with_context(|| logs(&[&run_a, &run_b]))?;
    opened_once(&seen, &alert_b);
    let (opened, before) = opened_once(&seen, &alert_a);

    // kill -9 the owner of site a (dropping the process handle kills it with SIGKILL).
    let killed = tokio::time::Instant::now();
    drop(run_a);
    let gained = eventually(WAIT, "the survivor owning every site", || async {
        let owned = b.metric("zw_analytics_sites_owned", "").await?;
        let gained = b
            .metric("zw_analytics_handovers_total", r#"direction="gained""#)
            .await?;
        (owned == SITES as f64 && gained > 0.0).then_some(gained)
    })
    .await
    .with_context(|| run_b.log_tail())?;
    let took = killed.elapsed();
    // Within the timeout, the settle and the warm-up (generously bounded for a loaded machine).
    assert!(took < TIMEOUT + Duration::from_secs(10), "handover took {took:?}");
    assert!(gained >= 1.0, "{gained}");
    eprintln!("handover of {gained} site(s) after kill -9: {took:?}");
    let log = std::fs::read_to_string(&run_b.log)?;
    assert_eq!(
        log.matches("Took over sites from another analytics instance")
            .count(),
        1,
        "one handover logged once: {log}"
    );

    // The survivor carries the open alert on: refreshed under the same opening, never raised again.
    eventually(WAIT, "the taken-over alert refreshed by the survivor", || async {
        (messages(&seen, &alert_a).len() >= before + 3).then_some(())
    })
    .await
    .with_context(|| run_b.log_tail())?;
    assert_eq!(opened_once(&seen, &alert_a).0, opened, "the same opening");

    // A new anomaly in the taken-over site raises its alert once.
    let kettle = format!("high_consumption.hh-{sa}.kettle-{sa}");
    set(&power, &format!("kettle-{sa}"), 800.0);
    eventually(WAIT, "the new anomaly's alert, refreshed", || async {
        (messages(&seen, &kettle).len() >= 3).then_some(())
    })
    .await
    .with_context(|| run_b.log_tail())?;
    opened_once(&seen, &kettle);
    opened_once(&seen, &alert_b);

    // The readings were stored by ingest meanwhile (what a handover's warm-up reads).
    run_b.stop(Duration::from_secs(15)).await?;
    ingest.stop(Duration::from_secs(15)).await
}
