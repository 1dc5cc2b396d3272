//! Who sent a telegram: meter id, manufacturer, version and medium (device type), and the transport (TPL)
//! header of CI `72` (long: its own identity) or `7A` (short) with access number, status and the configuration
//! word that announces encryption.

use std::fmt;

/// An 8-digit meter id, kept as the 4 little-endian BCD bytes of the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeterId(pub [u8; 4]);

impl fmt::Display for MeterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02X}{:02X}{:02X}{:02X}", b[3], b[2], b[1], b[0])
    }
}

/// A manufacturer code (FLAG association), the little-endian u16 of the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Manufacturer(pub u16);

impl Manufacturer {
    /// The three letters (`APA`, `KAM`, …); bit 15 is not part of the code.
    pub fn letters(self) -> [u8; 3] {
        let m = self.0;
        [
            ((m >> 10) & 31) as u8 + 64,
            ((m >> 5) & 31) as u8 + 64,
            (m & 31) as u8 + 64,
        ]
    }
}

impl fmt::Display for Manufacturer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.letters() {
            write!(f, "{}", char::from(c))?;
        }
        Ok(())
    }
}

/// What a meter measures: the device type byte (EN 13757-3 table), with the common ones named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Medium {
    /// `02`.
    Electricity,
    /// `03`.
    Gas,
    /// `04` (heat meter, outlet) and `0C` (inlet).
    Heat,
    /// `06` warm water.
    WarmWater,
    /// `07`.
    Water,
    /// `08`.
    HeatCostAllocator,
    /// `0D` heat/cooling.
    HeatCooling,
    /// `16` cold water.
    ColdWater,
    /// Anything else, e.g. `0E` bus/system component (a radio module).
    Other(u8),
}

impl Medium {
    /// The medium of device type `code`.
    pub fn from_code(code: u8) -> Self {
        match code {
            0x02 => Self::Electricity,
            0x03 => Self::Gas,
            0x04 | 0x0C => Self::Heat,
            0x06 => Self::WarmWater,
            0x07 => Self::Water,
            0x08 => Self::HeatCostAllocator,
            0x0D => Self::HeatCooling,
            0x16 => Self::ColdWater,
            c => Self::Other(c),
        }
    }
}

/// Id, manufacturer, version and device type of a meter (or of a radio module in a wireless link layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Identity {
    /// 8-digit id.
    pub id: MeterId,
    /// Manufacturer.
    pub manufacturer: Manufacturer,
    /// Version (generation) byte.
    pub version: u8,
    /// Device type (medium) byte.
    pub device_type: u8,
}

impl Identity {
    /// Reads `id(4) M(2) version type` (the wired long header order).
    pub fn from_id_first(b: &[u8; 8]) -> Self {
        Self {
            id: MeterId([b[0], b[1], b[2], b[3]]),
            manufacturer: Manufacturer(u16::from_le_bytes([b[4], b[5]])),
            version: b[6],
            device_type: b[7],
        }
    }

    /// Reads `M(2) id(4) version type` (the wireless link layer order).
    pub fn from_manufacturer_first(b: &[u8; 8]) -> Self {
        Self {
            id: MeterId([b[2], b[3], b[4], b[5]]),
            manufacturer: Manufacturer(u16::from_le_bytes([b[0], b[1]])),
            version: b[6],
            device_type: b[7],
        }
    }

    /// `M(2) id(4) version type`: the first 8 bytes of the OMS mode-5 IV.
    pub fn manufacturer_first(&self) -> [u8; 8] {
        let m = self.manufacturer.0.to_le_bytes();
        let i = self.id.0;
        [m[0], m[1], i[0], i[1], i[2], i[3], self.version, self.device_type]
    }

    /// The medium of the device type.
    pub fn medium(&self) -> Medium {
        Medium::from_code(self.device_type)
    }
}

/// The transport layer header after CI `72`, `7A` or `78`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tpl {
    /// The CI byte.
    pub ci: u8,
    /// The meter identity of a long header (CI `72`).
    pub identity: Option<Identity>,
    /// Access number (counts telegrams).
    pub access_number: u8,
    /// Status byte (bit 2 power low, bits 0–1 application errors, …).
    pub status: u8,
    /// Configuration word (signature): security mode and number of encrypted blocks.
    pub config: u16,
    /// Header length after CI in bytes.
    pub len: usize,
}

impl Tpl {
    /// Parses the header of `ci` at the start of `data`; `None` for a CI this crate does not know or a header
    /// cut short.
    pub fn parse(ci: u8, data: &[u8]) -> Option<Self> {
        let (identity, rest, len) = match ci {
            0x72 => {
                let id: &[u8; 8] = data.get(..8)?.try_into().ok()?;
                (Some(Identity::from_id_first(id)), data.get(8..12)?, 12)
            }
            0x7A => (None, data.get(..4)?, 4),
            0x78 => {
                return Some(Self {
                    ci,
                    identity: None,
                    access_number: 0,
                    status: 0,
                    config: 0,
                    len: 0,
                });
            }
            _ => return None,
        };
        Some(Self {
            ci,
            identity,
            access_number: rest[0],
            status: rest[1],
            config: u16::from_le_bytes([rest[2], rest[3]]),
            len,
        })
    }

    /// OMS security mode (0 = none, 5 = AES-128-CBC with IV, 7 = AES-128-CBC with derived key).
    pub fn security_mode(&self) -> u8 {
        ((self.config >> 8) & 0x1F) as u8
    }

    /// Number of encrypted 16-byte blocks (modes 5 and 7).
    pub fn encrypted_blocks(&self) -> usize {
        usize::from((self.config >> 4) & 0x0F)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_renders_like_wmbusmeters() {
        let i = Identity::from_manufacturer_first(&[0xAE, 0x4C, 0x44, 0x55, 0x22, 0x33, 0x68, 0x07]);
        assert_eq!(
            (i.id.to_string(), i.manufacturer.to_string()),
            ("33225544".into(), "SEN".into())
        );
        assert_eq!(i.medium(), Medium::Water);
        assert_eq!(Identity::from_manufacturer_first(&i.manufacturer_first()), i);
        // Bit 15 set is not part of the letters.
        assert_eq!(
            Manufacturer(0x8000 | 0x1596).to_string(),
            Manufacturer(0x1596).to_string()
        );
    }
}
