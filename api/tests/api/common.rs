//! Shared fixtures of the router tests: the model's small [`town`] with one user per role (the token is the
//! user's name), a state whose InfluxDB is unreachable, and request helpers.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zw_api::{AppState, app};
use zw_model::inventory::fixtures::town;

pub fn state() -> AppState {
    let inv = town();
    assert_eq!(inv.validate(), Vec::<String>::new());
    // A port nobody listens on: history requests must fail as 503, never hang or panic.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let url = format!("http://{closed}");
    let influx = zw_influx::Client::new(zw_influx::Config {
        url,
        ..Default::default()
    })
    .expect("client");
    AppState::new(Arc::new(inv), influx, None, prometheus::Registry::new()).expect("state")
}

pub async fn get(
    state: &AppState,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String, serde_json::Value) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = app(state.clone())
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let ctype = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        ctype,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
