//! The pure core of the wireless M-Bus path: one receiver message in, one [`Outcome`] out. No I/O, the time
//! is passed in. [`Receiver::new`] takes the inventory's `wmbus` meters and their keys (the keys stay in
//! here, as [`zw_meters::wmbus::Key`]s whose `Debug` shows nothing).
//!
//! ```text
//!  payload ─► hex ─► link layer normalized ─► duplicate? ─► decode (key of the meter asked for) ─► Outcome
//! ```

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use zw_meters::mbus::Identity;
use zw_meters::wmbus::{self, Key, KeyStore};
use zw_model::reading::Values;
use zw_model::{DeviceSource, Id, Inventory};

use super::config::WmbusConfig;
use super::dedup::Dedup;
use super::payload::{self, PayloadError};
use super::unknown::{Heard, UnknownMeters};

/// A meter of the inventory.
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    /// Its site.
    pub site: Id,
    /// Its device id.
    pub device: Id,
}

/// What became of one receiver message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Values of a meter of the inventory, in canonical units.
    Reading {
        /// The meter.
        meter: Meter,
        /// Its current values.
        values: Values,
    },
    /// A meter of the inventory sent a telegram without any current value this gateway maps.
    NoValues(Meter),
    /// Heard before within the duplicate window.
    Duplicate,
    /// A meter not in the inventory.
    Unknown(Heard),
    /// A key problem of a meter of the inventory: `wrong_key`, `missing_key` or `not_encrypted`. `first` is
    /// set the first time the meter has this problem (log it once).
    Key {
        /// The meter.
        meter: Meter,
        /// `wrong_key`, `missing_key`, `not_encrypted`.
        reason: &'static str,
        /// First occurrence for this meter and reason.
        first: bool,
    },
    /// The message is not a telegram.
    BadPayload(PayloadError),
    /// The telegram does not decode (bad length, CRC, unsupported CI or security mode, records).
    Undecodable(wmbus::Error),
}

impl Outcome {
    /// The `outcome` label of `zw_gateway_wmbus_telegrams_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Reading { .. } => "reading",
            Self::NoValues(_) => "no_values",
            Self::Duplicate => "duplicate",
            Self::Unknown(_) => "unknown_meter",
            Self::Key { reason, .. } => reason,
            Self::BadPayload(_) => "bad_payload",
            Self::Undecodable(_) => "undecodable",
        }
    }
}

/// A meter's secondary address: manufacturer code (wire u16 without bit 15) and id (BCD bytes).
type Address = (u16, [u8; 4]);

fn address(m: &Identity) -> Address {
    (m.manufacturer.0 & 0x7FFF, m.id.0)
}

/// The secondary address of an inventory entry (`KAM`, `12345678`), if well-formed.
fn parse_address(manufacturer: &str, id: &str) -> Option<Address> {
    let m = manufacturer.as_bytes();
    if m.len() != 3 || !m.iter().all(u8::is_ascii_uppercase) || id.len() != 8 {
        return None;
    }
    let code = m.iter().fold(0u16, |acc, c| (acc << 5) | u16::from(c - 64));
    let d: Vec<u8> = id
        .bytes()
        .map(|b| (b as char).to_digit(16).map(|v| v as u8))
        .collect::<Option<_>>()?;
    // Printed most significant digit first; on the wire the least significant byte first.
    Some((
        code,
        [
            d[6] << 4 | d[7],
            d[4] << 4 | d[5],
            d[2] << 4 | d[3],
            d[0] << 4 | d[1],
        ],
    ))
}

/// Keys by secondary address, remembering which meter the decoder asked about (so that an encrypted
/// telegram of an unknown meter still names its sender).
struct Keys<'a> {
    keys: &'a HashMap<Address, Key>,
    asked: Cell<Option<Identity>>,
}

impl KeyStore for Keys<'_> {
    fn key(&self, meter: &Identity) -> Option<&Key> {
        self.asked.set(Some(*meter));
        self.keys.get(&address(meter))
    }
}

/// The receiver state: meters, keys, recent telegrams, unknown meters, key problems already reported.
pub struct Receiver {
    meters: HashMap<Address, Meter>,
    keys: HashMap<Address, Key>,
    dedup: Dedup,
    unknown: UnknownMeters,
    reported: HashSet<(Address, &'static str)>,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("meters", &self.meters.len())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

/// The inventory's `wmbus` meters and their keys by address (entries that do not validate are left out).
fn meters_of(inventory: &Inventory) -> (HashMap<Address, Meter>, HashMap<Address, Key>) {
    let mut meters = HashMap::new();
    let mut keys = HashMap::new();
    for (site, dev) in inventory.devices() {
        let DeviceSource::Wmbus {
            manufacturer,
            id,
            key,
            ..
        } = &dev.source
        else {
            continue;
        };
        let Some(addr) = parse_address(manufacturer, id) else {
            continue;
        };
        meters.insert(
            addr,
            Meter {
                site: site.id.clone(),
                device: dev.id.clone(),
            },
        );
        if let Some(k) = key.as_ref().and_then(|k| Key::from_hex(k.expose())) {
            keys.insert(addr, k);
        }
    }
    (meters, keys)
}

impl Receiver {
    /// The inventory's `wmbus` meters (entries that do not validate are left out; validation reports them).
    pub fn new(cfg: &WmbusConfig, inventory: &Inventory) -> Self {
        let (meters, keys) = meters_of(inventory);
        Self {
            meters,
            keys,
            dedup: Dedup::new(cfg.duplicate_window, cfg.duplicate_capacity),
            unknown: UnknownMeters::new(cfg.max_unknown),
            reported: HashSet::new(),
        }
    }

    /// Takes the meters and keys of a changed inventory. Recent telegrams and the unknown list stay; a key
    /// problem already reported is reported again once if the meter's key changed (or it left and came
    /// back).
    pub fn update(&mut self, inventory: &Inventory) {
        let (meters, keys) = meters_of(inventory);
        let old_keys = std::mem::replace(&mut self.keys, keys);
        let same_key = |a: &Address, new: &HashMap<Address, Key>| match (old_keys.get(a), new.get(a)) {
            (Some(x), Some(y)) => x == y,
            (None, None) => true,
            _ => false,
        };
        let keys = &self.keys;
        self.reported
            .retain(|(a, _)| meters.contains_key(a) && same_key(a, keys));
        self.meters = meters;
    }

    /// Meters of the inventory this receiver reads.
    pub fn meters(&self) -> usize {
        self.meters.len()
    }

    /// The unknown meters heard, most recent first.
    pub fn unknown(&self) -> &UnknownMeters {
        &self.unknown
    }

    /// Handles one receiver message heard at `now`.
    pub fn handle(&mut self, payload: &[u8], now: DateTime<Utc>) -> Outcome {
        let bytes = match payload::telegram(payload) {
            Ok(b) => b,
            Err(e) => return Outcome::BadPayload(e),
        };
        let mut norm = [0u8; 256];
        let n = match wmbus::link::normalize(&bytes, &mut norm) {
            Ok((n, _)) => n,
            Err(e) => return Outcome::Undecodable(e),
        };
        if self.dedup.is_duplicate(&norm[..n], now) {
            return Outcome::Duplicate;
        }
        let keys = Keys {
            keys: &self.keys,
            asked: Cell::new(None),
        };
        let result = wmbus::decode(&bytes, &keys);
        let asked = keys.asked.get();
        let (sender, reason) = match result {
            Ok(t) => {
                let Some(sender) = t.meter else {
                    return Outcome::Undecodable(wmbus::Error::Truncated);
                };
                match self.meters.get(&address(&sender)) {
                    Some(meter) => {
                        let values = t.values();
                        return if values.is_empty() {
                            Outcome::NoValues(meter.clone())
                        } else {
                            Outcome::Reading {
                                meter: meter.clone(),
                                values,
                            }
                        };
                    }
                    None => return Outcome::Unknown(self.unknown.heard(&sender, &bytes, now)),
                }
            }
            Err(wmbus::Error::MissingKey(_)) => match asked {
                Some(s) if !self.meters.contains_key(&address(&s)) => {
                    return Outcome::Unknown(self.unknown.heard(&s, &bytes, now));
                }
                Some(s) => (s, "missing_key"),
                None => return Outcome::Undecodable(wmbus::Error::Truncated),
            },
            Err(e @ (wmbus::Error::WrongKey(_) | wmbus::Error::NotEncrypted(_))) => {
                let reason = if matches!(e, wmbus::Error::WrongKey(_)) {
                    "wrong_key"
                } else {
                    "not_encrypted"
                };
                match asked {
                    Some(s) => (s, reason),
                    None => return Outcome::Undecodable(e),
                }
            }
            Err(e) => return Outcome::Undecodable(e),
        };
        let addr = address(&sender);
        match self.meters.get(&addr) {
            Some(meter) => Outcome::Key {
                meter: meter.clone(),
                reason,
                first: self.reported.insert((addr, reason)),
            },
            None => Outcome::Unknown(self.unknown.heard(&sender, &bytes, now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_addresses_match_the_wire() {
        // KAM = 0x2C2D; id 12345678 is 78 56 34 12 on the wire.
        assert_eq!(
            parse_address("KAM", "12345678"),
            Some((0x2C2D, [0x78, 0x56, 0x34, 0x12]))
        );
        assert_eq!(parse_address("kam", "12345678"), None);
        assert_eq!(parse_address("KAM", "1234567"), None);
    }
}
