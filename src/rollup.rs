//! `zaehlwerk rollup --since DATE`: recomputes the energy rollups ([`zw_ingest::rollup`]) of every inventory
//! device from the raw readings, from local midnight of `DATE` (in `api.timezone`) up to `--until` (default:
//! now minus `ingest.rollup.settle`). Idempotent: rolling a span again overwrites its rows. Run it after
//! loading history by other means than `zaehlwerk import`, or after readings arrived later than
//! `ingest.rollup.lookback`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use chrono::{NaiveDate, TimeDelta, Utc};
use zw_config::Config;
use zw_ingest::rollup::Roller;

/// Arguments of `zaehlwerk rollup`.
#[derive(clap::Args)]
pub struct RollupArgs {
    /// Config file (TOML): `[influx]` is the database, `api.timezone` the zone of the day rollups.
    #[arg(long, short, env = "ZW_CONFIG")]
    pub config: Option<PathBuf>,
    /// First local day to recompute (YYYY-MM-DD).
    #[arg(long)]
    pub since: NaiveDate,
    /// First local day not to recompute (default: up to now minus `ingest.rollup.settle`).
    #[arg(long)]
    pub until: Option<NaiveDate>,
}

/// The roller for every device of the inventory under its site, writing edge rows at the start and the end
/// of the report's usage hours (`api.report.usage_hours`).
pub fn roller(cfg: &Config) -> anyhow::Result<Roller<impl chrono::TimeZone + Send + Sync + 'static>> {
    let devices = cfg
        .inventory
        .devices()
        .map(|(s, d)| (s.id.clone(), d.id.clone()))
        .collect();
    let client = zw_influx::Client::new(cfg.influx.clone())?;
    Ok(
        Roller::new(client, cfg.api.timezone(), &cfg.api.timezone, devices)
            .with_edge_times(&[cfg.api.report.usage_hours.from, cfg.api.report.usage_hours.to]),
    )
}

async fn run(args: RollupArgs, cfg: Config) -> anyhow::Result<()> {
    let tz = cfg.api.timezone();
    let midnight = |d: NaiveDate| {
        zw_model::counter::local_day_edges(&tz, d, d)
            .first()
            .copied()
            .with_context(|| format!("{d} has no local midnight in {tz}"))
    };
    let from = midnight(args.since)?;
    let settle = TimeDelta::from_std(cfg.ingest.rollup.settle)?;
    let to = match args.until {
        Some(d) => midnight(d)?,
        None => Utc::now() - settle,
    };
    anyhow::ensure!(from < to, "--since must be before --until (or now)");
    let started = Instant::now();
    let r = roller(&cfg)?.roll(from, to).await?;
    eprintln!(
        "rolled up {from} .. {to}: {} readings, {} rows in {:.1} s",
        r.readings,
        r.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Runs the command; exit 1 on failure.
pub fn main(args: RollupArgs, cfg: Config) -> Result<ExitCode, ExitCode> {
    match crate::runtime(None)?.block_on(run(args, cfg)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e:#}");
            Err(ExitCode::FAILURE)
        }
    }
}
