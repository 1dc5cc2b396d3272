//! HTTP client: InfluxQL queries with bind parameters, ping. Writes are in `write.rs`.

use std::time::Duration;

use reqwest::Url;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::Config;

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
    pub(crate) http: reqwest::Client,
    pub(crate) config: Config,
    pub(crate) base: Url,
}

impl Client {
    /// Builds a client; fails only on an invalid URL or an unusable CA file (both reported earlier by
    /// [`Config::validate`]).
    pub fn new(config: Config) -> Result<Self, QueryError> {
        let base = Url::parse(&config.url).map_err(|e| QueryError::Decode(format!("bad url: {e}")))?;
        let http = crate::tls::client_builder(config.ca_file.as_deref())
            .map_err(|e| QueryError::Decode(format!("influx.ca_file: {e}")))?
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

    /// The same client with writes (and unqualified names in queries) going to retention policy `rp`.
    pub fn with_retention_policy(&self, rp: &str) -> Self {
        let mut c = self.clone();
        c.config.retention_policy = rp.into();
        c
    }

    /// `path` behind `prefix` (`read_prefix` or `write_prefix`), with the database and `pairs` as query.
    pub(crate) fn url(&self, prefix: &str, path: &str, pairs: &[(&str, &str)]) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{prefix}{path}"));
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

    pub(crate) fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.config.username, &self.config.password, &self.config.token) {
            (Some(u), Some(p), _) => req.basic_auth(u, Some(p.expose_secret())),
            (_, _, Some(t)) => req.header(
                reqwest::header::AUTHORIZATION,
                format!("Token {}", t.expose_secret()),
            ),
            _ => req,
        }
    }

    /// Runs InfluxQL with bind parameters (`$name` in the query, values in `params`) and epoch-ms times.
    /// Returns the series of the first statement.
    pub async fn query(&self, q: &str, params: &[(&str, &str)]) -> Result<Vec<Series>, QueryError> {
        self.query_all(q, params)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| QueryError::Decode("no results".into()))
    }

    /// Runs several `;`-separated InfluxQL statements in one request, with bind parameters shared by all (give
    /// each statement its own names), and returns the series of each statement in order. The query travels
    /// in the request body, so hundreds of statements fit. Fails if any statement fails, except one reading
    /// from a retention policy that does not exist: that one has no series.
    pub async fn query_all(&self, q: &str, params: &[(&str, &str)]) -> Result<Vec<Vec<Series>>, QueryError> {
        let params_json = serde_json::Value::Object(
            params
                .iter()
                .map(|(k, v)| ((*k).to_string(), serde_json::Value::String((*v).to_string())))
                .collect(),
        )
        .to_string();
        // A form body, encoded by the URL type's query serializer (reqwest's `form` is a crate feature).
        let mut form = Url::parse("http://form.invalid/").map_err(|e| QueryError::Decode(e.to_string()))?;
        form.query_pairs_mut()
            .append_pair("q", q)
            .append_pair("params", &params_json);
        let body = form.query().unwrap_or_default().to_string();
        let url = self.url(&self.config.read_prefix, "/query", &[("epoch", "ms")]);
        let resp = self
            .auth(self.http.post(url))
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
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
        body.results
            .into_iter()
            .map(|r| match r.error {
                // A statement naming a retention policy that does not exist yet (the rollups' before the
                // roller's first run, or with the roller off) reads nothing: no rows, not a failure.
                Some(e) if e.contains("retention policy not found") => Ok(Vec::new()),
                Some(e) => Err(QueryError::Server {
                    status: status.as_u16(),
                    message: e,
                }),
                None => Ok(r.series),
            })
            .collect()
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

pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".into()
    } else if let Some(reason) = crate::tls::tls_failure(e) {
        format!("TLS handshake failed: {reason}")
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        // reqwest errors may embed the URL, which holds no secrets here (credentials go in headers).
        e.to_string()
    }
}

pub(crate) async fn error_message(resp: reqwest::Response) -> String {
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
