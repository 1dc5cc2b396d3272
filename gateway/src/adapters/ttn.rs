//! The Things Stack v3 uplinks (`v3/{app}@{tenant}/devices/{device}/up`) from soil sensors.
//!
//! `decoded_payload` is used when a payload formatter ran and it yields values; otherwise `frm_payload`
//! (base64) is decoded here. The stack omits zero and empty fields, so an absent field is simply absent.
//! The timestamp is the network's `received_at`.
//!
//! * **Dragino LSE01** (fPort 2, 11 bytes): the formatter mixes numbers and strings (`"water_SOIL":"19.57"`),
//!   older revisions append units (`"3.6 V"`), firmware 1.2.1 renames `Bat` to `BatV`; all are read.
//! * **Decentlab DL-TRS21** (protocol v2): `water_potential` arrives negative in kPa (`-11.7`); on the bus it
//!   is `soil_water_tension`, positive (11.7 kPa). The formatter nests values (`{"value":-11.7,"unit":"kPa"}`).
//!   Frame: version 2, device id u16, sensor flags u16, then per flagged sensor big-endian u16 words:
//!   bit 0 → potential ×(−0.1) kPa and soil temperature (x − 32768)/10 °C; bit 1 → battery x/1000 V.

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use zw_model::Quantity;

use super::num::Lenient;
use super::{AdapterError, Message, reading};

/// A sensor model behind The Things Stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Dragino LSE01 soil moisture, temperature and conductivity.
    Lse01,
    /// Decentlab DL-TRS21 soil water potential and temperature.
    DlTrs21,
}

impl Model {
    /// The model for an inventory model name (`lse01`, `dl-trs21`).
    pub fn from_name(name: &str) -> Option<Model> {
        match name {
            "lse01" => Some(Model::Lse01),
            "dl-trs21" => Some(Model::DlTrs21),
            _ => None,
        }
    }

    /// Decodes an uplink from this model.
    pub fn decode(self, payload: &[u8]) -> Result<Message, AdapterError> {
        match self {
            Model::Lse01 => decode_with::<Lse01Decoded>(payload, 2, lse01_frame),
            Model::DlTrs21 => decode_with::<TrsDecoded>(payload, 1, trs21_frame),
        }
    }
}

/// Decodes an uplink from an LSE01.
pub fn decode_lse01(payload: &[u8]) -> Result<Message, AdapterError> {
    Model::Lse01.decode(payload)
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
type FrameDecoder = fn(&[u8]) -> Result<BTreeMap<Quantity, f64>, AdapterError>;

/// A model's formatter output.
trait Formatted {
    fn values(&self) -> Result<BTreeMap<Quantity, f64>, AdapterError>;
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
    fn values(&self) -> Result<BTreeMap<Quantity, f64>, AdapterError> {
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
    fn values(&self) -> Result<BTreeMap<Quantity, f64>, AdapterError> {
        let mut out = BTreeMap::new();
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

/// Water potential (≤ 0 kPa) → soil water tension (≥ 0 kPa). A positive potential is a misconfiguration.
fn tension(potential_kpa: f64) -> Result<f64, AdapterError> {
    if potential_kpa > 0.0 {
        return Err(AdapterError::Field {
            field: "decoded_payload.water_potential.value".into(),
            problem: format!("water potential {potential_kpa} kPa is positive; expected ≤ 0"),
        });
    }
    Ok(-potential_kpa)
}

/// Decodes the 11-byte LSE01 frame the way Dragino's `lse01.js` does.
pub fn lse01_frame(b: &[u8]) -> Result<BTreeMap<Quantity, f64>, AdapterError> {
    if b.len() != 11 {
        return Err(AdapterError::Frame(format!(
            "LSE01 frame has {} bytes, expected 11",
            b.len()
        )));
    }
    let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let i16_at = |i: usize| i16::from_be_bytes([b[i], b[i + 1]]);
    // Like `lse01.js` (whose official example has flags 0x90), byte 10 is not interpreted here. Firmware
    // 1.2.1 in raw mode is recognised by its decoder's `Raw_*` fields in `decoded_payload` instead.
    Ok(BTreeMap::from([
        (Quantity::BatteryVoltage, f64::from(u16_at(0) & 0x3FFF) / 1000.0),
        (Quantity::Temperature, f64::from(i16_at(2)) / 10.0),
        (Quantity::SoilMoisture, f64::from(u16_at(4)) / 100.0),
        (Quantity::SoilTemperature, f64::from(i16_at(6)) / 100.0),
        (Quantity::SoilConductivity, f64::from(u16_at(8))),
    ]))
}

/// Decodes a DL-TRS21 protocol-v2 frame.
pub fn trs21_frame(b: &[u8]) -> Result<BTreeMap<Quantity, f64>, AdapterError> {
    let word = |i: usize| {
        b.get(i..i + 2)
            .map(|w| f64::from(u16::from_be_bytes([w[0], w[1]])))
    };
    if b.first() != Some(&2) || b.len() < 5 {
        return Err(AdapterError::Frame("not a Decentlab protocol v2 frame".into()));
    }
    let flags = u16::from_be_bytes([b[3], b[4]]);
    let mut pos = 5;
    let mut out = BTreeMap::new();
    let short = || {
        AdapterError::Frame(format!(
            "DL-TRS21 frame of {} bytes is too short for flags {flags:#06x}",
            b.len()
        ))
    };
    if flags & 1 != 0 {
        let (p, t) = (word(pos).ok_or_else(short)?, word(pos + 2).ok_or_else(short)?);
        out.insert(Quantity::SoilWaterTension, p / 10.0);
        out.insert(Quantity::SoilTemperature, (t - 32768.0) / 10.0);
        pos += 4;
    }
    if flags & 2 != 0 {
        out.insert(Quantity::BatteryVoltage, word(pos).ok_or_else(short)? / 1000.0);
        pos += 2;
    }
    if pos != b.len() {
        return Err(AdapterError::Frame(format!(
            "DL-TRS21 frame has {} bytes, expected {pos}",
            b.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "ttn_tests.rs"]
mod tests;
