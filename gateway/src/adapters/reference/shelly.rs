//! Shelly Gen2/Gen3 through serde_json: typed borrowed structs per component (channel 0 of `switch`, `em:0`,
//! `emdata:0`); other components are signs of life.

mod status;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;
use zw_model::reading::Values;

use crate::adapters::shelly::{Component, Part};
use crate::adapters::{AdapterError, Message, availability, reading};
use status::{EmDataPatch, EmDataState, EmPatch, EmState, SwitchPatch, SwitchState};

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
        let mut values = Values::new();
        match part {
            Part::Online => return availability(payload, "true", "false"),
            Part::Status(
                Component::Other | Component::Switch(1..) | Component::Em1(_) | Component::Em1Data(_),
            ) => {
                parse::<IgnoredAny>(payload)?;
                return Ok(Message::Alive);
            }
            Part::Status(Component::Switch(0)) => {
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
        let mut values = Values::new();
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
