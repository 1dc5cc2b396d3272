//! Retained state other services publish, mirrored in memory for the API: open and recent alerts
//! (`zw/v1/alerts/+`), tree status (`zw/v1/trees/+`) and device health (`zw/v1/status/device/+`).
//!
//! The publishers own this state; the API only reads it. An empty retained payload removes an entry. A
//! message that does not parse is counted and ignored, never half-applied.

use std::collections::BTreeMap;
use std::sync::RwLock;

use zw_model::alert::Alert;
use zw_model::status::DeviceStatus;
use zw_model::topic;
use zw_model::tree::TreeStatus;

/// Mirrored retained state.
#[derive(Default)]
pub struct Views {
    /// Alerts by id.
    pub alerts: RwLock<BTreeMap<String, Alert>>,
    /// Tree status by tree id.
    pub trees: RwLock<BTreeMap<String, TreeStatus>>,
    /// Device health by device id.
    pub status: RwLock<BTreeMap<String, DeviceStatus>>,
}

/// What [`Views::apply`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    /// Stored or removed.
    Ok,
    /// Not a topic this mirror handles.
    Ignored,
    /// The payload did not parse.
    Invalid,
}

fn put<T: serde::de::DeserializeOwned>(
    map: &RwLock<BTreeMap<String, T>>,
    key: String,
    payload: &[u8],
) -> Applied {
    let Ok(mut map) = map.write() else {
        return Applied::Invalid;
    };
    if payload.is_empty() {
        map.remove(&key);
        return Applied::Ok;
    }
    match serde_json::from_slice(payload) {
        Ok(v) => {
            map.insert(key, v);
            Applied::Ok
        }
        Err(_) => Applied::Invalid,
    }
}

impl Views {
    /// Applies one retained message.
    pub fn apply(&self, t: &str, payload: &[u8]) -> Applied {
        if let Some(id) = topic::parse_alert(t) {
            return put(&self.alerts, id.to_string(), payload);
        }
        if let Some(id) = topic::parse_device_status(t) {
            return put(&self.status, id.to_string(), payload);
        }
        if let Some(tree) = t
            .strip_prefix("zw/v1/trees/")
            .filter(|s| zw_model::Id::new(*s).is_ok())
        {
            return put(&self.trees, tree.to_string(), payload);
        }
        Applied::Ignored
    }
}
