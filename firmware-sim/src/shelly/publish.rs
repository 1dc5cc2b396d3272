//! The publisher task of one simulated Shelly (see [`super::ShellyDevice`]): retained `online` with a last will,
//! statuses every interval, faults applied per report.

use chrono::Utc;
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};
use zw_bus::{Bus, ConnectOptions, QoS};

use super::{ShellyConfig, ShellyDevice};
use crate::mqtt::Connection;
use crate::mqtt::faults::{Action, MqttFaults, malform};

/// Runs one Shelly (its counters continuing from `device`, e.g. the end of its history) until `shutdown`.
pub(crate) async fn run_shelly(
    cfg: ShellyConfig,
    mut device: ShellyDevice,
    faults: MqttFaults,
    bus: Bus,
    shutdown: CancellationToken,
) {
    let online = format!("{}/online", cfg.prefix);
    let mut opts =
        ConnectOptions::publisher("sim", &format!("shelly-{}", crate::curves::hash_str(&cfg.prefix)));
    opts.last_will = Some((online.clone(), b"false".to_vec()));
    let conn = Connection::open(&bus, opts);
    let client = conn.client.clone();
    let mut ticker = interval(cfg.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut announced, mut n) = (false, 0u64);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        if !client.is_connected() {
            announced = false;
            continue;
        }
        let mut out = Vec::new();
        if !announced {
            out.push((online.clone(), b"true".to_vec(), true));
            announced = true;
        }
        n += 1;
        let action = faults.action(n);
        match action {
            Action::Skip => continue,
            Action::Reboot => device.reboot(),
            Action::Send | Action::Malformed => {}
        }
        for (suffix, body) in device.messages(Utc::now()) {
            let body = if action == Action::Malformed {
                malform(&body)
            } else {
                body
            };
            out.push((format!("{}/{suffix}", cfg.prefix), body.into_bytes(), false));
        }
        for (topic, body, retain) in out {
            let r = tokio::select! {
                () = shutdown.cancelled() => break,
                r = client.publish(topic, QoS::AtLeastOnce, retain, body) => r,
            };
            if let Err(e) = r {
                warn!(shelly = %cfg.prefix, error = %e, "Bus client stopped; Shelly stops publishing.");
                conn.close(None).await;
                return;
            }
        }
    }
    conn.close(Some((online, b"false"))).await;
    debug!(shelly = %cfg.prefix, "Shelly stopped.");
}
