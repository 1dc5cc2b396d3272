//! The ingest loop: receive, validate and batch readings, then deliver each batch on its own task, at most
//! `write_concurrency` at a time (waiting for a free slot is the back-pressure that stops reading from the
//! broker), and acknowledge its messages once they are safe.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use zw_bus::{AckToken, BusClient, ConnectOptions, Delivery, FullPolicy, QoS};
use zw_model::{KnownDevices, reading::TimeWindow, topic};

use crate::dead_letter::{DeadLetter, Record};
use crate::line::Rejection;
use crate::partition::Partition;
use crate::spool::{Spool, SpoolError, quarantine};
use crate::wire::{self, Bounds};
use crate::writer::{Outcome, Part, Writer};
use crate::{Config, Metrics, broker_watch, replay};

mod known;

pub use known::Known;

/// How long shutdown waits for the last batches before leaving them to the broker.
const DRAIN: Duration = Duration::from_secs(8);

/// Messages taken from the inbound queue per wake-up.
const RECV_CHUNK: usize = 512;

/// Readings collected for one write, with the messages to acknowledge once it is safe.
#[derive(Default)]
struct Batch {
    body: String,
    lines: usize,
    /// Packet ids of the batch's messages (the rest of each message is dropped once it is encoded).
    acks: Vec<AckToken>,
    dead: Vec<Record>,
    since: Option<Instant>,
    /// Bytes to reserve for the body up front (the previous batch's size), so it is not regrown line by line.
    capacity_hint: usize,
}

/// What every delivery task needs.
struct Shared {
    writer: Writer,
    spool: Option<Spool>,
    dead: DeadLetter,
    bus: BusClient,
    metrics: Metrics,
    /// Ends retries and waits for spool room at the end of shutdown.
    stop: CancellationToken,
}

/// Runs ingest until `shutdown`; the last batches are delivered before disconnecting. Only readings of the
/// site/device pairs in `known` are written ([`known`]): fixed ([`KnownDevices`]) or following a live
/// inventory ([`Known::live`]). `subscribed` turns true once the broker holds ingest's subscriptions, so a
/// process that also runs the gateway can wait for it: on a broker that has never seen ingest's session,
/// what is published before that reaches nobody. Fails only if the spool cannot be opened.
pub async fn run(
    cfg: Config,
    influx: zw_influx::Client,
    bus: &zw_bus::Bus,
    metrics: Metrics,
    known: impl Into<Known>,
    subscribed: tokio::sync::watch::Sender<bool>,
    shutdown: CancellationToken,
) -> Result<(), SpoolError> {
    let mut known: Known = known.into();
    if known.devices().is_empty() {
        tracing::warn!("The inventory has no devices: ingest writes readings of any site and device.");
    }
    let spool = match &cfg.spool.path {
        Some(p) => {
            let (spool, _) = quarantine::open_or_quarantine(
                p,
                cfg.spool.max_bytes,
                cfg.spool.cache_bytes,
                metrics.clone(),
            )
            .await?;
            Some(spool)
        }
        None => {
            tracing::warn!(
                "No ingest.spool.path: while InfluxDB is down, readings wait unacknowledged at the broker."
            );
            None
        }
    };
    let filter = |f: &str| {
        if cfg.shared {
            topic::shared(&cfg.group, f)
        } else {
            f.to_owned()
        }
    };
    let opts = ConnectOptions {
        client: "ingest".into(),
        instance: cfg.instance.clone(),
        clean_session: false,
        subscriptions: vec![
            (filter(topic::READINGS_FILTER), QoS::AtLeastOnce),
            (filter(topic::BATCHES_FILTER), QoS::AtLeastOnce),
        ],
        manual_acks: true,
        full_policy: FullPolicy::Block,
        last_will: None,
    };
    let bus_stop = CancellationToken::new();
    let (client, mut inbound, driver) = bus.connect(opts, bus_stop.clone());
    let announce = {
        let client = client.clone();
        tokio::spawn(async move {
            client.wait_subscribed().await;
            subscribed.send_replace(true);
        })
    };
    let watch_stop = CancellationToken::new();
    let watch = cfg.broker_watch.enabled.then(|| {
        tokio::spawn(broker_watch::run(
            bus.clone(),
            cfg.broker_watch.clone(),
            cfg.instance.clone(),
            metrics.clone(),
            watch_stop.clone(),
        ))
    });
    if cfg.dead_letter.path.is_none() {
        tracing::warn!(
            "No ingest.dead_letter.path: readings that can never be written are logged and acknowledged, not kept."
        );
    }
    let task_stop = CancellationToken::new();
    let mut dead = DeadLetter::new(&cfg.dead_letter, metrics.clone()).with_stop(task_stop.clone());
    if let Some(topic) = &cfg.dead_letter.topic {
        dead = dead.with_topic(client.clone(), topic.clone());
    }
    let writer = Writer::new(influx, &cfg, metrics.clone(), dead.clone());
    let replayer = spool.clone().map(|s| {
        let (w, n, stop) = (writer.clone(), cfg.spool.replay_concurrency, task_stop.clone());
        tokio::spawn(replay::run(s, w, n, stop))
    });
    let shared = Arc::new(Shared {
        writer,
        spool,
        dead,
        bus: client.clone(),
        metrics: metrics.clone(),
        stop: task_stop.clone(),
    });
    let slots = Arc::new(Semaphore::new(cfg.write_concurrency));
    let mut tasks = JoinSet::new();
    let mut batch = Batch::default();
    let mut received = Vec::with_capacity(RECV_CHUNK);
    let max_message_bytes = bus.config.max_message_bytes;
    let partition = Partition::new(cfg.partition, cfg.partitions);
    info!(group = %cfg.group, shared = cfg.shared, partition = cfg.partition, partitions = cfg.partitions,
        batch_size = cfg.batch_size, spool = ?cfg.spool.path, "Ingest started.");
    loop {
        let deadline = batch.since.map(|s| s + cfg.batch_interval);
        // Messages left over from the last chunk (the batch filled up) are taken before receiving more.
        let timed_out = if received.is_empty() {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => true,
                n = inbound.recv_many_deliveries(&mut received, RECV_CHUNK) => {
                    if n == 0 {
                        break;
                    }
                    metrics.messages.inc_by(n as u64);
                    false
                }
            }
        } else if shutdown.is_cancelled() {
            break;
        } else {
            false
        };
        // One clock read per chunk: the window is minutes wide, a chunk is microseconds old.
        let bounds = Bounds::new(Utc::now(), TimeWindow::default());
        // Likewise one look per chunk at the live inventory (an atomic load unless it was replaced).
        if known.refresh() {
            info!("Inventory replaced: the known site/device pairs follow it.");
        }
        let mut taken = 0;
        while taken < received.len() && !is_full(&batch, cfg.batch_size) {
            let msg = &received[taken];
            if partition.owns(&msg.publish.topic) {
                accept(
                    msg,
                    &mut batch,
                    (bounds, known.devices()),
                    max_message_bytes,
                    &metrics,
                );
            } else {
                // Another instance's: acknowledged unread with this batch.
                metrics.other_partition.inc();
                batch.acks.push(msg.ack_token());
            }
            taken += 1;
        }
        received.drain(..taken);
        let full = timed_out || is_full(&batch, cfg.batch_size);
        if full {
            let Some(permit) = slot(&slots, &shutdown).await else {
                break;
            };
            let hint = batch.body.len() + batch.body.len() / 8;
            let next = Batch {
                capacity_hint: hint,
                acks: Vec::with_capacity(batch.acks.len()),
                ..Batch::default()
            };
            tasks.spawn(deliver(
                std::mem::replace(&mut batch, next),
                shared.clone(),
                permit,
            ));
        }
        while tasks.try_join_next().is_some() {}
    }
    // Drain: the last batch and those in flight get DRAIN; the rest stays unacknowledged with the broker.
    let drained = CancellationToken::new();
    let timer = drained.clone();
    tokio::spawn(async move {
        tokio::time::sleep(DRAIN).await;
        timer.cancel();
    });
    if batch.since.is_some()
        && let Some(permit) = slot(&slots, &drained).await
    {
        tasks.spawn(deliver(batch, shared.clone(), permit));
    }
    tokio::select! {
        () = async { while tasks.join_next().await.is_some() {} } => {}
        () = drained.cancelled() => error!(batches = tasks.len(), "Shutdown: batches not delivered in time; the broker re-delivers them."),
    }
    task_stop.cancel();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    if let Some(r) = replayer {
        let _ = r.await;
    }
    announce.abort();
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
    bus_stop.cancel();
    watch_stop.cancel();
    if let Some(w) = watch {
        let _ = w.await;
    }
    info!("Ingest stopped.");
    Ok(())
}

/// Whether the batch has `batch_size` lines, or as many messages (all of them rejected, say). A batch
/// message is never split, so a batch may exceed `batch_size` by up to one message's readings.
fn is_full(batch: &Batch, batch_size: usize) -> bool {
    batch.lines >= batch_size || batch.acks.len() >= batch_size
}

/// A free delivery slot, or `None` if `stop` came first.
async fn slot(slots: &Arc<Semaphore>, stop: &CancellationToken) -> Option<OwnedSemaphorePermit> {
    tokio::select! {
        () = stop.cancelled() => None,
        p = slots.clone().acquire_owned() => p.ok(),
    }
}

/// How much of an oversized message's payload its dead letter keeps.
const OVERSIZED_PREVIEW: usize = 1024;

/// Validates one message (a reading or a batch of them) into the batch; a reading that can never be
/// written becomes a dead letter, and so does a message over `bus.max_message_bytes` (unparsed, its payload
/// cut to [`OVERSIZED_PREVIEW`] bytes). Either way the message is acknowledged with the batch, so the broker
/// never re-delivers it.
fn accept(
    delivery: &Delivery,
    batch: &mut Batch,
    (bounds, known): (Bounds, &KnownDevices),
    max_message_bytes: usize,
    metrics: &Metrics,
) {
    let start = batch.body.len();
    let msg = &delivery.publish;
    batch.since.get_or_insert_with(Instant::now);
    if batch.body.capacity() == 0 {
        batch.body.reserve(batch.capacity_hint);
    }
    let dead_before = batch.dead.len();
    let dead = &mut batch.dead;
    let mut reject = |rej: Rejection, payload: &[u8]| {
        metrics.rejected.with_label_values(&[rej.reason]).inc();
        let mut r = Record::new("bus", rej.reason, rej.message);
        r.topic = Some(msg.topic.clone());
        r.payload = Some(String::from_utf8_lossy(payload).into_owned());
        dead.push(r);
    };
    let n = if msg.payload.len() > max_message_bytes {
        let size = msg.payload.len();
        let rej = Rejection {
            reason: "oversized",
            message: format!("payload of {size} bytes is over bus.max_message_bytes ({max_message_bytes})"),
        };
        reject(rej, &msg.payload[..OVERSIZED_PREVIEW.min(size)]);
        0
    } else if topic::parse_batches(&msg.topic).is_some() {
        match wire::batch::encode_batch(&msg.payload, bounds, &mut batch.body, &mut reject) {
            Ok(n) => n,
            Err(rej) => {
                reject(rej, &msg.payload);
                0
            }
        }
    } else {
        match wire::encode(&msg.topic, &msg.payload, bounds, &mut batch.body) {
            Ok(()) => 1,
            Err(rej) => {
                reject(rej, &msg.payload);
                0
            }
        }
    };
    // Points of pairs the inventory does not know leave the batch as dead letters (with their line).
    let n = n - known::filter(known, &mut batch.body, start, |rej, line| {
        metrics.rejected.with_label_values(&[rej.reason]).inc();
        let mut r = Record::new("bus", rej.reason, rej.message);
        r.topic = Some(msg.topic.clone());
        r.payload = Some(line.to_owned());
        batch.dead.push(r);
    });
    metrics
        .received
        .inc_by((n + batch.dead.len() - dead_before) as u64);
    batch.lines += n;
    metrics.pending.add(i64::try_from(n).unwrap_or(i64::MAX));
    // Only the packet id is needed for the acknowledgement; topic and payload are freed by the caller.
    batch.acks.push(delivery.ack_token());
}

/// Makes a batch safe (written, spooled or dead-lettered), then acknowledges its messages.
async fn deliver(batch: Batch, sh: Arc<Shared>, slot: OwnedSemaphorePermit) {
    let lines = batch.lines;
    // Rejected messages are acknowledged with the batch, so their dead letters must be durable first.
    let dead_safe = sh.dead.append(batch.dead).await;
    let body = Bytes::from(batch.body.into_bytes());
    let safe = if !dead_safe {
        false
    } else if lines == 0 {
        true
    } else {
        match &sh.spool {
            None => sh.writer.write_retrying(body, lines, &sh.stop).await,
            Some(spool) if !spool.is_empty() => spool_parts(spool, vec![(body, lines)], &sh).await,
            Some(spool) => match sh.writer.write_once(vec![(body, lines)]).await {
                Outcome::Done => true,
                Outcome::Stopped => false,
                Outcome::Retry { parts, .. } => spool_parts(spool, parts, &sh).await,
            },
        }
    };
    drop(slot);
    if safe {
        // All PUBACKs of the batch in one write. A failure means the connection is gone; the broker
        // re-delivers and the write is idempotent.
        let _ = sh.bus.ack_all(batch.acks);
    }
    sh.metrics.pending.sub(i64::try_from(lines).unwrap_or(i64::MAX));
}

/// Spools `parts`, retrying I/O failures; `false` if shutdown came first.
async fn spool_parts(spool: &Spool, parts: Vec<Part>, sh: &Shared) -> bool {
    for (body, n) in parts {
        let mut failures: u32 = 0;
        loop {
            match spool.push(body.clone(), n, &sh.stop).await {
                Ok(()) => break,
                Err(SpoolError::Stopped) => return false,
                Err(e) => {
                    sh.metrics.spool_errors.inc();
                    error!(error = %e, "Cannot write to the spool; holding the batch unacknowledged.");
                    let delay = Duration::from_millis(100).saturating_mul(1 << failures.min(8));
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = sh.stop.cancelled() => return false,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{TimeZone, Utc};
    use zw_model::{Id, Quantity, Reading};

    use super::*;

    fn publish(topic: &str, payload: Vec<u8>, pkid: u16) -> Delivery {
        let mut p = zw_bus::Publish::new(topic, QoS::AtLeastOnce, payload);
        p.pkid = pkid;
        Delivery {
            publish: p,
            connection: 7,
        }
    }

    fn token(pkid: u16) -> AckToken {
        AckToken { connection: 7, pkid }
    }

    #[test]
    fn an_oversized_message_is_dead_lettered_truncated_and_acknowledged_unparsed() {
        let metrics = Metrics::register(&prometheus::Registry::new()).expect("metrics");
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 0, 0)
            .single()
            .expect("valid");
        let known = KnownDevices::default();
        let bounds = (Bounds::new(now, TimeWindow::default()), &known);
        let reading = Reading::new(
            Id::new("s").expect("id"),
            Id::new("d").expect("id"),
            now,
            BTreeMap::from([(Quantity::ActivePower, 1.0)]),
        );
        let good = reading.to_json();
        let limit = good.len();
        let mut big = good.clone();
        big.push(b' ');
        let mut batch = Batch::default();
        accept(
            &publish("zw/v1/readings/s/d", good, 1),
            &mut batch,
            bounds,
            limit,
            &metrics,
        );
        accept(
            &publish("zw/v1/readings/s/d", big, 2),
            &mut batch,
            bounds,
            limit,
            &metrics,
        );
        assert_eq!(batch.lines, 1);
        assert_eq!(
            batch.acks,
            vec![token(1), token(2)],
            "both are acknowledged with the batch, on their connection"
        );
        assert_eq!(batch.dead.len(), 1);
        let d = &batch.dead[0];
        assert_eq!(d.reason, "oversized");
        assert_eq!(d.payload.as_deref().map(str::len), Some(limit + 1));
        assert_eq!(metrics.rejected.with_label_values(&["oversized"]).get(), 1);

        let mut huge = publish("zw/v1/readings/s/d", vec![b'x'; 10 * OVERSIZED_PREVIEW], 3);
        huge.publish.retain = true;
        accept(&huge, &mut batch, bounds, limit, &metrics);
        assert_eq!(
            batch.dead[1].payload.as_deref().map(str::len),
            Some(OVERSIZED_PREVIEW)
        );
        assert!(
            batch.dead[1].message.contains("10240 bytes"),
            "{}",
            batch.dead[1].message
        );
    }
}
