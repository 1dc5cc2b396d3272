//! The list of **unknown meters heard**: wireless M-Bus meters whose telegrams reach a receiver but that are
//! not in the inventory, with what an admin needs to adopt one (manufacturer, id, version, device type,
//! medium, when first and last heard, how often, the last telegram's hex). Bounded: when full, the meter
//! heard least recently leaves for a new one.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use zw_meters::mbus::{Identity, Medium};

/// One meter heard that the inventory does not know.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeardMeter {
    /// Three-letter manufacturer code.
    pub manufacturer: String,
    /// 8-digit meter id.
    pub id: String,
    /// Version byte.
    pub version: u8,
    /// Device type byte, two hex digits (`07` water, `04` heat, `03` gas).
    pub device_type: String,
    /// The medium's name (`water`, `heat`, `gas`, … or `other`).
    pub medium: &'static str,
    /// First telegram heard.
    pub first_seen: DateTime<Utc>,
    /// Latest telegram heard.
    pub last_seen: DateTime<Utc>,
    /// Telegrams heard (duplicates not counted).
    pub count: u64,
    /// The latest telegram as hex (for a decoder check before adoption; an encrypted payload stays encrypted).
    pub last_telegram: String,
}

/// The name of a medium, as configs, metrics and the admin's list show it.
pub fn medium_name(m: Medium) -> &'static str {
    match m {
        Medium::Electricity => "electricity",
        Medium::Gas => "gas",
        Medium::Heat => "heat",
        Medium::WarmWater => "warm_water",
        Medium::Water => "water",
        Medium::HeatCostAllocator => "heat_cost_allocator",
        Medium::HeatCooling => "heat_cooling",
        Medium::ColdWater => "cold_water",
        Medium::Other(_) => "other",
    }
}

/// What [`UnknownMeters::heard`] changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The meter, as now listed.
    pub meter: HeardMeter,
    /// First time this meter is listed (log it).
    pub new: bool,
    /// The meter that left the full list for it.
    pub evicted: Option<HeardMeter>,
}

/// The bounded list.
#[derive(Debug)]
pub struct UnknownMeters {
    max: usize,
    meters: HashMap<String, HeardMeter>,
}

impl UnknownMeters {
    /// A list of at most `max` meters.
    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            meters: HashMap::new(),
        }
    }

    /// Notes a telegram of `meter` heard at `now`.
    pub fn heard(&mut self, meter: &Identity, telegram: &[u8], now: DateTime<Utc>) -> Heard {
        let manufacturer = meter.manufacturer.to_string();
        let id = meter.id.to_string();
        let key = format!("{manufacturer}{id}");
        let last_telegram = hex::encode_upper(telegram);
        if let Some(m) = self.meters.get_mut(&key) {
            m.last_seen = now;
            m.count += 1;
            m.version = meter.version;
            m.last_telegram = last_telegram;
            return Heard {
                meter: m.clone(),
                new: false,
                evicted: None,
            };
        }
        let mut evicted = None;
        if self.meters.len() >= self.max
            && let Some(oldest) = self
                .meters
                .iter()
                .min_by_key(|(_, m)| m.last_seen)
                .map(|(k, _)| k.clone())
        {
            evicted = self.meters.remove(&oldest);
        }
        let m = HeardMeter {
            manufacturer,
            id,
            version: meter.version,
            device_type: format!("{:02X}", meter.device_type),
            medium: medium_name(meter.medium()),
            first_seen: now,
            last_seen: now,
            count: 1,
            last_telegram,
        };
        self.meters.insert(key, m.clone());
        Heard {
            meter: m,
            new: true,
            evicted,
        }
    }

    /// The meters listed, most recently heard first.
    pub fn list(&self) -> Vec<HeardMeter> {
        let mut v: Vec<HeardMeter> = self.meters.values().cloned().collect();
        v.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then(a.id.cmp(&b.id)));
        v
    }

    /// Meters listed.
    pub fn len(&self) -> usize {
        self.meters.len()
    }

    /// None listed.
    pub fn is_empty(&self) -> bool {
        self.meters.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use zw_meters::mbus::{Manufacturer, MeterId};

    use super::*;

    fn meter(id: u8) -> Identity {
        Identity {
            id: MeterId([id, 0x34, 0x12, 0x00]),
            manufacturer: Manufacturer(0x2C2D),
            version: 1,
            device_type: 0x07,
        }
    }

    #[test]
    fn a_meter_is_new_once_then_counted_and_the_longest_silent_leaves_a_full_list() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).expect("test data");
        let mut u = UnknownMeters::new(2);
        let a = u.heard(&meter(1), &[1, 2], t0);
        assert!(a.new);
        assert_eq!(a.meter.id, "00123401");
        assert_eq!(a.meter.manufacturer, "KAM");
        assert_eq!((a.meter.medium, a.meter.device_type.as_str()), ("water", "07"));
        let again = u.heard(&meter(1), &[1, 3], t0 + TimeDelta::seconds(5));
        assert!(!again.new);
        assert_eq!(
            (again.meter.count, again.meter.last_telegram.as_str()),
            (2, "0103")
        );
        u.heard(&meter(2), &[2], t0 + TimeDelta::seconds(1));
        let third = u.heard(&meter(3), &[3], t0 + TimeDelta::seconds(6));
        assert_eq!(third.evicted.map(|m| m.id), Some("00123402".into()));
        assert_eq!(u.len(), 2);
        assert_eq!(u.list()[0].id, "00123403");
    }
}
