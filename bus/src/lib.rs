//! The MQTT bus connection shared by every Zählwerk service.
//!
//! Services talk only through the broker, so this crate is the one place that knows how to stay connected:
//!
//! * [`connect`] returns a [`BusClient`] for publishing, a bounded [`Inbound`] receiver of messages, and a
//!   driver task that polls rumqttc's event loop forever.
//! * The driver re-subscribes after every reconnect the broker did not resume a session for, and backs off
//!   exponentially with jitter between failed attempts (rumqttc itself retries in a tight loop).
//! * The inbound queue is bounded, with an explicit [`FullPolicy`]: `Block` (for consumers that must not lose
//!   messages: an overflow lets the driver keep polling, so keep-alives never depend on the consumer's speed;
//!   back-pressure to the broker only beyond it) or `DropNewest` (counted in `zw_bus_inbound_dropped_total`).
//! * Message size limits agree end to end: the broker refuses packets over its `max_packet_size`, the client's
//!   framing limit ([`Config::max_packet_size`]) is at least that, and payloads over the application's
//!   [`Config::max_message_bytes`] are counted here (`zw_bus_messages_oversized_total`) and rejected by the
//!   consumer ([`oversized`]), never left to break the connection and be re-delivered for ever.
//! * A publisher loses nothing it handed over to a connection loss ([`unconfirmed`](BusClient::unconfirmed)):
//!   unacknowledged publishes come back to it instead of being cleared at the next clean-session connect,
//!   and [`BusClient::try_publish`] never waits for a broker that is away.
//! * A command a person is told was accepted is published by a [`ConfirmedPublisher`], which returns only
//!   once the broker acknowledged it.
//! * Each service logs in with its own account ([`Config::accounts`]) and may talk TLS to the broker
//!   ([`TlsConfig`], rustls): see `deploy/conf/mosquitto.acl` for what each account may do.
//! * Several instances of a service split their work by [`membership`]: heartbeats on
//!   `zw/v1/members/{service}/{instance}`, the live [`Members`], and who owns a key (rendezvous hashing).
//! * Connection state is observable through [`BusClient::is_connected`] for readiness probes.

mod backoff;
mod config;
mod confirmed;
mod driver;
mod inbound;
mod inventory;
pub mod membership;
mod metrics;
mod options;
mod tls;
mod unconfirmed;

pub use config::{Account, Config, DEFAULT_MAX_PACKET_SIZE, PACKET_OVERHEAD, SERVICES, TlsConfig};
pub use confirmed::{ConfirmError, ConfirmedPublisher};
pub use driver::{BusClient, Inbound, connect};
pub use inbound::{AckToken, Delivery};
pub use inventory::{ChangeNotice, LiveInventory};
pub use membership::{Members, Membership, MembershipConfig, Owners, Roster};
pub use options::{ConnectOptions, FullPolicy};
pub use tls::{TlsError, client_config as tls_client_config};
pub use unconfirmed::NotQueued;

/// What a service needs to open bus connections: the broker settings and the process's bus metrics.
#[derive(Clone)]
pub struct Bus {
    /// Broker settings.
    pub config: Config,
    /// Shared bus metrics (label `client`).
    pub metrics: Metrics,
}

impl Bus {
    /// Opens a connection; see [`connect`].
    pub fn connect(
        &self,
        opts: ConnectOptions,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> (BusClient, Inbound, tokio::task::JoinHandle<()>) {
        connect(&self.config, opts, &self.metrics, shutdown)
    }

    /// Opens a connection of its own for commands whose publish must be confirmed by the broker before the
    /// caller answers (see [`ConfirmedPublisher`]); it subscribes to nothing.
    pub fn confirmed_publisher(
        &self,
        client: &str,
        instance: &str,
        timeout: std::time::Duration,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> (ConfirmedPublisher, tokio::task::JoinHandle<()>) {
        let (bus, _inbound, driver) = self.connect(ConnectOptions::publisher(client, instance), shutdown);
        let progress = bus.progress();
        (ConfirmedPublisher::new(bus, progress, timeout), driver)
    }
}
pub use metrics::Metrics;

/// Whether a received message's payload is over the application limit ([`Config::max_message_bytes`]):
/// the consumer rejects it (counts, dead-letters a truncated copy, acknowledges) instead of parsing it.
pub fn oversized(p: &Publish, cfg: &Config) -> bool {
    p.payload.len() > cfg.max_message_bytes
}
pub use rumqttc::{Publish, QoS};
