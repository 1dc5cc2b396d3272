//! The whole configuration: one TOML file, overridable by environment variables, validated in full.
//!
//! Loading never stops at the first problem. Each section is deserialised on its own, each site, tree and
//! user too, and then every section's `validate()` runs, so `check-config` can list every error at once.
//!
//! Environment overrides: `ZW__SECTION__KEY=value` sets `[section] key = value` (e.g.
//! `ZW__INFLUX__URL=http://db:8086`, `ZW__BUS__PORT=1884`). The value is read as a TOML literal when it is
//! one (numbers, booleans, quoted strings) and as a plain string otherwise.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use toml::{Table, Value};
use zw_model::{Inventory, Site, Tree, User};

/// Logging settings (`[log]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log shippers.
    pub format: String,
    /// tracing-subscriber filter, e.g. `info,zw_gateway=debug`; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// Process-level telemetry (`[telemetry]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Where a service without the API (gateway, ingest, analytics, sim run alone) serves `/metrics`.
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// The async runtime of the process (`[runtime]`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Worker threads; 0 picks them per service: 1 for `zaehlwerk ingest`, one per core otherwise.
    ///
    /// Ingest is one receive loop feeding HTTP writes, so a second worker only adds hand-offs between
    /// threads. With one, ingest used about 8 % less CPU per reading and, sharing 2 cores with InfluxDB,
    /// the end-to-end rate rose from a median 84.2 % to 93.2 % of the raw write rate (BENCHMARKS.md,
    /// "Ingest"). Its spool and dead-letter I/O runs on tokio's blocking threads either way.
    pub worker_threads: usize,
}

impl RuntimeConfig {
    /// The most worker threads accepted.
    pub const MAX_WORKER_THREADS: usize = 256;

    /// Worker threads for running `ingest_alone` (only the ingest service) or anything else.
    pub fn workers(&self, ingest_alone: bool) -> usize {
        match self.worker_threads {
            0 if ingest_alone => 1,
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        }
    }
}

/// Every setting of every service plus the inventory.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// MQTT broker.
    pub bus: zw_bus::Config,
    /// InfluxDB.
    pub influx: zw_influx::Config,
    /// Gateway.
    pub gateway: zw_gateway::Config,
    /// Ingest.
    pub ingest: zw_ingest::Config,
    /// Analytics.
    pub analytics: zw_analytics::Config,
    /// API.
    pub api: zw_api::Config,
    /// Simulator.
    pub sim: zw_sim::Config,
    /// Logging.
    pub log: LogConfig,
    /// Telemetry.
    pub telemetry: TelemetryConfig,
    /// Async runtime.
    pub runtime: RuntimeConfig,
    /// Sites, devices, trees, users.
    #[serde(flatten)]
    pub inventory: Inventory,
}

/// Loads the file at `path` (or only defaults and environment when `None`), returning every error found.
pub fn load(path: Option<&Path>, env: impl Iterator<Item = (String, String)>) -> Result<Config, Vec<String>> {
    let mut table = match path {
        None => Table::new(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| vec![format!("{}: {e}", p.display())])?;
            text.parse::<Table>()
                .map_err(|e| vec![format!("{}: {e}", p.display())])?
        }
    };
    let mut errors = apply_env(&mut table, env);
    let cfg = from_table(table, &mut errors);
    errors.extend(validate(&cfg));
    if errors.is_empty() { Ok(cfg) } else { Err(errors) }
}

fn apply_env(table: &mut Table, env: impl Iterator<Item = (String, String)>) -> Vec<String> {
    let mut errors = Vec::new();
    for (key, raw) in env {
        let Some(path) = key.strip_prefix("ZW__") else {
            continue;
        };
        let parts: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if parts.iter().any(String::is_empty) {
            errors.push(format!("{key}: malformed override name"));
            continue;
        }
        let value = format!("v = {raw}")
            .parse::<Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| Value::String(raw.clone()));
        if let Err(e) = set_path(table, &parts, value) {
            errors.push(format!("{key}: {e}"));
        }
    }
    errors
}

fn set_path(table: &mut Table, parts: &[String], value: Value) -> Result<(), String> {
    match parts {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => match table
            .entry(first.clone())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(t) => set_path(t, rest, value),
            _ => Err(format!("{first} is not a table")),
        },
    }
}

fn section<T: DeserializeOwned + Default>(table: &mut Table, name: &str, errors: &mut Vec<String>) -> T {
    match table.remove(name) {
        None => T::default(),
        Some(v) => T::deserialize(v.clone()).unwrap_or_else(|e| {
            // Every section is all-defaults, so each key can be tried on its own: that reports every bad key
            // instead of only the first one serde meets.
            // The good keys are kept, so the section's own validation still checks their values.
            let before = errors.len();
            let mut good = Table::new();
            if let Value::Table(t) = v {
                for (key, value) in t {
                    let single = Value::Table(Table::from_iter([(key.clone(), value.clone())]));
                    match T::deserialize(single) {
                        Ok(_) => {
                            good.insert(key, value);
                        }
                        Err(e) => errors.push(format!("{name}.{key}: {}", e.message())),
                    }
                }
            }
            if errors.len() == before {
                errors.push(format!("{name}: {}", e.message()));
            }
            T::deserialize(Value::Table(good)).unwrap_or_default()
        }),
    }
}

fn list<T: DeserializeOwned>(table: &mut Table, name: &str, errors: &mut Vec<String>) -> Vec<T> {
    match table.remove(name) {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| {
                T::deserialize(v)
                    .map_err(|e| errors.push(format!("{name}[{i}]: {}", e.message())))
                    .ok()
            })
            .collect(),
        Some(_) => {
            errors.push(format!("{name}: expected an array of tables ([[{name}]])"));
            Vec::new()
        }
    }
}

fn from_table(mut t: Table, errors: &mut Vec<String>) -> Config {
    let cfg = Config {
        bus: section(&mut t, "bus", errors),
        influx: section(&mut t, "influx", errors),
        gateway: section(&mut t, "gateway", errors),
        ingest: section(&mut t, "ingest", errors),
        analytics: section(&mut t, "analytics", errors),
        api: section(&mut t, "api", errors),
        sim: section(&mut t, "sim", errors),
        log: section(&mut t, "log", errors),
        telemetry: section(&mut t, "telemetry", errors),
        runtime: section(&mut t, "runtime", errors),
        inventory: Inventory {
            sites: list::<Site>(&mut t, "sites", errors),
            trees: list::<Tree>(&mut t, "trees", errors),
            users: list::<User>(&mut t, "users", errors),
        },
    };
    for key in t.keys() {
        errors.push(format!("{key}: unknown section (known: bus, influx, gateway, ingest, analytics, api, sim, log, telemetry, runtime, sites, trees, users)"));
    }
    cfg
}

fn validate(cfg: &Config) -> Vec<String> {
    let mut errors = Vec::new();
    errors.extend(cfg.bus.validate());
    errors.extend(cfg.influx.validate());
    errors.extend(cfg.gateway.validate());
    errors.extend(cfg.ingest.validate());
    errors.extend(cfg.analytics.validate());
    errors.extend(cfg.api.validate());
    errors.extend(cfg.sim.validate());
    errors.extend(cfg.inventory.validate());
    errors.extend(zw_gateway::validate_inventory(&cfg.gateway, &cfg.inventory));
    if !matches!(cfg.log.format.as_str(), "text" | "json") {
        errors.push(format!(
            "log.format: {:?} must be \"text\" or \"json\"",
            cfg.log.format
        ));
    }
    if cfg.runtime.worker_threads > RuntimeConfig::MAX_WORKER_THREADS {
        errors.push(format!(
            "runtime.worker_threads: {} is more than {} (0 picks them per service)",
            cfg.runtime.worker_threads,
            RuntimeConfig::MAX_WORKER_THREADS
        ));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&cfg.log.filter) {
        errors.push(format!("log.filter: {e}"));
    }
    errors
}

/// The defaults as TOML, for `print-default-config`.
pub fn default_toml() -> String {
    let cfg = Config::default();
    let mut out = String::from(
        "# Zählwerk default configuration. Every key is optional; see deploy/zaehlwerk.example.toml for a\n\
         # commented example with an inventory. Override any key with ZW__SECTION__KEY=value.\n\n",
    );
    out.push_str(
        &toml::to_string_pretty(&cfg).unwrap_or_else(|e| format!("# cannot render defaults: {e}\n")),
    );
    out
}

#[cfg(test)]
mod tests;
