//! What a service chooses per connection: session, subscriptions, acknowledgements and the inbound policy.

use rumqttc::QoS;

/// What the driver does when the consumer's inbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullPolicy {
    /// Nothing is lost: messages the queue has no room for wait in an overflow of `bus.inbound_overflow`
    /// messages while the driver keeps polling (keep-alives and acks go on); only when that is full too
    /// does it stop reading from the broker until there is room (see [`crate::inbound`]).
    Block,
    /// Drop the new message and count it in `zw_bus_inbound_dropped_total` (for live views that only want
    /// the latest value).
    DropNewest,
}

/// Per-connection options chosen by the service.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Service name; the `client` metrics label and part of the client id.
    pub client: String,
    /// Instance name, so several instances of one service get distinct client ids.
    pub instance: String,
    /// `false` keeps the session (subscriptions and unacknowledged QoS 1 messages) across reconnects.
    pub clean_session: bool,
    /// Topic filters to (re-)subscribe after every connect without a resumed session.
    pub subscriptions: Vec<(String, QoS)>,
    /// Acknowledge QoS 1 messages only when the consumer calls [`crate::BusClient::ack`].
    pub manual_acks: bool,
    /// Inbound queue policy.
    pub full_policy: FullPolicy,
    /// Retained last-will message (topic, payload) the broker publishes if the connection dies.
    pub last_will: Option<(String, Vec<u8>)>,
}

impl ConnectOptions {
    /// Options for a publisher that subscribes to nothing.
    pub fn publisher(client: &str, instance: &str) -> Self {
        Self {
            client: client.into(),
            instance: instance.into(),
            clean_session: true,
            subscriptions: Vec::new(),
            manual_acks: false,
            full_policy: FullPolicy::DropNewest,
            last_will: None,
        }
    }
}
