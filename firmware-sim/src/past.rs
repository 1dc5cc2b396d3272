//! The simulated past (`[sim] history`, for the demo): every device starts `history` ago and is stepped to
//! now before anything is served, each step handed out as the device would have answered or published it
//! (a meter's register image, a plug's or a Shelly's telemetry, a soil sensor's uplink). One clock reading
//! serves all devices, so their histories end at the same instant and the live values continue from there.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::{PlugConfig, SoilConfig};
use crate::shelly::{ShellyConfig, ShellyDevice};
use crate::{SimError, modbus, tasmota, tts};

/// A piece of the simulated past ([`Config::history`]), handed out in time order per device.
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

/// One step of a meter's simulated past ([`Config::history`]): its register image as the device would have
/// answered at `ts`.
#[derive(Debug)]
pub struct HistorySample<'a> {
    /// The listener the meter answers on (its actual address).
    pub listener: SocketAddr,
    /// The meter's unit id.
    pub unit_id: u8,
    /// The simulated time of this image.
    pub ts: DateTime<Utc>,
    /// The register image; [`modbus::RegisterImage::read`] answers like the device.
    pub image: &'a modbus::RegisterImage,
}

/// The span of past to step through: from `start` to `now` in steps of at least `step`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct History {
    /// When every device starts (`now` without a history).
    pub start: DateTime<Utc>,
    /// When the history ends and serving begins.
    pub now: DateTime<Utc>,
    step: Duration,
}

impl History {
    /// `span` before `now` (none for 0), in steps of `step` (at least 1 s).
    pub fn new(span: Duration, step: Duration, now: DateTime<Utc>) -> Self {
        Self {
            start: now - TimeDelta::from_std(span).unwrap_or(TimeDelta::zero()),
            now,
            step: step.max(Duration::from_secs(1)),
        }
    }

    /// The step times after `start`, at least `min_every` apart (the device's own interval), before `now`.
    pub fn times(&self, min_every: Duration) -> impl Iterator<Item = DateTime<Utc>> {
        let every = TimeDelta::from_std(self.step.max(min_every)).unwrap_or(TimeDelta::MAX);
        let (start, now) = (self.start, self.now);
        (1..)
            .map_while(move |k| start.checked_add_signed(every.checked_mul(k)?))
            .take_while(move |t| *t < now)
    }
}

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
