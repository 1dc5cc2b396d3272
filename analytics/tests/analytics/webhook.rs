//! Webhook delivery against a real local HTTP server (axum on 127.0.0.1, an ephemeral port): an endpoint
//! that fails twice and then accepts gets the alert after two counted retries; one that always fails gets
//! `webhook_attempts` tries and the change is counted as dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zw_analytics::Metrics;
use zw_analytics::config::AlertsConfig;
use zw_analytics::sink::Sinks;
use zw_model::alert::Alert;

/// The endpoint: answers 503 to the first `fail` requests, then 204; forwards every accepted body.
#[derive(Clone)]
struct Endpoint {
    fail: usize,
    seen: Arc<AtomicUsize>,
    accepted: mpsc::UnboundedSender<Alert>,
}

async fn hook(State(e): State<Endpoint>, axum::Json(a): axum::Json<Alert>) -> StatusCode {
    if e.seen.fetch_add(1, Ordering::SeqCst) < e.fail {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let _ = e.accepted.send(a);
    StatusCode::NO_CONTENT
}

/// Serves the endpoint; returns its URL, the request counter and the accepted alerts.
async fn serve(fail: usize) -> anyhow::Result<(String, Arc<AtomicUsize>, mpsc::UnboundedReceiver<Alert>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let (tx, rx) = mpsc::unbounded_channel();
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().route("/hook", post(hook)).with_state(Endpoint {
        fail,
        seen: seen.clone(),
        accepted: tx,
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, seen, rx))
}

fn alert() -> anyhow::Result<Alert> {
    Ok(serde_json::from_str(
        r#"{"v":1,"id":"left_on.hh-1.plug-1","kind":"left_on","category":"energy","site":"hh-1",
            "subject":{"device":"plug-1"},"state":"open","severity":"warning",
            "opened_at":"2026-05-12T19:10:00Z","updated_at":"2026-05-12T19:15:00Z",
            "explanation":{"observed":812.5,"expected":0.0,"threshold":15.0,"unit":"W",
            "baseline":"off outside usage hours","since":"2026-05-12T19:00:00Z",
            "text":"812 W drawn outside usage hours for 15 min"}}"#,
    )?)
}

fn config(url: String, attempts: u32) -> AlertsConfig {
    AlertsConfig {
        store_influx: false,
        webhook_url: Some(url),
        webhook_attempts: attempts,
        ..AlertsConfig::default()
    }
}

// Paused time: the back-off sleeps pass at once; the requests are real, over loopback, so each one's reply
// is ready before the clock may move on.
#[tokio::test(start_paused = true)]
async fn failing_then_succeeding_endpoint_gets_the_alert_after_counted_retries() -> anyhow::Result<()> {
    let (url, seen, mut accepted) = serve(2).await?;
    let metrics = Metrics::unregistered()?;
    let stop = CancellationToken::new();
    let (sinks, tasks) = Sinks::start(&config(url, 5), None, &metrics, &stop);
    let sent = alert()?;
    sinks.send(&sent);
    // Back-off 1 s then 2 s (in paused time): the bound only stops a broken test from hanging.
    let got = tokio::time::timeout(Duration::from_secs(30), accepted.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("endpoint stopped"))?;
    assert_eq!(got, sent);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    // The delivery is counted right after the 2xx arrives; wait for the sink task to get there.
    tokio::time::timeout(Duration::from_secs(10), async {
        while metrics.sink_delivered.with_label_values(&["webhook"]).get() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await?;
    assert_eq!(metrics.sink_retries.with_label_values(&["webhook"]).get(), 2);
    assert_eq!(
        metrics
            .sink_dropped
            .with_label_values(&["webhook", "retries_exhausted"])
            .get(),
        0
    );
    stop.cancel();
    drop(sinks);
    for t in tasks {
        t.await?;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn always_failing_endpoint_is_tried_a_bounded_number_of_times_and_the_drop_is_counted()
-> anyhow::Result<()> {
    let (url, seen, mut accepted) = serve(usize::MAX).await?;
    let metrics = Metrics::unregistered()?;
    let stop = CancellationToken::new();
    let (sinks, tasks) = Sinks::start(&config(url, 2), None, &metrics, &stop);
    sinks.send(&alert()?);
    tokio::time::timeout(Duration::from_secs(30), async {
        while metrics
            .sink_dropped
            .with_label_values(&["webhook", "retries_exhausted"])
            .get()
            == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await?;
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    assert_eq!(metrics.sink_retries.with_label_values(&["webhook"]).get(), 1);
    assert_eq!(metrics.sink_delivered.with_label_values(&["webhook"]).get(), 0);
    assert!(accepted.try_recv().is_err());
    stop.cancel();
    drop(sinks);
    for t in tasks {
        t.await?;
    }
    Ok(())
}
