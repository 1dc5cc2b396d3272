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
//!
//! Uplinks are read with the [`zw_jsonscan`] scanner, which skips the metadata (`rx_metadata`, `settings`,
//! ids) without building it; the serde_json decoder in `reference::ttn` (test-only) is the differential
//! reference.

use std::borrow::Cow;

use base64::DecodeSliceError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use zw_model::Quantity;
use zw_model::reading::Values;

use super::Scanner;
use super::num::lenient_bytes;
use super::{AdapterError, Message, reading};
use zw_jsonscan::{KeyIndex, Kind, Seen, is, wrong_type};

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
            Model::Lse01 => decode_with(payload, 2, lse01_decoded, lse01_frame_into),
            Model::DlTrs21 => decode_with(payload, 1, trs21_decoded, trs21_frame_into),
        }
    }
}

/// Decodes an uplink from an LSE01.
pub fn decode_lse01(payload: &[u8]) -> Result<Message, AdapterError> {
    Model::Lse01.decode(payload)
}

/// What an uplink holds that we read.
#[derive(Default)]
struct Uplink<'a> {
    received_at: Option<Cow<'a, [u8]>>,
    message: Option<UplinkMessage<'a>>,
}

#[derive(Default)]
struct UplinkMessage<'a> {
    f_port: u64,
    frm_payload: Option<Cow<'a, [u8]>>,
    /// Whether a (non-null) `decoded_payload` was read into the values.
    decoded: bool,
    received_at: Option<Cow<'a, [u8]>>,
}

/// Decodes a model's raw frame into `out` (empty).
type FrameDecoder = fn(&[u8], &mut Values) -> Result<(), AdapterError>;

/// Reads a model's formatter output (`decoded_payload`) into `out` (empty).
type FormattedDecoder = fn(&mut Scanner<'_>, &mut Values) -> Result<(), AdapterError>;

// The values are written in place, not returned: `Values` is an inline array, and each move of it through
// the layers of `Result` and `Option` was a 184-byte copy (4 % of an LSE01 uplink's decoding, measured).
fn uplink<'a>(
    s: &mut Scanner<'a>,
    formatted: FormattedDecoder,
    values: &mut Values,
) -> Result<Uplink<'a>, AdapterError> {
    let mut up = Uplink::default();
    let mut seen = Seen::default();
    s.object_field("uplink", |s, key| match key {
        b"received_at" => {
            seen.first(0, "received_at")?;
            up.received_at = s.nullable(|s| s.string_bytes("received_at"))?;
            Ok(())
        }
        b"uplink_message" => {
            seen.first(1, "uplink_message")?;
            up.message = s.nullable(|s| message(s, formatted, values))?;
            Ok(())
        }
        _ => s.skip(),
    })?;
    Ok(up)
}

fn message<'a>(
    s: &mut Scanner<'a>,
    formatted: FormattedDecoder,
    values: &mut Values,
) -> Result<UplinkMessage<'a>, AdapterError> {
    let mut m = UplinkMessage::default();
    let mut seen = Seen::default();
    s.object_field("uplink_message", |s, key| {
        match key {
            b"f_port" => {
                seen.first(0, "f_port")?;
                m.f_port = s.unsigned("uplink_message.f_port")?;
            }
            b"frm_payload" => {
                seen.first(1, "frm_payload")?;
                m.frm_payload = s.nullable(|s| s.string_bytes("uplink_message.frm_payload"))?;
            }
            b"decoded_payload" => {
                seen.first(2, "decoded_payload")?;
                m.decoded = s.nullable(|s| formatted(s, values))?.is_some();
            }
            b"received_at" => {
                seen.first(3, "received_at")?;
                m.received_at = s.nullable(|s| s.string_bytes("uplink_message.received_at"))?;
            }
            _ => s.skip()?,
        }
        Ok(())
    })?;
    Ok(m)
}

fn decode_with(
    payload: &[u8],
    port: u64,
    formatted: FormattedDecoder,
    frame: FrameDecoder,
) -> Result<Message, AdapterError> {
    let mut s = Scanner::new(payload);
    let mut values = Values::new();
    let root = uplink(&mut s, formatted, &mut values)?;
    s.end()?;
    let up = root.message.ok_or(AdapterError::NoValues)?;
    let ts = up
        .received_at
        .as_deref()
        .or(root.received_at.as_deref())
        .map(rfc3339)
        .transpose()?;
    // A `decoded_payload` without values we map falls back to the frame, like an absent one.
    if !up.decoded || values.is_empty() {
        let b64 = up.frm_payload.ok_or(AdapterError::NoValues)?;
        let bad = |e: base64::DecodeError| AdapterError::Frame(format!("frm_payload is not base64: {e}"));
        // Frames are a few bytes: decoded on the stack, a heap buffer only for a long one.
        let mut buf = [0u8; 64];
        let long;
        let bytes: &[u8] = match STANDARD.decode_slice(&b64, &mut buf) {
            Ok(n) => &buf[..n],
            Err(DecodeSliceError::DecodeError(e)) => return Err(bad(e)),
            Err(DecodeSliceError::OutputSliceTooSmall) => {
                long = STANDARD.decode(&b64).map_err(bad)?;
                &long
            }
        };
        if up.f_port != port {
            return Err(AdapterError::Frame(format!("unknown fPort {}", up.f_port)));
        }
        frame(bytes, &mut values)?;
    }
    reading(ts, values)
}

/// `received_at` (UTF-8, as read by the scanner): the stack's own form by [`utc_timestamp`], any other
/// through chrono's RFC 3339 parser.
fn rfc3339(b: &[u8]) -> Result<DateTime<Utc>, AdapterError> {
    if let Some(t) = utc_timestamp(b) {
        return Ok(t);
    }
    let s = String::from_utf8_lossy(b);
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AdapterError::Field {
            field: "received_at".into(),
            problem: format!("not RFC 3339: {s:?}"),
        })
}

/// `YYYY-MM-DDTHH:MM:SS[.f]Z` with 1–9 fraction digits, the form The Things Stack writes, read without
/// chrono's general parser; `None` for anything else (other offsets, lowercase, a leap second, an invalid
/// date), which chrono then judges. Where this returns a time, chrono returns the same.
pub(crate) fn utc_timestamp(b: &[u8]) -> Option<DateTime<Utc>> {
    let n = b.len();
    if !(n == 20 || (22..=30).contains(&n))
        || [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (n - 1, b'Z'),
        ]
        .iter()
        .any(|&(i, c)| b[i] != c)
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |a, &c| {
            c.is_ascii_digit().then(|| a * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = if n == 20 {
        0
    } else {
        if b[19] != b'.' {
            return None;
        }
        num(20..n - 1)? * 10u32.pow(30 - n as u32)
    };
    let (sec, min, hour) = (num(17..19)?, num(14..16)?, num(11..13)?);
    if sec > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_nano_opt(hour, min, sec, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// A number, or (Dragino's formatter) a numeric string such as `"24.59"` or `"3.6 V"`.
fn lenient(s: &mut Scanner<'_>, field: &str) -> Result<f64, AdapterError> {
    match s.kind()? {
        Kind::Number => s.number_value(),
        Kind::String => {
            let text = s.string_bytes(field)?;
            lenient_bytes(&text).ok_or_else(|| AdapterError::Field {
                field: field.into(),
                problem: format!(
                    "expected a number or a numeric string, got {:?}",
                    String::from_utf8_lossy(&text)
                ),
            })
        }
        k => Err(wrong_type(field, "a number or a numeric string", k)),
    }
}

/// The LSE01 formatter's fields: key, path named in errors, quantity; `Bat` wins over `BatV` when both are
/// present.
const LSE01_FIELDS: [(&str, &str, Quantity); 6] = [
    ("water_SOIL", "decoded_payload.water_SOIL", Quantity::SoilMoisture),
    (
        "temp_SOIL",
        "decoded_payload.temp_SOIL",
        Quantity::SoilTemperature,
    ),
    (
        "conduct_SOIL",
        "decoded_payload.conduct_SOIL",
        Quantity::SoilConductivity,
    ),
    ("Bat", "decoded_payload.Bat", Quantity::BatteryVoltage),
    ("BatV", "decoded_payload.BatV", Quantity::BatteryVoltage),
    (
        "TempC_DS18B20",
        "decoded_payload.TempC_DS18B20",
        Quantity::Temperature,
    ),
];

/// The LSE01 keys alone, for [`LSE01_INDEX`].
const LSE01_NAMES: [&str; 6] = {
    let mut names = [""; 6];
    let mut i = 0;
    while i < 6 {
        names[i] = LSE01_FIELDS[i].0;
        i += 1;
    }
    names
};

static LSE01_INDEX: KeyIndex = KeyIndex::new(&LSE01_NAMES);

fn lse01_decoded(s: &mut Scanner<'_>, out: &mut Values) -> Result<(), AdapterError> {
    let mut got: [Option<f64>; 6] = [None; 6];
    let mut seen = Seen::default();
    s.object_field("decoded_payload", |s, key| {
        let Some(i) = LSE01_INDEX.find(&LSE01_NAMES, key) else {
            return s.skip();
        };
        let field = LSE01_FIELDS[i].1;
        seen.first(i as u32, field)?;
        got[i] = s.nullable(|s| lenient(s, field))?;
        Ok(())
    })?;
    for (i, (.., q)) in LSE01_FIELDS.iter().enumerate() {
        // `BatV` (index 4) only when `Bat` (index 3) is absent.
        if let Some(v) = got[i]
            && !(i == 4 && got[3].is_some())
        {
            out.insert(*q, v);
        }
    }
    Ok(())
}

fn trs21_decoded(s: &mut Scanner<'_>, out: &mut Values) -> Result<(), AdapterError> {
    // Key, path named in errors.
    const KEYS: [(&str, &str); 3] = [
        ("water_potential", "decoded_payload.water_potential"),
        ("soil_temperature", "decoded_payload.soil_temperature"),
        ("battery_voltage", "decoded_payload.battery_voltage"),
    ];
    let mut got: [Option<f64>; 3] = [None; 3];
    let mut seen = Seen::default();
    s.object_field("decoded_payload", |s, key| {
        let Some(i) = KEYS.iter().position(|(k, _)| is(k, key)) else {
            return s.skip();
        };
        seen.first(i as u32, KEYS[i].1)?;
        got[i] = s.nullable(|s| valued(s, KEYS[i].1))?;
        Ok(())
    })?;
    if let Some(p) = got[0] {
        out.insert(Quantity::SoilWaterTension, tension(p)?);
    }
    if let Some(t) = got[1] {
        out.insert(Quantity::SoilTemperature, t);
    }
    if let Some(b) = got[2] {
        out.insert(Quantity::BatteryVoltage, b);
    }
    Ok(())
}

/// Decentlab's `{"value": -11.7, "unit": "kPa"}`: `value` is required.
fn valued(s: &mut Scanner<'_>, field: &str) -> Result<f64, AdapterError> {
    let mut value = None;
    let mut seen = Seen::default();
    s.object_field(field, |s, key| {
        if key != b"value" {
            return s.skip();
        }
        seen.first(0, field)?;
        value = Some(s.number(field)?);
        Ok(())
    })?;
    value.ok_or_else(|| AdapterError::Field {
        field: field.into(),
        problem: "missing field value".into(),
    })
}

/// Water potential (≤ 0 kPa) → soil water tension (≥ 0 kPa). A positive potential is a misconfiguration.
pub(crate) fn tension(potential_kpa: f64) -> Result<f64, AdapterError> {
    if potential_kpa > 0.0 {
        return Err(AdapterError::Field {
            field: "decoded_payload.water_potential.value".into(),
            problem: format!("water potential {potential_kpa} kPa is positive; expected ≤ 0"),
        });
    }
    Ok(-potential_kpa)
}

/// Decodes the 11-byte LSE01 frame the way Dragino's `lse01.js` does.
pub fn lse01_frame(b: &[u8]) -> Result<Values, AdapterError> {
    let mut out = Values::new();
    lse01_frame_into(b, &mut out)?;
    Ok(out)
}

fn lse01_frame_into(b: &[u8], out: &mut Values) -> Result<(), AdapterError> {
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
    out.extend([
        (Quantity::BatteryVoltage, f64::from(u16_at(0) & 0x3FFF) / 1000.0),
        (Quantity::Temperature, f64::from(i16_at(2)) / 10.0),
        (Quantity::SoilMoisture, f64::from(u16_at(4)) / 100.0),
        (Quantity::SoilTemperature, f64::from(i16_at(6)) / 100.0),
        (Quantity::SoilConductivity, f64::from(u16_at(8))),
    ]);
    Ok(())
}

/// Decodes a DL-TRS21 protocol-v2 frame.
pub fn trs21_frame(b: &[u8]) -> Result<Values, AdapterError> {
    let mut out = Values::new();
    trs21_frame_into(b, &mut out)?;
    Ok(out)
}

fn trs21_frame_into(b: &[u8], out: &mut Values) -> Result<(), AdapterError> {
    let word = |i: usize| {
        b.get(i..i + 2)
            .map(|w| f64::from(u16::from_be_bytes([w[0], w[1]])))
    };
    if b.first() != Some(&2) || b.len() < 5 {
        return Err(AdapterError::Frame("not a Decentlab protocol v2 frame".into()));
    }
    let flags = u16::from_be_bytes([b[3], b[4]]);
    let mut pos = 5;
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
    Ok(())
}

#[cfg(test)]
mod tests;
