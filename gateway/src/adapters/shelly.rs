//! Shelly Gen2/Gen3 over MQTT: Plus/Pro PM switches and plugs (`switch:N`), the Pro 3EM (`em:0`,
//! `emdata:0`, triphase profile) and single metering channels (`em1:N`, `em1data:N`: Pro EM, Pro 3EM in
//! the monophase profile).
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
//! A multi-channel device (Pro 2PM/4PM, Pro EM) is one inventory device per channel: the [`State`] reads
//! its own channel's `switch:N` / `em1:N` / `em1data:N` and takes the other channels' messages as signs of
//! life only. `em:0` and `emdata:0` are whole-meter components, always read.
//!
//! Units: `apower` W, `aenergy.total` and `ret_aenergy.total` Wh (cumulative), Pro 3EM `emdata:0`
//! `total_act` / `total_act_ret` and `em1data:N` `total_act_energy` / `total_act_ret_energy` Wh.
//! `aenergy.by_minute` is mWh per completed minute and is not read: the counter is the truth. A message that
//! fails to decode leaves the state unchanged. Payloads are read with the [`zw_jsonscan`] scanner; the
//! serde_json decoder in `reference::shelly` (test-only) is the differential reference.

mod status;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use zw_model::reading::Values;

use super::Scanner;
use super::{AdapterError, Message, availability, reading};
use status::{EM, EM1, EM1DATA, EMDATA, Known, Patches, SWITCH, Table};
use zw_jsonscan::Seen;

/// A component whose values we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// `switch:N`.
    Switch(u8),
    /// `em:0`.
    Em,
    /// `emdata:0`.
    EmData,
    /// `em1:N`.
    Em1(u8),
    /// `em1data:N`.
    Em1Data(u8),
    /// Any other component (`sys`, `wifi`, `input:0`, …): a sign of life only.
    Other,
}

impl Component {
    /// The component for a status key such as `switch:1`; `None` for components we do not read.
    pub fn from_key(key: &[u8]) -> Option<Component> {
        let channel = |rest: &[u8]| -> Option<u8> {
            if rest.is_empty() || rest.len() > 3 || !rest.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(rest).ok()?.parse().ok()
        };
        let (name, n) = key.split_at(key.iter().position(|&c| c == b':')?);
        let n = channel(&n[1..])?;
        match name {
            b"switch" => Some(Component::Switch(n)),
            b"em" if n == 0 => Some(Component::Em),
            b"emdata" if n == 0 => Some(Component::EmData),
            b"em1" => Some(Component::Em1(n)),
            b"em1data" => Some(Component::Em1Data(n)),
            _ => None,
        }
    }

    /// The channel of a per-channel component (`switch:N`, `em1:N`, `em1data:N`).
    pub fn channel(self) -> Option<u8> {
        match self {
            Component::Switch(n) | Component::Em1(n) | Component::Em1Data(n) => Some(n),
            _ => None,
        }
    }

    /// Index into the state, if this device's channel reads it.
    fn slot(self, channel: u8) -> Option<usize> {
        match self {
            Component::Switch(n) if n == channel => Some(0),
            Component::Em => Some(1),
            Component::EmData => Some(2),
            Component::Em1(n) if n == channel => Some(3),
            Component::Em1Data(n) if n == channel => Some(4),
            _ => None,
        }
    }
}

/// Tables by state slot.
const TABLES: [&Table; 5] = [&SWITCH, &EM, &EMDATA, &EM1, &EM1DATA];

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
                c if c.is_empty() || c.contains('/') => None,
                c => Some(Part::Status(
                    Component::from_key(c.as_bytes()).unwrap_or(Component::Other),
                )),
            },
        }
    }
}

/// What is known about one Shelly device (one channel of it): the last status of each component read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    channel: u8,
    known: [Option<Known>; 5],
}

impl State {
    /// The state of a device read on `channel` (0 for single-channel devices).
    pub fn new(channel: u8) -> Self {
        Self {
            channel,
            known: [None; 5],
        }
    }

    /// The channel this state reads.
    pub fn channel(&self) -> u8 {
        self.channel
    }

    /// Decodes one message, updating the known status.
    pub fn decode(&mut self, part: Part, payload: &[u8]) -> Result<Message, AdapterError> {
        let component = match part {
            Part::Online => return availability(payload, "true", "false"),
            Part::Rpc => return self.rpc(payload),
            Part::Status(c) => c,
        };
        let Some(slot) = component.slot(self.channel) else {
            zw_jsonscan::validate(payload)?;
            return Ok(Message::Alive);
        };
        let mut s = Scanner::new(payload);
        let patches = TABLES[slot].read(&mut s, "status")?;
        s.end()?;
        let mut k = Known::default();
        k.apply(&patches);
        let mut values = Values::new();
        k.values(TABLES[slot], &mut values);
        if !values.is_empty() {
            self.known[slot] = Some(k);
        }
        reading(None, values)
    }

    fn rpc(&mut self, payload: &[u8]) -> Result<Message, AdapterError> {
        let mut s = Scanner::new(payload);
        let mut method: Option<Cow<'_, str>> = None;
        let mut params: Option<Params> = None;
        let mut seen = Seen::default();
        s.object_field("rpc", |s, key| match key {
            b"method" => {
                seen.first(0, "method")?;
                method = Some(s.string("method")?);
                Ok(())
            }
            b"params" => {
                seen.first(1, "params")?;
                params = s.nullable(|s| self.params(s))?;
                Ok(())
            }
            _ => s.skip(),
        })?;
        s.end()?;
        let method = method.ok_or_else(|| AdapterError::Field {
            field: "method".into(),
            problem: "missing".into(),
        })?;
        let full = match method.as_ref() {
            "NotifyStatus" => false,
            "NotifyFullStatus" => true,
            _ => return Ok(Message::Alive),
        };
        let Some(p) = params else {
            return Ok(Message::Alive);
        };
        p.ts.map(unix_seconds).transpose()?;
        if full {
            self.known = [None; 5];
        }
        let mut values = Values::new();
        for (slot, patch) in p.patches.iter().enumerate() {
            if let Some(patch) = patch {
                let k = self.known[slot].get_or_insert_with(Known::default);
                k.apply(patch);
                k.values(TABLES[slot], &mut values);
            }
        }
        if values.is_empty() {
            // A notification about components we do not read (wifi, sys, input): alive, nothing to publish.
            return Ok(Message::Alive);
        }
        reading(None, values)
    }

    fn params(&self, s: &mut Scanner<'_>) -> Result<Params, AdapterError> {
        let mut p = Params {
            ts: None,
            patches: [None; 5],
        };
        let mut seen = Seen::default();
        s.object_field("params", |s, key| {
            if key == b"ts" {
                seen.first(0, "params.ts")?;
                p.ts = s.number_or_null("params.ts")?;
                return Ok(());
            }
            let Some(slot) = Component::from_key(key).and_then(|c| c.slot(self.channel)) else {
                return s.skip();
            };
            seen.first(slot as u32 + 1, "params component")?;
            p.patches[slot] = s.nullable(|s| TABLES[slot].read(s, "params component"))?;
            Ok(())
        })?;
        Ok(p)
    }
}

/// The parts of `params` we read.
struct Params {
    ts: Option<f64>,
    patches: [Option<Patches>; 5],
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
mod tests;
