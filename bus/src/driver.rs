//! The connection driver: one task polls the event loop, reconnects with back-off, re-subscribes and feeds a
//! bounded inbound queue.
//!
//! Batched acknowledgements: [`BusClient::ack_all`] hands the packet ids of a whole batch to the driver,
//! which writes all their PUBACKs and flushes once (one `write` for thousands of acks). rumqttc's own
//! [`BusClient::ack`] path costs a request-queue hop, a wake-up and a socket write per message.
//! The driver writes them between two polls of the event loop, never by interrupting a poll (a poll cut
//! off in the middle of a write loses that packet, e.g. a PINGREQ, and the connection then dies on the
//! keep-alive check); to get a turn at once, `ack_all` sends the batch's last PUBACK through rumqttc's
//! request queue, which makes the current poll return.

use std::time::Duration;

use rand::Rng;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, PubAck, Publish, QoS};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::backoff::backoff_delay;
use crate::confirmed::Progress;
use crate::inbound::{self, AckToken, Delivery, Sent};
use crate::unconfirmed::{self, NotQueued};
use crate::{Config, ConnectOptions, FullPolicy, Metrics};

pub use crate::inbound::Inbound;

/// Error publishing or acknowledging: the driver has stopped.
#[derive(Debug, thiserror::Error)]
#[error("bus client stopped: {0}")]
pub struct BusError(#[from] rumqttc::ClientError);

/// A cheap, cloneable handle for publishing and acknowledging.
#[derive(Clone)]
pub struct BusClient {
    client: AsyncClient,
    connected: watch::Receiver<bool>,
    /// Whether the current connection's subscriptions stand (SUBACK received, or kept by the session).
    subscribed: watch::Receiver<bool>,
    acks: mpsc::UnboundedSender<Vec<AckToken>>,
    /// Where unacknowledged publishes go after a connection loss (see [`crate::unconfirmed`]).
    returns: unconfirmed::Sink,
    /// What the driver has done with QoS ≥ 1 publishes (see [`crate::confirmed`]).
    progress: watch::Receiver<Progress>,
    /// The filters renewed after a connect: [`ConnectOptions::subscriptions`] plus those added with
    /// [`BusClient::subscribe`], less those removed with [`BusClient::unsubscribe`].
    subscriptions: Subscriptions,
}

/// The connection's current topic filters, shared by its clients and its driver.
type Subscriptions = std::sync::Arc<std::sync::Mutex<Vec<(String, QoS)>>>;

/// An UNSUBSCRIBE of a filter nobody subscribes to: a harmless request whose only effect is to make the
/// event loop's current poll return, so the driver writes queued acknowledgements without delay.
const WAKE_FILTER: &str = "zw/v1/$wake";

impl BusClient {
    /// Queues a publish; waits while the client's request queue is full.
    pub async fn publish(
        &self,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), BusError> {
        Ok(self.client.publish(topic, qos, retain, payload).await?)
    }

    /// Queues a publish only if the request queue has room; otherwise hands it back at once.
    pub fn try_publish(
        &self,
        topic: String,
        qos: QoS,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), NotQueued> {
        match self.client.try_publish(topic, qos, retain, payload) {
            Ok(()) => Ok(()),
            Err(rumqttc::ClientError::TryRequest(rumqttc::Request::Publish(p))) => Err(NotQueued(p)),
            // rumqttc hands back the request it was given; nothing else can come back from a publish.
            Err(_) => Err(NotQueued(Publish::new("", qos, Vec::new()))),
        }
    }

    /// From now on, publishes the broker had not acknowledged when the connection failed come back on the
    /// returned receiver instead of being dropped at the next clean-session connect (see
    /// [`crate::unconfirmed`]); the caller publishes them again.
    pub fn unconfirmed(&self) -> mpsc::UnboundedReceiver<Publish> {
        unconfirmed::register(&self.returns)
    }

    /// Acknowledges a QoS 1 message received with manual acks.
    pub async fn ack(&self, publish: &Publish) -> Result<(), BusError> {
        Ok(self.client.ack(publish).await?)
    }

    /// Acknowledges QoS 1 messages in one go: the driver writes all PUBACKs and flushes once. An ack whose
    /// message arrived on an earlier connection is dropped (counted in `zw_bus_acks_stale_total`): the broker
    /// re-delivers that message on the current connection, and the consumer acknowledges the new copy. Acks
    /// handed over while the connection is down are dropped the same way. Fails only when the driver has
    /// stopped.
    pub fn ack_all(&self, mut tokens: Vec<AckToken>) -> Result<(), BusError> {
        tokens.retain(|t| t.pkid != 0);
        if tokens.is_empty() {
            return Ok(());
        }
        self.acks.send(tokens).map_err(|_| {
            BusError(rumqttc::ClientError::TryRequest(rumqttc::Request::Disconnect(
                rumqttc::Disconnect,
            )))
        })?;
        // The wake-up: a harmless request makes the current poll return so the driver writes the acks now.
        // A full request queue means the event loop is busy and returns soon anyway.
        let _ = self.client.try_unsubscribe(WAKE_FILTER);
        Ok(())
    }

    /// Whether the broker connection is currently up.
    pub fn is_connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Waits until the broker connection is up (or the driver has stopped).
    pub async fn wait_connected(&self) {
        let mut rx = self.connected.clone();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Waits until the broker has acknowledged the connection's subscriptions (or kept them in a resumed
    /// session), so that what others publish from now on reaches this client (or the driver has stopped).
    pub async fn wait_subscribed(&self) {
        let mut rx = self.subscribed.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Sends a clean DISCONNECT; the driver stops once it has gone out.
    pub async fn disconnect(&self) {
        let _ = self.client.disconnect().await;
    }

    /// Subscribes to more filters while connected (a service whose topics follow the inventory); they are
    /// renewed after every reconnect like the [`ConnectOptions::subscriptions`]. A filter already
    /// subscribed is not sent again.
    pub async fn subscribe(&self, filters: Vec<(String, QoS)>) -> Result<(), BusError> {
        let new: Vec<_> = {
            let mut subs = self
                .subscriptions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            filters
                .into_iter()
                .filter(|(t, q)| {
                    let known = subs.iter().any(|(k, _)| k == t);
                    if !known {
                        subs.push((t.clone(), *q));
                    }
                    !known
                })
                .map(|(t, q)| rumqttc::SubscribeFilter::new(t, q))
                .collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        Ok(self.client.subscribe_many(new).await?)
    }

    /// Unsubscribes from filters (subscribed at connect or with [`BusClient::subscribe`]); they are not
    /// renewed after a reconnect any more.
    pub async fn unsubscribe(&self, filters: Vec<String>) -> Result<(), BusError> {
        self.subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(t, _)| !filters.contains(t));
        for f in filters {
            self.client.unsubscribe(f).await?;
        }
        Ok(())
    }

    /// The driver's progress with QoS ≥ 1 publishes, for [`crate::ConfirmedPublisher`].
    pub(crate) fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.clone()
    }
}

/// Starts a connection driver. The driver stops after [`BusClient::disconnect`] or when `shutdown` is
/// cancelled; hold the returned handle to await it.
pub fn connect(
    cfg: &Config,
    opts: ConnectOptions,
    metrics: &Metrics,
    shutdown: CancellationToken,
) -> (BusClient, Inbound, JoinHandle<()>) {
    let client_id = format!("{}-{}-{}", cfg.client_id_prefix, opts.client, opts.instance);
    let mut mqtt = MqttOptions::new(client_id, cfg.host.clone(), cfg.port);
    mqtt.set_keep_alive(cfg.keep_alive)
        .set_clean_session(opts.clean_session)
        .set_manual_acks(opts.manual_acks)
        .set_max_packet_size(cfg.max_packet_size, cfg.max_packet_size)
        .set_inflight(1000);
    if let Some((user, pass)) = cfg.login_for(&opts.client) {
        mqtt.set_credentials(user, pass);
    }
    if let Some(tls) = &cfg.tls {
        mqtt.set_transport(crate::tls::transport(tls, &opts.client));
    }
    if let Some((topic, payload)) = &opts.last_will {
        mqtt.set_last_will(LastWill::new(
            topic.clone(),
            payload.clone(),
            QoS::AtLeastOnce,
            true,
        ));
    }
    let (client, eventloop) = AsyncClient::new(mqtt, 1024);
    let (tx, rx) = match opts.full_policy {
        FullPolicy::Block => {
            let (tx, rx) =
                inbound::channel(cfg.inbound_capacity, cfg.inbound_overflow, cfg.inbound_max_bytes);
            (Out::Block(tx), rx)
        }
        FullPolicy::DropNewest => {
            let (tx, rx) = mpsc::channel(cfg.inbound_capacity.max(1));
            (Out::DropNewest(tx), Inbound::plain(rx))
        }
    };
    let (connected_tx, connected_rx) = watch::channel(false);
    let (subscribed_tx, subscribed_rx) = watch::channel(false);
    // Unbounded by type, bounded by construction: every queued id is the id of a QoS 1 message the broker
    // delivered and has not had acknowledged, and the broker never has more of those in flight than its
    // per-client limit (mosquitto `max_inflight_messages`, 20,000 in deploy/conf). A bounded channel could
    // only drop acks (re-deliveries) or make the consumer wait on the event loop it feeds.
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let returns = unconfirmed::Sink::default();
    let (progress_tx, progress_rx) = watch::channel(Progress::default());
    let subscriptions: Subscriptions = std::sync::Arc::new(std::sync::Mutex::new(opts.subscriptions.clone()));
    let driver = Driver {
        subscriptions: subscriptions.clone(),
        progress: progress_tx,
        returns: returns.clone(),
        acks: acks_rx,
        connection: 0,
        client: client.clone(),
        opts,
        metrics: metrics.clone(),
        connected: connected_tx,
        subscribed: subscribed_tx,
        tx,
        backoff: (cfg.reconnect_min, cfg.reconnect_max),
        max_message_bytes: cfg.max_message_bytes,
        max_packet_size: cfg.max_packet_size,
    };
    let handle = tokio::spawn(driver.run(eventloop, shutdown));
    (
        BusClient {
            client,
            connected: connected_rx,
            subscribed: subscribed_rx,
            acks: acks_tx,
            returns,
            progress: progress_rx,
            subscriptions,
        },
        rx,
        handle,
    )
}

struct Driver {
    /// Reported after every QoS ≥ 1 publish written, PUBACK received and connection loss.
    progress: watch::Sender<Progress>,
    /// Where unacknowledged publishes go after a connection loss.
    returns: unconfirmed::Sink,
    /// Messages to acknowledge, batched by the consumer.
    acks: mpsc::UnboundedReceiver<Vec<AckToken>>,
    /// The current connection's number: 0 before the first, +1 at every CONNACK.
    connection: u64,
    client: AsyncClient,
    opts: ConnectOptions,
    /// The filters to renew after a connect (the options' plus those added since).
    subscriptions: Subscriptions,
    metrics: Metrics,
    connected: watch::Sender<bool>,
    /// Set at the SUBACK of the filters sent after a CONNACK (or at a CONNACK that kept them).
    subscribed: watch::Sender<bool>,
    tx: Out,
    backoff: (Duration, Duration),
    /// `bus.max_message_bytes`: larger payloads are counted here and rejected by the consumer.
    max_message_bytes: usize,
    /// `bus.max_packet_size`, for the message when the broker sends more.
    max_packet_size: usize,
}

/// The size of an incoming packet over the client's framing limit, if that is what broke the connection.
fn too_large(e: &rumqttc::ConnectionError) -> Option<usize> {
    match e {
        rumqttc::ConnectionError::MqttState(rumqttc::StateError::Deserialization(
            rumqttc::Error::PayloadSizeLimitExceeded(size),
        )) => Some(*size),
        _ => None,
    }
}

/// The consumer's queue, per [`FullPolicy`].
enum Out {
    Block(inbound::Sender),
    DropNewest(mpsc::Sender<Delivery>),
}

impl Driver {
    async fn run(mut self, mut eventloop: rumqttc::EventLoop, shutdown: CancellationToken) {
        let name = self.opts.client.clone();
        let label = [name.as_str()];
        // Resolved once: a labelled lookup per message costs a hash and a lock.
        let received = self.metrics.received.with_label_values(&label);
        let redelivered = self.metrics.redelivered.with_label_values(&label);
        let pings_excused = self.metrics.pings_excused.with_label_values(&label);
        let oversized = self.metrics.oversized.with_label_values(&label);
        let mut failures: u32 = 0;
        // Whether any packet arrived since the last PINGREQ went out.
        let mut traffic = false;
        loop {
            if let Ok(first) = self.acks.try_recv() {
                self.write_acks(&mut eventloop, first).await;
            }
            // Liveness is any packet from the broker, not just the PINGRESP: under a backlog the broker
            // queues the PINGRESP behind thousands of messages, and rumqttc would call a connection that is
            // delivering at full speed dead at its next ping ("Last pingreq isn't acked"), and every
            // reconnect makes the broker re-send its whole in-flight window. A connection that delivers
            // nothing for a full keep-alive interval after a ping still fails the check.
            if traffic && eventloop.state.await_pingresp {
                eventloop.state.await_pingresp = false;
                pings_excused.inc();
            }
            let event = tokio::select! {
                () = shutdown.cancelled() => break,
                ev = eventloop.poll() => ev,
            };
            match &event {
                Ok(Event::Incoming(_)) => traffic = true,
                Ok(Event::Outgoing(Outgoing::PingReq)) | Err(_) => traffic = false,
                Ok(Event::Outgoing(_)) => {}
            }
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    failures = 0;
                    self.connection += 1;
                    self.connected.send_replace(true);
                    self.metrics.connects.with_label_values(&label).inc();
                    self.metrics.connected.with_label_values(&label).set(1);
                    info!(client = %self.opts.client, session_present = ack.session_present, "Connected to broker.");
                    // mosquitto 2.0.11 reports a resumed session after a restart but does not restore shared
                    // ($share/…) subscriptions from its persistence file, so those are always renewed
                    // (re-subscribing an existing filter replaces it without interrupting delivery).
                    let shared = self.filters().iter().any(|(t, _)| t.starts_with("$share/"));
                    let renew = !ack.session_present || self.opts.clean_session || shared;
                    if renew {
                        self.resubscribe();
                    }
                    // Nothing to wait for: a resumed session that kept the filters, or no filters.
                    if !renew || self.filters().is_empty() {
                        self.subscribed.send_replace(true);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    received.inc();
                    if p.dup {
                        redelivered.inc();
                    }
                    if p.payload.len() > self.max_message_bytes {
                        oversized.inc();
                    }
                    let delivery = Delivery {
                        publish: p,
                        connection: self.connection,
                    };
                    if !self.deliver(delivery, &shutdown).await {
                        break;
                    }
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => self.progress.send_modify(|p| {
                    p.sent += 1;
                    p.last_sent = pkid;
                }),
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused = ack
                        .return_codes
                        .iter()
                        .filter(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure))
                        .count();
                    if refused > 0 {
                        warn!(client = %self.opts.client, refused, "The broker refused subscriptions (check the account's ACL).");
                    }
                    self.subscribed.send_replace(true);
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => self.progress.send_modify(|p| {
                    p.acked += 1;
                    p.last_acked = ack.pkid;
                }),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    debug!(client = %self.opts.client, "Sent DISCONNECT.");
                    // One more poll flushes the packet to the socket.
                    let _ = tokio::time::timeout(Duration::from_secs(1), eventloop.poll()).await;
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    self.connected.send_replace(false);
                    self.subscribed.send_replace(false);
                    self.progress.send_modify(|p| p.losses += 1);
                    self.hand_back(&mut eventloop);
                    self.metrics.connected.with_label_values(&label).set(0);
                    self.metrics.connection_errors.with_label_values(&label).inc();
                    // Log the first failure of a streak loudly, the rest quietly: a broker outage must not
                    // flood the log with one line per attempt.
                    if let Some(size) = too_large(&e) {
                        // Only a broker without a packet limit at most ours can send this; on a persistent
                        // session it re-sends the message after every reconnect, so say exactly what to fix.
                        error!(client = %self.opts.client, size, limit = self.max_packet_size,
                            "The broker sent a packet over bus.max_packet_size; set the broker's max_packet_size to at most bus.max_packet_size (deploy/conf/mosquitto.conf.in does).");
                    } else if failures == 0 {
                        warn!(client = %self.opts.client, error = %e, "Broker connection lost; reconnecting with back-off.");
                    } else {
                        debug!(client = %self.opts.client, error = %e, attempt = failures, "Reconnect failed.");
                    }
                    let delay = backoff_delay(self.backoff.0, self.backoff.1, failures, rand::rng().random());
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        self.connected.send_replace(false);
        self.subscribed.send_replace(false);
        self.metrics.connected.with_label_values(&label).set(0);
    }

    /// Writes the PUBACKs of `first` and of every batch queued behind it that belong to the current
    /// connection, then flushes once; the others are stale and dropped.
    async fn write_acks(&mut self, eventloop: &mut rumqttc::EventLoop, first: Vec<AckToken>) {
        let mut batches = vec![first];
        while let Ok(more) = self.acks.try_recv() {
            batches.push(more);
        }
        let current = self.connection;
        let connected = eventloop.network.is_some();
        let (fresh, stale): (Vec<AckToken>, Vec<AckToken>) = batches
            .into_iter()
            .flatten()
            .partition(|t| connected && t.connection == current);
        if !stale.is_empty() {
            let client = self.opts.client.as_str();
            self.metrics
                .acks_stale
                .with_label_values(&[client])
                .inc_by(stale.len() as u64);
            debug!(
                client,
                stale = stale.len(),
                "Acks of an earlier connection dropped (the broker re-delivers)."
            );
        }
        let Some(net) = eventloop.network.as_mut().filter(|_| !fresh.is_empty()) else {
            return;
        };
        let timeout = Duration::from_secs(eventloop.network_options.connection_timeout());
        let write = async {
            for t in &fresh {
                net.write(Packet::PubAck(PubAck::new(t.pkid))).await?;
            }
            net.flush().await
        };
        // A write error means the connection is broken; the next poll notices and reconnects. A broker
        // that takes no acks for the connection timeout is treated as gone too: the half-written buffer
        // is dropped with the connection (rumqttc's `clean`), and the resumed session re-delivers.
        let failed = match tokio::time::timeout(timeout, write).await {
            Ok(Ok(())) => false,
            Ok(Err(e)) => {
                debug!(client = %self.opts.client, error = %e, "Could not write acks.");
                false
            }
            Err(_) => {
                warn!(client = %self.opts.client, "Timed out writing acks; reconnecting.");
                true
            }
        };
        if failed {
            eventloop.clean();
            eventloop.network = None;
            self.hand_back(eventloop);
        }
    }

    /// Hands unacknowledged publishes back to a publisher that asked for them (counted).
    fn hand_back(&self, eventloop: &mut rumqttc::EventLoop) {
        let n = unconfirmed::hand_back(eventloop, &self.returns);
        if n > 0 {
            let client = self.opts.client.as_str();
            self.metrics
                .returned
                .with_label_values(&[client])
                .inc_by(n as u64);
            debug!(
                client,
                publishes = n,
                "Unacknowledged publishes handed back to the publisher."
            );
        }
    }

    /// Hands a message to the consumer according to the full policy; `false` when shutting down.
    async fn deliver(&self, p: Delivery, shutdown: &CancellationToken) -> bool {
        match &self.tx {
            // A closed receiver means the consumer is gone; keep the driver alive for the DISCONNECT.
            Out::Block(tx) => match tx.send(p) {
                Sent::Queued | Sent::Closed => true,
                Sent::Full => {
                    let client = self.opts.client.as_str();
                    self.metrics.inbound_stalls.with_label_values(&[client]).inc();
                    warn!(
                        client,
                        held = tx.overflow(),
                        bytes = tx.bytes(),
                        "Consumer far behind: inbound overflow or byte budget full, pausing reads from the broker (keep-alives may fail); keep bus.inbound_overflow and bus.inbound_max_bytes at least the broker's max_inflight_messages and max_inflight_bytes."
                    );
                    tokio::select! {
                        () = shutdown.cancelled() => false,
                        () = tx.room() => true,
                    }
                }
            },
            Out::DropNewest(tx) => {
                if tx.try_send(p).is_err() {
                    self.metrics
                        .inbound_dropped
                        .with_label_values(&[self.opts.client.as_str()])
                        .inc();
                }
                true
            }
        }
    }

    /// The current filters (a copy: the lock is never held across an await).
    fn filters(&self) -> Vec<(String, QoS)> {
        self.subscriptions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Subscribing from the polling task would deadlock on a full request queue, so it runs on its own task.
    fn resubscribe(&self) {
        let filters: Vec<_> = self
            .filters()
            .into_iter()
            .map(|(t, q)| rumqttc::SubscribeFilter::new(t, q))
            .collect();
        if filters.is_empty() {
            return;
        }
        let client = self.client.clone();
        tokio::spawn(async move {
            if let Err(e) = client.subscribe_many(filters).await {
                warn!(error = %e, "Could not queue subscription.");
            }
        });
    }
}
