//! `zaehlwerk`: one binary, one subcommand per service, plus `all` to run every service in one process
//! (still talking over the MQTT bus, so any of them can later move to another machine).
//!
//! The binary is thin: it parses arguments, loads and validates the config ([`zw_config`]; exit 64 listing
//! every error), sets up logging and the runtime, and hands over to a library or a module:
//!
//! - `gateway`, `ingest`, `analytics`, `api`, `sim`, `all`: `services` starts the crates' `run` functions
//!   and stops them in order on SIGINT/SIGTERM;
//! - `import`: `import` backfills files through the ingest write path;
//! - `erase`: `erase` removes one household (series, dead letters, retained topics);
//! - with ingest, `retention` deletes data older than `[retention]` allows, daily;
//! - `rollup`: `rollup` recomputes the energy rollups since a date;
//! - `eval`: the evaluation harness [`zw_eval`];
//! - `inventory import|export`: `inventory_cmd` moves the inventory between the config and the store
//!   ([`zw_store`]);
//! - with `[store] url`, `inventory_feed` serves the store's inventory and reloads it on every change notice;
//! - the simulator's `[sim] history` is read like the gateway reads devices in `backfill`.

mod backfill;
mod erase;
mod import;
mod inventory_cmd;
mod inventory_feed;
mod retention;
mod rollup;
mod services;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use services::Service;

/// Exit code for an unusable configuration (EX_CONFIG from sysexits.h).
const EXIT_CONFIG: u8 = 64;

/// Zählwerk: open smart-metering backend.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Poll meters and read device MQTT; publish canonical readings.
    Gateway(ConfigArg),
    /// Write readings from the bus to InfluxDB.
    Ingest(ConfigArg),
    /// Watch readings for high consumption and thirsty trees.
    Analytics(ConfigArg),
    /// Serve the HTTP API.
    Api(ConfigArg),
    /// Run the device simulator (Modbus meters, Tasmota plugs, LoRaWAN soil sensors).
    Sim(ConfigArg),
    /// Run gateway, ingest, analytics and API in one process.
    All(ConfigArg),
    /// Load historic readings (CSV, line protocol) into InfluxDB through the ingest validation and write path.
    Import(import::ImportArgs),
    /// Recompute the energy rollups (quarter hours and local days) from the raw readings since a date.
    Rollup(rollup::RollupArgs),
    /// Replay labelled simulated weeks through the analytics detectors and score them (precision, recall,
    /// time to detect, flaps, forecast error).
    Eval(zw_eval::Args),
    /// Remove one household (site): its series in InfluxDB, its dead letters, its retained bus topics; prints
    /// what it removed.
    Erase(erase::EraseArgs),
    /// Import the config's inventory into the store, or export the store's inventory as TOML.
    Inventory(inventory_cmd::Args),
    /// Validate a config file and list every error (exit 64 if any).
    CheckConfig(ConfigArg),
    /// Print the default configuration as TOML.
    PrintDefaultConfig,
    /// Read a bearer token from stdin and print the SHA-256 to put in a user's `token_sha256`.
    HashToken,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// Config file (TOML). Keys can be overridden with ZW__SECTION__KEY=value.
    #[arg(long, short, env = "ZW_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    run(Cli::parse()).unwrap_or_else(|code| code)
}

/// Runs one subcommand; `Err` carries the exit code of a failure already reported on stderr.
fn run(cli: Cli) -> Result<ExitCode, ExitCode> {
    let (service, arg) = match cli.command {
        Command::PrintDefaultConfig => {
            print!("{}", zw_config::default_toml());
            return Ok(ExitCode::SUCCESS);
        }
        Command::HashToken => {
            let mut token = String::new();
            if std::io::stdin().read_line(&mut token).is_err() || token.trim().is_empty() {
                eprintln!("error: expected a token on stdin");
                return Err(ExitCode::from(EXIT_CONFIG));
            }
            println!("{}", zw_model::inventory::token_hash(token.trim()));
            return Ok(ExitCode::SUCCESS);
        }
        Command::Import(a) => {
            let cfg = load_config(a.config.as_deref())?;
            return import::main(a, cfg);
        }
        Command::Erase(a) => {
            let cfg = load_config(a.config.as_deref())?;
            return erase::main(a, cfg);
        }
        Command::Rollup(a) => {
            let cfg = load_config(a.config.as_deref())?;
            return rollup::main(a, cfg);
        }
        Command::Eval(a) => return eval(&a),
        Command::Inventory(a) => return inventory_cmd::main(a),
        Command::CheckConfig(a) => (None, a),
        Command::Gateway(a) => (Some(Service::Gateway), a),
        Command::Ingest(a) => (Some(Service::Ingest), a),
        Command::Analytics(a) => (Some(Service::Analytics), a),
        Command::Api(a) => (Some(Service::Api), a),
        Command::Sim(a) => (Some(Service::Sim), a),
        Command::All(a) => (Some(Service::All), a),
    };
    let cfg = load_config(arg.config.as_deref())?;
    let Some(service) = service else {
        for w in bus_warnings(&cfg.bus) {
            eprintln!("warning: {w}");
        }
        if cfg.influx.read_backend == zw_influx::ReadBackend::VictoriaMetrics {
            for w in retention::victoria_warnings(&cfg.retention) {
                eprintln!("warning: {w}");
            }
        }
        let devices = cfg.inventory.devices().count();
        println!(
            "config OK: {} sites, {devices} devices, {} trees, {} users",
            cfg.inventory.sites.len(),
            cfg.inventory.trees.len(),
            cfg.inventory.users.len()
        );
        return Ok(ExitCode::SUCCESS);
    };
    services::init_logging(&cfg.log);
    let workers = cfg.runtime.workers(service == Service::Ingest);
    match runtime(Some(workers))?.block_on(services::run(service, cfg)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Stopped with an error.");
            Err(ExitCode::FAILURE)
        }
    }
}

/// What `check-config` warns about on the bus: connections without a user name (the shipped broker refuses
/// them) and credentials that would cross a network in clear (no `[bus.tls]` to a host not on loopback).
fn bus_warnings(bus: &zw_bus::Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let anonymous = bus.anonymous_services();
    if !anonymous.is_empty() {
        warnings.push(format!(
            "bus: {} would connect without a user name (set bus.username or [bus.accounts.<service>]); \
             the shipped broker (deploy/conf/mosquitto.conf.in) refuses anonymous clients",
            anonymous.join(", ")
        ));
    }
    let loopback = bus.host == "localhost"
        || bus
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    if bus.tls.is_none() && !loopback {
        warnings.push(format!(
            "bus: no [bus.tls] for host {:?}: passwords and readings would cross the network in clear",
            bus.host
        ));
    }
    warnings
}

/// Loads and validates the config (file at `path`, `ZW__…` overrides from the environment), or lists
/// every problem on stderr and gives exit code 64.
fn load_config(path: Option<&Path>) -> Result<zw_config::Config, ExitCode> {
    zw_config::load(path, std::env::vars()).map_err(|errors| {
        eprintln!("error: the configuration has {} problem(s):", errors.len());
        for e in errors.iter() {
            eprintln!("  - {e}");
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

/// The async runtime, with `workers` threads (tokio's default, one per core, when `None`).
fn runtime(workers: Option<usize>) -> Result<tokio::runtime::Runtime, ExitCode> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        builder.worker_threads(n);
    }
    builder.enable_all().build().map_err(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

/// `zaehlwerk eval`: exit 0 when every target is met, 1 otherwise, 64 for a bad config, seed list or
/// external dataset. With external data (`--external`, `--readings`) the inventory file is the config.
fn eval(args: &zw_eval::Args) -> Result<ExitCode, ExitCode> {
    let result = match zw_eval::external::Files::of(args) {
        None => {
            let cfg = load_config(args.config.as_deref())?;
            zw_eval::run(args, &cfg.analytics, &mut std::io::stdout().lock())
        }
        Some(Err(e)) => {
            eprintln!("error: {e}");
            return Err(ExitCode::from(EXIT_CONFIG));
        }
        Some(Ok(files)) => {
            let cfg = load_config(Some(&files.inventory))?;
            let out = &mut std::io::stdout().lock();
            zw_eval::external::run(
                &files,
                &cfg.analytics,
                &cfg.inventory,
                args.learn_weeks,
                args.verbose,
                out,
            )
        }
    };
    match result {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => Err(ExitCode::from(1)),
        Err(e) if e.is_usage() => {
            eprintln!("error: {e}");
            Err(ExitCode::from(EXIT_CONFIG))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}
