//! Router-level tests of household privacy (issue 17): token expiry, the move-in date on history and
//! alerts, the access log, and `/metrics` behind a token or on this host only. Driven with `oneshot`;
//! InfluxDB is a closed local port, so a request that reaches it answers 503 and one that must not query
//! answers without it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::{TimeDelta, Utc};
use http_body_util::BodyExt;
use tower::ServiceExt;
use zw_model::inventory::fixtures::town;
use zw_model::inventory::token_hash;

use crate::{AppState, Config, app_with};

/// The model's town (tokens are the user names; `anna` is the resident of hh-1) after `edit`, with
/// InfluxDB at a closed port and `cfg`.
fn state(edit: impl FnOnce(&mut zw_model::Inventory), cfg: Config) -> AppState {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let influx = zw_influx::Client::new(zw_influx::Config {
        url: format!("http://{closed}"),
        ..Default::default()
    })
    .expect("client");
    let mut inv = town();
    edit(&mut inv);
    let mut s = AppState::new(Arc::new(inv), influx, None, prometheus::Registry::new()).expect("state");
    s.configure(cfg);
    s
}

fn request(path: &str, token: Option<&str>, peer: &str) -> Request<Body> {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = req.body(Body::empty()).expect("request");
    let addr: SocketAddr = format!("{peer}:40000").parse().expect("addr");
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

async fn send(state: &AppState, req: Request<Body>) -> (StatusCode, String, serde_json::Value) {
    let resp = app_with(state.clone(), &state.config)
        .oneshot(req)
        .await
        .expect("infallible");
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        ct,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn anna(inv: &mut zw_model::Inventory) -> &mut zw_model::User {
    inv.users
        .iter_mut()
        .find(|u| u.name.as_str() == "anna")
        .expect("anna")
}

#[tokio::test]
async fn an_expired_token_is_a_401_problem_saying_so_and_counted() {
    let expired = Utc::now() - TimeDelta::hours(1);
    let s = state(|inv| anna(inv).token_expires = Some(expired), Config::default());
    let (status, ct, body) = send(&s, request("/api/v1/devices", Some("anna"), "192.0.2.1")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(ct, "application/problem+json");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("token expired at"),
        "{body}"
    );
    let text = String::from_utf8({
        use prometheus::Encoder as _;
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&s.registry.gather(), &mut buf)
            .expect("encodes");
        buf
    })
    .expect("utf-8");
    assert!(
        text.contains("zw_api_auth_failures_total{reason=\"expired\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn history_before_the_move_in_is_empty_without_a_query() {
    let move_in = Utc::now() - TimeDelta::days(3);
    let s = state(|inv| anna(inv).since = Some(move_in), Config::default());
    let before = (move_in - TimeDelta::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let until = (move_in - TimeDelta::days(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path =
        format!("/api/v1/devices/hh-1-plug/history?quantity=active_power&window=1h&from={before}&to={until}");
    // Wholly before the move-in: no windows, and InfluxDB (a closed port) is never asked.
    let (status, _, body) = send(&s, request(&path, Some("anna"), "192.0.2.1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["points"], serde_json::json!([]));
    // The administrator, without a move-in, reaches the database (503: a closed port) for the same range.
    let (status, _, _) = send(&s, request(&path, Some("root"), "192.0.2.1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn a_residents_request_is_one_access_log_line_with_who_what_and_when() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("access.jsonl");
    let mut s = state(|_| {}, Config::default());
    s.access_log = Some(Arc::new(
        crate::access_log::AccessLog::open(&path).expect("opens"),
    ));
    let url = "/api/v1/devices/hh-1-plug/history?quantity=active_power&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z";
    send(&s, request(url, Some("anna"), "192.0.2.1")).await;
    let text = std::fs::read_to_string(&path).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let l = &lines[0];
    assert_eq!(l["user"], "anna");
    assert_eq!(l["role"], "resident");
    assert_eq!(
        l["subject"],
        serde_json::json!({"kind": "device", "id": "hh-1-plug"})
    );
    assert_eq!(l["query"]["from"], "2026-01-01T00:00:00Z");
    assert_eq!(l["query"]["to"], "2026-01-02T00:00:00Z");
    assert!(l["ts"].is_string() && l["status"].is_u64());
    assert!(!text.contains("Bearer") && !text.contains(&token_hash("anna")));
}

#[tokio::test]
async fn metrics_are_served_to_this_host_only_or_with_the_metrics_token() {
    let s = state(|_| {}, Config::default());
    let (status, _, _) = send(&s, request("/metrics", None, "127.0.0.1")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, ct, _) = send(&s, request("/metrics", None, "192.0.2.1")).await;
    assert_eq!(
        (status, ct.as_str()),
        (StatusCode::FORBIDDEN, "application/problem+json")
    );
    let mut forwarded = request("/metrics", None, "127.0.0.1");
    forwarded
        .headers_mut()
        .insert("x-forwarded-for", "192.0.2.1".parse().expect("header"));
    assert_eq!(send(&s, forwarded).await.0, StatusCode::FORBIDDEN);

    let cfg = Config {
        metrics_token_sha256: Some(token_hash("scrape")),
        ..Config::default()
    };
    let s = state(|_| {}, cfg);
    assert_eq!(
        send(&s, request("/metrics", None, "127.0.0.1")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&s, request("/metrics", Some("anna"), "192.0.2.1")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) = send(&s, request("/metrics", Some("scrape"), "192.0.2.1")).await;
    assert_eq!(status, StatusCode::OK);
}
