//! The dashboard: one static page (HTML, CSS and JavaScript, no build step) compiled into the binary.
//!
//! The page holds no data of its own. It asks for a token (or takes it from the URL fragment `#token=…`, which
//! never reaches the server or its logs), then uses the same API as everyone else, so it can show nothing the
//! token's scope does not allow.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("../../static/dashboard.html");

/// `GET /`: the dashboard page.
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            ),
        ],
        PAGE,
    )
}
