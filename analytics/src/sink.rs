//! Where alert changes go besides the bus: InfluxDB (measurement `alerts`) and an optional webhook.
//!
//! Each sink has its own bounded queue fed with `try_send`: a slow database or webhook never slows the
//! detectors; when a queue is full the change is dropped and counted (`zw_analytics_sink_dropped_total`),
//! while the retained topic still carries the alert. Writes retry with back-off (500 ms doubling, at most
//! 30 s) a bounded number of times; retries are counted (`zw_analytics_sink_retries_total`), and so are
//! changes given up (`zw_analytics_sink_dropped_total{reason="retries_exhausted"}`). The webhook gets
//! the alert JSON; any 2xx status is success, anything else (or no answer within 10 s) is retried. An
//! `https://` webhook is reached over rustls, trusting the system's roots or only `webhook_ca_file`; a failed
//! handshake is logged as a warning with rustls's reason (e.g. an unknown issuer) and retried like any failure.
//!
//! InfluxDB point: `alerts,category=…,kind=…,severity=…,site=…,state=… id="…",device="…",tree="…",
//! observed=…,expected=…,threshold=…,unit="…",text="…" <updated_at ms>`.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use zw_influx::line::{FieldValue, Line};
use zw_model::alert::Alert;

use crate::metrics::Metrics;

/// The InfluxDB line of an alert change.
pub fn alert_line(a: &Alert) -> Result<String, zw_influx::LineError> {
    let mut line = Line::new("alerts")
        .tag("site", a.site.as_str())
        .tag("kind", a.kind.name())
        .tag("category", a.category.name())
        .tag("state", a.state.name())
        .tag("severity", a.severity.name())
        .field("id", FieldValue::String(a.id.to_string()))
        .field("observed", FieldValue::Float(a.explanation.observed))
        .field("expected", FieldValue::Float(a.explanation.expected))
        .field("threshold", FieldValue::Float(a.explanation.threshold))
        .field("unit", FieldValue::String(a.explanation.unit.clone()))
        .field("text", FieldValue::String(a.explanation.text.replace('\n', " ")))
        .timestamp(a.updated_at.timestamp_millis());
    if let Some(d) = &a.subject.device {
        line = line.field("device", FieldValue::String(d.to_string()));
    }
    if let Some(t) = &a.subject.tree {
        line = line.field("tree", FieldValue::String(t.to_string()));
    }
    let mut out = String::new();
    line.write_to(&mut out)?;
    Ok(out)
}

/// Handles of the running sinks.
#[derive(Clone)]
pub struct Sinks {
    influx: Option<mpsc::Sender<Alert>>,
    webhook: Option<mpsc::Sender<Alert>>,
    metrics: Metrics,
}

impl Sinks {
    /// Starts the configured sinks; they stop when `stop` is cancelled, after draining what is queued.
    pub fn start(
        cfg: &crate::config::AlertsConfig,
        influx: Option<zw_influx::Client>,
        metrics: &Metrics,
        stop: &CancellationToken,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let mut tasks = Vec::new();
        let influx = influx.filter(|_| cfg.store_influx).map(|client| {
            let (tx, rx) = mpsc::channel(cfg.queue);
            tasks.push(tokio::spawn(run_influx(
                client,
                rx,
                metrics.clone(),
                stop.clone(),
            )));
            tx
        });
        let webhook = cfg.webhook_url.clone().map(|url| {
            let (tx, rx) = mpsc::channel(cfg.queue);
            tasks.push(tokio::spawn(run_webhook(
                url,
                cfg.webhook_ca_file.clone(),
                cfg.webhook_attempts,
                rx,
                metrics.clone(),
                stop.clone(),
            )));
            tx
        });
        (
            Self {
                influx,
                webhook,
                metrics: metrics.clone(),
            },
            tasks,
        )
    }

    /// Queues an alert change for every sink; drops (and counts) where a queue is full.
    pub fn send(&self, a: &Alert) {
        for (sink, tx) in [("influx", &self.influx), ("webhook", &self.webhook)] {
            if let Some(tx) = tx
                && tx.try_send(a.clone()).is_err()
            {
                self.metrics
                    .sink_dropped
                    .with_label_values(&[sink, "queue_full"])
                    .inc();
            }
        }
    }
}

/// Exponential back-off from 500 ms, capped at 30 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(30))
}

async fn run_influx(
    client: zw_influx::Client,
    mut rx: mpsc::Receiver<Alert>,
    m: Metrics,
    stop: CancellationToken,
) {
    const ATTEMPTS: u32 = 5;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let (true, Ok(a)) = (batch.len() < 500, rx.try_recv()) {
            batch.push(a);
        }
        let body: String = batch
            .iter()
            .filter_map(|a| alert_line(a).ok())
            .collect::<Vec<_>>()
            .join("\n");
        let mut attempt = 0;
        loop {
            match client.write(body.clone()).await {
                Ok(()) => {
                    m.sink_delivered
                        .with_label_values(&["influx"])
                        .inc_by(batch.len() as u64);
                    break;
                }
                Err(e)
                    if attempt + 1 < ATTEMPTS
                        && matches!(e, zw_influx::WriteError::Unavailable { .. })
                        && !stop.is_cancelled() =>
                {
                    debug!(error = %e, attempt, "Alert write failed; retrying.");
                    attempt += 1;
                    m.sink_retries.with_label_values(&["influx"]).inc();
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = tokio::time::sleep(backoff(attempt)) => {}
                    }
                }
                Err(e) => {
                    warn!(error = %e, alerts = batch.len(), "Alert changes not stored in InfluxDB.");
                    m.sink_dropped
                        .with_label_values(&["influx", e.reason()])
                        .inc_by(batch.len() as u64);
                    break;
                }
            }
        }
        if stop.is_cancelled() && rx.is_empty() {
            break;
        }
    }
}

async fn run_webhook(
    url: String,
    ca_file: Option<std::path::PathBuf>,
    attempts: u32,
    mut rx: mpsc::Receiver<Alert>,
    m: Metrics,
    stop: CancellationToken,
) {
    // The CA file was checked by validation; if it became unreadable since, no client: every change is
    // dropped and counted rather than sent to a server nobody vouched for.
    let http = match zw_influx::tls::client_builder(ca_file.as_deref())
        .map(|b| b.timeout(Duration::from_secs(10)).build())
    {
        Ok(Ok(http)) => Some(http),
        Ok(Err(e)) => {
            warn!(error = %e, "Cannot build the webhook's HTTP client; alert changes will be dropped.");
            None
        }
        Err(e) => {
            warn!(error = %e, "Webhook CA unusable; alert changes will be dropped.");
            None
        }
    };
    while let Some(a) = rx.recv().await {
        let mut attempt = 0;
        loop {
            let Some(http) = &http else {
                m.sink_dropped
                    .with_label_values(&["webhook", "ca_unusable"])
                    .inc();
                break;
            };
            let result = http.post(&url).json(&a).send().await;
            let ok = match &result {
                Ok(r) if r.status().is_success() => true,
                Ok(r) => {
                    debug!(alert = %a.id, status = %r.status(), attempt, "Webhook refused the alert change.");
                    false
                }
                Err(e) => match zw_influx::tls::tls_failure(e) {
                    Some(reason) => {
                        warn!(alert = %a.id, %reason, attempt, "Webhook TLS handshake failed.");
                        false
                    }
                    None => {
                        debug!(alert = %a.id, error = %e, attempt, "Webhook not reached.");
                        false
                    }
                },
            };
            if ok {
                m.sink_delivered.with_label_values(&["webhook"]).inc();
                break;
            }
            attempt += 1;
            if attempt >= attempts || stop.is_cancelled() {
                warn!(alert = %a.id, attempts = attempt, "Webhook delivery failed; dropping the alert change.");
                m.sink_dropped
                    .with_label_values(&["webhook", "retries_exhausted"])
                    .inc();
                break;
            }
            m.sink_retries.with_label_values(&["webhook"]).inc();
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(backoff(attempt)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_lines_are_well_formed_line_protocol() {
        let a: Alert = serde_json::from_str(
            r#"{"v":1,"id":"left_on.hh-1.plug-1","kind":"left_on","category":"energy","site":"hh-1",
                "subject":{"device":"plug-1"},"state":"open","severity":"warning",
                "opened_at":"2026-05-12T19:10:00Z","updated_at":"2026-05-12T19:15:00Z",
                "explanation":{"observed":812.5,"expected":0.0,"threshold":15.0,"unit":"W",
                "baseline":"off outside usage hours","since":"2026-05-12T19:00:00Z",
                "text":"812 W drawn outside usage hours, \"for\" 15 min"}}"#,
        )
        .expect("alert");
        let line = alert_line(&a).expect("line");
        assert!(
            line.starts_with("alerts,category=energy,kind=left_on,severity=warning,site=hh-1,state=open "),
            "{line}"
        );
        assert!(line.trim_end().ends_with(" 1778613300000"), "{line}");
        assert!(
            line.contains(r#"device="plug-1""#) && line.contains(r#"\"for\""#),
            "{line}"
        );
    }
}
