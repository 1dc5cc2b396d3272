//! Shelly Gen2/Gen3 over MQTT: Plus/Pro PM switches and plugs (`switch:0`) and the Pro 3EM (`em:0`,
//! `emdata:0`, triphase profile).
//!
//! Topics under the device's `topic_prefix`:
//! * `<prefix>/status/<component>`: the **entire** component status (`status_ntf`), replacing what was known.
//! * `<prefix>/events/rpc`: JSON-RPC notifications. `NotifyStatus` is a **delta** (unchanged keys may be
//!   missing, removed keys are `null`), merged onto the last known status, so the published reading holds
//!   every value the device currently stands by; `NotifyFullStatus` replaces; `NotifyEvent` is a sign of
//!   life. `params.ts` is checked but, like for status topics (which carry no time), the reading takes the
//!   receive time: mixing the device's clock and ours would reorder one device's readings.
//! * `<prefix>/online`: `true` / `false` (last will).
//!
//! Units: `apower` W, `aenergy.total` and `ret_aenergy.total` Wh (cumulative), Pro 3EM `emdata:0`
//! `total_act` / `total_act_ret` Wh. `aenergy.by_minute` is mWh per completed minute and is not read: the
//! counter is the truth, per-minute energy follows from it. Per-device state is the plain [`State`] struct;
//! a message that fails to decode leaves it unchanged.

mod status;

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{AdapterError, Message, availability, reading};
use status::{EmDataPatch, EmDataState, EmPatch, EmState, SwitchPatch, SwitchState};

/// A component whose values we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// `switch:0`.
    Switch,
    /// `em:0`.
    Em,
    /// `emdata:0`.
    EmData,
    /// Any other component (`sys`, `wifi`, `input:0`, …): a sign of life only.
    Other,
}

/// Which topic under the prefix a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `online`.
    Online,
    /// `status/<component>`.
    Status(Component),
    /// `events/rpc`.
    Rpc,
}

impl Part {
    /// The part for the topic levels after the prefix, if we read them.
    pub fn from_suffix(rest: &str) -> Option<Part> {
        match rest {
            "online" => Some(Part::Online),
            "events/rpc" => Some(Part::Rpc),
            _ => match rest.strip_prefix("status/")? {
                "switch:0" => Some(Part::Status(Component::Switch)),
                "em:0" => Some(Part::Status(Component::Em)),
                "emdata:0" => Some(Part::Status(Component::EmData)),
                c if !c.is_empty() && !c.contains('/') => Some(Part::Status(Component::Other)),
                _ => None,
            },
        }
    }
}

/// What is known about one Shelly device: the last status of each component read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    switch: Option<SwitchState>,
    em: Option<EmState>,
    emdata: Option<EmDataState>,
}

#[derive(Deserialize)]
struct Rpc<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    params: Option<Params>,
}

#[derive(Deserialize)]
struct Params {
    ts: Option<f64>,
    #[serde(rename = "switch:0")]
    switch: Option<SwitchPatch>,
    #[serde(rename = "em:0")]
    em: Option<EmPatch>,
    #[serde(rename = "emdata:0")]
    emdata: Option<EmDataPatch>,
}

fn parse<'a, T: Deserialize<'a>>(payload: &'a [u8]) -> Result<T, AdapterError> {
    serde_json::from_slice(payload).map_err(|e| AdapterError::from_serde(&e))
}

impl State {
    /// Decodes one message, updating the known status.
    pub fn decode(&mut self, part: Part, payload: &[u8]) -> Result<Message, AdapterError> {
        let mut values = BTreeMap::new();
        match part {
            Part::Online => return availability(payload, "true", "false"),
            Part::Status(Component::Other) => {
                parse::<IgnoredAny>(payload)?;
                return Ok(Message::Alive);
            }
            Part::Status(Component::Switch) => {
                let mut s = SwitchState::default();
                s.apply(parse(payload)?);
                s.values(&mut values);
                if !values.is_empty() {
                    self.switch = Some(s);
                }
            }
            Part::Status(Component::Em) => {
                let mut s = EmState::default();
                s.apply(parse(payload)?);
                s.values(&mut values);
                if !values.is_empty() {
                    self.em = Some(s);
                }
            }
            Part::Status(Component::EmData) => {
                let mut s = EmDataState::default();
                s.apply(parse(payload)?);
                s.values(&mut values);
                if !values.is_empty() {
                    self.emdata = Some(s);
                }
            }
            Part::Rpc => return self.rpc(parse(payload)?),
        }
        reading(None, values)
    }

    fn rpc(&mut self, rpc: Rpc<'_>) -> Result<Message, AdapterError> {
        let full = match rpc.method.as_ref() {
            "NotifyStatus" => false,
            "NotifyFullStatus" => true,
            _ => return Ok(Message::Alive),
        };
        let Some(p) = rpc.params else {
            return Ok(Message::Alive);
        };
        p.ts.map(unix_seconds).transpose()?;
        if full {
            *self = State::default();
        }
        let mut values = BTreeMap::new();
        if let Some(patch) = p.switch {
            let s = self.switch.get_or_insert_with(SwitchState::default);
            s.apply(patch);
            s.values(&mut values);
        }
        if let Some(patch) = p.em {
            let s = self.em.get_or_insert_with(EmState::default);
            s.apply(patch);
            s.values(&mut values);
        }
        if let Some(patch) = p.emdata {
            let s = self.emdata.get_or_insert_with(EmDataState::default);
            s.apply(patch);
            s.values(&mut values);
        }
        if values.is_empty() {
            // A notification about components we do not read (wifi, sys, input): alive, nothing to publish.
            return Ok(Message::Alive);
        }
        reading(None, values)
    }
}

fn unix_seconds(ts: f64) -> Result<DateTime<Utc>, AdapterError> {
    let bad = || AdapterError::Field {
        field: "params.ts".into(),
        problem: format!("{ts} is not a Unix time"),
    };
    if !ts.is_finite() || ts.abs() > 1e11 {
        return Err(bad());
    }
    DateTime::from_timestamp_millis((ts * 1000.0).round() as i64).ok_or_else(bad)
}

#[cfg(test)]
#[path = "shelly_tests.rs"]
mod tests;
