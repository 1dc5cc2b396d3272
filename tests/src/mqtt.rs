//! [`subscribe`]: the test's own MQTT client, listening beside the system under test; [`options`] for a test's
//! own publishers.
//!
//! Both log in as the harness's test-only superuser `zw-harness` of the broker on that port (see
//! [`crate::Role::Harness`]): the broker refuses anonymous clients, and a test's observer must see everything.
//!
//! Every message on the subscribed filters arrives on [`Subscription::messages`] as `(topic, payload)`;
//! [`subscribe`] returns once the broker has acknowledged the subscription, so nothing published after it
//! is missed (retained messages arrive first). The connection lives as long as the event loop, which owns a
//! client handle: it ends when the broker goes away or the receiver is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeFilter};
use tokio::sync::mpsc;

/// How long the broker may take to acknowledge the subscription.
const SUBACK: Duration = Duration::from_secs(30);

/// A subscribed test client.
#[derive(Debug)]
pub struct Subscription {
    /// The client, for publishing or further subscriptions.
    pub client: AsyncClient,
    /// Every message received, as `(topic, payload)`.
    pub messages: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
}

/// Every message received so far, as `(topic, JSON payload)` (`null` for a payload that is not JSON).
pub type JsonLog = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

impl Subscription {
    /// Hands every message from now on to a task that appends it, decoded, to the returned log; the task
    /// keeps the client and ends with the connection.
    pub fn into_json_log(self) -> JsonLog {
        let log = JsonLog::default();
        let (sink, Subscription { client, mut messages }) = (log.clone(), self);
        tokio::spawn(async move {
            let _client = client;
            while let Some((topic, payload)) = messages.recv().await {
                let v = serde_json::from_slice(&payload).unwrap_or_default();
                sink.lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((topic, v));
            }
        });
        log
    }
}

/// Options for client `client_id` of the broker at `host:port`, logged in as the harness superuser if this
/// process started that broker (packets up to 1 MiB).
pub fn options(client_id: &str, host: &str, port: u16) -> MqttOptions {
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, password)) = crate::bus_access::login(port) {
        opts.set_credentials(user, password);
    }
    opts
}

/// Options for client `client_id` of the broker at `host:port`, logged in as `login`.
pub fn options_as(client_id: &str, host: &str, port: u16, login: &crate::MqttCredentials) -> MqttOptions {
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
    opts.set_credentials(login.username.clone(), login.password.clone());
    opts
}

/// Connects as `client_id` to the broker at `host:port` (packets up to 1 MiB) and subscribes to `filters`
/// with `qos`; returns once the broker acknowledged.
pub async fn subscribe(
    host: &str,
    port: u16,
    client_id: &str,
    filters: &[&str],
    qos: QoS,
) -> anyhow::Result<Subscription> {
    subscribe_with(options(client_id, host, port), filters, qos).await
}

/// [`subscribe`] with the given options (e.g. another login, [`options_as`]).
pub async fn subscribe_with(opts: MqttOptions, filters: &[&str], qos: QoS) -> anyhow::Result<Subscription> {
    let (client, mut events) = AsyncClient::new(opts, 100);
    let (tx, messages) = mpsc::unbounded_channel();
    let (acked_tx, acked) = tokio::sync::oneshot::channel();
    let handle = client.clone();
    tokio::spawn(async move {
        let (_handle, mut acked_tx) = (handle, Some(acked_tx));
        while let Ok(ev) = events.poll().await {
            match ev {
                Event::Incoming(Packet::SubAck(_)) => {
                    if let Some(t) = acked_tx.take() {
                        let _ = t.send(());
                    }
                }
                Event::Incoming(Packet::Publish(p))
                    if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() =>
                {
                    return;
                }
                _ => {}
            }
        }
    });
    let filters = filters.iter().map(|f| SubscribeFilter::new((*f).to_owned(), qos));
    client.subscribe_many(filters).await?;
    tokio::time::timeout(SUBACK, acked)
        .await
        .context("no SUBACK from the broker")?
        .context("the connection ended before the SUBACK")?;
    Ok(Subscription { client, messages })
}
