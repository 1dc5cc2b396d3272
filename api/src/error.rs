//! One error type for every handler, rendered as RFC 7807 `application/problem+json`.

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
    /// A dependency (broker, database) is unavailable.
    #[error("{0}")]
    Unavailable(String),
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
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
        if let ApiError::TooManyRequests(wait) = self {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
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
