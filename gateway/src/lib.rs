//! Gateway: reads meters and sensors and publishes canonical readings on the bus.
//!
//! ```text
//!  Modbus TCP meters ──poll──┐
//!                            ├─► canonical Reading ─► zw/v1/readings/{site}/{device} (QoS 1)
//!  device MQTT (Tasmota, TTS)┘
//! ```
//!
//! * [`profile`]: meter register maps as data, decoding of every type and byte order, request coalescing.
//! * [`modbus`]: one poller task per endpoint, fixed-grid scheduling, timeouts and reconnect back-off.
//! * [`adapters`]: pure decoders for vendor MQTT payloads.
//! * [`device_mqtt`]: routes device topics to adapters.

pub mod adapters;
mod config;
pub mod device_mqtt;
mod metrics;
pub mod modbus;
pub mod profile;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;
use zw_bus::{ConnectOptions, FullPolicy, QoS};
use zw_model::{DeviceSource, Inventory};

pub use config::Config;
pub use metrics::Metrics;
pub use profile::Profile;

/// Gateway start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// A built-in or configured profile is invalid.
    #[error(transparent)]
    Profile(#[from] profile::ProfileError),
    /// A device names a profile that does not exist.
    #[error("device {device}: unknown profile {profile:?}")]
    UnknownProfile {
        /// Device id.
        device: String,
        /// Profile name.
        profile: String,
    },
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Checks the gateway's view of the inventory (profiles exist); every problem is reported.
pub fn validate_inventory(inventory: &Inventory) -> Vec<String> {
    let known: Vec<String> = match Profile::builtin() {
        Ok(p) => p.into_iter().map(|p| p.name).collect(),
        Err(e) => return vec![e.to_string()],
    };
    let mut errors = Vec::new();
    for (i, site) in inventory.sites.iter().enumerate() {
        for (j, dev) in site.devices.iter().enumerate() {
            if let DeviceSource::Modbus { profile, .. } = &dev.source
                && !known.contains(profile)
            {
                errors.push(format!(
                    "sites[{i}].devices[{j}].source.profile: unknown profile {profile:?} (known: {})",
                    known.join(", ")
                ));
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
    let profiles: BTreeMap<String, Arc<Profile>> = Profile::builtin()?
        .into_iter()
        .map(|p| (p.name.clone(), Arc::new(p)))
        .collect();
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

    let mut endpoints: BTreeMap<String, Vec<modbus::PolledDevice>> = BTreeMap::new();
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
                .cloned()
                .ok_or_else(|| GatewayError::UnknownProfile {
                    device: dev.id.to_string(),
                    profile: profile.clone(),
                })?;
            endpoints
                .entry(endpoint.clone())
                .or_default()
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
    for (endpoint, devices) in endpoints {
        pollers.spawn(modbus::poll_endpoint(
            endpoint,
            devices,
            cfg.clone(),
            bus.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    let mqtt = tokio::spawn(device_mqtt::run(inbound, routes, cfg, bus.clone(), metrics));
    shutdown.cancelled().await;
    while pollers.join_next().await.is_some() {}
    mqtt.abort();
    bus.disconnect().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), driver).await;
    bus_stop.cancel();
    info!("Gateway stopped.");
    Ok(())
}
