//! Ingest: canonical readings from the bus into InfluxDB, in batches, acknowledged only once written.
//!
//! ```text
//!  $share/{group}/zw/v1/readings/+/+ (QoS 1, persistent session, manual acks)
//!        │  validate (schema, ids match topic, finite values, time window)
//!        ▼
//!   batch (size or age) ──► POST /write ──► ack every message of the batch to the broker
//! ```
//!
//! Delivery: a message is acknowledged to the broker only after InfluxDB accepted its point, or after it was
//! rejected for a reason a retry cannot fix (counted and logged). While InfluxDB is unavailable the batch is
//! retried with back-off and nothing is acknowledged, so the broker keeps the backlog for the persistent
//! session and re-delivers it after a crash. Writes are idempotent (same series + timestamp), so a
//! re-delivered reading is the same point, not a duplicate.

mod config;
mod metrics;
mod writer;

use std::time::Duration;

use chrono::Utc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{BusClient, ConnectOptions, FullPolicy, Publish, QoS};
use zw_influx::{FieldValue, Line, LineError};
use zw_model::{Reading, reading::TimeWindow, storage, topic};

pub use config::Config;
pub use metrics::Metrics;

/// Appends the line-protocol point of `r` to `out`.
pub fn to_line(r: &Reading, out: &mut String) -> Result<(), LineError> {
    let mut line = Line::new(storage::MEASUREMENT)
        .tag(storage::TAG_SITE, r.site.as_str())
        .tag(storage::TAG_DEVICE, r.device.as_str())
        .timestamp(r.ts.timestamp_millis());
    for (q, v) in &r.values {
        line = line.field(q.name(), FieldValue::Float(*v));
    }
    line.write_to(out)
}

/// Readings collected for one write, with the messages to acknowledge once it succeeded.
#[derive(Default)]
struct Batch {
    body: String,
    lines: usize,
    acks: Vec<Publish>,
    since: Option<Instant>,
}

/// Runs ingest until `shutdown`; the last batch is written before disconnecting.
pub async fn run(
    cfg: Config,
    influx: zw_influx::Client,
    bus: &zw_bus::Bus,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let opts = ConnectOptions {
        client: "ingest".into(),
        instance: cfg.instance.clone(),
        clean_session: false,
        subscriptions: vec![(
            topic::shared(&cfg.group, topic::READINGS_FILTER),
            QoS::AtLeastOnce,
        )],
        manual_acks: true,
        full_policy: FullPolicy::Block,
        last_will: None,
    };
    let bus_stop = CancellationToken::new();
    let (bus, mut inbound, driver) = bus.connect(opts, bus_stop.clone());
    let writer = writer::Writer::new(influx, &cfg, metrics.clone());
    let mut batch = Batch::default();
    info!(group = %cfg.group, batch_size = cfg.batch_size, "Ingest started.");
    loop {
        let deadline = batch.since.map(|s| s + cfg.batch_interval);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                flush(&mut batch, &writer, &bus, &metrics, &shutdown).await;
            }
            msg = inbound.recv() => {
                let Some(msg) = msg else { break };
                accept(msg, &mut batch, &bus, &metrics).await;
                if batch.lines >= cfg.batch_size {
                    flush(&mut batch, &writer, &bus, &metrics, &shutdown).await;
                }
            }
        }
    }
    // Final flush: one attempt per remaining back-off window; unacknowledged readings stay with the broker.
    let last_chance = CancellationToken::new();
    let guard = last_chance.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        guard.cancel();
    });
    flush(&mut batch, &writer, &bus, &metrics, &last_chance).await;
    bus.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    bus_stop.cancel();
    info!("Ingest stopped.");
}

/// Validates one message into the batch; a message that can never be written is acknowledged at once.
async fn accept(mut msg: Publish, batch: &mut Batch, bus: &BusClient, metrics: &Metrics) {
    metrics.received.inc();
    let parsed = Reading::from_json(&msg.payload, Utc::now(), TimeWindow::default())
        .map_err(|e| (e.reason(), e.to_string()))
        .and_then(|r| match topic::parse_readings(&msg.topic) {
            Some((site, device)) if site == r.site && device == r.device => Ok(r),
            _ => Err((
                "topic_mismatch",
                format!("reading for {}/{} on topic {}", r.site, r.device, msg.topic),
            )),
        })
        .and_then(|r| to_line(&r, &mut batch.body).map_err(|e| ("line", e.to_string())));
    match parsed {
        Ok(()) => {
            batch.lines += 1;
            batch.since.get_or_insert_with(Instant::now);
            metrics.pending.inc();
            // Only the packet id is needed for the acknowledgement; free the payload now.
            msg.payload.clear();
            batch.acks.push(msg);
        }
        Err((reason, detail)) => {
            metrics.rejected.with_label_values(&[reason]).inc();
            warn!(topic = %msg.topic, reason, error = %detail, "Rejected reading.");
            let _ = bus.ack(&msg).await;
        }
    }
}

async fn flush(
    batch: &mut Batch,
    writer: &writer::Writer,
    bus: &BusClient,
    metrics: &Metrics,
    stop: &CancellationToken,
) {
    if batch.lines == 0 {
        return;
    }
    let done = std::mem::take(batch);
    if writer.write(&done.body, done.lines, stop).await {
        for p in &done.acks {
            let _ = bus.ack(p).await;
        }
    }
    // Written or not, these readings are no longer pending here: unacknowledged ones go back to the broker.
    metrics.pending.sub(i64::try_from(done.lines).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use zw_model::{Id, Quantity};

    use super::*;

    #[test]
    fn a_reading_is_one_point() {
        let ts = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("valid");
        let r = Reading::new(
            Id::new("rathaus").expect("id"),
            Id::new("main").expect("id"),
            ts,
            BTreeMap::from([
                (Quantity::EnergyImport, 12_345_678.0),
                (Quantity::ActivePower, -5.5),
            ]),
        );
        let mut out = String::new();
        to_line(&r, &mut out).expect("valid");
        assert_eq!(
            out,
            "readings,device=main,site=rathaus active_power=-5.5,energy_import=12345678.0 1795255200000\n"
        );
    }
}
