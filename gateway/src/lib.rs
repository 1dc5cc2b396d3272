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
//! * [`modbus`]: one poller task per endpoint (Modbus TCP, RTU over TCP, RTU serial), timeouts, reconnects;
//!   [`schedule`]: fixed grids and per-device back-off within a bounded share of the connection;
//!   [`health`]: per-device online/degraded/offline, published retained on `zw/v1/status/device/{device}`.
//! * [`adapters`]: pure decoders for vendor MQTT payloads.
//! * [`device_mqtt`]: routes device topics to adapters.
//! * [`publish`]: the one reading publisher, one message per reading or batches (`[gateway.publish]`).

pub mod adapters;
mod config;
pub mod device_mqtt;
pub mod health;
mod metrics;
pub mod modbus;
pub mod modbus_config;
mod modbus_metrics;
mod modbus_poll;
mod modbus_publish;
pub mod modbus_transport;
pub mod profile;
pub mod publish;
pub mod schedule;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;
use zw_bus::{ConnectOptions, FullPolicy, QoS};
use zw_model::inventory::ModbusEndpoint;
use zw_model::{DeviceSource, Inventory};

pub use config::Config;
pub use metrics::Metrics;
pub use modbus_config::ModbusConfig;
pub use modbus_metrics::ModbusMetrics;
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
}

/// Checks the gateway's view of the inventory: profiles load and exist, Modbus endpoints do not clash.
/// Every problem is reported.
pub fn validate_inventory(cfg: &Config, inventory: &Inventory) -> Vec<String> {
    let set = match ProfileSet::load(&cfg.profile_dirs) {
        Ok(set) => set,
        Err(errors) => return errors,
    };
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, (String, Option<zw_model::inventory::ModbusEndpoint>)> = BTreeMap::new();
    for (i, site) in inventory.sites.iter().enumerate() {
        for (j, dev) in site.devices.iter().enumerate() {
            let DeviceSource::Modbus {
                profile,
                endpoint,
                unit_id,
                ..
            } = &dev.source
            else {
                continue;
            };
            let path = format!("sites[{i}].devices[{j}].source");
            if set.get(profile).is_none() {
                errors.push(format!(
                    "{path}.profile: unknown profile {profile:?} (known: {})",
                    set.names().join(", ")
                ));
            }
            let Ok(ep) = zw_model::inventory::ModbusEndpoint::parse(endpoint) else {
                continue; // The inventory's own validation reports the syntax.
            };
            let unit_key = format!("{}#{unit_id}", ep.key());
            if let Some((other, _)) = seen.insert(unit_key, (path.clone(), None)) {
                errors.push(format!(
                    "{path}.unit_id: unit {unit_id} on {} is already polled by {other}",
                    ep.key()
                ));
            }
            match seen.insert(ep.key(), (path.clone(), Some(ep.clone()))) {
                Some((other, Some(prev))) if prev != ep => errors.push(format!(
                    "{path}.endpoint: {ep} conflicts with {prev} used by {other} (one bus, one set of line settings)"
                )),
                _ => {}
            }
        }
    }
    errors
}

/// Runs the gateway until `shutdown`, then stops polling, flushes pending publishes and disconnects.
pub async fn run(
    cfg: Config,
    inventory: Arc<Inventory>,
    bus: &zw_bus::Bus,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let profiles = ProfileSet::load(&cfg.profile_dirs).map_err(GatewayError::Profiles)?;
    for (name, file) in &profiles.overridden {
        info!(profile = %name, file = %file.display(), "User profile replaces the built-in one.");
    }
    let producer = zw_model::Id::new(cfg.instance.clone()).map_err(GatewayError::Instance)?;
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
    let (bus, inbound, driver) = bus.connect(opts, bus_stop.clone());
    let (publisher, flusher) =
        publish::Publisher::start(&cfg.publish, &producer, bus.clone(), metrics.clone());

    let mut endpoints: BTreeMap<String, (ModbusEndpoint, Vec<modbus::PolledDevice>)> = BTreeMap::new();
    for (site, dev) in inventory.devices() {
        if let DeviceSource::Modbus {
            endpoint,
            unit_id,
            profile,
            interval,
        } = &dev.source
        {
            let profile = profiles
                .get(profile)
                .ok_or_else(|| GatewayError::UnknownProfile {
                    device: dev.id.to_string(),
                    profile: profile.clone(),
                })?;
            let endpoint = ModbusEndpoint::parse(endpoint).map_err(|e| GatewayError::Endpoint {
                device: dev.id.to_string(),
                message: e,
            })?;
            endpoints
                .entry(endpoint.key())
                .or_insert_with(|| (endpoint, Vec::new()))
                .1
                .push(modbus::PolledDevice {
                    site: site.id.clone(),
                    device: dev.id.clone(),
                    unit_id: *unit_id,
                    interval: *interval,
                    profile,
                });
        }
    }
    info!(
        endpoints = endpoints.len(),
        device_topics = routes.len(),
        "Gateway started."
    );
    let mut pollers = JoinSet::new();
    for (_, (endpoint, devices)) in endpoints {
        pollers.spawn(modbus::poll_endpoint(
            endpoint,
            devices,
            cfg.clone(),
            bus.clone(),
            publisher.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    let mqtt = tokio::spawn(device_mqtt::run(
        inbound,
        routes,
        cfg,
        bus.clone(),
        publisher,
        metrics,
    ));
    shutdown.cancelled().await;
    while pollers.join_next().await.is_some() {}
    mqtt.abort();
    let _ = mqtt.await;
    // Every publisher is gone now: the open batch goes out before the disconnect.
    flusher.finish(std::time::Duration::from_secs(3)).await;
    // With the broker gone the client's queue may be full: do not wait for it forever.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), bus.disconnect()).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), driver).await;
    bus_stop.cancel();
    info!("Gateway stopped.");
    Ok(())
}
