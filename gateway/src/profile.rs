//! Meter profiles as data: which registers hold which canonical quantity, and how to decode them.
//!
//! A profile is a TOML file (see `gateway/profiles/`). Each value names a function code (3 or 4), a 0-based PDU
//! address, a data type, a byte/word order, an optional scale and offset, and the canonical quantity. The
//! profile also declares the model's request limits, which [`Profile::plan`] honours when it coalesces values
//! into as few requests as possible.

use serde::Deserialize;
use zw_model::Quantity;

/// Register data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit.
    I16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
    /// Unsigned 64-bit.
    U64,
    /// Signed 64-bit.
    I64,
    /// IEEE-754 single precision.
    F32,
    /// IEEE-754 double precision.
    F64,
}

impl DataType {
    /// Number of 16-bit registers the type spans.
    pub fn registers(self) -> u16 {
        match self {
            DataType::U16 | DataType::I16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 => 2,
            DataType::U64 | DataType::I64 | DataType::F64 => 4,
        }
    }
}

/// Byte order within words and word order within the value, named by the position of the most significant
/// byte `A`: `ABCD` is big-endian (high word first), `CDAB` swaps words, `BADC` swaps bytes, `DCBA` both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ByteOrder {
    /// Big-endian, high word first (Modbus default; Eastron, Janitza).
    ABCD,
    /// Little-endian words and bytes.
    DCBA,
    /// High word first, bytes swapped within each word.
    BADC,
    /// Low word first, bytes big-endian within each word.
    CDAB,
}

/// One value of a profile.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueDef {
    /// The canonical quantity.
    pub quantity: Quantity,
    /// Modbus function code: 3 (holding) or 4 (input registers).
    pub function: Option<u8>,
    /// 0-based PDU address.
    pub address: u16,
    /// Data type.
    #[serde(rename = "type")]
    pub data_type: Option<DataType>,
    /// Byte and word order.
    pub order: Option<ByteOrder>,
    /// Multiplier applied after decoding (e.g. 1000 for kWh → Wh).
    #[serde(default = "one")]
    pub scale: f64,
    /// Added after scaling.
    #[serde(default)]
    pub offset: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Defaults {
    function: u8,
    #[serde(rename = "type")]
    data_type: DataType,
    order: ByteOrder,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    #[serde(default)]
    description: String,
    max_registers: u16,
    #[serde(default)]
    even_counts: bool,
    #[serde(default)]
    max_gap: u16,
    defaults: Defaults,
    values: Vec<ValueDef>,
}

/// A resolved value: every optional field filled from the profile's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The canonical quantity.
    pub quantity: Quantity,
    /// Function code, 3 or 4.
    pub function: u8,
    /// 0-based PDU address.
    pub address: u16,
    /// Data type.
    pub data_type: DataType,
    /// Byte and word order.
    pub order: ByteOrder,
    /// Scale.
    pub scale: f64,
    /// Offset.
    pub offset: f64,
}

/// A meter model's register map and limits.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Profile name, referenced by devices in the inventory.
    pub name: String,
    /// Human description.
    pub description: String,
    /// Largest register count per request.
    pub max_registers: u16,
    /// Whether the model only accepts even register counts.
    pub even_counts: bool,
    /// Largest run of unwanted registers bridged when coalescing.
    pub max_gap: u16,
    /// The values.
    pub values: Vec<Value>,
}

/// One Modbus read request covering several values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Function code.
    pub function: u8,
    /// First register.
    pub address: u16,
    /// Register count.
    pub count: u16,
    /// Indices into [`Profile::values`] answered by this request.
    pub values: Vec<usize>,
}

/// A profile file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("profile {source_name}: {message}")]
pub struct ProfileError {
    source_name: String,
    message: String,
}

/// The profiles compiled into the binary.
pub const BUILTIN: &[(&str, &str)] = &[("sdm630", include_str!("../profiles/sdm630.toml"))];

impl Profile {
    /// Parses and checks a profile file; `source_name` names it in errors.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ProfileError> {
        let err = |message: String| ProfileError {
            source_name: source_name.into(),
            message,
        };
        let f: ProfileFile = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let values: Vec<Value> = f
            .values
            .iter()
            .map(|v| Value {
                quantity: v.quantity,
                function: v.function.unwrap_or(f.defaults.function),
                address: v.address,
                data_type: v.data_type.unwrap_or(f.defaults.data_type),
                order: v.order.unwrap_or(f.defaults.order),
                scale: v.scale,
                offset: v.offset,
            })
            .collect();
        let mut problems = Vec::new();
        if f.max_registers == 0 || f.max_registers > 125 {
            problems.push(format!("max_registers must be 1..=125, got {}", f.max_registers));
        }
        for v in &values {
            if v.function != 3 && v.function != 4 {
                problems.push(format!("{}: function must be 3 or 4", v.quantity));
            }
            if !v.scale.is_finite() || v.scale == 0.0 || !v.offset.is_finite() {
                problems.push(format!(
                    "{}: scale must be finite and non-zero, offset finite",
                    v.quantity
                ));
            }
            if u32::from(v.address) + u32::from(v.data_type.registers()) > 0x1_0000 {
                problems.push(format!("{}: value runs past address 0xFFFF", v.quantity));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for v in &values {
            if !seen.insert(v.quantity) {
                problems.push(format!("{}: quantity mapped twice", v.quantity));
            }
        }
        if !problems.is_empty() {
            return Err(err(problems.join("; ")));
        }
        Ok(Self {
            name: f.name,
            description: f.description,
            max_registers: f.max_registers,
            even_counts: f.even_counts,
            max_gap: f.max_gap,
            values,
        })
    }

    /// The built-in profiles.
    pub fn builtin() -> Result<Vec<Profile>, ProfileError> {
        BUILTIN
            .iter()
            .map(|(name, text)| Profile::parse(name, text))
            .collect()
    }

    /// Coalesces the values into as few requests as the model's limits allow, bridging gaps up to `max_gap`.
    pub fn plan(&self) -> Vec<Request> {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_by_key(|&i| (self.values[i].function, self.values[i].address));
        let mut requests: Vec<Request> = Vec::new();
        for i in order {
            let v = &self.values[i];
            let end = v.address + v.data_type.registers();
            if let Some(r) = requests.last_mut() {
                let r_end = r.address + r.count;
                let fits = r.function == v.function
                    && v.address >= r.address
                    && v.address.saturating_sub(r_end) <= self.max_gap
                    && self.padded(end.max(r_end) - r.address) <= self.max_registers;
                if fits {
                    r.count = end.max(r_end) - r.address;
                    r.values.push(i);
                    continue;
                }
            }
            requests.push(Request {
                function: v.function,
                address: v.address,
                count: end - v.address,
                values: vec![i],
            });
        }
        for r in &mut requests {
            r.count = self.padded(r.count);
        }
        requests
    }

    fn padded(&self, count: u16) -> u16 {
        if self.even_counts && count % 2 == 1 {
            count + 1
        } else {
            count
        }
    }
}

/// Why a value could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The response held fewer registers than the value needs.
    #[error("response too short for {0}")]
    Short(Quantity),
    /// The decoded float is NaN or infinite.
    #[error("{0} decoded to a non-finite number")]
    NotFinite(Quantity),
}

/// Decodes `value` from `regs`, the registers of a response starting at `base`.
pub fn decode(value: &Value, base: u16, regs: &[u16]) -> Result<f64, DecodeError> {
    let n = usize::from(value.data_type.registers());
    let start = usize::from(value.address - base);
    let words = regs
        .get(start..start + n)
        .ok_or(DecodeError::Short(value.quantity))?;
    let mut bytes = [0u8; 8];
    for (i, w) in words.iter().enumerate() {
        bytes[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    let bytes = &mut bytes[..2 * n];
    // Normalise to big-endian ("ABCD") before interpreting.
    match value.order {
        ByteOrder::ABCD => {}
        ByteOrder::DCBA => bytes.reverse(),
        ByteOrder::BADC => bytes.chunks_exact_mut(2).for_each(|c| c.swap(0, 1)),
        ByteOrder::CDAB => {
            let words: Vec<[u8; 2]> = bytes.chunks_exact(2).rev().map(|c| [c[0], c[1]]).collect();
            bytes.copy_from_slice(&words.concat());
        }
    }
    let mut b8 = [0u8; 8];
    b8[8 - bytes.len()..].copy_from_slice(bytes);
    let raw = match value.data_type {
        DataType::U16 | DataType::U32 | DataType::U64 => u64::from_be_bytes(b8) as f64,
        DataType::I16 => f64::from(i16::from_be_bytes([b8[6], b8[7]])),
        DataType::I32 => f64::from(i32::from_be_bytes([b8[4], b8[5], b8[6], b8[7]])),
        DataType::I64 => i64::from_be_bytes(b8) as f64,
        DataType::F32 => f64::from(f32::from_be_bytes([b8[4], b8[5], b8[6], b8[7]])),
        DataType::F64 => f64::from_be_bytes(b8),
    };
    let v = raw * value.scale + value.offset;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(DecodeError::NotFinite(value.quantity))
    }
}

#[cfg(test)]
mod tests;
