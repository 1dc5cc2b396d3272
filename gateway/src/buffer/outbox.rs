//! The outbox: publishers hand it messages ([`Outbox::send`]); while the bus is connected, the buffer is empty
//! and the bus client's queue has room they go straight to the client, otherwise the outbox task stores them
//! and drains them in order once the broker takes them again.
//!
//! The task never waits on the bus: it only ever *tries* to queue a publish, so a broker outage costs
//! publishers nothing but a disk write. What it waits on is the store (a fsync per chunk, run off the async
//! threads); its own queue ([`QUEUE`] messages) absorbs that.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval};
use tracing::{error, info, warn};
use zw_bus::{BusClient, Publish};

use super::record::{Message, SourceCounts};
use super::store::{Dropped, Store, StoreError};
use super::{count_published, is_direct, try_publish};
use crate::Metrics;

/// Capacity of the queue from publishers to the task, in messages.
pub const QUEUE: usize = 4096;
/// Messages stored as one chunk at most.
const CHUNK: usize = 1024;
/// How often a non-empty buffer tries the bus again.
const RETRY: Duration = Duration::from_millis(10);

/// The publishers' handle (cheap to clone).
#[derive(Clone)]
pub struct Outbox {
    pub(super) bus: BusClient,
    pub(super) tx: mpsc::Sender<Message>,
    pub(super) direct: Arc<AtomicBool>,
    pub(super) metrics: Metrics,
}

impl Outbox {
    /// Publishes `m`, directly or through the buffer. Waits only while the task's queue is full (the task
    /// waits on the disk, never on the broker).
    pub async fn send(&self, m: Message) {
        let m = if is_direct(&self.direct) && self.bus.is_connected() {
            match try_publish(&self.bus, &self.metrics, m) {
                Ok(()) => return,
                Err(m) => m,
            }
        } else {
            m
        };
        if self.tx.send(m).await.is_err() {
            // The task stops only after every handle is dropped.
            self.metrics.publish_errors.inc();
        }
    }
}

/// The task behind the [`Outbox`]; run it with [`OutboxTask::run`].
pub struct OutboxTask {
    store: Option<Store>,
    bus: BusClient,
    rx: mpsc::Receiver<Message>,
    returned: mpsc::UnboundedReceiver<Publish>,
    direct: Arc<AtomicBool>,
    metrics: Metrics,
    /// Readings dropped since the buffer first overflowed; `Some` while the streak lasts.
    streak: Option<u64>,
    /// A storage error was logged and none succeeded since.
    failing: bool,
}

impl OutboxTask {
    pub(super) fn new(
        store: Store,
        bus: BusClient,
        rx: mpsc::Receiver<Message>,
        returned: mpsc::UnboundedReceiver<Publish>,
        direct: Arc<AtomicBool>,
        metrics: Metrics,
    ) -> Self {
        let me = Self {
            store: Some(store),
            bus,
            rx,
            returned,
            direct,
            metrics,
            streak: None,
            failing: false,
        };
        me.gauges();
        me
    }

    /// Runs until every [`Outbox`] is dropped, then tries to drain for up to `drain_limit`; what is left
    /// stays in the store (on disk: for the next start).
    pub async fn run(mut self, drain_limit: Duration) {
        let mut retry = interval(RETRY);
        retry.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let empty = self.store().is_empty();
            self.direct
                .store(empty && self.bus.is_connected(), Ordering::Relaxed);
            tokio::select! {
                biased;
                Some(p) = self.returned.recv() => {
                    let mut back = vec![p];
                    while let Ok(p) = self.returned.try_recv() {
                        back.push(p);
                    }
                    self.requeue(back).await;
                }
                m = self.rx.recv() => match m {
                    Some(m) => {
                        let mut batch = vec![m];
                        while batch.len() < CHUNK && let Ok(m) = self.rx.try_recv() {
                            batch.push(m);
                        }
                        self.accept(batch).await;
                    }
                    None => break,
                },
                _ = retry.tick(), if !empty => self.drain().await,
            }
        }
        self.direct.store(false, Ordering::Relaxed);
        let deadline = Instant::now() + drain_limit;
        while !self.store().is_empty() && self.bus.is_connected() && Instant::now() < deadline {
            self.drain().await;
            tokio::time::sleep(RETRY).await;
        }
        let left = self.store().readings();
        if left > 0 {
            warn!(
                readings = left,
                "Shutdown: readings left in the gateway buffer (kept only if it is on disk)."
            );
        }
    }

    /// New messages: straight to the bus while it takes them and nothing older waits; the rest stored.
    async fn accept(&mut self, batch: Vec<Message>) {
        let mut rest = batch.into_iter();
        let mut left = Vec::new();
        if self.store().is_empty() && self.bus.is_connected() {
            for m in rest.by_ref() {
                if let Err(m) = try_publish(&self.bus, &self.metrics, m) {
                    left.push(m);
                    break;
                }
            }
        }
        left.extend(rest);
        self.store_messages(left).await;
    }

    /// Publishes the bus client handed back after a connection loss: readings and batches go back into the
    /// buffer (they were counted as published already); anything else is republished by its owner in due
    /// course (device statuses, counted in `zw_gateway_statuses_dropped_total`) or was a sample (dead letters).
    async fn requeue(&mut self, back: Vec<Publish>) {
        let mut messages = Vec::new();
        for p in back {
            let readings = if p.topic.starts_with("zw/v1/batches/") {
                zw_model::reading::batch::elements(&p.payload).map_or(0, |e| e.len())
            } else if p.topic.starts_with("zw/v1/readings/") {
                1
            } else {
                if p.topic.starts_with("zw/v1/status/") {
                    self.metrics.statuses_dropped.inc();
                }
                continue;
            };
            messages.push(Message {
                topic: p.topic,
                payload: p.payload.to_vec(),
                readings: u32::try_from(readings).unwrap_or(u32::MAX),
                sources: SourceCounts::default(),
            });
        }
        let n: u64 = messages.iter().map(|m| u64::from(m.readings)).sum();
        self.metrics.buffer.returned.inc_by(n);
        self.store_messages(messages).await;
    }

    async fn store_messages(&mut self, messages: Vec<Message>) {
        if messages.is_empty() {
            return;
        }
        let readings: u64 = messages.iter().map(|m| u64::from(m.readings)).sum();
        self.direct.store(false, Ordering::Relaxed);
        let result = self.blocking(move |s| s.push(&messages)).await;
        match result {
            Ok(dropped) => {
                self.failing = false;
                self.metrics.buffer.buffered.inc_by(readings);
                self.dropped(dropped);
            }
            Err(e) => {
                // Nothing else can keep them: counted as dropped, logged once per streak of failures.
                self.metrics.buffer.errors.inc();
                self.metrics.buffer.dropped.inc_by(readings);
                if !self.failing {
                    error!(error = %e, readings, "Gateway buffer cannot store readings; they are dropped.");
                }
                self.failing = true;
            }
        }
        self.gauges();
    }

    fn dropped(&mut self, d: Dropped) {
        if d.readings == 0 {
            return;
        }
        self.metrics.buffer.dropped.inc_by(d.readings);
        match &mut self.streak {
            Some(n) => *n += d.readings,
            None => {
                warn!(
                    dropped = d.readings,
                    "Gateway buffer full: dropping the oldest readings until the broker takes them again (counted in zw_gateway_buffer_dropped_readings_total)."
                );
                self.streak = Some(d.readings);
            }
        }
    }

    /// Hands buffered messages to the bus client, oldest first, until its queue is full or the buffer empty.
    async fn drain(&mut self) {
        while self.bus.is_connected() {
            let pending = self.blocking(|s| s.pending().map(<[Message]>::to_vec)).await;
            let pending = match pending {
                Ok(p) if p.is_empty() => break,
                Ok(p) => p,
                Err(e) => {
                    self.corrupt_front(&e).await;
                    break;
                }
            };
            let total = pending.len();
            let mut handed = 0;
            for m in pending {
                let sources = m.sources;
                let Message { topic, payload, .. } = m;
                match self
                    .bus
                    .try_publish(topic, zw_bus::QoS::AtLeastOnce, false, payload)
                {
                    Ok(()) => {
                        count_published(&self.metrics, &sources);
                        handed += 1;
                    }
                    Err(_) => break,
                }
            }
            if let Err(e) = self.blocking(move |s| s.consumed(handed)).await {
                self.metrics.buffer.errors.inc();
                error!(error = %e, "Gateway buffer: could not remove published readings (they may be sent twice).");
            }
            if handed < total {
                break;
            }
        }
        if self.store().is_empty()
            && let Some(n) = self.streak.take()
        {
            info!(
                dropped = n,
                "Gateway buffer drained; the oldest readings of the outage were dropped."
            );
        }
        self.gauges();
    }

    /// A chunk that cannot be read is skipped (counted as an error), so one bad chunk cannot stop the rest.
    async fn corrupt_front(&mut self, e: &StoreError) {
        self.metrics.buffer.errors.inc();
        error!(error = %e, "Gateway buffer: skipping a chunk that cannot be read.");
        match self.blocking(Store::skip_front).await {
            Ok(d) => self.metrics.buffer.dropped.inc_by(d.readings),
            Err(e) => error!(error = %e, "Gateway buffer: could not skip the unreadable chunk."),
        }
    }

    fn gauges(&self) {
        let s = self.store();
        let b = &self.metrics.buffer;
        b.readings.set(i64::try_from(s.readings()).unwrap_or(i64::MAX));
        b.bytes.set(i64::try_from(s.bytes()).unwrap_or(i64::MAX));
        b.full.set(i64::from(self.streak.is_some()));
    }

    fn store(&self) -> &Store {
        self.store.as_ref().expect("store present outside blocking calls")
    }

    /// Runs `f` on the store off the async threads.
    async fn blocking<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mut store = self.store.take().expect("store present outside blocking calls");
        let (store, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut store);
            (store, r)
        })
        .await
        .expect("buffer store calls do not panic");
        self.store = Some(store);
        result
    }
}

#[cfg(test)]
mod tests;
