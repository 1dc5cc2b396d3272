//! The whole Zählwerk configuration: one TOML file, overridable by environment variables, validated in full.
//!
//! [`Config`] composes every service's own config (`zw_bus`, `zw_influx`, `zw_gateway`, `zw_ingest`,
//! `zw_analytics`, `zw_api`, `zw_sim`, `zw_store`), the process settings (`[log]`, `[telemetry]`, `[runtime]`) and the
//! inventory (`[[sites]]`, `[[trees]]`, `[[users]]`). The `zaehlwerk` binary loads it with [`load`]; tests
//! can build one from the types, check it with [`Config::validate`] and hand it to the binary as
//! [`Config::to_toml`].
//!
//! Loading never stops at the first problem. Each section is deserialised on its own, each site, tree and
//! user too, and then every section's `validate()` runs, so `check-config` can list every error at once
//! (see [`load`]).
//!
//! Environment overrides: `ZW__SECTION__KEY=value` sets `[section] key = value` (e.g.
//! `ZW__INFLUX__URL=http://db:8086`, `ZW__BUS__PORT=1884`). The value is read as a TOML literal when it is
//! one (numbers, booleans, quoted strings) and as a plain string otherwise.

mod load;
mod retention;

use serde::{Deserialize, Serialize};
use zw_model::Inventory;

pub use load::{load, load_str};
pub use retention::RetentionConfig;

/// Every problem [`load`] found, each prefixed with its path (`bus.port: invalid type …`), in the order
/// met: environment overrides, then sections, then each section's validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the configuration has {} problem(s): {}", .0.len(), .0.join("; "))]
pub struct Errors(pub Vec<String>);

impl std::ops::Deref for Errors {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

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
///
/// `Default` is the configuration of an empty file; every field is public so tests can build one from the
/// types.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    /// MQTT broker (`[bus]`).
    pub bus: zw_bus::Config,
    /// InfluxDB (`[influx]`).
    pub influx: zw_influx::Config,
    /// Gateway (`[gateway]`).
    pub gateway: zw_gateway::Config,
    /// Ingest (`[ingest]`).
    pub ingest: zw_ingest::Config,
    /// Analytics (`[analytics]`).
    pub analytics: zw_analytics::Config,
    /// API (`[api]`).
    pub api: zw_api::Config,
    /// Simulator (`[sim]`).
    pub sim: zw_sim::Config,
    /// Logging (`[log]`).
    pub log: LogConfig,
    /// Telemetry (`[telemetry]`).
    pub telemetry: TelemetryConfig,
    /// Async runtime (`[runtime]`).
    pub runtime: RuntimeConfig,
    /// How long raw readings, rollups and alerts are kept (`[retention]`).
    pub retention: RetentionConfig,
    /// The relational store behind a live inventory (`[store]`); unset `url`: the inventory below, fixed.
    pub store: zw_store::Config,
    /// Sites, devices, trees, users (`[[sites]]`, `[[trees]]`, `[[users]]`).
    #[serde(flatten)]
    pub inventory: Inventory,
}

impl Config {
    /// Every problem of every section and of the inventory, each prefixed with its path; empty when valid.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        errors.extend(self.bus.validate());
        errors.extend(self.influx.validate());
        errors.extend(self.gateway.validate());
        errors.extend(self.ingest.validate());
        errors.extend(self.analytics.validate());
        errors.extend(self.api.validate());
        errors.extend(self.sim.validate());
        errors.extend(self.retention.validate());
        errors.extend(self.store.validate());
        errors.extend(self.inventory.validate());
        errors.extend(zw_gateway::validate_inventory(&self.gateway, &self.inventory));
        errors.extend(zw_analytics::config::validate_inventory(
            &self.analytics,
            &self.inventory,
        ));
        errors.extend(zw_gateway::validate_with_bus(&self.gateway, &self.bus));
        if !matches!(self.log.format.as_str(), "text" | "json") {
            errors.push(format!(
                "log.format: {:?} must be \"text\" or \"json\"",
                self.log.format
            ));
        }
        if self.runtime.worker_threads > RuntimeConfig::MAX_WORKER_THREADS {
            errors.push(format!(
                "runtime.worker_threads: {} is more than {} (0 picks them per service)",
                self.runtime.worker_threads,
                RuntimeConfig::MAX_WORKER_THREADS
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            errors.push(format!("log.filter: {e}"));
        }
        errors
    }

    /// The config as a TOML file that [`load`] reads back to the same settings.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }
}

/// The defaults as TOML, for `print-default-config`.
pub fn default_toml() -> String {
    let mut out = String::from(
        "# Zählwerk default configuration. Every key is optional; see deploy/zaehlwerk.example.toml for a\n\
         # commented example with an inventory. Override any key with ZW__SECTION__KEY=value.\n\n",
    );
    out.push_str(
        &Config::default()
            .to_toml()
            .unwrap_or_else(|e| format!("# cannot render defaults: {e}\n")),
    );
    out
}

#[cfg(test)]
mod tests;
