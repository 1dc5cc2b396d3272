//! Connection settings (`[influx]` in the config file).

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Which write API to use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// `POST /write?db=&rp=&precision=ms`: InfluxDB 1.x, 2.x (DBRP mapping), 3, VictoriaMetrics.
    #[default]
    V1,
    /// `POST /api/v2/write?org=&bucket=&precision=ms` with `Authorization: Token …`: InfluxDB 1.8+, 2.x, 3,
    /// VictoriaMetrics.
    V2,
}

/// Which engine answers reads ([`crate::read`]); writes are line protocol to either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadBackend {
    /// InfluxQL over `/query`: InfluxDB 1.x, 2.x (DBRP mapping) and 3 (its v1-compatible `/query`).
    #[default]
    Influx,
    /// VictoriaMetrics' export API (`/api/v1/export`): single-node, or vmselect with
    /// `read_prefix = "/select/0/prometheus"`. It stores each line-protocol field as the metric
    /// `{measurement}_{field}` with the tags as labels.
    VictoriaMetrics,
}

/// How to reach InfluxDB (or VictoriaMetrics).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Base URL, e.g. `http://127.0.0.1:8086`, or `https://influx.example.de:8086` for TLS (rustls).
    pub url: String,
    /// PEM file with the certificate(s) of the CA that signed InfluxDB's certificate (a private CA). When set,
    /// only these are trusted; absent: the system's trusted roots. Only with an `https` URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Database to write to and query.
    pub database: String,
    /// Retention policy; empty means the database default.
    pub retention_policy: String,
    /// Optional user name (v1 auth).
    pub username: Option<String>,
    /// Optional password (never logged).
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
    /// Write API: `v1` (default) or `v2`. Reads go through `read_backend` (InfluxQL over `/query` with `database`, or VictoriaMetrics).
    pub api: Api,
    /// Organisation for v2 writes (ignored by InfluxDB 1.8 and VictoriaMetrics, required by 2.x).
    pub org: String,
    /// Bucket for v2 writes; empty means `database` (with `/retention_policy` if set), as 1.8+ expects.
    pub bucket: String,
    /// API token, sent as `Authorization: Token …` (v2, and v1 servers that accept tokens); never logged.
    #[serde(skip_serializing)]
    pub token: Option<SecretString>,
    /// Compress write bodies with gzip (`Content-Encoding: gzip`): less network, more CPU.
    pub gzip: bool,
    /// Timeout of one HTTP request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The engine reads go to: `influx` (InfluxQL, default) or `victoria_metrics`.
    pub read_backend: ReadBackend,
    /// URL path prefix of the read API, empty or starting with `/` and not ending with it; e.g.
    /// `/select/0/prometheus` for a VictoriaMetrics cluster's vmselect (tenant 0).
    pub read_prefix: String,
    /// URL path prefix of the write API, e.g. `/insert/0/influx` for a VictoriaMetrics cluster's vminsert.
    pub write_prefix: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8086".into(),
            ca_file: None,
            database: "zaehlwerk".into(),
            retention_policy: String::new(),
            username: None,
            password: None,
            api: Api::V1,
            org: String::new(),
            bucket: String::new(),
            token: None,
            gzip: false,
            timeout: Duration::from_secs(10),
            read_backend: ReadBackend::Influx,
            read_prefix: String::new(),
            write_prefix: String::new(),
        }
    }
}

impl Config {
    /// Reports every invalid setting, prefixed with `influx.`.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match reqwest::Url::parse(&self.url) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(u) if u.scheme() == "http" => {
                if self.ca_file.is_some() {
                    errors.push("influx.ca_file: set, but influx.url is http (the CA is for https)".into());
                }
            }
            Ok(u) => errors.push(format!(
                "influx.url: scheme {:?} is not supported (http or https)",
                u.scheme()
            )),
            Err(e) => errors.push(format!("influx.url: {e}")),
        }
        if let Some(path) = &self.ca_file
            && let Err(e) = crate::tls::load_ca(path)
        {
            errors.push(format!("influx.ca_file: {e}"));
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
        if self.token.is_some() && self.username.is_some() {
            errors.push("influx.token: set either token or username/password, not both".into());
        }
        for (name, prefix) in [
            ("read_prefix", &self.read_prefix),
            ("write_prefix", &self.write_prefix),
        ] {
            let bad_char = prefix
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '?' | '#' | '%'));
            if !prefix.is_empty() && (!prefix.starts_with('/') || prefix.ends_with('/') || bad_char) {
                errors.push(format!(
                    "influx.{name}: {prefix:?} must be empty or a path starting with / and not ending with /, \
                     without spaces, ?, # or %"
                ));
            }
        }
        errors
    }

    /// The bucket v2 writes go to.
    pub fn write_bucket(&self) -> String {
        match (self.bucket.is_empty(), self.retention_policy.is_empty()) {
            (false, _) => self.bucket.clone(),
            (true, true) => self.database.clone(),
            (true, false) => format!("{}/{}", self.database, self.retention_policy),
        }
    }
}
