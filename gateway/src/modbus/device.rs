//! A device polled over Modbus, as the endpoint plan hands it to its endpoint's task.

use std::sync::Arc;
use std::time::Duration;

use zw_model::Id;

use crate::profile::Profile;

/// A device polled over Modbus.
#[derive(Debug, Clone)]
pub struct PolledDevice {
    /// Site id.
    pub site: Id,
    /// Device id.
    pub device: Id,
    /// Modbus unit id.
    pub unit_id: u8,
    /// Poll interval.
    pub interval: Duration,
    /// The meter profile.
    pub profile: Arc<Profile>,
}

impl PolledDevice {
    /// Whether `other` is polled the same way: site, id, unit, interval and profile (by name: profiles are
    /// loaded once per gateway run).
    pub fn same_as(&self, other: &Self) -> bool {
        self.site == other.site
            && self.device == other.device
            && self.unit_id == other.unit_id
            && self.interval == other.interval
            && self.profile.name == other.profile.name
    }
}
