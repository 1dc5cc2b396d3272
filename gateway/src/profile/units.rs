//! Units a profile may declare for a register, and the factor that converts each to the canonical unit of
//! the quantity it maps to (kWh → Wh is × 1000). A unit that does not measure the quantity (kWh for a
//! voltage) is a profile error, so a typo cannot silently scale values by 1000.

use zw_model::Quantity;
use zw_model::quantity::Unit;

/// Every accepted spelling: (spelling, canonical unit, factor to the canonical unit).
const UNITS: &[(&str, Unit, f64)] = &[
    ("W", Unit::Watt, 1.0),
    ("kW", Unit::Watt, 1e3),
    ("VA", Unit::VoltAmpere, 1.0),
    ("kVA", Unit::VoltAmpere, 1e3),
    ("var", Unit::Var, 1.0),
    ("VAr", Unit::Var, 1.0),
    ("kvar", Unit::Var, 1e3),
    ("kVAr", Unit::Var, 1e3),
    ("Wh", Unit::WattHour, 1.0),
    ("kWh", Unit::WattHour, 1e3),
    ("MWh", Unit::WattHour, 1e6),
    ("V", Unit::Volt, 1.0),
    ("kV", Unit::Volt, 1e3),
    ("mV", Unit::Volt, 1e-3),
    ("A", Unit::Ampere, 1.0),
    ("mA", Unit::Ampere, 1e-3),
    ("Hz", Unit::Hertz, 1.0),
    ("%", Unit::Percent, 1.0),
    ("°C", Unit::Celsius, 1.0),
    ("kPa", Unit::Kilopascal, 1.0),
    ("µS/cm", Unit::MicrosiemensPerCm, 1.0),
    ("1", Unit::Ratio, 1.0),
];

/// The factor converting `unit` to `quantity`'s canonical unit, or an error naming what would fit.
pub(crate) fn factor(unit: &str, quantity: Quantity) -> Result<f64, String> {
    let want = quantity.unit();
    match UNITS.iter().find(|(name, _, _)| *name == unit) {
        Some((_, u, f)) if *u == want => Ok(*f),
        _ => {
            let fits: Vec<&str> = UNITS
                .iter()
                .filter(|(_, u, _)| *u == want)
                .map(|(n, _, _)| *n)
                .collect();
            Err(format!(
                "{quantity}: unit {unit:?} does not measure {quantity} (use one of {})",
                fits.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_and_mismatches() {
        let cases = [
            ("kWh", Quantity::EnergyImport, Ok(1000.0)),
            ("Wh", Quantity::EnergyExport, Ok(1.0)),
            ("kW", Quantity::ActivePower, Ok(1000.0)),
            ("V", Quantity::VoltageL1, Ok(1.0)),
            ("1", Quantity::PowerFactor, Ok(1.0)),
        ];
        for (unit, q, want) in cases {
            assert_eq!(factor(unit, q), want, "{unit} {q}");
        }
        let err = factor("kWh", Quantity::VoltageL1).expect_err("mismatch");
        assert!(err.contains("use one of V, kV, mV"), "{err}");
        assert!(factor("furlong", Quantity::Frequency).is_err());
    }
}
