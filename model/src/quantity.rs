//! Canonical quantities and their fixed SI units.
//!
//! A reading carries values keyed by [`Quantity`]. Each quantity has exactly one unit, so a value on the bus is
//! never ambiguous: power in W, energy counters in Wh, voltage in V, current in A, frequency in Hz, moisture in
//! %, tension in kPa, temperatures in °C, volumes in m³, volume flow in m³/h. Adapters convert at the edge
//! (kWh → Wh, mWh → Wh, −kPa → kPa, litres → m³). Single-phase devices report their phase quantities as L1. Heat,
//! water and gas meters have their own quantities (`heat_energy`, `volume`, `gas_volume`, …): a medium is told by
//! the quantity, never by reusing an electrical one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A physical unit used on the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unit {
    /// Watt.
    #[serde(rename = "W")]
    Watt,
    /// Volt-ampere (apparent power).
    #[serde(rename = "VA")]
    VoltAmpere,
    /// Volt-ampere reactive.
    #[serde(rename = "var")]
    Var,
    /// Watt-hour (energy counters).
    #[serde(rename = "Wh")]
    WattHour,
    /// Volt.
    #[serde(rename = "V")]
    Volt,
    /// Ampere.
    #[serde(rename = "A")]
    Ampere,
    /// Hertz.
    #[serde(rename = "Hz")]
    Hertz,
    /// Percent (0–100).
    #[serde(rename = "%")]
    Percent,
    /// Degree Celsius.
    #[serde(rename = "°C")]
    Celsius,
    /// Kilopascal (soil water tension, positive = suction).
    #[serde(rename = "kPa")]
    Kilopascal,
    /// Microsiemens per centimetre (soil electrical conductivity).
    #[serde(rename = "µS/cm")]
    MicrosiemensPerCm,
    /// Dimensionless ratio (power factor, −1…1).
    #[serde(rename = "1")]
    Ratio,
    /// Cubic metre (water and gas volume counters).
    #[serde(rename = "m³")]
    CubicMetre,
    /// Cubic metre per hour (volume flow).
    #[serde(rename = "m³/h")]
    CubicMetrePerHour,
}

impl Unit {
    /// The unit's symbol as written in docs and API responses.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Watt => "W",
            Unit::VoltAmpere => "VA",
            Unit::Var => "var",
            Unit::WattHour => "Wh",
            Unit::Volt => "V",
            Unit::Ampere => "A",
            Unit::Hertz => "Hz",
            Unit::Percent => "%",
            Unit::Celsius => "°C",
            Unit::Kilopascal => "kPa",
            Unit::MicrosiemensPerCm => "µS/cm",
            Unit::Ratio => "1",
            Unit::CubicMetre => "m³",
            Unit::CubicMetrePerHour => "m³/h",
        }
    }
}

/// Whether a quantity is a momentary value or a cumulative counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A momentary value (power, voltage, moisture).
    Gauge,
    /// A monotonically growing total that may reset (energy counters).
    Counter,
}

macro_rules! quantities {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $unit:ident, $kind:ident; )*) => {
        /// A canonical quantity. The serialised name is the key in a reading's `values` and the InfluxDB field.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Quantity {
            $( $(#[$doc])* #[serde(rename = $name)] $variant, )*
        }

        impl Quantity {
            /// Every quantity, in declaration order.
            pub const ALL: &'static [Quantity] = &[$(Quantity::$variant),*];

            /// The canonical name (`active_power`, `energy_import`, …).
            pub fn name(self) -> &'static str {
                match self { $(Quantity::$variant => $name,)* }
            }

            /// The one unit values of this quantity are expressed in.
            pub fn unit(self) -> Unit {
                match self { $(Quantity::$variant => Unit::$unit,)* }
            }

            /// Gauge or counter.
            pub fn kind(self) -> Kind {
                match self { $(Quantity::$variant => Kind::$kind,)* }
            }

            /// Looks a quantity up by its canonical name.
            pub fn from_name(name: &str) -> Option<Quantity> {
                match name { $($name => Some(Quantity::$variant),)* _ => None }
            }
        }
    };
}

quantities! {
    /// Total active power, W; negative means export (feed-in).
    ActivePower = "active_power", Watt, Gauge;
    /// Active power of phase L1, W.
    ActivePowerL1 = "active_power_l1", Watt, Gauge;
    /// Active power of phase L2, W.
    ActivePowerL2 = "active_power_l2", Watt, Gauge;
    /// Active power of phase L3, W.
    ActivePowerL3 = "active_power_l3", Watt, Gauge;
    /// Total apparent power, VA.
    ApparentPower = "apparent_power", VoltAmpere, Gauge;
    /// Total reactive power, var.
    ReactivePower = "reactive_power", Var, Gauge;
    /// Voltage L1-N, V.
    VoltageL1 = "voltage_l1", Volt, Gauge;
    /// Voltage L2-N, V.
    VoltageL2 = "voltage_l2", Volt, Gauge;
    /// Voltage L3-N, V.
    VoltageL3 = "voltage_l3", Volt, Gauge;
    /// Current L1, A.
    CurrentL1 = "current_l1", Ampere, Gauge;
    /// Current L2, A.
    CurrentL2 = "current_l2", Ampere, Gauge;
    /// Current L3, A.
    CurrentL3 = "current_l3", Ampere, Gauge;
    /// Total power factor, −1…1 (sign = direction).
    PowerFactor = "power_factor", Ratio, Gauge;
    /// Grid frequency, Hz.
    Frequency = "frequency", Hertz, Gauge;
    /// Imported active energy counter, Wh.
    EnergyImport = "energy_import", WattHour, Counter;
    /// Exported active energy counter, Wh (kept apart from import, never netted).
    EnergyExport = "energy_export", WattHour, Counter;
    /// Volumetric soil water content, %.
    SoilMoisture = "soil_moisture", Percent, Gauge;
    /// Soil temperature, °C.
    SoilTemperature = "soil_temperature", Celsius, Gauge;
    /// Soil electrical conductivity, µS/cm.
    SoilConductivity = "soil_conductivity", MicrosiemensPerCm, Gauge;
    /// Soil water tension, kPa (positive; 0 = saturated, higher = drier).
    SoilWaterTension = "soil_water_tension", Kilopascal, Gauge;
    /// Air or probe temperature, °C.
    Temperature = "temperature", Celsius, Gauge;
    /// Battery voltage of a battery-powered sensor, V.
    BatteryVoltage = "battery_voltage", Volt, Gauge;
    /// Heat energy counter of a heat meter, Wh (M-Bus reports kWh, MWh or J: converted at the edge).
    HeatEnergy = "heat_energy", WattHour, Counter;
    /// Thermal power of a heat meter, W.
    HeatPower = "heat_power", Watt, Gauge;
    /// Volume counter of a water or heat meter, m³.
    Volume = "volume", CubicMetre, Counter;
    /// Gas volume counter at operating conditions, m³ (kWh only with the site's calorific value and Z factor).
    GasVolume = "gas_volume", CubicMetre, Counter;
    /// Volume flow, m³/h; negative means backward flow.
    VolumeFlow = "volume_flow", CubicMetrePerHour, Gauge;
    /// Flow (supply) temperature of a heat meter, °C.
    FlowTemperature = "flow_temperature", Celsius, Gauge;
    /// Return temperature of a heat meter, °C.
    ReturnTemperature = "return_temperature", Celsius, Gauge;
    /// Imported active energy counter of tariff register 1 (OBIS 1.8.1, HT), Wh; part of `energy_import`.
    EnergyImportT1 = "energy_import_t1", WattHour, Counter;
    /// Imported active energy counter of tariff register 2 (OBIS 1.8.2, NT), Wh; part of `energy_import`.
    EnergyImportT2 = "energy_import_t2", WattHour, Counter;
    /// Volumetric soil water content at the second depth of a multi-depth probe (counted from the top), %;
    /// its first depth is `soil_moisture`, the depths in cm are configured per probe.
    SoilMoisture2 = "soil_moisture_2", Percent, Gauge;
    /// As `soil_moisture_2`, the third depth, %.
    SoilMoisture3 = "soil_moisture_3", Percent, Gauge;
    /// As `soil_moisture_2`, the fourth depth, %.
    SoilMoisture4 = "soil_moisture_4", Percent, Gauge;
}

impl Quantity {
    /// The soil moisture of a probe's depths, from the top: one device with several depths reports its
    /// first as `soil_moisture` (so a single-depth sensor is the one-depth case), the others in order.
    pub const SOIL_MOISTURE_BY_DEPTH: [Quantity; 4] = [
        Quantity::SoilMoisture,
        Quantity::SoilMoisture2,
        Quantity::SoilMoisture3,
        Quantity::SoilMoisture4,
    ];
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &q in Quantity::ALL {
            assert!(seen.insert(q.name()), "duplicate name {}", q.name());
            assert_eq!(Quantity::from_name(q.name()), Some(q));
            let json = serde_json::to_string(&q).expect("serialises");
            assert_eq!(json, format!("\"{}\"", q.name()));
        }
        assert_eq!(Quantity::from_name("energy_total"), None);
    }

    #[test]
    fn energy_is_a_counter_in_wh() {
        for q in [
            Quantity::EnergyImport,
            Quantity::EnergyExport,
            Quantity::EnergyImportT1,
            Quantity::EnergyImportT2,
        ] {
            assert_eq!(q.unit(), Unit::WattHour);
            assert_eq!(q.kind(), Kind::Counter);
        }
        assert_eq!(Quantity::ActivePower.kind(), Kind::Gauge);
    }

    #[test]
    fn a_probe_reports_every_depth_as_moisture() {
        for q in Quantity::SOIL_MOISTURE_BY_DEPTH {
            assert_eq!((q.unit(), q.kind()), (Unit::Percent, Kind::Gauge));
        }
        assert_eq!(
            Quantity::from_name("soil_moisture_3"),
            Some(Quantity::SoilMoisture3)
        );
    }

    #[test]
    fn heat_water_and_gas_quantities_have_their_units() {
        assert_eq!(Quantity::HeatEnergy.unit(), Unit::WattHour);
        assert_eq!(Quantity::HeatEnergy.kind(), Kind::Counter);
        for q in [Quantity::Volume, Quantity::GasVolume] {
            assert_eq!((q.unit().symbol(), q.kind()), ("m³", Kind::Counter));
        }
        assert_eq!(Quantity::VolumeFlow.unit().symbol(), "m³/h");
        assert_eq!(Quantity::FlowTemperature.unit(), Unit::Celsius);
        assert_eq!(
            Quantity::from_name("return_temperature"),
            Some(Quantity::ReturnTemperature)
        );
        assert_eq!(
            serde_json::to_string(&Unit::CubicMetrePerHour).expect("serialises"),
            "\"m³/h\""
        );
    }
}
