//! The inventory: sites, their devices and how each is read, trees, and API users.
//!
//! It is part of the TOML config (`[[sites]]`, `[[trees]]`, `[[users]]`) and shared by every service: the
//! gateway reads device sources from it, the API decides visibility from it, analytics learns tree metadata
//! from it. [`Inventory::validate`] reports *every* problem it finds, each with the path of the offending
//! field, so a config can be fixed in one pass.
//!
//! Visibility rule ([`User::sees`]): a user sees a site only if the site is in the user's scope *and* of a kind
//! the user's role may see. A facility manager with scope `["*"]` therefore sees every building but no
//! household; a resident sees exactly one household.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Id;

mod endpoint;
pub use endpoint::{ModbusEndpoint, Parity, SerialSettings};
mod mapping;
pub use mapping::{JsonField, SmlField, obis_quantity, unit_scale};
mod source;
pub use source::{StreamEndpoint, pattern_key, topic_key};
mod send_hours;
pub use send_hours::SendHours;
pub mod advance;
pub use advance::AdvancePayment;
#[cfg(any(test, feature = "fixtures"))]
pub mod builder;
#[cfg(any(test, feature = "fixtures"))]
pub use builder::InventoryBuilder;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

/// What a site is; decides which roles may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// A city building: town hall, school, pool, depot.
    Building,
    /// One private household.
    Household,
    /// A park or street section with trees.
    Park,
    /// A local business (shop, bakery, workshop); one business may have several sites.
    Business,
}

/// How the gateway obtains a device's values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DeviceSource {
    /// Polled over Modbus (TCP, RTU over TCP, or RTU on a serial port).
    Modbus {
        /// Where the meter is reached, see [`ModbusEndpoint`]: `host:port` or `tcp://host:port`,
        /// `rtutcp://host:port`, `rtu:///dev/ttyUSB0?baud=9600&parity=N`.
        endpoint: String,
        /// Modbus unit id (slave address), 1–247.
        #[serde(default = "default_unit_id")]
        unit_id: u8,
        /// Meter profile name (e.g. `sdm630`).
        profile: String,
        /// Poll interval, e.g. `"5s"`.
        #[serde(with = "humantime_serde_compat", default = "default_poll_interval")]
        interval: std::time::Duration,
    },
    /// A Tasmota device publishing `tele/<topic>/SENSOR`, `STATE` and `LWT`.
    Tasmota {
        /// The device's `%topic%` (e.g. `tasmota_A1B2C3`).
        topic: String,
        /// For an SML meter read by Tasmota's script: the meter section's JSON key (e.g. `SML`).
        #[serde(default)]
        sml_section: Option<String>,
        /// For an SML meter: its fields by OBIS code (`1.8.0` → energy_import, `16.7.0` → active_power, …).
        #[serde(default)]
        sml: Vec<SmlField>,
    },
    /// A Shelly Gen2/Gen3 device (Plus/Pro PM, plugs, Pro 3EM) publishing under its MQTT topic prefix.
    Shelly {
        /// The device's `topic_prefix` (by default its id, e.g. `shellypro3em-aabbccddeeff`).
        prefix: String,
        /// The channel read (`switch:N`, `em1:N`, `em1data:N`); a multi-channel device (Pro 2PM/4PM, Pro EM)
        /// is one inventory device per channel, all with the same prefix. Default 0.
        #[serde(default)]
        channel: u8,
    },
    /// Any device publishing JSON, read through per-field JSON pointers.
    Json {
        /// The MQTT topic: exact (`meters/kwh1`), or a pattern whose `+` levels name the device
        /// (`sensors/+/state`, see `topic_key`).
        topic: String,
        /// For a pattern topic: the value of its `+` level(s) (joined by `/` if several) that identifies this
        /// device, e.g. `"kitchen"` for `sensors/kitchen/state`. Default: the device id, so devices named
        /// like the topic level need nothing more. Not allowed for an exact topic.
        #[serde(default)]
        topic_key: Option<String>,
        /// Where each value is and how it converts.
        fields: Vec<JsonField>,
        /// JSON pointer to the measurement time (RFC 3339, or Unix seconds / milliseconds); default: the
        /// receive time.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// A LoRaWAN device behind The Things Stack v3.
    Ttn {
        /// The full uplink topic, `v3/{app}@{tenant}/devices/{device}/up`.
        topic: String,
        /// The device model, selecting the payload mapping: `lse01` or `dl-trs21`.
        model: String,
    },
    /// A wireless M-Bus (OMS) meter heard by receivers that publish its raw telegrams on the gateway's
    /// receiver topics (`[gateway.wmbus]`). Identified by its secondary address: manufacturer and id.
    Wmbus {
        /// The three-letter manufacturer code (FLAG association, e.g. `KAM`, `EFE`), upper case.
        manufacturer: String,
        /// The 8-digit meter id as printed on the meter (e.g. `12345678`).
        id: String,
        /// The meter's AES-128 key, 32 hex digits, for security modes 5 and 7. A secret: never logged, never
        /// serialized back (an exported inventory has no key); prefer an environment override to the file.
        #[serde(default, skip_serializing)]
        key: Option<MeterKey>,
        /// The local hours it is expected to send in (`"6-22"`, see [`SendHours`]; the time zone is
        /// `gateway.wmbus.timezone`); the gateway's freshness alarm fires only inside them. Default: always.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        send_hours: Option<SendHours>,
    },
    /// A wired M-Bus meter polled by the gateway (REQ_UD2/RSP_UD) through an M-Bus/Ethernet gateway or a
    /// serial level converter. Meters on one endpoint share its bus, one request at a time.
    Mbus {
        /// `host:port` or `tcp://host:port` (M-Bus/Ethernet gateway, transparent), or
        /// `serial:///dev/ttyUSB0?baud=2400&parity=E` (see [`StreamEndpoint`]; serial default 2400 Bd 8E1).
        endpoint: String,
        /// Primary address 1–250 (give this or `secondary`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<u8>,
        /// Secondary address: the 8-digit meter id, selected via SND_UD to address 253 before each read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secondary: Option<String>,
        /// Poll interval, e.g. `"60s"`; at least 1 s.
        #[serde(with = "humantime_serde_compat", default = "default_mbus_interval")]
        interval: std::time::Duration,
    },
    /// An electricity meter's SML push stream from an optical reading head: over TCP (ser2net) or a local
    /// serial port (9600 Bd 8N1 unless given).
    Sml {
        /// `host:port` / `tcp://host:port`, or `serial:///dev/ttyUSB0?baud=9600` (see [`StreamEndpoint`]).
        endpoint: String,
    },
}

/// A wireless M-Bus meter's AES key as configured: 32 hex digits, held as a secret (its `Debug` shows
/// nothing; it cannot be serialized).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct MeterKey(secrecy::SecretString);

impl MeterKey {
    /// A key from its hex text (tests, builders).
    pub fn new(hex: &str) -> Self {
        Self(hex.into())
    }

    /// The hex text, for the one place that decrypts with it.
    pub fn expose(&self) -> &str {
        use secrecy::ExposeSecret as _;
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for MeterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MeterKey([redacted])")
    }
}

/// Keys compare by value (inventory equality in tests); the comparison does not reveal the key.
impl PartialEq for MeterKey {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

fn default_unit_id() -> u8 {
    1
}
fn default_poll_interval() -> std::time::Duration {
    std::time::Duration::from_secs(5)
}
fn default_mbus_interval() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

/// Durations as humantime strings ("5s", "1m 30s") without pulling a dependency into the model crate's API.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        crate::inventory::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Parses `"250ms"`, `"5s"`, `"2m"`, `"1h"` (one number, one unit).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. \"5s\""))?;
    let ms = match unit.trim() {
        "ms" => n,
        "s" => n * 1000,
        "m" | "min" => n * 60_000,
        "h" => n * 3_600_000,
        _ => return Err(format!("invalid duration {s:?}: unit must be ms, s, m or h")),
    };
    Ok(std::time::Duration::from_millis(ms))
}

/// One device at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Globally unique device id.
    pub id: Id,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Device class, one of [`DEVICE_CLASSES`] (e.g. `main_meter`, `plug`, `heat_pump`, `soil_sensor`), or
    /// empty for none; decides per-class limits, left-on monitoring, site totals and usage hours.
    #[serde(default)]
    pub class: String,
    /// How the gateway reads it.
    pub source: DeviceSource,
}

/// A building, household or park.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Unique site id.
    pub id: Id,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Building, household or park.
    pub kind: SiteKind,
    /// Building category, for the energy report's comparison values; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<crate::report::BuildingCategory>,
    /// Floor area (Nettogrundfläche), m², for kWh/m² in the ranking and the energy report; positive; absent:
    /// `api.floor_area_m2` may still name it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_area_m2: Option<f64>,
    /// The site's devices.
    #[serde(default)]
    pub devices: Vec<Device>,
}

/// A tree watched by soil sensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tree {
    /// Unique tree id (e.g. the cadastre number).
    pub id: Id,
    /// The park site the tree stands in.
    pub site: Id,
    /// Botanical name.
    pub species: String,
    /// Year of planting (young trees need water first).
    pub planted: u16,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// Soil sensor device ids at this tree.
    #[serde(default)]
    pub sensors: Vec<Id>,
    /// The town district (Stadtbezirk) it stands in, for the watering season report; none: its park.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
}

/// What an API user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees the city buildings in scope.
    FacilityManager,
    /// Sees exactly one household.
    Resident,
    /// Sees parks and their trees.
    Parks,
    /// Sees its own business sites (one business may have several).
    Business,
    /// Sees everything.
    Admin,
}

impl Role {
    /// The site kinds this role may ever see.
    pub fn may_see(self, kind: SiteKind) -> bool {
        matches!(
            (self, kind),
            (Role::Admin, _)
                | (Role::FacilityManager, SiteKind::Building)
                | (Role::Resident, SiteKind::Household)
                | (Role::Parks, SiteKind::Park)
                | (Role::Business, SiteKind::Business)
        )
    }
}

/// An API user; authenticated by a bearer token whose SHA-256 is stored here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User name (for logs and audit, never the token).
    pub name: Id,
    /// Role.
    pub role: Role,
    /// Site ids the user may see, or `["*"]` for every site the role may see.
    pub scope: Vec<String>,
    /// Lower-case hex SHA-256 of the bearer token. Tokens are random (≥ 128 bit), so a fast hash suffices.
    pub token_sha256: String,
    /// When `token_sha256` stops being accepted (RFC 3339, or a date meaning 00:00 UTC); absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "instant_opt")]
    pub token_expires: Option<DateTime<Utc>>,
    /// Further tokens of the same user, each with its own expiry: to rotate, add the new token here, hand it
    /// out, and let the old one expire (both are valid during the overlap).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<UserToken>,
    /// Start of the user's scope in time (a resident's move-in; RFC 3339, or a date meaning 00:00 UTC):
    /// nothing measured before it is ever returned to this user. Absent: no start.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "instant_opt")]
    pub since: Option<DateTime<Utc>>,
}

/// One more bearer token of a [`User`] (`users[].tokens`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserToken {
    /// Lower-case hex SHA-256 of the token.
    pub sha256: String,
    /// When the token stops being accepted (RFC 3339, or a date meaning 00:00 UTC); absent: never.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "instant_opt")]
    pub expires: Option<DateTime<Utc>>,
}

/// Optional instants written as RFC 3339 (`2026-03-01T00:00:00+01:00`) or as a date (`2026-03-01`, 00:00 UTC).
mod instant_opt {
    use chrono::{DateTime, NaiveDate, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&t.to_rfc3339()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_instant(&s)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }

    /// Used by [`super::parse_instant`].
    pub(super) fn parse(s: &str) -> Result<DateTime<Utc>, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(t.with_timezone(&Utc));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .ok_or_else(|| {
                format!("{s:?} is neither RFC 3339 (2026-03-01T00:00:00+01:00) nor a date (2026-03-01)")
            })
    }
}

/// Parses an instant as `users[].since` and the token expiries take it: RFC 3339, or a date (00:00 UTC).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    instant_opt::parse(s.trim())
}

impl User {
    /// Whether this user may see `site`: in scope and of a kind the role allows.
    pub fn sees(&self, site: &Site) -> bool {
        self.role.may_see(site.kind) && self.scope.iter().any(|s| s == "*" || s == site.id.as_str())
    }

    /// Every token hash of the user with its expiry: `token_sha256` first, then `tokens`.
    pub fn token_hashes(&self) -> impl Iterator<Item = (&str, Option<DateTime<Utc>>)> {
        std::iter::once((self.token_sha256.as_str(), self.token_expires))
            .chain(self.tokens.iter().map(|t| (t.sha256.as_str(), t.expires)))
    }

    /// `t` moved to the start of the user's scope in time ([`User::since`]) if it is earlier.
    pub fn clamp_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.since.map_or(t, |s| t.max(s))
    }
}

/// Hex SHA-256 of a bearer token, as stored in [`User::token_sha256`].
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The site of every inventory device, for checking that a reading's site/device pair is one the inventory
/// knows (ingest, analytics and the API accept no other).
#[derive(Debug, Clone, Default)]
pub struct KnownDevices(HashMap<String, String>);

impl KnownDevices {
    /// Device id → site id of every device of `inv`.
    pub fn of(inv: &Inventory) -> Self {
        Self(
            inv.devices()
                .map(|(s, d)| (d.id.to_string(), s.id.to_string()))
                .collect(),
        )
    }

    /// Whether `device` is an inventory device at `site`.
    pub fn contains(&self, site: &str, device: &str) -> bool {
        self.0.get(device).is_some_and(|s| s == site)
    }

    /// Whether the inventory has no device at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sites, devices, trees and users.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Sites with their devices.
    #[serde(default)]
    pub sites: Vec<Site>,
    /// Trees in parks.
    #[serde(default)]
    pub trees: Vec<Tree>,
    /// API users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Tariff versions and the sites they apply to (`[[tariffs]]`, see [`crate::tariff`]).
    #[serde(default)]
    pub tariffs: Vec<crate::tariff::Tariff>,
    /// Consumption and cost budgets per site and year (`[[budgets]]`).
    #[serde(default)]
    pub budgets: Vec<crate::tariff::Budget>,
    /// Gas calorific values and Z factors per site from a date on (`[[gas_conversions]]`, see
    /// [`crate::counter::gas`]): a gas meter's m³ become kWh only where one is valid.
    #[serde(default)]
    pub gas_conversions: Vec<crate::counter::gas::GasConversion>,
    /// Monthly advance payments (Abschlag) per household and year (`[[advance_payments]]`, see [`advance`]).
    #[serde(default)]
    pub advance_payments: Vec<AdvancePayment>,
}

impl Inventory {
    /// Every device with its site.
    pub fn devices(&self) -> impl Iterator<Item = (&Site, &Device)> {
        self.sites
            .iter()
            .flat_map(|s| s.devices.iter().map(move |d| (s, d)))
    }

    /// Looks a device up by id.
    pub fn device(&self, id: &str) -> Option<(&Site, &Device)> {
        self.devices().find(|(_, d)| d.id.as_str() == id)
    }

    /// Looks a site up by id.
    pub fn site(&self, id: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.id.as_str() == id)
    }

    /// Reports every problem, each prefixed with the path of the field (`sites[0].devices[1].id: …`).
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        let mut site_ids = HashSet::new();
        let mut device_ids = HashSet::new();
        let mut topics = HashMap::new();
        for (i, site) in self.sites.iter().enumerate() {
            if !site_ids.insert(site.id.as_str()) {
                errors.push(format!("sites[{i}].id: duplicate site id {:?}", site.id.as_str()));
            }
            if let Some(a) = site.floor_area_m2
                && !(a.is_finite() && a > 0.0)
            {
                errors.push(format!("sites[{i}].floor_area_m2: {a} is not a positive area"));
            }
            for (j, dev) in site.devices.iter().enumerate() {
                let path = format!("sites[{i}].devices[{j}]");
                if !device_ids.insert(dev.id.as_str()) {
                    errors.push(format!("{path}.id: duplicate device id {:?}", dev.id.as_str()));
                }
                if !dev.class.is_empty() && !DEVICE_CLASSES.contains(&dev.class.as_str()) {
                    errors.push(format!(
                        "{path}.class: unknown device class {:?}; allowed: {}",
                        dev.class,
                        DEVICE_CLASSES.join(", ")
                    ));
                }
                source::validate(dev, &format!("{path}.source"), &mut topics, &mut errors);
            }
        }
        for (i, tree) in self.trees.iter().enumerate() {
            let path = format!("trees[{i}]");
            match self.site(tree.site.as_str()) {
                None => errors.push(format!("{path}.site: unknown site {:?}", tree.site.as_str())),
                Some(s) if s.kind != SiteKind::Park => {
                    errors.push(format!("{path}.site: site {:?} is not a park", s.id.as_str()))
                }
                Some(s) => {
                    for (k, sensor) in tree.sensors.iter().enumerate() {
                        if !s.devices.iter().any(|d| &d.id == sensor) {
                            errors.push(format!(
                                "{path}.sensors[{k}]: no device {:?} at site {:?}",
                                sensor.as_str(),
                                s.id.as_str()
                            ));
                        }
                    }
                }
            }
            if !(-90.0..=90.0).contains(&tree.lat) || !(-180.0..=180.0).contains(&tree.lon) {
                errors.push(format!(
                    "{path}: coordinates ({}, {}) are not valid WGS84",
                    tree.lat, tree.lon
                ));
            }
            if !(1800..=2100).contains(&tree.planted) {
                errors.push(format!("{path}.planted: year {} is implausible", tree.planted));
            }
        }
        let mut hashes = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            let path = format!("users[{i}]");
            self.validate_user(user, &path, &mut errors);
            for (k, (h, _)) in user.token_hashes().enumerate() {
                let field = match k {
                    0 => format!("{path}.token_sha256"),
                    k => format!("{path}.tokens[{}].sha256", k - 1),
                };
                if h.len() != 64
                    || !h
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                {
                    errors.push(format!("{field}: must be 64 lower-case hex digits"));
                } else if !hashes.insert(h) {
                    errors.push(format!("{field}: the same token is used twice"));
                }
            }
        }
        errors.extend(crate::tariff::validate(&self.tariffs, &self.budgets, &self.sites));
        errors.extend(crate::forecast::media::validate_budgets(
            &self.budgets,
            &self.sites,
            &self.gas_conversions,
        ));
        errors.extend(crate::counter::gas::validate(&self.gas_conversions, &self.sites));
        errors.extend(advance::validate(&self.advance_payments, &self.sites));
        errors
    }

    fn validate_user(&self, user: &User, path: &str, errors: &mut Vec<String>) {
        if user.scope.is_empty() {
            errors.push(format!("{path}.scope: must name at least one site or \"*\""));
        }
        for (k, s) in user.scope.iter().enumerate() {
            if s == "*" {
                if user.role == Role::Resident {
                    errors.push(format!(
                        "{path}.scope[{k}]: a resident's scope is one household, not \"*\""
                    ));
                }
                continue;
            }
            match self.site(s) {
                None => errors.push(format!("{path}.scope[{k}]: unknown site {s:?}")),
                Some(site) if !user.role.may_see(site.kind) => errors.push(format!(
                    "{path}.scope[{k}]: role {:?} may not see {:?} site {s:?}",
                    user.role, site.kind
                )),
                Some(_) => {}
            }
        }
        if user.role == Role::Resident && user.scope.len() != 1 {
            errors.push(format!(
                "{path}.scope: a resident's scope is exactly one household"
            ));
        }
    }
}

/// The device classes a device may have (or none, empty): a typo such as `plugs` would silently take a
/// device out of the checks its class decides, so any other class fails validation.
pub const DEVICE_CLASSES: &[&str] = &[
    "main_meter",
    "sub_meter",
    "plug",
    "heater",
    "heat_pump",
    "heat_meter",
    "gas_meter",
    "water_meter",
    "pv_inverter",
    "ev_charger",
    "lighting",
    "ventilation",
    "cooling",
    "soil_sensor",
    "outdoor_temperature",
    "other",
];

/// Models a `ttn` source may name.
pub const TTN_MODELS: &[&str] = &["lse01", "dl-trs21"];

impl DeviceSource {
    /// The source's kind as named in configs, logs and the API (`modbus`, `tasmota`, `shelly`, `ttn`, `json`,
    /// `wmbus`, `mbus`, `sml`).
    pub fn kind(&self) -> &'static str {
        match self {
            DeviceSource::Modbus { .. } => "modbus",
            DeviceSource::Tasmota { .. } => "tasmota",
            DeviceSource::Shelly { .. } => "shelly",
            DeviceSource::Ttn { .. } => "ttn",
            DeviceSource::Json { .. } => "json",
            DeviceSource::Wmbus { .. } => "wmbus",
            DeviceSource::Mbus { .. } => "mbus",
            DeviceSource::Sml { .. } => "sml",
        }
    }
}

#[cfg(test)]
mod tests;
