//! Meter profiles as data: which registers hold which canonical quantity, and how to decode them.
//!
//! A profile is a TOML file (shipped ones in `gateway/profiles/`, users' own in `gateway.profile_dirs`).
//! Each value names a function code (3 = holding, 4 = input registers), a **0-based PDU address** (what goes
//! on the wire) *or* the datasheet's register number (`register = 30073`: 3xxxx is FC 04 at number − 30001,
//! 4xxxx is FC 03 at number − 40001; six-digit 3xxxxx/4xxxxx likewise), a data type, a byte/word order, an
//! optional raw scale and offset, the register's unit (converted to the canonical unit: kWh → Wh) and the
//! canonical quantity. The profile also declares the model's request limits, which [`Profile::plan`]
//! honours when it coalesces values into as few requests as possible. Values the model has no register for
//! can be derived from others (`[[derived]]`, see [`Derived`]).

mod decode;
mod derived;
mod plan;
mod set;
mod units;

use serde::Deserialize;
use zw_model::Quantity;

pub use decode::{DecodeError, decode};
pub use derived::Derived;
pub use plan::Request;
pub use set::ProfileSet;

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

/// One value of a profile file, before defaults are applied.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValueDef {
    quantity: Quantity,
    function: Option<u8>,
    address: Option<u16>,
    register: Option<u32>,
    #[serde(rename = "type")]
    data_type: Option<DataType>,
    order: Option<ByteOrder>,
    unit: String,
    #[serde(default = "one")]
    scale: f64,
    #[serde(default)]
    offset: f64,
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
    #[serde(default)]
    derived: Vec<Derived>,
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
    /// Raw scale times the unit's factor to the canonical unit.
    pub scale: f64,
    /// Offset, in the canonical unit.
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
    /// Values computed from the others after each poll.
    pub derived: Vec<Derived>,
}

/// A profile file that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("profile {source_name}: {message}")]
pub struct ProfileError {
    source_name: String,
    message: String,
}

impl ProfileError {
    pub(crate) fn new(source_name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            source_name: source_name.into(),
            message: message.into(),
        }
    }
}

/// The profiles compiled into the binary: (file name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("sdm630.toml", include_str!("../profiles/sdm630.toml")),
    ("sdm120.toml", include_str!("../profiles/sdm120.toml")),
    ("sdm72dm-v2.toml", include_str!("../profiles/sdm72dm-v2.toml")),
    ("janitza-b23.toml", include_str!("../profiles/janitza-b23.toml")),
];

/// Resolves `register`/`address`/`function` of one value; `Err` explains the conflict.
fn locate(v: &ValueDef, default_fc: u8) -> Result<(u8, u16), String> {
    match (v.address, v.register) {
        (Some(a), None) => Ok((v.function.unwrap_or(default_fc), a)),
        (None, Some(n)) => {
            let (fc, base) = match n {
                30_001..=39_999 => (4, 30_001),
                40_001..=49_999 => (3, 40_001),
                300_001..=365_536 => (4, 300_001),
                400_001..=465_536 => (3, 400_001),
                _ => return Err(format!("register {n} is not a 3xxxx/4xxxx register number")),
            };
            if v.function.is_some_and(|f| f != fc) {
                return Err(format!(
                    "register {n} implies function {fc}, not {:?}",
                    v.function
                ));
            }
            Ok((
                fc,
                u16::try_from(n - base).map_err(|_| format!("register {n} out of range"))?,
            ))
        }
        (Some(_), Some(_)) => {
            Err("give either address (0-based) or register (datasheet number), not both".into())
        }
        (None, None) => Err("needs address (0-based PDU address) or register (datasheet number)".into()),
    }
}

impl Profile {
    /// Parses and checks a profile file; `source_name` names it in errors, which list every problem.
    pub fn parse(source_name: &str, text: &str) -> Result<Self, ProfileError> {
        let f: ProfileFile =
            toml::from_str(text).map_err(|e| ProfileError::new(source_name, e.to_string()))?;
        let mut problems = Vec::new();
        if zw_model::Id::new(f.name.clone()).is_err() {
            problems.push(format!("name {:?} must be a-z, 0-9, '-' and '_'", f.name));
        }
        if f.max_registers == 0 || f.max_registers > 125 {
            problems.push(format!("max_registers must be 1..=125, got {}", f.max_registers));
        }
        let mut values = Vec::with_capacity(f.values.len());
        let mut seen = std::collections::HashSet::new();
        for v in &f.values {
            let q = v.quantity;
            let (function, address) = locate(v, f.defaults.function).unwrap_or_else(|e| {
                problems.push(format!("{q}: {e}"));
                (f.defaults.function, 0)
            });
            let factor = units::factor(&v.unit, q).unwrap_or_else(|e| {
                problems.push(e);
                1.0
            });
            let value = Value {
                quantity: q,
                function,
                address,
                data_type: v.data_type.unwrap_or(f.defaults.data_type),
                order: v.order.unwrap_or(f.defaults.order),
                scale: v.scale * factor,
                offset: v.offset,
            };
            if function != 3 && function != 4 {
                problems.push(format!("{q}: function must be 3 or 4"));
            }
            if !v.scale.is_finite() || v.scale == 0.0 || !v.offset.is_finite() {
                problems.push(format!("{q}: scale must be finite and non-zero, offset finite"));
            }
            if u32::from(address) + u32::from(value.data_type.registers()) > 0x1_0000 {
                problems.push(format!("{q}: value runs past address 0xFFFF"));
            }
            if value.data_type.registers() > f.max_registers {
                problems.push(format!("{q}: wider than max_registers"));
            }
            if !seen.insert(q) {
                problems.push(format!("{q}: quantity mapped twice"));
            }
            values.push(value);
        }
        if values.is_empty() {
            problems.push("no values".into());
        }
        let derived = derived::resolve(f.derived, &seen, &mut problems);
        if !problems.is_empty() {
            return Err(ProfileError::new(source_name, problems.join("; ")));
        }
        Ok(Self {
            name: f.name,
            description: f.description,
            max_registers: f.max_registers,
            even_counts: f.even_counts,
            max_gap: f.max_gap,
            values,
            derived,
        })
    }

    /// Decodes the values `req` asked for from its answer `regs` into `values`; each value that does not
    /// decode goes to `on_error` instead (the rest of the answer still counts).
    pub fn decode_response(
        &self,
        req: &Request,
        regs: &[u16],
        values: &mut std::collections::BTreeMap<Quantity, f64>,
        mut on_error: impl FnMut(DecodeError),
    ) {
        for &vi in &req.values {
            let v = &self.values[vi];
            match decode(v, req.address, regs) {
                Ok(x) => {
                    values.insert(v.quantity, x);
                }
                Err(e) => on_error(e),
            }
        }
    }

    /// Adds the derived values whose parts were all read (see [`Derived`]).
    pub fn derive(&self, values: &mut std::collections::BTreeMap<Quantity, f64>) {
        for d in &self.derived {
            d.apply(values);
        }
    }

    /// The built-in profiles.
    pub fn builtin() -> Result<Vec<Profile>, ProfileError> {
        BUILTIN
            .iter()
            .map(|(name, text)| Profile::parse(name, text))
            .collect()
    }
}

#[cfg(test)]
mod tests;
