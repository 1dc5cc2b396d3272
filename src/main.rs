//! `zaehlwerk`: one binary, one subcommand per service, plus `all` to run every service in one process
//! (still talking over the MQTT bus, so any of them can later move to another machine).
//!
//! The binary is thin: it parses arguments, loads and validates the config (exit 64 listing every error),
//! sets up logging and metrics, and calls the crates' `run` functions with a shutdown token.

mod backfill;
mod config;
mod eval;
mod import;
mod services;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Replay labelled simulated weeks through the analytics detectors and score them (precision, recall,
    /// time to detect, flaps, forecast error).
    Eval(eval::EvalArgs),
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
    let cli = Cli::parse();
    let (service, arg) = match cli.command {
        Command::PrintDefaultConfig => {
            print!("{}", config::default_toml());
            return ExitCode::SUCCESS;
        }
        Command::HashToken => {
            let mut token = String::new();
            if std::io::stdin().read_line(&mut token).is_err() || token.trim().is_empty() {
                eprintln!("error: expected a token on stdin");
                return ExitCode::from(EXIT_CONFIG);
            }
            println!("{}", zw_model::inventory::token_hash(token.trim()));
            return ExitCode::SUCCESS;
        }
        Command::Import(a) => return import::main(a),
        Command::Eval(a) => return eval::main(a),
        Command::CheckConfig(a) => (None, a),
        Command::Gateway(a) => (Some(services::Service::Gateway), a),
        Command::Ingest(a) => (Some(services::Service::Ingest), a),
        Command::Analytics(a) => (Some(services::Service::Analytics), a),
        Command::Api(a) => (Some(services::Service::Api), a),
        Command::Sim(a) => (Some(services::Service::Sim), a),
        Command::All(a) => (Some(services::Service::All), a),
    };
    let cfg = match config::load(arg.config.as_deref(), std::env::vars()) {
        Ok(cfg) => cfg,
        Err(errors) => {
            eprintln!("error: the configuration has {} problem(s):", errors.len());
            for e in &errors {
                eprintln!("  - {e}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(service) = service else {
        let devices = cfg.inventory.devices().count();
        println!(
            "config OK: {} sites, {devices} devices, {} trees, {} users",
            cfg.inventory.sites.len(),
            cfg.inventory.trees.len(),
            cfg.inventory.users.len()
        );
        return ExitCode::SUCCESS;
    };
    services::init_logging(&cfg.log);
    let workers = cfg.runtime.workers(service == services::Service::Ingest);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(services::run(service, cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "Stopped with an error.");
            ExitCode::FAILURE
        }
    }
}
