//! The shared vocabulary of Zählwerk.
//!
//! Every service speaks in the types defined here: validated identifiers ([`id`]), canonical quantities with
//! their SI units ([`quantity`]), the canonical reading that travels on the bus ([`reading`]), the bus topic
//! layout ([`topic`]), the inventory of sites, devices, trees and API users ([`inventory`]), tariffs and the
//! cost of energy ([`tariff`]), consumption forecasts ([`forecast`]), the municipal energy report
//! ([`report`]), and what analytics publishes: alerts ([`alert`]) and tree statuses ([`tree`]), and the weather
//! feed analytics reads ([`weather`]).
//!
//! Nothing here does I/O. Parsing is strict: an id that could break a topic or an InfluxDB tag, a value that
//! is not finite or a timestamp outside the plausible window is rejected with a typed error, never coerced.

pub mod alert;
pub mod counter;
pub mod forecast;
pub mod holidays;
pub mod id;
pub mod inventory;
pub mod quantity;
pub mod reading;
pub mod report;
pub mod status;
pub mod storage;
pub mod tariff;
pub mod topic;
pub mod tree;
pub mod weather;

pub use id::{Id, IdError};
pub use inventory::{
    Device, DeviceSource, Inventory, KnownDevices, Role, Site, SiteKind, Tree, User, UserToken,
};
pub use quantity::Quantity;
pub use reading::{Reading, ReadingError, SCHEMA_VERSION};
