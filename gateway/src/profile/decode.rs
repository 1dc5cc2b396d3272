//! Register decoding: every data type in every byte/word order, then scale, unit factor and offset.
//!
//! Pure and total: any register slice gives a value or a typed [`DecodeError`], never a panic.

use zw_model::Quantity;

use super::{ByteOrder, DataType, Value};

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

impl DecodeError {
    /// A short, stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Short(_) => "short",
            DecodeError::NotFinite(_) => "not_finite",
        }
    }
}

/// Decodes `value` from `regs`, the registers of a response starting at `base`.
pub fn decode(value: &Value, base: u16, regs: &[u16]) -> Result<f64, DecodeError> {
    let n = usize::from(value.data_type.registers());
    let start = usize::from(value.address.wrapping_sub(base));
    let words = regs
        .get(start..start + n)
        .filter(|_| value.address >= base)
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
