//! Connection settings (`[influx]` in the config file).

use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// How to reach InfluxDB.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Base URL, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// Database to write to and query.
    pub database: String,
    /// Retention policy; empty means the database default.
    pub retention_policy: String,
    /// Optional user name (v1 auth).
    pub username: Option<String>,
    /// Optional password (never logged).
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// Timeout of one HTTP request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8086".into(),
            database: "zaehlwerk".into(),
            retention_policy: String::new(),
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `influx.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match reqwest::Url::parse(&self.url) {
            Ok(u) if u.scheme() == "http" => {}
            Ok(u) => errors.push(format!(
                "influx.url: scheme {:?} is not supported by this build (http only; TLS is terminated by a proxy)",
                u.scheme()
            )),
            Err(e) => errors.push(format!("influx.url: {e}")),
        }
        if self.database.is_empty() {
            errors.push("influx.database: must not be empty".into());
        }
        if self.timeout < Duration::from_millis(100) {
            errors.push("influx.timeout: must be at least 100ms".into());
        }
        if self.username.is_some() != self.password.is_some() {
            errors.push("influx.username/password: set both or neither".into());
        }
        errors
    }
}
