//! [`subscribe`]: the test's own MQTT client, listening beside the system under test.
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

/// Connects as `client_id` to the broker at `host:port` (packets up to 1 MiB) and subscribes to `filters`
/// with `qos`; returns once the broker acknowledged.
pub async fn subscribe(
    host: &str,
    port: u16,
    client_id: &str,
    filters: &[&str],
    qos: QoS,
) -> anyhow::Result<Subscription> {
    let mut opts = MqttOptions::new(client_id, host, port);
    opts.set_max_packet_size(1 << 20, 1 << 20);
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
