//! `zaehlwerk erase --site <id>`: removes everything Zählwerk holds about one household (or any site) and
//! prints what it removed, per kind, ending with one `erased site …` summary line.
//!
//! 1. InfluxDB: every series tagged with the site, in every measurement (raw readings, the energy rollups,
//!    the alert history), listed with `SHOW TAG VALUES` and dropped with `DROP SERIES WHERE "site" = '<id>'`;
//!    then listed again, and any left is an error. On VictoriaMetrics (`influx.read_backend`) every series
//!    labelled `site=<id>` is listed (`/api/v1/series`), deleted whole (`/api/v1/admin/tsdb/delete_series`;
//!    a cluster's vmselect under `/delete/{tenant}/prometheus`), and listed again.
//! 2. Ingest's spool (`ingest.spool.path`): the site's lines (tag `site=<id>`) are taken out of every
//!    waiting batch. The file is locked while ingest runs, so this fails until ingest is stopped.
//! 3. Ingest's dead letters (`ingest.dead_letter.path`): the lines about the site (its readings topic, a
//!    payload or line naming it) are taken out of the file.
//! 4. The bus: the retained messages about the site are cleared (an empty retained message on each topic):
//!    readings under `zw/v1/readings/<id>/+`, the statuses of its devices (inventory devices and any seen
//!    under its readings topic), its alerts (payload `site`) and the statuses of its trees. They are found
//!    by subscribing as the `api` service (which may read them all) and cleared as their writers
//!    (`gateway`, `analytics`).
//! 5. The relational store (`--store`, else `$ZW_STORE_URL`, else `sqlite://state/zaehlwerk.db`): the
//!    site's alert episodes, their comments, the waterings of its trees and its activation codes
//!    ([`zw_store::Store::erase_site`], audited). A SQLite file that does not exist is skipped. The
//!    inventory rows stay (a flat keeps its meters for the next tenant) unless `--retire`, which also
//!    retires the users whose scope is only this site, then the site with its devices and trees.
//!
//! Run it with the services stopped (analytics would republish the site's open alerts from memory, ingest
//! holds the spool), and remove the site from the TOML inventory too, or its devices write new readings.

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
    /// The store: sqlite://<file> or postgres://<user>@<host>:<port>/<database>.
    #[arg(long = "store", env = "ZW_STORE_URL", default_value = zw_store::DEFAULT_URL)]
    store: String,
    /// Also retire the site (with its devices and trees) and the users whose scope is only this site in
    /// the store.
    #[arg(long)]
    retire: bool,
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
    let mut summary = vec![match cfg.influx.read_backend {
        zw_influx::ReadBackend::Influx => format!("influxdb {} tag value(s)", influx(cfg, &site).await?),
        zw_influx::ReadBackend::VictoriaMetrics => {
            format!("victoria-metrics {} series", victoria(cfg, &site).await?)
        }
    }];
    if let Some(path) = &cfg.ingest.spool.path {
        summary.push(format!("spool {} line(s)", spool(path, cfg, &site).await?));
    }
    if let Some(path) = &cfg.ingest.dead_letter.path {
        summary.push(format!("dead letters {} line(s)", dead_letters(path, &site)?));
    }
    let bus = retained(cfg, &site).await.context("bus")?;
    summary.push(format!("bus {bus} retained message(s)"));
    if let Some(rows) = store(args, &site).await.context("store")? {
        summary.push(rows);
    }
    println!("erased site {site}: {}", summary.join(", "));
    Ok(())
}

/// Drops every series tagged with the site (site ids are `[a-z0-9_-]`, so the literal needs no escaping);
/// the number of tag values dropped.
async fn influx(cfg: &Config, site: &Id) -> anyhow::Result<usize> {
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
    Ok(before.len())
}

/// VictoriaMetrics: deletes every series labelled with the site, whole (`delete_series`), then lists
/// again, and any left is an error; the number of series deleted.
async fn victoria(cfg: &Config, site: &Id) -> anyhow::Result<usize> {
    let client = zw_influx::Client::new(cfg.influx.clone())?;
    let name = |labels: &std::collections::BTreeMap<String, String>| {
        let rest: Vec<String> = labels
            .iter()
            .filter(|(k, _)| k.as_str() != "__name__")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{} {}",
            labels.get("__name__").map_or("", String::as_str),
            rest.join(",")
        )
    };
    let before = client
        .victoria_series("site", site.as_str())
        .await
        .context("VictoriaMetrics: listing the site's series")?;
    client
        .victoria_delete_series("site", site.as_str())
        .await
        .context("VictoriaMetrics: deleting the site's series")?;
    let after = client
        .victoria_series("site", site.as_str())
        .await
        .context("VictoriaMetrics: listing again")?;
    for labels in &before {
        println!("victoria-metrics: deleted {}", name(labels));
    }
    println!("victoria-metrics: {} series of site {site} deleted", before.len());
    if !after.is_empty() {
        bail!(
            "VictoriaMetrics still has {} series of site {site}: {:?}",
            after.len(),
            after.iter().map(name).collect::<Vec<_>>()
        );
    }
    Ok(before.len())
}

/// Takes the site's lines out of the spool; the number of lines.
async fn spool(path: &Path, cfg: &Config, site: &Id) -> anyhow::Result<u64> {
    if !path.exists() {
        println!("spool: {} does not exist", path.display());
        return Ok(0);
    }
    let metrics = zw_ingest::Metrics::unregistered()?;
    let spool = zw_ingest::spool::Spool::open(path, u64::MAX, cfg.ingest.spool.cache_bytes, metrics)
        .await
        .context("opening the spool (is ingest still running?)")?;
    let (tag_end, tag_more) = (format!(",site={site} "), format!(",site={site},"));
    let erased = spool
        .erase_lines(move |line| {
            let l = String::from_utf8_lossy(line);
            l.contains(&tag_end) || l.contains(&tag_more)
        })
        .await?;
    println!(
        "spool: {} line(s) of site {site} removed from {} batch(es) ({} emptied) in {}",
        erased.lines,
        erased.batches,
        erased.emptied,
        path.display()
    );
    Ok(erased.lines)
}

/// Takes the site's lines out of the dead-letter file; the number of lines.
fn dead_letters(path: &Path, site: &Id) -> anyhow::Result<usize> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("dead letters: {} does not exist", path.display());
            return Ok(0);
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let topic_part = format!("/readings/{site}/");
    let json_site = format!("\\\"site\\\":\\\"{site}\\\"");
    let line_site = [format!(",site={site} "), format!(",site={site},")];
    let about = |l: &str| {
        l.contains(&topic_part) || l.contains(&json_site) || line_site.iter().any(|s| l.contains(s))
    };
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
    Ok(removed.len())
}

/// Clears the site's retained messages; how many.
async fn retained(cfg: &Config, site: &Id) -> anyhow::Result<usize> {
    let bus = zw_bus::Bus {
        config: cfg.bus.clone(),
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    };
    let inventory_site = cfg.inventory.site(site.as_str());
    let mut devices: Vec<Id> = inventory_site
        .map(|s| s.devices.iter().map(|d| d.id.clone()).collect())
        .unwrap_or_default();
    let trees: Vec<Id> = cfg
        .inventory
        .trees
        .iter()
        .filter(|t| t.site == *site)
        .map(|t| t.id.clone())
        .collect();
    let stop = CancellationToken::new();
    // Find them as the API, which may read readings, alerts, trees and statuses.
    let filters = [
        format!("{}/readings/{site}/+", topic::ROOT),
        topic::ALERTS_FILTER.to_string(),
        topic::DEVICE_STATUS_FILTER.to_string(),
        topic::TREES_FILTER.to_string(),
    ];
    let (client, mut inbound, driver) = bus.connect(
        ConnectOptions {
            subscriptions: filters.iter().map(|f| (f.clone(), QoS::AtLeastOnce)).collect(),
            ..ConnectOptions::publisher("api", "erase")
        },
        stop.clone(),
    );
    let (mut readings, mut alerts, mut statuses, mut tree_statuses) = (vec![], vec![], vec![], vec![]);
    // Retained messages arrive right after subscribing; two quiet seconds mean all are in.
    while let Ok(Some(p)) = tokio::time::timeout(Duration::from_secs(2), inbound.recv()).await {
        if p.payload.is_empty() {
            continue;
        }
        let names_site = serde_json::from_slice::<serde_json::Value>(&p.payload)
            .ok()
            .is_some_and(|v| v["site"] == site.as_str());
        if let Some((s, device)) = topic::parse_readings(&p.topic) {
            if s == *site {
                readings.push(p.topic.clone());
                devices.push(device);
            }
        } else if topic::parse_alert(&p.topic).is_some() {
            if names_site {
                alerts.push(p.topic.clone());
            }
        } else if let Some(device) = topic::parse_device_status(&p.topic) {
            if names_site {
                devices.push(device.clone());
            }
            statuses.push((device, p.topic.clone()));
        } else if names_site || trees.iter().any(|t| p.topic == topic::tree(t)) {
            tree_statuses.push(p.topic.clone());
        }
    }
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    devices.sort();
    devices.dedup();
    let statuses: Vec<String> = statuses
        .into_iter()
        .filter(|(d, _)| devices.contains(d))
        .map(|(_, t)| t)
        .collect();
    let as_gateway = [("reading", &readings), ("device status", &statuses)];
    let as_analytics = [("alert", &alerts), ("tree status", &tree_statuses)];
    for (service, kinds) in [("gateway", as_gateway), ("analytics", as_analytics)] {
        let (client, _inbound, driver) =
            bus.connect(ConnectOptions::publisher(service, "erase"), stop.clone());
        for (kind, topics) in kinds {
            for t in topics.iter() {
                client
                    .publish(t.clone(), QoS::AtLeastOnce, true, Vec::new())
                    .await?;
                println!("bus: cleared retained {kind} {t}");
            }
        }
        client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    }
    stop.cancel();
    println!(
        "bus: {} reading(s), {} device status(es), {} alert(s), {} tree status(es) of site {site} cleared",
        readings.len(),
        statuses.len(),
        alerts.len(),
        tree_statuses.len()
    );
    Ok(readings.len() + statuses.len() + alerts.len() + tree_statuses.len())
}

/// Erases the site's rows in the store (and retires it with `--retire`); the summary part, `None` when
/// there is no store.
async fn store(args: &EraseArgs, site: &Id) -> anyhow::Result<Option<String>> {
    if let Some(file) = args.store.strip_prefix("sqlite://")
        && !Path::new(file).exists()
    {
        println!("store: {file} does not exist");
        if args.retire {
            bail!("--retire: the store {file} does not exist");
        }
        return Ok(None);
    }
    let store = zw_store::Store::connect(&args.store).await?;
    let by = zw_store::Stamp::new("erase", chrono::Utc::now());
    let rows = store.erase_site(by, site.as_str()).await?;
    println!(
        "store: {} alert episode(s), {} comment(s), {} watering(s), {} activation code(s) of site {site} deleted; \
         {} audit entr(y/ies) emptied",
        rows.alerts, rows.alert_comments, rows.waterings, rows.activations, rows.audit_redacted
    );
    if args.retire {
        for user in store.users(false).await? {
            if user.value.scope == [site.as_str()] {
                store.retire_user(by, user.value.name.as_str()).await?;
                println!("store: retired user {}", user.value.name);
            }
        }
        store.retire_site(by, site.as_str()).await?;
        println!("store: retired site {site} with its devices and trees");
    }
    store.close().await;
    Ok(Some(format!(
        "store {} alert(s), {} comment(s), {} watering(s), {} activation code(s)",
        rows.alerts, rows.alert_comments, rows.waterings, rows.activations
    )))
}
