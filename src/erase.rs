//! `zaehlwerk erase --site <id>`: removes one household (or any site) and prints what it removed.
//!
//! 1. InfluxDB: every series tagged with the site, in every measurement (raw readings, the energy rollups,
//!    the alert history), listed with `SHOW TAG VALUES` and dropped with `DROP SERIES WHERE "site" = '<id>'`;
//!    then listed again, and any left is an error.
//! 2. Ingest's dead letters (`ingest.dead_letter.path`): the lines about the site (its readings topic, or a
//!    payload naming it) are taken out of the file. The spool holds readings only while InfluxDB is down
//!    and replays them into it: erase with ingest stopped and the spool empty (`zw_ingest_spool_bytes` 0).
//! 3. The bus: the retained alerts of the site and the retained statuses of its devices are cleared
//!    (an empty retained message on each topic), published as the `analytics` and `gateway` services.
//!
//! Run it with the services stopped, or at least analytics, which would republish the site's open alerts
//! from memory. Remove the site from the inventory too, or its devices write new readings.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio_util::sync::CancellationToken;
use zw_bus::{ConnectOptions, QoS};
use zw_config::Config;
use zw_model::{Id, topic};

/// Arguments of `erase`.
#[derive(clap::Args)]
pub struct EraseArgs {
    /// The site (household) to remove.
    #[arg(long)]
    site: String,
    /// Config file (TOML). Keys can be overridden with ZW__SECTION__KEY=value.
    #[arg(long, short, env = "ZW_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

/// Runs `erase`; prints what it removed, exit 1 on any failure.
pub fn main(args: EraseArgs, cfg: Config) -> Result<ExitCode, ExitCode> {
    match crate::runtime(None)?.block_on(run(&args, &cfg)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Err(ExitCode::FAILURE)
        }
    }
}

async fn run(args: &EraseArgs, cfg: &Config) -> anyhow::Result<()> {
    let site = Id::new(args.site.clone()).map_err(|e| anyhow::anyhow!("--site: {e}"))?;
    if cfg.inventory.site(site.as_str()).is_some() {
        println!(
            "note: site {site} is still in the inventory; remove it there too, or its devices write new readings"
        );
    }
    influx(cfg, &site).await?;
    if let Some(path) = &cfg.ingest.dead_letter.path {
        dead_letters(path, &site)?;
    }
    if let Err(e) = retained(cfg, &site).await {
        bail!("bus: {e:#}");
    }
    Ok(())
}

/// Drops every series tagged with the site (site ids are `[a-z0-9_-]`, so the literal needs no escaping).
async fn influx(cfg: &Config, site: &Id) -> anyhow::Result<()> {
    let client = zw_influx::Client::new(cfg.influx.clone())?;
    // Per measurement, the tag values of the site's series (`SHOW SERIES` answers without a name, which the
    // client does not read).
    let show = format!("SHOW TAG VALUES WITH KEY =~ /.*/ WHERE \"site\" = '{site}'");
    let series = |result: Vec<zw_influx::Series>| -> Vec<String> {
        result
            .iter()
            .flat_map(|s| {
                s.values.iter().filter_map(move |row| {
                    let (k, v) = (row.first()?.as_str()?, row.get(1)?.as_str()?);
                    (k != "site").then(|| format!("{} {k}={v}", s.name))
                })
            })
            .collect()
    };
    let before = series(
        client
            .query(&show, &[])
            .await
            .context("InfluxDB: listing the site's series")?,
    );
    client
        .execute(&format!("DROP SERIES WHERE \"site\" = '{site}'"))
        .await
        .context("InfluxDB: dropping the site's series")?;
    let after = series(
        client
            .query(&show, &[])
            .await
            .context("InfluxDB: listing again")?,
    );
    for key in &before {
        println!("influxdb: dropped {key}");
    }
    println!("influxdb: {} tag value(s) of site {site} dropped", before.len());
    if !after.is_empty() {
        bail!(
            "InfluxDB still has {} series of site {site}: {after:?}",
            after.len()
        );
    }
    Ok(())
}

/// Takes the site's lines out of the dead-letter file.
fn dead_letters(path: &Path, site: &Id) -> anyhow::Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("dead letters: {} does not exist", path.display());
            return Ok(());
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let topic_part = format!("/readings/{site}/");
    let json_site = format!("\\\"site\\\":\\\"{site}\\\"");
    let line_site = format!(",site={site} ");
    let about = |l: &str| l.contains(&topic_part) || l.contains(&json_site) || l.contains(&line_site);
    let (removed, kept): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| about(l));
    let tmp = path.with_extension("erase.tmp");
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    std::fs::write(&tmp, out).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    println!(
        "dead letters: {} line(s) of site {site} removed from {}",
        removed.len(),
        path.display()
    );
    Ok(())
}

/// Clears the site's retained alerts and its devices' retained statuses.
async fn retained(cfg: &Config, site: &Id) -> anyhow::Result<()> {
    let bus = zw_bus::Bus {
        config: cfg.bus.clone(),
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let devices: Vec<Id> = cfg
        .inventory
        .site(site.as_str())
        .map(|s| s.devices.iter().map(|d| d.id.clone()).collect())
        .unwrap_or_default();
    let stop = CancellationToken::new();
    // Read the retained alerts (as analytics, which owns them) to find the site's.
    let (client, mut inbound, driver) = bus.connect(
        ConnectOptions {
            subscriptions: vec![(topic::ALERTS_FILTER.to_string(), QoS::AtLeastOnce)],
            ..ConnectOptions::publisher("analytics", "erase")
        },
        stop.clone(),
    );
    let mut alerts = Vec::new();
    // Retained messages arrive right after subscribing; a quiet second means all are in.
    while let Ok(Some(p)) = tokio::time::timeout(Duration::from_secs(2), inbound.recv()).await {
        let of_site = serde_json::from_slice::<serde_json::Value>(&p.payload)
            .ok()
            .is_some_and(|v| v["site"] == site.as_str());
        if of_site && !p.payload.is_empty() {
            alerts.push(p.topic.clone());
        }
    }
    for t in &alerts {
        client
            .publish(t.clone(), QoS::AtLeastOnce, true, Vec::new())
            .await?;
        println!("bus: cleared retained alert {t}");
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    let (client, _inbound, driver) = bus.connect(ConnectOptions::publisher("gateway", "erase"), stop.clone());
    for d in &devices {
        let t = topic::device_status(d);
        client
            .publish(t.clone(), QoS::AtLeastOnce, true, Vec::new())
            .await?;
        println!("bus: cleared retained device status {t}");
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    stop.cancel();
    println!(
        "bus: {} retained alert(s), {} device status(es) of site {site} cleared",
        alerts.len(),
        devices.len()
    );
    Ok(())
}
