//! [`Telegram`]: a decoded M-Bus answer (wired RSP_UD or wireless), and its mapping to canonical quantities.
//!
//! The mapping takes only current values (instantaneous, storage 0, tariff 0, subunit 0, no modifying VIFE),
//! the first record of each quantity, and converts at the edge: kWh/MWh/J → Wh, J/h → W, m³/min and m³/s → m³/h.
//! The medium decides between electrical and heat quantities and between water and gas volume.

use thiserror::Error;
use zw_model::Quantity;
use zw_model::reading::Values;

use super::frame::{self, Frame, FrameError};
use super::header::{Identity, Medium, Tpl};
use super::record::{RecordError, Records, parse_records};
use super::vif::Vif;

/// Why bytes are not a decodable wired RSP_UD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Error {
    /// Link layer.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A valid frame that is not a long RSP_UD frame.
    #[error("not an RSP_UD long frame (C {c:#04x})")]
    NotRspUd {
        /// Its C field.
        c: u8,
    },
    /// A CI this crate does not decode.
    #[error("unsupported CI {0:#04x}")]
    UnsupportedCi(u8),
    /// The TPL header is cut short.
    #[error("transport header cut short")]
    ShortHeader,
    /// The wired telegram is encrypted (security mode ≠ 0).
    #[error("encrypted wired telegram (security mode {0})")]
    Encrypted(u8),
    /// Application layer.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A decoded telegram.
#[derive(Debug, Clone, PartialEq)]
pub struct Telegram {
    /// The meter: the TPL identity of CI `72`, else the wireless link layer's; `None` for a wired short header.
    pub meter: Option<Identity>,
    /// The wireless link layer identity (for CI `72` often a radio module, not the meter).
    pub link: Option<Identity>,
    /// Link layer C field.
    pub c_field: u8,
    /// Wired primary address.
    pub primary_address: Option<u8>,
    /// The transport header.
    pub tpl: Tpl,
    /// The records.
    pub records: Records,
}

impl Telegram {
    /// The medium of the meter, if its identity is known.
    pub fn medium(&self) -> Option<Medium> {
        self.meter.map(|m| m.medium())
    }

    /// The current values as canonical quantities.
    pub fn values(&self) -> Values {
        let medium = self.medium();
        let electricity = medium == Some(Medium::Electricity);
        let gas = medium == Some(Medium::Gas);
        let mut out = Values::new();
        for r in self.records.records.iter().filter(|r| r.is_current()) {
            let Some(d) = r.decimal() else { continue };
            let v = d.to_f64();
            let (q, v) = match r.info.vif {
                Vif::EnergyWh if electricity => (Quantity::EnergyImport, v),
                Vif::EnergyJ if electricity => (Quantity::EnergyImport, v / 3600.0),
                Vif::EnergyWh => (Quantity::HeatEnergy, v),
                Vif::EnergyJ => (Quantity::HeatEnergy, v / 3600.0),
                Vif::PowerW if electricity => (Quantity::ActivePower, v),
                Vif::PowerW => (Quantity::HeatPower, v),
                Vif::PowerJh => (Quantity::HeatPower, v / 3600.0),
                Vif::Volume if gas => (Quantity::GasVolume, v),
                Vif::Volume => (Quantity::Volume, v),
                Vif::VolumeFlowPerHour => (Quantity::VolumeFlow, v),
                Vif::VolumeFlowPerMinute => (Quantity::VolumeFlow, v * 60.0),
                Vif::VolumeFlowPerSecond => (Quantity::VolumeFlow, v * 3600.0),
                Vif::FlowTemperature => (Quantity::FlowTemperature, v),
                Vif::ReturnTemperature => (Quantity::ReturnTemperature, v),
                _ => continue,
            };
            if !out.contains_key(&q) {
                out.insert(q, v);
            }
        }
        out
    }
}

/// Decodes a wired RSP_UD long frame (CI `72`, `7A` or `78`, unencrypted).
pub fn decode(bytes: &[u8]) -> Result<Telegram, Error> {
    let Frame::Long { c, a, ci, data } = frame::parse_frame(bytes)? else {
        let c = bytes.get(1).copied().unwrap_or(0);
        return Err(Error::NotRspUd { c });
    };
    if c & 0xCF != frame::C_RSP_UD {
        return Err(Error::NotRspUd { c });
    }
    let tpl = Tpl::parse(ci, data).ok_or(if matches!(ci, 0x72 | 0x7A) {
        Error::ShortHeader
    } else {
        Error::UnsupportedCi(ci)
    })?;
    if tpl.security_mode() != 0 {
        return Err(Error::Encrypted(tpl.security_mode()));
    }
    let records = parse_records(&data[tpl.len..])?;
    Ok(Telegram {
        meter: tpl.identity,
        link: None,
        c_field: c,
        primary_address: Some(a),
        tpl,
        records,
    })
}
