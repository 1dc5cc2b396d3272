//! Issue 5: InfluxDB answers 401/403 (ingest keeps spooling, logs loudly and raises
//! `zw_ingest_influx_auth_failing`, then delivers everything once the credentials work again) and 413
//! (ingest splits the batch until the parts fit). A small HTTP gate in front of the real influxd produces
//! those answers; everything it lets through is written by the real server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{any, post};
use zw_tests::Stack;

use crate::ingest_support::{Ingest, Publisher, WAIT, await_count, await_subscribed};
use crate::support::eventually;

/// The gate's behaviour: `status` (0 = pass through) for every write, and a line limit above which a
/// write gets 413.
#[derive(Clone)]
struct Gate {
    influx: String,
    http: reqwest::Client,
    status: Arc<AtomicU16>,
    max_lines: Arc<AtomicU64>,
    too_large: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

async fn write(State(g): State<Gate>, RawQuery(q): RawQuery, body: Bytes) -> (StatusCode, String) {
    let status = g.status.load(Ordering::SeqCst);
    if status != 0 {
        g.refused.fetch_add(1, Ordering::SeqCst);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED);
        return (code, r#"{"error":"authorization failed"}"#.into());
    }
    let lines = body.iter().filter(|b| **b == b'\n').count() as u64;
    if lines > g.max_lines.load(Ordering::SeqCst) {
        g.too_large.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            r#"{"error":"request entity too large"}"#.into(),
        );
    }
    let url = format!("{}/write?{}", g.influx, q.unwrap_or_default());
    match g.http.post(url).body(body).send().await {
        Ok(r) => (
            StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            r.text().await.unwrap_or_default(),
        ),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

/// Everything but writes (ping, queries) goes straight through.
async fn other(
    State(g): State<Gate>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    body: Bytes,
) -> (StatusCode, String) {
    let url = format!("{}{}", g.influx, uri.path_and_query().map_or("/", |p| p.as_str()));
    let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    match g.http.request(method, url).body(body).send().await {
        Ok(r) => (
            StatusCode::from_u16(r.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
            r.text().await.unwrap_or_default(),
        ),
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

/// Starts the gate in front of `stack`'s influxd; returns it and its URL.
async fn gate(stack: &Stack, status: u16, max_lines: u64) -> anyhow::Result<(Gate, String)> {
    let g = Gate {
        influx: stack.influx_url(),
        http: reqwest::Client::new(),
        status: Arc::new(AtomicU16::new(status)),
        max_lines: Arc::new(AtomicU64::new(max_lines)),
        too_large: Arc::default(),
        refused: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/write", post(write))
        .fallback(any(other))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((g, url))
}

/// The ingest config's InfluxDB behind the gate at `url`.
fn influx_via(url: &str) -> impl FnOnce(&mut zw_config::Config) + '_ {
    move |c| c.influx.url = url.to_owned()
}

async fn refused_credentials_keep_spooling_and_raise_the_alarm(status: u16) -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (g, url) = gate(&stack, status, u64::MAX).await?;
    let ingest = Ingest::start(&stack, "ingest1", influx_via(&url))?;
    let publisher = Publisher::new(&stack, "pub-auth");
    // Nothing reaches InfluxDB yet, so readiness is "a probe was received and spooled".
    await_subscribed(&publisher, || async {
        ingest.metric("zw_ingest_spool_points_spooled_total").await > 0.0
    })
    .await?;

    const N: u64 = 1200;
    publisher.stream("auth", N, 200, |_| async { Ok(()) }).await?;
    // Every reading is spooled (and so acknowledged) while the credentials are refused.
    eventually(WAIT, "readings spooled", || async {
        (ingest.metric("zw_ingest_spool_points").await >= N as f64).then_some(())
    })
    .await
    .map_err(|e| e.context(ingest.log_tail()))?;
    assert_eq!(ingest.metric("zw_ingest_influx_auth_failing").await, 1.0);
    assert!(ingest.metric("zw_ingest_write_errors_total").await > 0.0);
    assert!(
        ingest.log_tail().contains("REFUSES OUR CREDENTIALS"),
        "{}",
        ingest.log_tail()
    );
    assert_eq!(crate::ingest_support::count(&stack, "auth").await?, 0);

    // The credentials work again: the spool drains, the alarm clears.
    g.status.store(0, Ordering::SeqCst);
    await_count(&stack, "auth", N, &ingest.log_tail()).await?;
    eventually(WAIT, "alarm cleared, spool empty", || async {
        let cleared = ingest.metric("zw_ingest_influx_auth_failing").await == 0.0;
        (cleared && ingest.metric("zw_ingest_spool_points").await == 0.0).then_some(())
    })
    .await?;
    assert!(g.refused.load(Ordering::SeqCst) > 0);
    assert!(ingest.dead_letters().is_empty(), "{:?}", ingest.dead_letters());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_keeps_spooling_and_raises_the_alarm() -> anyhow::Result<()> {
    refused_credentials_keep_spooling_and_raise_the_alarm(401).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_keeps_spooling_and_raises_the_alarm() -> anyhow::Result<()> {
    refused_credentials_keep_spooling_and_raise_the_alarm(403).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_batches_are_split_until_they_fit() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    // Batches are up to 500 lines (the test config); the server takes at most 70.
    let (g, url) = gate(&stack, 0, 70).await?;
    let ingest = Ingest::start(&stack, "ingest1", influx_via(&url))?;
    let publisher = Publisher::new(&stack, "pub-413");
    await_subscribed(&publisher, || async {
        crate::ingest_support::count(&stack, "probe").await.unwrap_or(0) > 0
    })
    .await?;

    const N: u64 = 2000;
    publisher.stream("split", N, 500, |_| async { Ok(()) }).await?;
    await_count(&stack, "split", N, &ingest.log_tail()).await?;
    assert!(g.too_large.load(Ordering::SeqCst) > 0, "no batch was too large");
    assert!(
        ingest.metric("zw_ingest_write_errors_total").await > 0.0,
        "{}",
        ingest.log_tail()
    );
    assert!(ingest.dead_letters().is_empty(), "{:?}", ingest.dead_letters());
    assert_eq!(ingest.metric("zw_ingest_spool_points").await, 0.0);
    Ok(())
}
