//! The simulated past (`[sim] history`, for the demo): every device starts `history` ago and is stepped to
//! now before anything is served, each step handed out as the device would have answered or published it
//! (a meter's register image, a plug's or a Shelly's telemetry, a soil sensor's uplink). One clock reading
//! serves all devices, so their histories end at the same instant and the live values continue from there.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::SimError;
use crate::config::{PlugConfig, SoilConfig};
use crate::lorawan::tts;
pub use crate::modbus::HistorySample;
use crate::shelly::{ShellyConfig, ShellyDevice};
use crate::tasmota;
use crate::time::History;

/// A piece of the simulated past ([`crate::Config::history`]), handed out in time order per device.
#[derive(Debug)]
pub enum Past<'a> {
    /// A Modbus meter's register image at one step.
    Meter(HistorySample<'a>),
    /// An MQTT device's message as it would have been published (a soil sensor's uplink via The Things
    /// Stack, a plug's `tele/<topic>/SENSOR`, a Shelly's status or `NotifyStatus`).
    Publish(PastPublish<'a>),
}

/// A past message of a simulated MQTT device.
#[derive(Debug)]
pub struct PastPublish<'a> {
    /// Its MQTT topic.
    pub topic: &'a str,
    /// When it was published.
    pub ts: DateTime<Utc>,
    /// The payload.
    pub payload: &'a [u8],
}

/// The longest spacing of past uplinks: real soil sensors report every 15–60 minutes.
const PAST_UPLINK_EVERY: Duration = Duration::from_secs(15 * 60);

/// The soil sensors, installed at the history's start; each past uplink (at most every 15 minutes, as
/// real sensors report) goes to `on_history`.
pub(crate) fn soil_sensors(
    sensors: Vec<(SoilConfig, u64, bool)>,
    history: History,
    on_history: &mut (dyn FnMut(Past<'_>) + Send),
) -> Result<Vec<(SoilConfig, tts::Lse01Device)>, SimError> {
    let mut out = Vec::with_capacity(sensors.len());
    for (cfg, seed, trs21) in sensors {
        let mut device = if trs21 {
            tts::Lse01Device::trs21(&cfg, seed, history.start)
        } else {
            tts::Lse01Device::new(&cfg, seed, history.start)
        };
        for t in history.times(cfg.interval.max(PAST_UPLINK_EVERY)) {
            let payload = device
                .uplink(t)
                .map_err(|e| SimError::Config(vec![format!("uplink of {}: {e}", cfg.device_id)]))?;
            on_history(Past::Publish(PastPublish {
                topic: device.topic(),
                ts: t,
                payload: &payload,
            }));
        }
        out.push((cfg, device));
    }
    Ok(out)
}

/// A plug switched on at the history's start and stepped to its end; its `SENSOR` telemetry of every step
/// (at least its interval) goes to `on_history`.
pub(crate) fn plug(
    cfg: &PlugConfig,
    seed: u64,
    history: History,
    on_history: &mut (dyn FnMut(Past<'_>) + Send),
) -> tasmota::TasmotaPlug {
    let mut plug = tasmota::TasmotaPlug::new(seed, history.start);
    let topic = format!("tele/{}/SENSOR", cfg.topic);
    for t in history.times(cfg.interval) {
        let payload = plug.sensor_payload(t);
        on_history(Past::Publish(PastPublish {
            topic: &topic,
            ts: t,
            payload: payload.as_bytes(),
        }));
    }
    plug.step(history.now);
    plug
}

/// A Shelly installed at the history's start and stepped to its end; the messages of every step (at least
/// its interval: full statuses, and for a plug the `NotifyStatus` deltas between them) go to `on_history`.
pub(crate) fn shelly(
    cfg: &ShellyConfig,
    seed: u64,
    history: History,
    on_history: &mut (dyn FnMut(Past<'_>) + Send),
) -> ShellyDevice {
    let mut device = ShellyDevice::new(cfg.model, seed, history.start);
    for t in history.times(cfg.interval) {
        for (suffix, body) in device.messages(t) {
            let topic = format!("{}/{suffix}", cfg.prefix);
            on_history(Past::Publish(PastPublish {
                topic: &topic,
                ts: t,
                payload: body.as_bytes(),
            }));
        }
    }
    device
}
