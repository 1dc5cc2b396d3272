//! The publisher task of the simulated soil sensors (see [`super::tts`]): their uplinks as The Things Stack
//! publishes them.
//!
//! All soil sensors share one connection, like TTS's MQTT server, and publish uplinks with QoS 0, with the
//! faults of [`crate::mqtt::faults`] applied per uplink. A sensor transmits whether or not anyone listens:
//! uplinks while the broker is unreachable are lost.

use chrono::Utc;
use tokio::task::JoinSet;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use zw_bus::{Bus, BusClient, ConnectOptions, QoS};

use super::tts::Lse01Device;
use crate::config::SoilConfig;
use crate::mqtt::Connection;
use crate::mqtt::faults::{Action, MqttFaults, malform};

/// Runs all soil sensors (`true` = DL-TRS21, else LSE01) over one TTS-like connection until `shutdown`.
pub(crate) async fn run_tts(
    sensors: Vec<(SoilConfig, Lse01Device)>,
    faults: MqttFaults,
    bus: Bus,
    shutdown: CancellationToken,
) {
    let conn = Connection::open(&bus, ConnectOptions::publisher("sim", "tts"));
    let mut tasks = JoinSet::new();
    for (cfg, device) in sensors {
        tasks.spawn(run_soil_sensor(
            cfg,
            device,
            faults.clone(),
            conn.client.clone(),
            shutdown.clone(),
        ));
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            warn!(error = %e, "Soil sensor task failed.");
        }
    }
    conn.close(None).await;
}

async fn run_soil_sensor(
    cfg: SoilConfig,
    mut device: Lse01Device,
    faults: MqttFaults,
    client: BusClient,
    shutdown: CancellationToken,
) {
    let mut n = 0u64;
    let mut ticker = interval(cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        // The sensor transmits (and counts frames) whether or not anyone listens.
        let uplink = match device.uplink(Utc::now()) {
            Ok(u) => u,
            Err(e) => {
                warn!(device = %cfg.device_id, error = %e, "Cannot serialize uplink.");
                continue;
            }
        };
        n += 1;
        let uplink = match faults.action(n) {
            Action::Skip => continue,
            Action::Malformed => malform(&String::from_utf8_lossy(&uplink)).into_bytes(),
            // A LoRaWAN sensor's reboot is a re-join; its readings are gauges, so nothing resets.
            Action::Send | Action::Reboot => uplink,
        };
        if !client.is_connected() {
            continue;
        }
        let result = tokio::select! {
            () = shutdown.cancelled() => break,
            r = client.publish(device.topic().to_owned(), QoS::AtMostOnce, false, uplink) => r,
        };
        if let Err(e) = result {
            warn!(device = %cfg.device_id, error = %e, "Bus client stopped; sensor stops publishing.");
            break;
        }
        debug!(device = %cfg.device_id, "Published uplink.");
    }
}
