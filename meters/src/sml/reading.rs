//! [`SmlReading`]: the registers of one SML file, its meter id, and the corrections this workspace applies.
//!
//! **DZG sign quirk** (libsml #59, #66, #105, #136): DZG DVS74 meters with serial 42 000 000–48 999 999 or
//! 55 000 000–58 999 999 send 1-0:16.7.0 values of 327.68–655.36 W as an unsigned 16-bit number inside a signed
//! TL. For exactly those serials a 16.7.0 sent as a signed integer of at most 2 bytes is read as unsigned; every
//! other meter, including newer DZG models that encode correctly, is left alone.
//!
//! **PIN-less meters** send 1.8.0 with scaler +3 (whole kWh) and no 16.7.0; [`SmlReading::energy_resolution_wh`]
//! says so, so that series can be labelled and no power is derived from kWh steps.

use zw_model::reading::Values;

use super::Obis;
use crate::Decimal;

/// One numeric register of a GetList response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// The OBIS code.
    pub obis: Obis,
    /// DLMS unit code (30 Wh, 27 W, 35 V, 33 A, 44 Hz), if sent.
    pub unit: Option<u8>,
    /// The value after the scaler (and the DZG correction where it applies).
    pub value: Decimal,
}

/// The decoded content of one SML file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmlReading {
    /// The server id bytes (usually 10: `0A 01 FLAG block serial`).
    pub server_id: Vec<u8>,
    /// The numeric registers in file order.
    pub registers: Vec<Register>,
    /// The DZG sign correction changed 16.7.0 in this file.
    pub dzg_corrected: bool,
}

impl SmlReading {
    /// The register with `obis`.
    pub fn register(&self, obis: Obis) -> Option<&Register> {
        self.registers.iter().find(|r| r.obis == obis)
    }

    /// The meter id as printed on the meter, `1DZG0042082910`, for a 10-byte server id starting `0A`.
    pub fn meter_id(&self) -> Option<String> {
        let s = &self.server_id;
        if s.len() != 10 || s[0] != 0x0A || !s[2..5].iter().all(u8::is_ascii_alphanumeric) {
            return None;
        }
        let flag = std::str::from_utf8(&s[2..5]).ok()?;
        Some(format!("{:X}{flag}{:02}{:08}", s[1], s[5], serial(s)?))
    }

    /// Resolution of the import energy register in Wh (1000 for a PIN-less meter sending whole kWh).
    pub fn energy_resolution_wh(&self) -> Option<f64> {
        self.register(Obis::IMPORT)
            .map(|r| Decimal::new(1, r.value.exp).to_f64())
    }

    /// The registers with a canonical quantity whose unit matches, converted (Wh, W, V, A, Hz).
    pub fn values(&self) -> Values {
        let mut out = Values::new();
        for r in &self.registers {
            match r.obis.quantity() {
                Some((q, unit)) if r.unit.is_none_or(|u| u == unit) && !out.contains_key(&q) => {
                    out.insert(q, r.value.to_f64());
                }
                _ => {}
            }
        }
        out
    }
}

fn serial(server_id: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(server_id.get(6..10)?.try_into().ok()?))
}

/// DZG DVS74 serials with the unsigned-in-signed 16.7.0 (per DZG, libsml PR #136).
pub(super) fn dzg_affected(server_id: &[u8]) -> bool {
    server_id.get(2..5) == Some(b"DZG")
        && serial(server_id)
            .is_some_and(|s| (42_000_000..=48_999_999).contains(&s) || (55_000_000..=58_999_999).contains(&s))
}
