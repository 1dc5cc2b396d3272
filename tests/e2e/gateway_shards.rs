//! Issue 23: two gateways split one inventory (`[gateway.shards]`) against the real broker and the Modbus
//! simulator, and one takes over the other's devices when it is killed.
//!
//! Sixteen SDM630s on eight simulated Modbus TCP connections (two meters each: a connection is one shard
//! key, so its meters always go to one gateway). Both gateways publish batches on
//! `zw/v1/batches/{instance}`, so a harness subscriber knows which gateway produced each reading. Checked:
//! * with one gateway, it polls every meter;
//! * once a second joins and the split settled, every meter's readings come from exactly one gateway, both
//!   have meters, and the two meters of a connection stay together;
//! * after `kill -9` of one, the other polls all of its meters within `timeout` + a few seconds, and from
//!   then on alone.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rumqttc::QoS;
use zw_model::reading::{TimeWindow, for_each_in_message};
use zw_model::{Device, Inventory, topic};
use zw_sim::MeterConfig;
use zw_tests::{Stack, free_port};

use crate::support::config::bus_accounts;
use crate::support::{Zaehlwerk, eventually};

const WAIT: Duration = Duration::from_secs(60);
const LINES: u16 = 8;
const PER_LINE: u8 = 2;
const TIMEOUT: Duration = Duration::from_secs(3);

/// Readings seen: device → (gateway, reading time) in arrival order.
#[derive(Default)]
struct Seen(BTreeMap<String, Vec<(String, DateTime<Utc>)>>);

impl Seen {
    fn drain(&mut self, rx: &mut tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
        while let Ok((t, payload)) = rx.try_recv() {
            let Some(producer) = topic::parse_batches(&t) else {
                continue;
            };
            for_each_in_message(&t, &payload, Utc::now(), TimeWindow::default(), |r| {
                if let Ok(r) = r {
                    self.0
                        .entry(r.device.as_str().to_owned())
                        .or_default()
                        .push((producer.as_str().to_owned(), r.ts));
                }
            });
        }
    }

    /// Each device's gateways for readings taken after `since`, for devices with at least `n` of them.
    fn producers(&self, since: DateTime<Utc>, n: usize) -> BTreeMap<String, BTreeSet<String>> {
        self.0
            .iter()
            .filter_map(|(d, rs)| {
                let after: Vec<_> = rs.iter().filter(|(_, ts)| *ts > since).collect();
                (after.len() >= n).then(|| (d.clone(), after.iter().map(|(p, _)| p.clone()).collect()))
            })
            .collect()
    }
}

/// `{"gw-a"}`.
fn only_a() -> BTreeSet<String> {
    BTreeSet::from(["gw-a".to_owned()])
}

/// The devices: `m{line}-{unit}` on connection `line`.
fn devices() -> Vec<String> {
    (0..LINES)
        .flat_map(|l| (1..=PER_LINE).map(move |u| format!("m{l}-{u}")))
        .collect()
}

/// Writes the config of `role` (`sim`, or a gateway instance) into its own directory (each process logs
/// to `<dir>/<subcommand>.log`).
fn write(stack: &Stack, cfg: &zw_config::Config, role: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let errors = cfg.validate();
    anyhow::ensure!(errors.is_empty(), "the test's config is invalid: {errors:#?}");
    let dir = stack.state_dir().join(role);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("zaehlwerk.toml");
    std::fs::write(&path, cfg.to_toml().context("rendering the config")?)?;
    Ok((path, dir))
}

fn start(sub: &str, (path, dir): &(PathBuf, PathBuf)) -> anyhow::Result<Zaehlwerk> {
    Zaehlwerk::start(sub, Path::new(path), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_split_the_meters_and_one_takes_over_when_the_other_is_killed() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().start().await?;
    let mut cfg = zw_config::Config::default();
    cfg.bus.port = stack.mqtt_port();
    cfg.bus.accounts = bus_accounts(&stack);
    cfg.sim.modbus_listen = ([127, 0, 0, 1], free_port()).into();
    cfg.sim.plugs = Vec::new();
    cfg.sim.soil_sensors = Vec::new();
    let mut meters = Vec::new();
    let mut inventory = Vec::new();
    for line in 0..LINES {
        let listen: std::net::SocketAddr = ([127, 0, 0, 1], free_port()).into();
        for unit in 1..=PER_LINE {
            meters.push(MeterConfig {
                listen: Some(listen),
                ..MeterConfig::sdm630(unit)
            });
            inventory.push(
                Device::modbus(&format!("m{line}-{unit}"), &listen.to_string(), unit, "sdm630")
                    .every(Duration::from_secs(1)),
            );
        }
    }
    cfg.sim.meters = meters;
    cfg.inventory = Inventory::builder().building("plant", inventory).build();
    cfg.gateway.publish.batch_max = 100;
    cfg.gateway.publish.batch_linger = Duration::from_millis(100);
    cfg.gateway.shards.enabled = true;
    cfg.gateway.shards.heartbeat = Duration::from_millis(500);
    cfg.gateway.shards.timeout = TIMEOUT;
    let sim_cfg = write(&stack, &cfg, "sim")?;
    cfg.gateway.instance = "gw-a".into();
    let a_cfg = write(&stack, &cfg, "gw-a")?;
    cfg.gateway.instance = "gw-b".into();
    let b_cfg = write(&stack, &cfg, "gw-b")?;

    let mut observer = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-gateway-shards-observer",
        &[topic::BATCHES_FILTER],
        QoS::AtLeastOnce,
    )
    .await?;
    let sim = start("sim", &sim_cfg)?;
    let a = start("gateway", &a_cfg)?;
    let logs = |gws: &[&Zaehlwerk]| {
        let tails: Vec<String> = gws.iter().map(|g| g.log_tail()).collect();
        format!("{}\nsim:\n{}", tails.join("\n----\n"), sim.log_tail())
    };
    let all = devices();
    let mut seen = Seen::default();

    // Alone, gw-a polls every meter.
    let t0 = Utc::now();
    eventually(WAIT, "every meter polled by gw-a alone", || {
        seen.drain(&mut observer.messages);
        let p = seen.producers(t0, 2);
        std::future::ready((p.len() == all.len() && p.values().all(|g| *g == only_a())).then_some(()))
    })
    .await
    .with_context(|| logs(&[&a]))?;

    // gw-b joins: the meters split, each to one gateway, once the split settled.
    let b = start("gateway", &b_cfg)?;
    let split = eventually(WAIT, "gw-b polling some meters", || {
        seen.drain(&mut observer.messages);
        let p = seen.producers(t0, 1);
        std::future::ready(p.values().any(|g| g.contains("gw-b")).then(Utc::now))
    })
    .await
    .with_context(|| logs(&[&a, &b]))?;
    let steady = eventually(WAIT, "3 readings of every meter after the split", || {
        seen.drain(&mut observer.messages);
        let p = seen.producers(split, 3);
        std::future::ready((p.len() == all.len()).then_some(p))
    })
    .await
    .with_context(|| logs(&[&a, &b]))?;
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (d, gws) in &steady {
        anyhow::ensure!(
            gws.len() == 1,
            "{d} polled by {gws:?} in the steady state\n{}",
            logs(&[&a, &b])
        );
        owner.insert(d.clone(), gws.iter().next().cloned().unwrap_or_default());
    }
    let of_b: Vec<&String> = owner
        .iter()
        .filter(|(_, g)| *g == "gw-b")
        .map(|(d, _)| d)
        .collect();
    anyhow::ensure!(
        !of_b.is_empty() && of_b.len() < all.len(),
        "both gateways poll some meters: {owner:?}"
    );
    for line in 0..LINES {
        anyhow::ensure!(
            owner.get(&format!("m{line}-1")) == owner.get(&format!("m{line}-2")),
            "the meters of connection {line} stay with one gateway: {owner:?}"
        );
    }

    // kill -9 of gw-b: gw-a polls its meters within the timeout and a few seconds.
    let b_log = b.log.clone();
    drop(b);
    let killed = Utc::now();
    let took = eventually(
        TIMEOUT + Duration::from_secs(10),
        "gw-a polling gw-b's meters",
        || {
            seen.drain(&mut observer.messages);
            let p = seen.producers(killed, 1);
            let done = of_b
                .iter()
                .all(|d| p.get(d.as_str()).is_some_and(|g| g.contains("gw-a")));
            std::future::ready(done.then(Utc::now))
        },
    )
    .await
    .with_context(|| {
        format!(
            "{}\ngw-b (killed):\n{}",
            logs(&[&a]),
            std::fs::read_to_string(&b_log).unwrap_or_default()
        )
    })?;
    // From then on gw-a alone polls every meter.
    let after = eventually(WAIT, "3 readings of every meter after the takeover", || {
        seen.drain(&mut observer.messages);
        let p = seen.producers(took, 3);
        std::future::ready((p.len() == all.len()).then_some(p))
    })
    .await
    .with_context(|| logs(&[&a]))?;
    for (d, gws) in &after {
        anyhow::ensure!(*gws == only_a(), "{d} polled by {gws:?} after the takeover");
    }
    let log = std::fs::read_to_string(&a.log)?;
    anyhow::ensure!(
        log.matches("Gateway shard handover.").count() >= 3,
        "gw-a logs its handovers (took all, released gw-b's, took them back):\n{}",
        a.log_tail()
    );
    println!(
        "gateway shards: {} of {} meters on gw-b, taken over by gw-a {:.1} s after kill -9 \
         (timeout {TIMEOUT:?})",
        of_b.len(),
        all.len(),
        (took - killed).as_seconds_f64()
    );
    a.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await?;
    Ok(())
}
