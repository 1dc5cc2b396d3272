//! Bus metrics, registered once per process and shared by every service in it (label `client`).

use prometheus::{IntCounterVec, IntGaugeVec, Opts, Registry};

/// Counters and gauges about broker connections and the inbound queues.
#[derive(Clone)]
pub struct Metrics {
    /// Successful connections (first and re-), per client.
    pub connects: IntCounterVec,
    /// Connection errors, per client.
    pub connection_errors: IntCounterVec,
    /// 1 while connected, per client.
    pub connected: IntGaugeVec,
    /// Messages received, per client.
    pub received: IntCounterVec,
    /// Messages dropped because the inbound queue was full (`DropNewest` policy), per client.
    pub inbound_dropped: IntCounterVec,
    /// Times the driver stopped reading from the broker because the consumer's overflow was full
    /// (`Block` policy), per client.
    pub inbound_stalls: IntCounterVec,
    /// Messages the broker flagged as re-deliveries (DUP), per client.
    pub redelivered: IntCounterVec,
    /// Acknowledgements dropped because their message arrived on an earlier connection, per client.
    pub acks_stale: IntCounterVec,
    /// Messages received whose payload is over `bus.max_message_bytes`, per client (the consumer rejects them).
    pub oversized: IntCounterVec,
    /// Keep-alive checks passed on other traffic while the PINGRESP was still queued behind messages.
    pub pings_excused: IntCounterVec,
    /// Unacknowledged publishes handed back to their publisher after a connection loss, per client.
    pub returned: IntCounterVec,
    /// Live members of a service as this process sees them (label `client` = the service), see
    /// [`crate::membership`].
    pub members_live: IntGaugeVec,
    /// Changes of the live member set, per service.
    pub members_changes: IntCounterVec,
    /// Heartbeats ignored because they were not valid JSON or named another instance than their topic.
    pub members_invalid: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounterVec> {
            let c = IntCounterVec::new(Opts::new(name, help), &["client"])?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let connected = IntGaugeVec::new(
            Opts::new(
                "zw_bus_connected",
                "1 while the client is connected to the broker.",
            ),
            &["client"],
        )?;
        registry.register(Box::new(connected.clone()))?;
        let members_live = IntGaugeVec::new(
            Opts::new(
                "zw_bus_members_live",
                "Live instances of a service (membership heartbeats) as this process sees them.",
            ),
            &["client"],
        )?;
        registry.register(Box::new(members_live.clone()))?;
        Ok(Self {
            members_live,
            members_changes: counter(
                "zw_bus_members_changes_total",
                "Changes of the live member set of a service.",
            )?,
            members_invalid: counter(
                "zw_bus_members_invalid_total",
                "Membership heartbeats ignored as invalid.",
            )?,
            connects: counter("zw_bus_connects_total", "Successful broker connections.")?,
            connection_errors: counter("zw_bus_connection_errors_total", "Broker connection errors.")?,
            connected,
            received: counter(
                "zw_bus_messages_received_total",
                "Messages received from the broker.",
            )?,
            inbound_dropped: counter(
                "zw_bus_inbound_dropped_total",
                "Messages dropped because the consumer's inbound queue was full.",
            )?,
            inbound_stalls: counter(
                "zw_bus_inbound_stalls_total",
                "Times reading from the broker paused because the consumer's overflow queue was full.",
            )?,
            redelivered: counter(
                "zw_bus_messages_redelivered_total",
                "Messages the broker flagged as re-deliveries (DUP).",
            )?,
            acks_stale: counter(
                "zw_bus_acks_stale_total",
                "Acks dropped because their message arrived on an earlier connection (the broker re-delivers it).",
            )?,
            oversized: counter(
                "zw_bus_messages_oversized_total",
                "Messages received with a payload over bus.max_message_bytes (rejected by the consumer).",
            )?,
            pings_excused: counter(
                "zw_bus_keepalive_excused_total",
                "Keep-alive checks passed on message traffic while the PINGRESP was still queued.",
            )?,
            returned: counter(
                "zw_bus_publishes_returned_total",
                "Unacknowledged publishes handed back to their publisher after a connection loss.",
            )?,
        })
    }
}
