//! HTTP client: v1 writes with typed outcomes, InfluxQL queries with bind parameters, ping.

use std::time::Duration;

use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::Config;

/// Why a write did not fully succeed. The variant tells the caller what to do with the batch.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Some or all lines were refused (v1 400 / v2 422 / v3 400). Good lines of a partial write are stored;
    /// retrying would not help. The server's message names the bad lines.
    #[error("InfluxDB rejected lines (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
    },
    /// Credentials missing or wrong (401/403): keep the data, raise an alarm.
    #[error("InfluxDB refused the credentials (HTTP {status})")]
    Auth {
        /// HTTP status.
        status: u16,
    },
    /// The batch is larger than the server accepts (413): split it.
    #[error("batch too large for InfluxDB (HTTP 413)")]
    TooLarge,
    /// The database or retention policy does not exist (404).
    #[error("InfluxDB database not found (HTTP 404): {0}")]
    NotFound(String),
    /// Temporary failure (429, 5xx, timeout, connection refused): retry later, honouring `retry_after`.
    #[error("InfluxDB unavailable: {message}")]
    Unavailable {
        /// What happened.
        message: String,
        /// Server-suggested delay (Retry-After), if any.
        retry_after: Option<Duration>,
    },
}

impl WriteError {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            WriteError::Rejected { .. } => "rejected",
            WriteError::Auth { .. } => "auth",
            WriteError::TooLarge => "too_large",
            WriteError::NotFound(_) => "not_found",
            WriteError::Unavailable { .. } => "unavailable",
        }
    }
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Transport failure or timeout.
    #[error("InfluxDB unreachable: {0}")]
    Unavailable(String),
    /// The server answered with an error (bad query, auth, …).
    #[error("InfluxDB query failed (HTTP {status}): {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Server message.
        message: String,
    },
    /// The answer was not the expected JSON.
    #[error("unexpected InfluxDB answer: {0}")]
    Decode(String),
}

/// One series of a query result.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Series {
    /// Measurement name.
    pub name: String,
    /// Tag values for GROUP BY queries.
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    /// Column names; the first is `time`.
    pub columns: Vec<String>,
    /// Rows of values, aligned with `columns`.
    #[serde(default)]
    pub values: Vec<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct QueryResponse {
    #[serde(default)]
    results: Vec<StatementResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct StatementResult {
    #[serde(default)]
    series: Vec<Series>,
    error: Option<String>,
}

/// A cheap-to-clone InfluxDB client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Config,
    base: Url,
}

impl Client {
    /// Builds a client; fails only on an invalid URL (validated earlier by [`Config::validate`]).
    pub fn new(config: Config) -> Result<Self, QueryError> {
        let base = Url::parse(&config.url).map_err(|e| QueryError::Decode(format!("bad url: {e}")))?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| QueryError::Unavailable(e.to_string()))?;
        Ok(Self { http, config, base })
    }

    /// The database this client writes to.
    pub fn database(&self) -> &str {
        &self.config.database
    }

    fn url(&self, path: &str, pairs: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("db", &self.config.database);
            if !self.config.retention_policy.is_empty() {
                q.append_pair("rp", &self.config.retention_policy);
            }
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
        }
        url
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.config.username, &self.config.password) {
            (Some(u), Some(p)) => req.basic_auth(u, Some(p.expose_secret())),
            _ => req,
        }
    }

    /// Writes line protocol with millisecond timestamps (`POST /write?precision=ms`).
    pub async fn write(&self, body: impl Into<reqwest::Body>) -> Result<(), WriteError> {
        let url = self.url("/write", &[("precision", "ms")]);
        let resp = self
            .auth(self.http.post(url))
            .body(body)
            .send()
            .await
            .map_err(|e| WriteError::Unavailable {
                message: transport_message(&e),
                retry_after: None,
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let message = error_message(resp).await;
        Err(match status {
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => WriteError::Rejected {
                status: status.as_u16(),
                message,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => WriteError::Auth {
                status: status.as_u16(),
            },
            StatusCode::PAYLOAD_TOO_LARGE => WriteError::TooLarge,
            StatusCode::NOT_FOUND => WriteError::NotFound(message),
            _ => WriteError::Unavailable {
                message: format!("HTTP {status}: {message}"),
                retry_after,
            },
        })
    }

    /// Runs InfluxQL with bind parameters (`$name` in the query, values in `params`) and epoch-ms times.
    /// Returns the series of the first statement.
    pub async fn query(&self, q: &str, params: &[(&str, &str)]) -> Result<Vec<Series>, QueryError> {
        let params_json = serde_json::Value::Object(
            params
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::Value::String((*v).to_string())))
                .collect(),
        )
        .to_string();
        let url = self.url("/query", &[("q", q), ("epoch", "ms"), ("params", &params_json)]);
        let resp = self
            .auth(self.http.post(url))
            .send()
            .await
            .map_err(|e| QueryError::Unavailable(transport_message(&e)))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(QueryError::Server {
                status: status.as_u16(),
                message: error_message(resp).await,
            });
        }
        let body: QueryResponse = resp.json().await.map_err(|e| QueryError::Decode(e.to_string()))?;
        if let Some(e) = body.error {
            return Err(QueryError::Server {
                status: status.as_u16(),
                message: e,
            });
        }
        let first = body
            .results
            .into_iter()
            .next()
            .ok_or_else(|| QueryError::Decode("no results".into()))?;
        if let Some(e) = first.error {
            return Err(QueryError::Server {
                status: status.as_u16(),
                message: e,
            });
        }
        Ok(first.series)
    }

    /// Runs a statement that changes the server (`CREATE DATABASE …`); for setup and tests.
    pub async fn execute(&self, q: &str) -> Result<(), QueryError> {
        self.query(q, &[]).await.map(|_| ())
    }

    /// `GET /ping`: true when the server answers 204.
    pub async fn ping(&self) -> bool {
        let mut url = self.base.clone();
        url.set_path("/ping");
        matches!(self.http.get(url).timeout(Duration::from_secs(2)).send().await, Ok(r) if r.status().is_success())
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // reqwest errors may embed the URL, which holds no secrets here (credentials go in headers).
        e.to_string()
    }
}

async fn error_message(resp: reqwest::Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    #[derive(Deserialize)]
    struct ErrBody {
        error: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_str::<ErrBody>(&text) {
        Ok(ErrBody { error: Some(e), .. }) | Ok(ErrBody { message: Some(e), .. }) => e,
        _ => text.chars().take(500).collect(),
    }
}
