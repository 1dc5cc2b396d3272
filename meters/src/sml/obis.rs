//! OBIS codes (`A-B:C.D.E*F`) as SML sends them (6 bytes) and the canonical quantity of each register we map.

use std::fmt;

use zw_model::Quantity;

/// An OBIS code as the 6 bytes of an SML `objName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Obis(pub [u8; 6]);

impl Obis {
    /// `1-0:C.D.E*255`.
    pub const fn electricity(c: u8, d: u8, e: u8) -> Self {
        Self([1, 0, c, d, e, 255])
    }

    /// 1-0:1.8.0 import energy, total.
    pub const IMPORT: Self = Self::electricity(1, 8, 0);
    /// 1-0:1.8.1 import energy, tariff 1.
    pub const IMPORT_T1: Self = Self::electricity(1, 8, 1);
    /// 1-0:1.8.2 import energy, tariff 2.
    pub const IMPORT_T2: Self = Self::electricity(1, 8, 2);
    /// 1-0:2.8.0 export energy, total.
    pub const EXPORT: Self = Self::electricity(2, 8, 0);
    /// 1-0:16.7.0 signed sum active power.
    pub const POWER: Self = Self::electricity(16, 7, 0);
    /// 1-0:96.1.0 device id.
    pub const DEVICE_ID: Self = Self::electricity(96, 1, 0);

    /// `C.D.E`, ignoring A, B and F.
    pub fn cde(&self) -> (u8, u8, u8) {
        (self.0[2], self.0[3], self.0[4])
    }

    /// The canonical quantity of an electricity register with the DLMS unit it must carry (30 Wh, 27 W, 35 V,
    /// 33 A, 44 Hz). The tariff registers 1.8.1 and 1.8.2 are `energy_import_t1`/`_t2`.
    pub fn quantity(&self) -> Option<(Quantity, u8)> {
        if self.0[0] != 1 {
            return None;
        }
        Some(match self.cde() {
            (1, 8, 0) => (Quantity::EnergyImport, 30),
            (1, 8, 1) => (Quantity::EnergyImportT1, 30),
            (1, 8, 2) => (Quantity::EnergyImportT2, 30),
            (2, 8, 0) => (Quantity::EnergyExport, 30),
            (16, 7, 0) => (Quantity::ActivePower, 27),
            (36, 7, 0) => (Quantity::ActivePowerL1, 27),
            (56, 7, 0) => (Quantity::ActivePowerL2, 27),
            (76, 7, 0) => (Quantity::ActivePowerL3, 27),
            (32, 7, 0) => (Quantity::VoltageL1, 35),
            (52, 7, 0) => (Quantity::VoltageL2, 35),
            (72, 7, 0) => (Quantity::VoltageL3, 35),
            (31, 7, 0) => (Quantity::CurrentL1, 33),
            (51, 7, 0) => (Quantity::CurrentL2, 33),
            (71, 7, 0) => (Quantity::CurrentL3, 33),
            (14, 7, 0) => (Quantity::Frequency, 44),
            _ => return None,
        })
    }
}

impl fmt::Display for Obis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{}-{}:{}.{}.{}", b[0], b[1], b[2], b[3], b[4])?;
        if b[5] != 255 {
            write!(f, "*{}", b[5])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_maps() {
        assert_eq!(Obis::IMPORT.to_string(), "1-0:1.8.0");
        assert_eq!(Obis([1, 0, 96, 50, 1, 1]).to_string(), "1-0:96.50.1*1");
        assert_eq!(
            Obis::electricity(56, 7, 0).quantity(),
            Some((Quantity::ActivePowerL2, 27))
        );
        assert_eq!(Obis::IMPORT_T1.quantity(), Some((Quantity::EnergyImportT1, 30)));
        assert_eq!(Obis::IMPORT_T2.quantity(), Some((Quantity::EnergyImportT2, 30)));
        assert_eq!(Obis::electricity(1, 8, 3).quantity(), None);
    }
}
