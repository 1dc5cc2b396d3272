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
