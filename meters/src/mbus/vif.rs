//! The value information field: what a record measures and its decimal scale (EN 13757-3 primary table and the
//! `FD` extension entries the fixtures use). Unknown codes are kept as [`Vif::Other`], never an error.

/// Unit of a duration VIF (`nn` = 0 s, 1 min, 2 h, 3 d).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds.
    Seconds,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Days.
    Days,
}

impl TimeUnit {
    fn from_nn(nn: u8) -> Self {
        match nn & 3 {
            0 => Self::Seconds,
            1 => Self::Minutes,
            2 => Self::Hours,
            _ => Self::Days,
        }
    }
}

/// What a record's value means. The unit is fixed per variant; the scale is [`VifInfo::exp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vif {
    /// Energy, Wh.
    EnergyWh,
    /// Energy, J.
    EnergyJ,
    /// Volume, m³.
    Volume,
    /// Mass, kg.
    Mass,
    /// On time.
    OnTime(TimeUnit),
    /// Operating time.
    OperatingTime(TimeUnit),
    /// Power, W.
    PowerW,
    /// Power, J/h.
    PowerJh,
    /// Volume flow, m³/h.
    VolumeFlowPerHour,
    /// Volume flow, m³/min.
    VolumeFlowPerMinute,
    /// Volume flow, m³/s.
    VolumeFlowPerSecond,
    /// Mass flow, kg/h.
    MassFlow,
    /// Flow temperature, °C.
    FlowTemperature,
    /// Return temperature, °C.
    ReturnTemperature,
    /// Temperature difference, K.
    TemperatureDifference,
    /// External temperature, °C.
    ExternalTemperature,
    /// Pressure, bar.
    Pressure,
    /// Date (type G).
    Date,
    /// Date and time (type F, or I with 6 data bytes).
    DateTime,
    /// Units of a heat cost allocator.
    HcaUnits,
    /// Averaging duration.
    AveragingDuration(TimeUnit),
    /// Actuality duration (age of the values).
    ActualityDuration(TimeUnit),
    /// Fabrication number.
    FabricationNumber,
    /// Enhanced identification.
    EnhancedId,
    /// Bus address.
    BusAddress,
    /// `FD17` error flags (manufacturer-defined bits).
    ErrorFlags,
    /// `FD74` remaining battery lifetime, days.
    BatteryDays,
    /// `FD0C` model/version.
    ModelVersion,
    /// `FD0B` parameter set identification.
    ParameterSet,
    /// `7F`/`FF`: manufacturer-specific; the first VIFE (e.g. Kamstrup `07`, `08`) says which.
    Manufacturer(Option<u8>),
    /// `7C`: plain-text unit (skipped).
    PlainText,
    /// Any other code: the VIF and, for `FB`/`FD`, the extension byte (bit 7 cleared).
    Other(u8, Option<u8>),
}

/// A decoded VIF with its scale and the combinable VIFE flags that change its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VifInfo {
    /// What the value means.
    pub vif: Vif,
    /// Decimal exponent of the value.
    pub exp: i8,
    /// VIFE `3C`: accumulation only of negative contributions (backward flow, WaterStar "backwards").
    pub backward: bool,
    /// Any other combinable VIFE was present: the record is not the plain quantity.
    pub modified: bool,
}

fn e(n: u8, offset: i8) -> i8 {
    n as i8 + offset
}

/// Decodes a primary VIF (bit 7 cleared) other than `7B`/`7D`/`7C`/`7F`.
pub(crate) fn primary(v: u8) -> (Vif, i8) {
    let n3 = v & 7;
    let n2 = v & 3;
    match v {
        0x00..=0x07 => (Vif::EnergyWh, e(n3, -3)),
        0x08..=0x0F => (Vif::EnergyJ, e(n3, 0)),
        0x10..=0x17 => (Vif::Volume, e(n3, -6)),
        0x18..=0x1F => (Vif::Mass, e(n3, -3)),
        0x20..=0x23 => (Vif::OnTime(TimeUnit::from_nn(n2)), 0),
        0x24..=0x27 => (Vif::OperatingTime(TimeUnit::from_nn(n2)), 0),
        0x28..=0x2F => (Vif::PowerW, e(n3, -3)),
        0x30..=0x37 => (Vif::PowerJh, e(n3, 0)),
        0x38..=0x3F => (Vif::VolumeFlowPerHour, e(n3, -6)),
        0x40..=0x47 => (Vif::VolumeFlowPerMinute, e(n3, -7)),
        0x48..=0x4F => (Vif::VolumeFlowPerSecond, e(n3, -9)),
        0x50..=0x57 => (Vif::MassFlow, e(n3, -3)),
        0x58..=0x5B => (Vif::FlowTemperature, e(n2, -3)),
        0x5C..=0x5F => (Vif::ReturnTemperature, e(n2, -3)),
        0x60..=0x63 => (Vif::TemperatureDifference, e(n2, -3)),
        0x64..=0x67 => (Vif::ExternalTemperature, e(n2, -3)),
        0x68..=0x6B => (Vif::Pressure, e(n2, -3)),
        0x6C => (Vif::Date, 0),
        0x6D => (Vif::DateTime, 0),
        0x6E => (Vif::HcaUnits, 0),
        0x70..=0x73 => (Vif::AveragingDuration(TimeUnit::from_nn(n2)), 0),
        0x74..=0x77 => (Vif::ActualityDuration(TimeUnit::from_nn(n2)), 0),
        0x78 => (Vif::FabricationNumber, 0),
        0x79 => (Vif::EnhancedId, 0),
        0x7A => (Vif::BusAddress, 0),
        _ => (Vif::Other(v, None), 0),
    }
}

/// Decodes an `FD` extension code (bit 7 cleared).
pub(crate) fn extension_fd(x: u8) -> (Vif, i8) {
    match x {
        0x0B => (Vif::ParameterSet, 0),
        0x0C => (Vif::ModelVersion, 0),
        0x17 => (Vif::ErrorFlags, 0),
        0x74 => (Vif::BatteryDays, 0),
        _ => (Vif::Other(0xFD, Some(x)), 0),
    }
}
