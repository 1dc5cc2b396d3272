//! The analytics evaluation harness behind `zaehlwerk eval`: replays a labelled firmware-sim scenario
//! through the analytics detectors at full speed and scores them: precision, recall, time to detect and
//! flaps for energy alerts; forecast error, watering alerts and sensor-fault alerts for trees. It writes a
//! Markdown report and says whether every target was met; the binary exits 1 if one is missed. The
//! figures in BENCHMARKS.md ("Analytics") come from here.
//!
//! Nothing here touches the network: the detectors ([`zw_analytics::Analytics`]) are pure and take the
//! simulated time, so weeks replay in seconds and every run with the same seed gives the same figures.
//!
//! - `replay`: one scenario through the detectors, with and without the weather feed ([`evaluate`]).
//! - `score`: the [`Report`] scored against the scenario's labels, and its Markdown.
//! - `seeds`: the `--seeds` list syntax and the per-seed and aggregate table.
//! - `peak`: `--peak`, the peak watch's lead time on the cold-Monday school.
//! - `forecast`: `--forecast`, the month-end projection backtest on the scenario's buildings.
//! - `external`: `--external <dir>`, labelled data from outside the simulator (formats and scoring there).

pub mod external;
mod forecast;
pub mod peak;
mod replay;
mod score;
mod seeds;

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use zw_sim::scenario::{Scenario, ScenarioConfig};

pub use replay::evaluate;
use replay::is_energy;
pub use score::{Report, Summary};

/// Arguments of `zaehlwerk eval`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Config file whose `[analytics]` section is evaluated (defaults otherwise).
    #[arg(long, short, env = "ZW_CONFIG")]
    pub config: Option<PathBuf>,
    /// Scenario seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Several seeds instead of `--seed`: `1..10` (inclusive), `1..=10`, `1,4,9`. Prints one row per seed
    /// and an aggregate row; exit 1 if any seed misses a target.
    #[arg(long)]
    pub seeds: Option<String>,
    /// With `--seeds`: also print every seed's full report.
    #[arg(long)]
    pub full: bool,
    /// With `--seeds`: seeds evaluated at once (threads).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Buildings in the scenario.
    #[arg(long, default_value_t = 12)]
    pub buildings: usize,
    /// Trees in the scenario.
    #[arg(long, default_value_t = 24)]
    pub trees: usize,
    /// Weeks of normal life before incidents.
    #[arg(long, default_value_t = 3)]
    pub learn_weeks: u32,
    /// Weeks with incidents.
    #[arg(long, default_value_t = 3)]
    pub eval_weeks: u32,
    /// Also list every alert that matched no label.
    #[arg(long)]
    pub verbose: bool,
    /// Instead of the analytics: backtest the month-end forecasts on the scenario's buildings (MAPE on
    /// days 1, 10 and 20; use `--learn-weeks` to make the scenario months long).
    #[arg(long)]
    pub forecast: bool,
    /// Instead of the analytics: the peak watch on the cold-Monday school (lead time of the warning before
    /// the quarter hour ends, missed new peaks, false warnings; [`peak`]), on `--seed` or `--seeds`.
    #[arg(long)]
    pub peak: bool,
    /// External, labelled data instead of a simulated scenario: a directory with `inventory.toml` (a
    /// Zählwerk config: `[[sites]]`, `[[trees]]`, `[analytics]`), `readings.csv` or `readings.csv.gz`
    /// (`ts,site,device,quantity,value`), `labels.csv` (`kind,subject,start,end,note`) and optionally
    /// `weather.csv` (`date,area,et0_mm`) and `weather_forecast.csv` (`issued,area,date,et0_mm`). Energy
    /// alerts in the first `--learn-weeks` are not scored. `--config` is not read: the inventory file is
    /// the config.
    #[arg(long, value_name = "DIR")]
    pub external: Option<PathBuf>,
    /// External mode: the inventory file (instead of `<DIR>/inventory.toml`).
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// External mode: the readings file (import format; `.gz` read through gzip).
    #[arg(long)]
    pub readings: Option<PathBuf>,
    /// External mode: the daily observed weather.
    #[arg(long)]
    pub weather: Option<PathBuf>,
    /// External mode: the weather forecasts.
    #[arg(long)]
    pub weather_forecast: Option<PathBuf>,
    /// External mode: the labels.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// External mode: directory for `report.md`, `alerts.csv` and `tree_forecasts.csv` (created).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Why an evaluation could not run or report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--seeds` is not a seed list (a usage error, like a bad config).
    #[error("--seeds: {0}")]
    Seeds(String),
    /// An external dataset's file is missing or malformed (file and line in the message).
    #[error(transparent)]
    Input(#[from] external::load::InputError),
    /// The report could not be written.
    #[error("writing the report: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    /// Whether the caller's input is at fault (a bad seed list or dataset) rather than the output.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Seeds(_) | Error::Input(_))
    }
}

/// Evaluates `analytics` on the scenarios `args` asks for and writes the report to `out`; `Ok(true)` when
/// every target is met on every seed.
pub fn run(args: &Args, analytics: &zw_analytics::Config, out: &mut impl Write) -> Result<bool, Error> {
    if args.forecast {
        return forecast::run(args, out);
    }
    let seeds = match args.seeds.as_deref().map(seeds::parse) {
        None => vec![args.seed],
        Some(Ok(s)) => s,
        Some(Err(e)) => return Err(Error::Seeds(e)),
    };
    if args.peak {
        return Ok(peak::run(&seeds, analytics, out)?);
    }
    let run = |seed: u64| {
        let scenario = Scenario::generate(ScenarioConfig {
            seed,
            learn_weeks: args.learn_weeks,
            eval_weeks: args.eval_weeks,
            buildings: args.buildings,
            trees: args.trees,
            ..ScenarioConfig::default()
        });
        evaluate(&scenario, analytics.clone())
    };
    if args.seeds.is_none() {
        let report = run(args.seed);
        write!(out, "{}", report.markdown(args.verbose))?;
        return Ok(report.targets_met());
    }
    let started = Instant::now();
    let reports = run_all(&seeds, args.jobs.max(1), &run);
    let summaries: Vec<score::Summary> = reports.iter().zip(&seeds).map(|(r, s)| r.summary(*s)).collect();
    if args.full || args.verbose {
        for r in &reports {
            writeln!(out, "{}", r.markdown(args.verbose))?;
        }
    }
    writeln!(
        out,
        "### Analytics evaluation, {} seeds ({:.0} s)\n",
        seeds.len(),
        started.elapsed().as_secs_f64()
    )?;
    write!(out, "{}", seeds::table(&summaries))?;
    Ok(summaries.iter().all(|s| s.targets_met))
}

/// Runs `run` for every seed on `jobs` threads; the reports come back in seed order.
fn run_all(seeds: &[u64], jobs: usize, run: &(dyn Fn(u64) -> Report + Sync)) -> Vec<Report> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<Report>> = std::iter::repeat_with(|| None).take(seeds.len()).collect();
    let slots = std::sync::Mutex::new(&mut out);
    std::thread::scope(|sc| {
        for _ in 0..jobs.min(seeds.len()) {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&seed) = seeds.get(i) else { break };
                    let r = run(seed);
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(r);
                    }
                }
            });
        }
    });
    out.into_iter().flatten().collect()
}
