//! Gateway: reads meters and sensors and publishes canonical readings on the bus.
//!
//! ```text
//!  Modbus TCP meters ──poll──┐                       ┌─► zw/v1/readings/{site}/{device} (QoS 1, batch_max = 1)
//!                            ├─► canonical Reading ─┤
//!  device MQTT (Tasmota, TTS)┘                       └─► zw/v1/batches/{instance} (QoS 1, batch_max > 1)
//! ```
//!
//! * [`profile`]: meter register maps as data (built in and `gateway.profile_dirs`), decoding of every type
//!   and byte order, request coalescing.
//! * [`modbus`]: the endpoint plan from the inventory ([`modbus::endpoint_plan`]), one poller task per
//!   endpoint (Modbus TCP, RTU over TCP, RTU serial), timeouts, reconnects; [`modbus::schedule`]: fixed grids
//!   and per-device back-off within a bounded share of the connection; [`modbus::PollHealth`]: per-device
//!   online/degraded/offline from the polls, published retained on `zw/v1/status/device/{device}`.
//! * [`adapters`]: pure decoders for vendor MQTT payloads (JSON read by [`zw_jsonscan`]).
//! * [`device_mqtt`]: routes device topics to adapters; [`device_mqtt::Liveness`]: per-device health from
//!   messages and silence, on the same status topic.
//! * [`config`] (`[gateway]` and its tables), [`metrics`] (Prometheus).
//! * [`follow`]: the gateway follows its [`zw_bus::LiveInventory`] while it runs: Modbus endpoints re-planned
//!   (only the changed ones restarted), device topics re-routed and re-subscribed, wM-Bus meters and keys.
//! * [`publish`]: the one reading publisher, one message per reading or batches bounded by count and bytes
//!   (`[gateway.publish]`).
//! * [`buffer`]: the outage buffer between the publisher and the bus (`[gateway.buffer]`): polling never
//!   waits on the broker, and an outage costs no reading until the buffer is full.
//! * [`wmbus`]: wireless M-Bus (OMS) meters from receivers publishing raw telegrams over MQTT: decryption with
//!   the inventory's keys, duplicate suppression, the list of unknown meters heard.
//! * [`mbus`]: wired M-Bus meters polled over TCP or serial (one task per bus, Modbus's scheduler and health);
//!   [`sml`]: SML push streams from optical heads (one task per meter).
//! * [`shards`]: several gateways splitting the inventory (`[gateway.shards]`): each polls and adapts only the
//!   devices it owns among the live gateways, and takes over a gone one's.

pub mod adapters;
pub mod buffer;
pub mod config;
pub mod device_mqtt;
pub mod follow;
pub mod mbus;
pub mod metrics;
pub mod modbus;
pub mod profile;
pub mod publish;
pub mod shards;
pub mod sml;
#[cfg(test)]
pub(crate) mod test_support;
pub mod wmbus;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{ConnectOptions, FullPolicy, LiveInventory, QoS};
use zw_model::Inventory;

pub use config::{Config, ModbusConfig};
pub use metrics::{Metrics, ModbusMetrics};
pub use profile::{Profile, ProfileSet};

/// Gateway start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A built-in or configured profile is invalid.
    #[error(transparent)]
    Profile(#[from] profile::ProfileError),
    /// Profile files in `gateway.profile_dirs` are invalid (one entry per problem).
    #[error("invalid profiles: {}", .0.join("; "))]
    Profiles(Vec<String>),
    /// A device names a profile that does not exist.
    #[error("device {device}: unknown profile {profile:?}")]
    UnknownProfile {
        /// Device id.
        device: String,
        /// Profile name.
        profile: String,
    },
    /// A device's Modbus endpoint does not parse.
    #[error("device {device}: {message}")]
    Endpoint {
        /// Device id.
        device: String,
        /// What is wrong.
        message: String,
    },
    /// `gateway.instance` is not a valid id (it names the batch topic).
    #[error("gateway.instance: {0}")]
    Instance(zw_model::IdError),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The outage buffer file could not be opened.
    #[error(transparent)]
    Buffer(#[from] buffer::StoreError),
}

/// Checks the gateway's view of the inventory: profiles load and exist, Modbus endpoints do not clash.
/// Every problem is reported.
pub fn validate_inventory(cfg: &Config, inventory: &Inventory) -> Vec<String> {
    let set = match ProfileSet::load(&cfg.profile_dirs) {
        Ok(set) => set,
        Err(errors) => return errors,
    };
    modbus::endpoint_plan(inventory, &set)
        .problems
        .iter()
        // The inventory's own validation reports the endpoint syntax.
        .filter(|p| !matches!(p, modbus::PlanProblem::Endpoint { .. }))
        .map(ToString::to_string)
        .collect()
}

/// Checks the gateway's settings against the bus's: every problem, prefixed with its setting. The one
/// combination that cannot work: a `bus.max_message_bytes` below the largest valid reading, which the
/// gateway would then have to refuse (batches are split by bytes, so `batch_max` never is a problem).
pub fn validate_with_bus(_cfg: &Config, bus: &zw_bus::Config) -> Vec<String> {
    let largest = publish::largest_reading_bytes();
    let mut errors = Vec::new();
    if bus.max_message_bytes < largest {
        errors.push(format!(
            "bus.max_message_bytes: {} is below the largest valid reading the gateway may publish ({largest} bytes)",
            bus.max_message_bytes
        ));
    }
    errors
}

/// Runs the gateway until `shutdown`, then stops polling, flushes pending publishes and disconnects. The
/// devices are `live`'s, followed while the gateway runs ([`follow`]).
pub async fn run(
    cfg: Config,
    live: LiveInventory,
    bus: &zw_bus::Bus,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let inventory = live.current();
    let profiles = ProfileSet::load(&cfg.profile_dirs).map_err(GatewayError::Profiles)?;
    for (name, file) in &profiles.overridden {
        info!(profile = %name, file = %file.display(), "User profile replaces the built-in one.");
    }
    let producer = zw_model::Id::new(cfg.instance.clone()).map_err(GatewayError::Instance)?;
    let bus_cfg = bus.config.clone();
    let routes = device_mqtt::routes(&cfg, &inventory);
    let opts = ConnectOptions {
        client: "gateway".into(),
        instance: cfg.instance.clone(),
        clean_session: true,
        subscriptions: routes.keys().map(|t| (t.clone(), QoS::AtLeastOnce)).collect(),
        manual_acks: false,
        full_policy: FullPolicy::Block,
        last_will: None,
    };
    // The bus driver outlives the pollers: it gets its own token, cancelled after they stopped.
    let bus_stop = CancellationToken::new();
    let bus_handle = bus;
    let (bus, inbound, driver) = bus.connect(opts, bus_stop.clone());
    let store = {
        let cfg = cfg.buffer.clone();
        // A panic while opening is re-raised here, as if it had happened on this task.
        tokio::task::spawn_blocking(move || cfg.open())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?
    };
    match &cfg.buffer.path {
        Some(path) => info!(path = %path.display(), readings = store.readings(), "Gateway buffer opened."),
        None => warn!(
            max_bytes = cfg.buffer.memory_max_bytes,
            "gateway.buffer.path is not set: readings of a broker outage are buffered in memory only and lost with the process."
        ),
    }
    let (shard, shards) = shards::Shards::start(&cfg, bus_handle, &live, &metrics.shards, shutdown.clone());
    let (outbox, outbox_task) = buffer::start(store, bus.clone(), metrics.clone());
    let outbox_task = tokio::spawn(outbox_task.run(std::time::Duration::from_secs(3)));
    let (publisher, flusher) = publish::Publisher::start(
        &cfg.publish,
        &producer,
        outbox,
        bus_cfg.max_message_bytes,
        metrics.clone(),
    );
    let publisher = publisher.sharded(shard.clone());

    let plan = modbus::endpoint_plan(&inventory, &profiles);
    // Validation reported clashes already; a missing profile or a bad endpoint stops the gateway.
    for problem in &plan.problems {
        match problem {
            modbus::PlanProblem::UnknownProfile { device, profile, .. } => {
                return Err(GatewayError::UnknownProfile {
                    device: device.clone(),
                    profile: profile.clone(),
                });
            }
            modbus::PlanProblem::Endpoint { device, message, .. } => {
                return Err(GatewayError::Endpoint {
                    device: device.clone(),
                    message: message.clone(),
                });
            }
            _ => {}
        }
    }
    let endpoints = plan.into_endpoints();
    info!(
        endpoints = endpoints.len(),
        device_topics = routes.len(),
        "Gateway started."
    );
    let mut pollers: JoinSet<()> = JoinSet::new();
    let mut supervisor = modbus::Supervisor::new(
        cfg.clone(),
        bus.clone(),
        publisher.clone(),
        metrics.clone(),
        shutdown.clone(),
    )
    .sharded(shard.clone());
    supervisor.apply(endpoints).await;
    for (endpoint, meters) in mbus::plan(&inventory) {
        let (cfg, bus, publisher, metrics) = (cfg.clone(), bus.clone(), publisher.clone(), metrics.clone());
        let key = endpoint.key();
        let poll = move |token| {
            mbus::poll_bus(
                endpoint.clone(),
                meters.clone(),
                cfg.clone(),
                bus.clone(),
                publisher.clone(),
                metrics.clone(),
                token,
            )
        };
        pollers.spawn(shards::while_owned(key, shard.clone(), shutdown.clone(), poll));
    }
    for meter in sml::plan(&inventory) {
        let (cfg, bus, publisher, metrics) = (cfg.clone(), bus.clone(), publisher.clone(), metrics.clone());
        let key = meter.endpoint.key();
        let read = move |token| {
            sml::read_meter(
                meter.clone(),
                cfg.clone(),
                bus.clone(),
                publisher.clone(),
                metrics.clone(),
                token,
            )
        };
        pollers.spawn(shards::while_owned(key, shard.clone(), shutdown.clone(), read));
    }
    let wmbus = follow::WmbusTask::start(
        &cfg,
        &live,
        (bus_handle, bus_stop.clone()),
        publisher.clone(),
        &metrics,
    );
    let mqtt = {
        let (cfg, bus, publisher, metrics, live) = (
            cfg.clone(),
            bus.clone(),
            publisher.clone(),
            metrics.clone(),
            live.clone(),
        );
        tokio::spawn(async move {
            device_mqtt::run(
                inbound,
                (routes, &live),
                cfg,
                (bus, bus_cfg.max_message_bytes),
                publisher,
                metrics,
                shard,
            )
            .await;
        })
    };
    let follower = follow::Follower {
        cfg,
        profiles,
        bus: bus_handle,
        bus_stop: bus_stop.clone(),
        publisher,
        metrics,
        modbus: supervisor,
        wmbus,
    };
    let (supervisor, wmbus) = follower.run(&live, shutdown.clone()).await;
    supervisor.join().await;
    while pollers.join_next().await.is_some() {}
    mqtt.abort();
    let _ = mqtt.await;
    let wmbus_conn = wmbus.map(|w| {
        w.task.abort();
        (w.task, w.client, w.driver)
    });
    let wmbus_conn = match wmbus_conn {
        Some((task, client, driver)) => {
            let _ = task.await;
            Some((client, driver))
        }
        None => None,
    };
    // Every publisher is gone now: the open batch goes to the outbox, which drains what the broker takes
    // (at most 3 s) before the disconnect; a buffer on disk keeps the rest for the next start.
    flusher.finish(std::time::Duration::from_secs(3)).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), outbox_task).await;
    // With the broker gone the client's queue may be full: do not wait for it forever.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), bus.disconnect()).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), driver).await;
    if let Some((client, driver)) = wmbus_conn {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), client.disconnect()).await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), driver).await;
    }
    bus_stop.cancel();
    if let Some(shards) = shards {
        shards.stopped().await;
    }
    info!("Gateway stopped.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_limit_below_the_largest_reading_is_refused() {
        let cfg = Config::default();
        assert!(validate_with_bus(&cfg, &zw_bus::Config::default()).is_empty());
        let bus = zw_bus::Config {
            max_message_bytes: 1000,
            ..zw_bus::Config::default()
        };
        let errors = validate_with_bus(&cfg, &bus);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("bus.max_message_bytes: 1000 is below"),
            "{errors:?}"
        );
    }
}
