//! The router's own layers: request counting per route template, problem documents for errors produced
//! outside the handlers, the request timeout (`api.request_timeout`, not on the live stream) and a generic
//! 500 for a handler that panics.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::{AppState, error};

/// Answers 503 when a request takes longer than `limit` to produce its answer.
pub(crate) async fn time_limit(limit: std::time::Duration, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(path, ?limit, "Request exceeded api.request_timeout.");
            axum::response::IntoResponse::into_response(error::ApiError::Timeout(limit))
        }
    }
}

/// A handler panic answers a generic 500 problem (logged here), never a dropped connection or the panic text.
pub(crate) fn panic_problem(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let msg = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic");
    tracing::error!(panic = msg, "A handler panicked.");
    error::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; it has been logged".into(),
        false,
    )
}

/// Turns error answers produced outside the handlers (405 from the router, 413 from the body limit, axum's
/// plain-text rejections) into problem documents, keeping headers such as `Allow`. JSON answers (the
/// handlers' problems, `/readyz`'s 503 report) pass unchanged.
pub(crate) async fn problems_everywhere(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/") && v.as_bytes().ends_with(b"json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return resp;
    }
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept that method (see Allow)".to_string(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is larger than the limit (api.max_body_bytes)".to_string()
        }
        s => s.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut out = error::problem(status, detail, false);
    for (k, v) in resp.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

pub(crate) async fn count_requests(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    // Route templates, not raw paths, keep the label set bounded.
    let route = req.extensions().get::<MatchedPath>().cloned(); // an Arc<str>: no copy
    let resp = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    state
        .requests
        .with_label_values(&[route, resp.status().as_str()])
        .inc();
    resp
}
