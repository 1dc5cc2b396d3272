//! Writes: line protocol to `/write` (v1) or `/api/v2/write` (v2), optionally gzip-compressed, with the
//! server's answer classified into a [`WriteError`] the caller can act on.
//!
//! Timestamps are always milliseconds (`precision=ms`), the precision of the canonical reading.

use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::Client;
use crate::client::{error_message, transport_message};
use crate::config::Api;

/// Why a write did not fully succeed. The variant tells the caller what to do with the batch.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Some or all lines were refused (v1 400 / v2 400 or 422 / v3 400). Good lines of a partial write are
    /// stored; retrying the same body would not help. The server's message names the problem.
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
    /// The database, bucket or retention policy does not exist (404).
    #[error("InfluxDB database not found (HTTP 404): {0}")]
    NotFound(String),
    /// Temporary failure (429, 5xx, timeout, connection refused): retry later, honouring `retry_after`.
    #[error("InfluxDB unavailable: {message}")]
    Unavailable {
        /// What happened.
        message: String,
        /// Server-suggested delay (`Retry-After` in seconds), if any.
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

impl Client {
    /// Writes line protocol with millisecond timestamps through the configured API.
    pub async fn write(&self, body: impl Into<Bytes>) -> Result<(), WriteError> {
        let body: Bytes = body.into();
        let mut req = self
            .auth(self.http.post(self.write_url()))
            .header(CONTENT_TYPE, "text/plain; charset=utf-8");
        let body = if self.config.gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
            gzip(body).await?
        } else {
            body
        };
        let resp = req.body(body).send().await.map_err(|e| WriteError::Unavailable {
            message: transport_message(&e),
            retry_after: None,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let message = error_message(resp).await;
        Err(classify(status, message, retry_after))
    }

    fn write_url(&self) -> Url {
        match self.config.api {
            Api::V1 => self.url(&self.config.write_prefix, "/write", &[("precision", "ms")]),
            Api::V2 => {
                let mut url = self.base.clone();
                url.set_path(&format!("{}/api/v2/write", self.config.write_prefix));
                url.query_pairs_mut()
                    .append_pair("org", &self.config.org)
                    .append_pair("bucket", &self.config.write_bucket())
                    .append_pair("precision", "ms");
                url
            }
        }
    }
}

/// Maps a non-2xx answer to what the caller should do.
fn classify(status: StatusCode, message: String, retry_after: Option<Duration>) -> WriteError {
    match status {
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
    }
}

/// Compresses off the async threads: a 5,000-line batch takes milliseconds even at the fastest level.
async fn gzip(body: Bytes) -> Result<Bytes, WriteError> {
    tokio::task::spawn_blocking(move || {
        let mut enc =
            flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
        enc.write_all(&body)?;
        enc.finish().map(Bytes::from)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r.map_err(|e| e.to_string()))
    .map_err(|message| WriteError::Unavailable {
        message: format!("gzip failed: {message}"),
        retry_after: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_actions() {
        let c = |s: u16, ra| classify(StatusCode::from_u16(s).expect("status"), "m".into(), ra).reason();
        assert_eq!(c(400, None), "rejected");
        assert_eq!(c(422, None), "rejected");
        assert_eq!(c(401, None), "auth");
        assert_eq!(c(403, None), "auth");
        assert_eq!(c(404, None), "not_found");
        assert_eq!(c(413, None), "too_large");
        for s in [429, 500, 502, 503] {
            assert_eq!(c(s, None), "unavailable");
        }
        let ra = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            "m".into(),
            Some(Duration::from_secs(7)),
        );
        assert!(matches!(ra, WriteError::Unavailable { retry_after: Some(d), .. } if d.as_secs() == 7));
    }

    #[test]
    fn v2_url_names_org_bucket_and_precision() {
        let client = Client::new(crate::Config {
            api: Api::V2,
            org: "stadtwerke".into(),
            database: "zw".into(),
            retention_policy: "autogen".into(),
            ..Default::default()
        })
        .expect("client");
        assert_eq!(
            client.write_url().as_str(),
            "http://127.0.0.1:8086/api/v2/write?org=stadtwerke&bucket=zw%2Fautogen&precision=ms"
        );
    }
}
