//! The Things Stack uplinks through serde_json: typed borrowed structs, the formatter output per model.

use std::borrow::Cow;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use zw_model::Quantity;
use zw_model::reading::Values;

use super::num::Lenient;
use crate::adapters::ttn::{Model, lse01_frame, tension, trs21_frame};
use crate::adapters::{AdapterError, Message, reading};

/// Decodes an uplink from `model`.
pub fn decode(model: Model, payload: &[u8]) -> Result<Message, AdapterError> {
    match model {
        Model::Lse01 => decode_with::<Lse01Decoded>(payload, 2, lse01_frame),
        Model::DlTrs21 => decode_with::<TrsDecoded>(payload, 1, trs21_frame),
    }
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "D: DeserializeOwned"))]
struct Uplink<'a, D> {
    #[serde(borrow)]
    received_at: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uplink_message: Option<UplinkMessage<'a, D>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "D: DeserializeOwned"))]
struct UplinkMessage<'a, D> {
    #[serde(default)]
    f_port: u32,
    #[serde(borrow)]
    frm_payload: Option<Cow<'a, str>>,
    decoded_payload: Option<D>,
    #[serde(borrow)]
    received_at: Option<Cow<'a, str>>,
}

/// Decodes a model's raw frame.
type FrameDecoder = fn(&[u8]) -> Result<Values, AdapterError>;

/// A model's formatter output.
trait Formatted {
    fn values(&self) -> Result<Values, AdapterError>;
}

fn decode_with<D: DeserializeOwned + Formatted>(
    payload: &[u8],
    port: u32,
    frame: FrameDecoder,
) -> Result<Message, AdapterError> {
    let root: Uplink<'_, D> = serde_json::from_slice(payload).map_err(|e| AdapterError::from_serde(&e))?;
    let up = root.uplink_message.ok_or(AdapterError::NoValues)?;
    let ts = up
        .received_at
        .as_deref()
        .or(root.received_at.as_deref())
        .map(rfc3339)
        .transpose()?;
    let decoded = up.decoded_payload.as_ref().map(Formatted::values).transpose()?;
    let values = match decoded {
        Some(v) if !v.is_empty() => v,
        _ => {
            let b64 = up.frm_payload.ok_or(AdapterError::NoValues)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|e| AdapterError::Frame(format!("frm_payload is not base64: {e}")))?;
            if up.f_port != port {
                return Err(AdapterError::Frame(format!("unknown fPort {}", up.f_port)));
            }
            frame(&bytes)?
        }
    };
    reading(ts, values)
}

fn rfc3339(s: &str) -> Result<DateTime<Utc>, AdapterError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AdapterError::Field {
            field: "received_at".into(),
            problem: format!("not RFC 3339: {s:?}"),
        })
}

#[derive(Deserialize)]
struct Lse01Decoded {
    #[serde(rename = "water_SOIL")]
    water: Option<Lenient>,
    #[serde(rename = "temp_SOIL")]
    temp: Option<Lenient>,
    #[serde(rename = "conduct_SOIL")]
    conduct: Option<Lenient>,
    #[serde(rename = "Bat")]
    bat: Option<Lenient>,
    #[serde(rename = "BatV")]
    bat_v: Option<Lenient>,
    #[serde(rename = "TempC_DS18B20")]
    probe: Option<Lenient>,
}

impl Formatted for Lse01Decoded {
    fn values(&self) -> Result<Values, AdapterError> {
        let pairs = [
            (Quantity::SoilMoisture, self.water),
            (Quantity::SoilTemperature, self.temp),
            (Quantity::SoilConductivity, self.conduct),
            (Quantity::BatteryVoltage, self.bat.or(self.bat_v)),
            (Quantity::Temperature, self.probe),
        ];
        Ok(pairs.into_iter().filter_map(|(q, v)| Some((q, v?.0))).collect())
    }
}

#[derive(Deserialize)]
struct Valued {
    value: f64,
}

#[derive(Deserialize)]
struct TrsDecoded {
    water_potential: Option<Valued>,
    soil_temperature: Option<Valued>,
    battery_voltage: Option<Valued>,
}

impl Formatted for TrsDecoded {
    fn values(&self) -> Result<Values, AdapterError> {
        let mut out = Values::new();
        if let Some(p) = &self.water_potential {
            out.insert(Quantity::SoilWaterTension, tension(p.value)?);
        }
        if let Some(t) = &self.soil_temperature {
            out.insert(Quantity::SoilTemperature, t.value);
        }
        if let Some(b) = &self.battery_voltage {
            out.insert(Quantity::BatteryVoltage, b.value);
        }
        Ok(out)
    }
}
