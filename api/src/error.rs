//! One error type for every handler, rendered as RFC 7807 `application/problem+json`.
//!
//! A 5xx body says what is unavailable, never why: internal URLs and InfluxDB's or the broker's own error
//! texts are logged server-side ([`ApiError::unavailable`]) and never sent to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error; each variant maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or unknown bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// A JWT that did not verify; the detail says why (expired, signature, …).
    #[error("invalid bearer token: {0}")]
    InvalidToken(String),
    /// Unknown, or outside the caller's scope (deliberately indistinguishable).
    #[error("{0} not found")]
    NotFound(String),
    /// Malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// The caller exceeded the rate limit; retry after the given time.
    #[error("too many requests; retry in {} ms", .0.as_millis())]
    TooManyRequests(std::time::Duration),
    /// Too many failed authentications from the caller's address; retry after the given time.
    #[error("too many failed authentications from this address; retry in {} s", secs(*.0))]
    AuthLimited(std::time::Duration),
    /// The caller already has the given number of live streams open, the most allowed.
    #[error("{0} live streams are open for this user, the most allowed; close one or retry later")]
    TooManyStreams(u32),
    /// A dependency (broker, database) is unavailable: the text names what, e.g. `history`.
    #[error("{0} is temporarily unavailable")]
    Unavailable(&'static str),
    /// The request took longer than `api.request_timeout`.
    #[error("the request took longer than {} s; try a shorter range", secs(*.0))]
    Timeout(std::time::Duration),
}

/// How long a client waits before a stream slot may be free again (`Retry-After` of [`ApiError::TooManyStreams`]).
const STREAM_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// Whole seconds, rounded up, at least 1 (for `Retry-After` and texts).
fn secs(d: std::time::Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// RFC 7807 problem details.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Problem type URI; `about:blank` means the HTTP status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary (the HTTP reason phrase).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Human-readable explanation.
    pub detail: String,
}

impl ApiError {
    /// `what` is unavailable because of `cause`: logs the cause once, with fields, and answers 503 naming only
    /// `what`.
    pub fn unavailable(what: &'static str, cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(what, error = %cause, "Answered 503: a dependency failed.");
        ApiError::Unavailable(what)
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooManyRequests(_) | ApiError::AuthLimited(_) | ApiError::TooManyStreams(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) | ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ApiError::TooManyRequests(wait) | ApiError::AuthLimited(wait) => Some(*wait),
            ApiError::TooManyStreams(_) => Some(STREAM_RETRY_AFTER),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = problem(
            status,
            self.to_string(),
            matches!(self, ApiError::Unauthorized | ApiError::InvalidToken(_)),
        );
        if let Some(wait) = self.retry_after() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs(wait)));
        }
        resp
    }
}

/// Renders a problem response for `status`.
pub fn problem(status: StatusCode, detail: String, challenge: bool) -> Response {
    let body = Problem {
        kind: "about:blank".into(),
        title: status.canonical_reason().unwrap_or("Error").into(),
        status: status.as_u16(),
        detail,
    };
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    if challenge {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}
