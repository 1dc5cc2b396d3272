//! The async edge of the MQTT devices: publisher tasks for Tasmota plugs, Shelly devices and The Things
//! Stack uplinks, with the faults of [`crate::mqtt_faults`] applied per report.
//!
//! A Shelly has its own connection with a retained last will `<prefix>/online` = `false`, publishes `true`
//! after every connect and its statuses (QoS 1, as Shelly supports) every interval.
//! Each plug has its own broker connection with a retained last will `tele/<topic>/LWT` = `Offline`, like a
//! real Tasmota; it publishes `Online` (retained, QoS 1) after every connect and `STATE`/`SENSOR` every
//! interval. All soil sensors share one connection, like TTS's MQTT server, and publish uplinks with QoS 0.
//! Like the real devices, nothing is buffered while the broker is unreachable: telemetry of that time is
//! skipped (counters keep running). On shutdown a plug publishes `Offline`, then the connection sends a
//! DISCONNECT; a connection that cannot do so within a few seconds is dropped.

use std::time::Duration;

use chrono::Utc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{MissedTickBehavior, interval, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zw_bus::{BusClient, ConnectOptions, QoS};

use crate::config::{PlugConfig, SoilConfig};
use crate::mqtt_faults::{Action, MqttFaults, malform};
use crate::tasmota::TasmotaPlug;
use crate::tts::Lse01Device;

#[path = "mqtt_shelly.rs"]
mod shelly_task;
pub(crate) use shelly_task::run_shelly;

/// How long the farewell messages and the DISCONNECT may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

use zw_bus::Bus;

/// A broker connection whose driver stops on its own token, so the publisher can say goodbye after the
/// simulator's shutdown token has fired.
struct Connection {
    client: BusClient,
    driver: JoinHandle<()>,
    stop: CancellationToken,
}

impl Connection {
    fn open(bus: &Bus, opts: ConnectOptions) -> Self {
        let stop = CancellationToken::new();
        // The simulator only publishes; the (always empty) inbound receiver can be dropped.
        let (client, _inbound, driver) = bus.connect(opts, stop.clone());
        Self { client, driver, stop }
    }

    /// Publishes `farewell` (if connected), sends DISCONNECT and waits for the driver, dropping it on timeout.
    async fn close(mut self, farewell: Option<(String, &[u8])>) {
        if self.client.is_connected() {
            let goodbye = async {
                if let Some((topic, payload)) = farewell {
                    let _ = self
                        .client
                        .publish(topic, QoS::AtLeastOnce, true, payload.to_vec())
                        .await;
                }
                self.client.disconnect().await;
            };
            let _ = timeout(CLOSE_TIMEOUT, goodbye).await;
            if timeout(CLOSE_TIMEOUT, &mut self.driver).await.is_ok() {
                return;
            }
        }
        self.stop.cancel();
        if let Err(e) = self.driver.await {
            warn!(error = %e, "Bus driver task failed.");
        }
    }
}

/// Runs one Tasmota plug until `shutdown`.
pub(crate) async fn run_plug(
    cfg: PlugConfig,
    mut plug: TasmotaPlug,
    faults: MqttFaults,
    bus: Bus,
    shutdown: CancellationToken,
) {
    let lwt = format!("tele/{}/LWT", cfg.topic);
    let mut opts = ConnectOptions::publisher("sim", &format!("tasmota-{}", cfg.topic));
    opts.last_will = Some((lwt.clone(), b"Offline".to_vec()));
    let conn = Connection::open(&bus, opts);
    let client = conn.client.clone();
    let mut ticker = interval(cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut online = false;
    let mut n = 0u64;
    loop {
        if !online {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = client.wait_connected() => {}
            }
            if let Err(e) = client
                .publish(lwt.clone(), QoS::AtLeastOnce, true, b"Online".to_vec())
                .await
            {
                warn!(plug = %cfg.topic, error = %e, "Bus client stopped; plug stops publishing.");
                break;
            }
            info!(plug = %cfg.topic, "Plug online.");
            online = true;
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if !client.is_connected() {
            online = false;
            continue;
        }
        let now = Utc::now();
        n += 1;
        let action = faults.action(n);
        match action {
            Action::Skip => continue,
            Action::Reboot => plug.reboot(now),
            Action::Send | Action::Malformed => {}
        }
        let state = match plug.state_payload(now) {
            Ok(s) => s,
            Err(e) => {
                warn!(plug = %cfg.topic, error = %e, "Cannot serialize STATE.");
                continue;
            }
        };
        let sensor = plug.sensor_payload(now);
        let sensor = if action == Action::Malformed {
            malform(&sensor)
        } else {
            sensor
        };
        let sent = async {
            let base = format!("tele/{}", cfg.topic);
            client
                .publish(
                    format!("{base}/STATE"),
                    QoS::AtMostOnce,
                    false,
                    state.into_bytes(),
                )
                .await?;
            client
                .publish(
                    format!("{base}/SENSOR"),
                    QoS::AtMostOnce,
                    false,
                    sensor.into_bytes(),
                )
                .await
        };
        let result = tokio::select! {
            () = shutdown.cancelled() => break,
            r = sent => r,
        };
        if let Err(e) = result {
            warn!(plug = %cfg.topic, error = %e, "Bus client stopped; plug stops publishing.");
            break;
        }
        debug!(plug = %cfg.topic, "Published telemetry.");
    }
    conn.close(Some((lwt, b"Offline"))).await;
    debug!(plug = %cfg.topic, "Plug stopped.");
}

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
