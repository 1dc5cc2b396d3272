//! Inventories built from types, for tests: [`Inventory::builder`] and short constructors for sites,
//! devices, trees and users, so a test states the few facts it needs instead of writing TOML.
//!
//! Behind the `fixtures` feature (enabled by the workspace's dev-dependencies), never in a service build.
//! Ids are checked as usual and a bad one panics: these are test inputs, written by hand.
//!
//! ```
//! use zw_model::inventory::{Device, Role};
//! use zw_model::Inventory;
//! let inv = Inventory::builder()
//!     .building("school", [Device::modbus("school-main", "127.0.0.1:5020", 1, "sdm630")])
//!     .user("fm", Role::FacilityManager, &["*"], "token-of-fm")
//!     .build();
//! assert!(inv.validate().is_empty());
//! ```

use std::time::Duration;

use super::{Device, DeviceSource, Inventory, JsonField, Role, Site, SiteKind, Tree, User, token_hash};
use crate::{Id, Quantity};

fn id(s: &str) -> Id {
    Id::new(s).unwrap_or_else(|e| panic!("test inventory id {s:?}: {e}"))
}

impl Inventory {
    /// An empty inventory to add sites, trees and users to.
    pub fn builder() -> InventoryBuilder {
        InventoryBuilder::default()
    }
}

/// Adds sites, trees and users in order; [`InventoryBuilder::build`] returns the inventory unvalidated, so a
/// test can build a broken one on purpose.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct InventoryBuilder {
    inventory: Inventory,
}

impl InventoryBuilder {
    /// Adds a site.
    pub fn site(mut self, site: Site) -> Self {
        self.inventory.sites.push(site);
        self
    }

    /// Adds a building with these devices.
    pub fn building(self, id: &str, devices: impl IntoIterator<Item = Device>) -> Self {
        self.site(Site::new(id, SiteKind::Building, devices))
    }

    /// Adds a household with these devices.
    pub fn household(self, id: &str, devices: impl IntoIterator<Item = Device>) -> Self {
        self.site(Site::new(id, SiteKind::Household, devices))
    }

    /// Adds a park with these devices.
    pub fn park(self, id: &str, devices: impl IntoIterator<Item = Device>) -> Self {
        self.site(Site::new(id, SiteKind::Park, devices))
    }

    /// Adds a tree.
    pub fn tree(mut self, tree: Tree) -> Self {
        self.inventory.trees.push(tree);
        self
    }

    /// Adds a user who authenticates with `token` (stored hashed, as in a config).
    pub fn user(mut self, name: &str, role: Role, scope: &[&str], token: &str) -> Self {
        self.inventory
            .users
            .push(User::with_token(name, role, scope, token));
        self
    }

    /// The inventory, as added.
    pub fn build(self) -> Inventory {
        self.inventory
    }
}

impl Site {
    /// A site without a name.
    pub fn new(id: &str, kind: SiteKind, devices: impl IntoIterator<Item = Device>) -> Self {
        Site {
            id: self::id(id),
            name: String::new(),
            kind,
            category: None,
            floor_area_m2: None,
            devices: devices.into_iter().collect(),
        }
    }
}

impl Device {
    /// A device without a name or class.
    pub fn new(id: &str, source: DeviceSource) -> Self {
        Device {
            id: self::id(id),
            name: String::new(),
            class: String::new(),
            source,
        }
    }

    /// A Modbus meter polled every 5 s (the default; see [`Device::every`]).
    pub fn modbus(id: &str, endpoint: &str, unit_id: u8, profile: &str) -> Self {
        Self::new(
            id,
            DeviceSource::Modbus {
                endpoint: endpoint.into(),
                unit_id,
                profile: profile.into(),
                interval: Duration::from_secs(5),
            },
        )
    }

    /// A Tasmota device on `tele/<topic>/…`.
    pub fn tasmota(id: &str, topic: &str) -> Self {
        Self::new(
            id,
            DeviceSource::Tasmota {
                topic: topic.into(),
                sml_section: None,
                sml: Vec::new(),
            },
        )
    }

    /// Channel 0 of a Shelly Gen2+ device (see [`Device::channel`]).
    pub fn shelly(id: &str, prefix: &str) -> Self {
        Self::new(
            id,
            DeviceSource::Shelly {
                prefix: prefix.into(),
                channel: 0,
            },
        )
    }

    /// A LoRaWAN device of `model` (`lse01`, `dl-trs21`) on its full uplink topic.
    pub fn ttn(id: &str, topic: &str, model: &str) -> Self {
        Self::new(
            id,
            DeviceSource::Ttn {
                topic: topic.into(),
                model: model.into(),
            },
        )
    }

    /// A wireless M-Bus meter `manufacturer` + `meter_id` (secondary address), with its AES key if encrypted.
    pub fn wmbus(id: &str, manufacturer: &str, meter_id: &str, key: Option<&str>) -> Self {
        Self::new(
            id,
            DeviceSource::Wmbus {
                manufacturer: manufacturer.into(),
                id: meter_id.into(),
                key: key.map(super::MeterKey::new),
                send_hours: None,
            },
        )
    }

    /// A wired M-Bus meter at primary `address` on `endpoint`, polled every minute.
    pub fn mbus(id: &str, endpoint: &str, address: u8) -> Self {
        Self::new(
            id,
            DeviceSource::Mbus {
                endpoint: endpoint.into(),
                address: Some(address),
                secondary: None,
                interval: std::time::Duration::from_secs(60),
            },
        )
    }

    /// A wired M-Bus meter selected by its 8-digit `secondary` id on `endpoint`, polled every minute.
    pub fn mbus_secondary(id: &str, endpoint: &str, secondary: &str) -> Self {
        Self::new(
            id,
            DeviceSource::Mbus {
                endpoint: endpoint.into(),
                address: None,
                secondary: Some(secondary.into()),
                interval: std::time::Duration::from_secs(60),
            },
        )
    }

    /// An SML meter's push stream on `endpoint` (ser2net `host:port` or `serial:///dev/…`).
    pub fn sml(id: &str, endpoint: &str) -> Self {
        Self::new(
            id,
            DeviceSource::Sml {
                endpoint: endpoint.into(),
            },
        )
    }

    /// A generic JSON device on an exact topic, stamped with the receive time.
    pub fn json(id: &str, topic: &str, fields: impl IntoIterator<Item = JsonField>) -> Self {
        Self::new(
            id,
            DeviceSource::Json {
                topic: topic.into(),
                topic_key: None,
                fields: fields.into_iter().collect(),
                timestamp: None,
            },
        )
    }

    /// For a wireless M-Bus meter: the local hours it sends in (`"6-22"`).
    ///
    /// # Panics
    /// On hours that do not parse (a test's typo) or a device that is no wireless M-Bus meter.
    pub fn send_hours(mut self, hours: &str) -> Self {
        match &mut self.source {
            DeviceSource::Wmbus { send_hours, .. } => {
                *send_hours = Some(super::SendHours::parse(hours).expect("send hours"));
            }
            _ => panic!("send_hours is for wmbus meters"),
        }
        self
    }

    /// With this device class (`main_meter`, `plug`, `soil_sensor`, …).
    pub fn class(mut self, class: &str) -> Self {
        self.class = class.into();
        self
    }

    /// Polled every `period`.
    ///
    /// # Panics
    /// If the device is not a Modbus or wired M-Bus meter.
    pub fn every(mut self, period: Duration) -> Self {
        match &mut self.source {
            DeviceSource::Modbus { interval, .. } | DeviceSource::Mbus { interval, .. } => *interval = period,
            other => panic!("only a Modbus meter is polled, not a {} device", other.kind()),
        }
        self
    }

    /// Reads this channel of a multi-channel Shelly.
    ///
    /// # Panics
    /// If the device is not a Shelly.
    pub fn channel(mut self, n: u8) -> Self {
        match &mut self.source {
            DeviceSource::Shelly { channel, .. } => *channel = n,
            other => panic!("only a Shelly has channels, not a {} device", other.kind()),
        }
        self
    }

    /// On a topic pattern, answers to `key` instead of its id (see [`super::pattern_key`]).
    ///
    /// # Panics
    /// If the device is not a generic JSON device.
    pub fn topic_key(mut self, key: &str) -> Self {
        match &mut self.source {
            DeviceSource::Json { topic_key, .. } => *topic_key = Some(key.into()),
            other => panic!(
                "only a generic JSON device has a topic key, not a {} device",
                other.kind()
            ),
        }
        self
    }
}

impl JsonField {
    /// The number at `pointer` is `quantity` in its canonical unit (scale 1, offset 0).
    pub fn new(pointer: &str, quantity: Quantity) -> Self {
        JsonField {
            pointer: pointer.into(),
            quantity,
            scale: 1.0,
            offset: 0.0,
            numeric_strings: false,
        }
    }

    /// Multiplied by `scale` (kWh → Wh: 1000).
    pub fn scale(mut self, scale: f64) -> Self {
        self.scale = scale;
        self
    }
}

impl Tree {
    /// A small-leaved lime planted in 2015 in Düsseldorf, watched by `sensors`.
    pub fn new(id: &str, site: &str, sensors: &[&str]) -> Self {
        Tree {
            id: self::id(id),
            site: self::id(site),
            species: "Tilia cordata".into(),
            planted: 2015,
            lat: 51.2,
            lon: 6.6,
            sensors: sensors.iter().map(|s| self::id(s)).collect(),
            district: None,
        }
    }
}

impl User {
    /// A user who authenticates with `token`, stored as its [`token_hash`].
    pub fn with_token(name: &str, role: Role, scope: &[&str], token: &str) -> Self {
        User {
            name: self::id(name),
            role,
            scope: scope.iter().map(|s| (*s).to_owned()).collect(),
            token_sha256: token_hash(token),
            token_expires: None,
            tokens: Vec::new(),
            since: None,
        }
    }
}
