//! The publisher task of one simulated Tasmota plug (see [`super::TasmotaPlug`]).
//!
//! Each plug has its own broker connection with a retained last will `tele/<topic>/LWT` = `Offline`, like a
//! real Tasmota; it publishes `Online` (retained, QoS 1) after every connect and `STATE`/`SENSOR` every
//! interval, with the faults of [`crate::mqtt::faults`] applied per report. Nothing is buffered while the
//! broker is unreachable; on shutdown the plug publishes `Offline`, then disconnects.

use chrono::Utc;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zw_bus::{Bus, ConnectOptions, QoS};

use super::TasmotaPlug;
use crate::config::PlugConfig;
use crate::mqtt::Connection;
use crate::mqtt::faults::{Action, MqttFaults, malform};

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
