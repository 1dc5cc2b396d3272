//! The bus topic layout, versioned under `zw/v1/`.
//!
//! | topic | payload | retained |
//! |---|---|---|
//! | `zw/v1/readings/{site}/{device}` | [`crate::Reading`] JSON | no |
//! | `zw/v1/batches/{producer}` | [`crate::reading::batch`] JSON: up to 1,000 readings of any devices | no |
//! | `zw/v1/status/{service}/{instance}` | service health JSON | yes |
//! | `zw/v1/status/device/{device}` | [`crate::status::DeviceStatus`] JSON (gateway-polled devices) | yes |
//! | `zw/v1/alerts/{alert}` | [`crate::alert::Alert`] JSON; an empty payload clears the alert | yes |
//! | `zw/v1/trees/{tree}` | [`crate::tree::TreeStatus`] JSON | yes |
//! | `zw/v1/weather/{area}` | [`crate::weather::Weather`] JSON: observed and forecast ET0 of an area | yes |
//! | `zw/v1/commands/alerts/ack` | [`crate::alert::AckCommand`] JSON (the API acknowledges an alert), QoS 1 | no |
//!
//! `device` is a reserved service name, so a device's status never collides with a service instance's.
//!
//! Ids are validated [`Id`]s, so they never contain `/`, `+` or `#` and the layout cannot be confused.

use crate::Id;

/// Root of every Zählwerk topic.
pub const ROOT: &str = "zw/v1";

/// Filter matching every reading.
pub const READINGS_FILTER: &str = "zw/v1/readings/+/+";

/// The topic a device's readings are published on.
pub fn readings(site: &Id, device: &Id) -> String {
    format!("{ROOT}/readings/{site}/{device}")
}

/// Filter matching every batch of readings.
pub const BATCHES_FILTER: &str = "zw/v1/batches/+";

/// The topic a producer (a gateway instance, a publisher) publishes its batches of readings on.
pub fn batches(producer: &Id) -> String {
    format!("{ROOT}/batches/{producer}")
}

/// The producer of a batches topic, or `None` if it is not one.
pub fn parse_batches(topic: &str) -> Option<Id> {
    Id::new(topic.strip_prefix(ROOT)?.strip_prefix("/batches/")?).ok()
}

/// The retained status topic of a service instance.
pub fn status(service: &str, instance: &str) -> String {
    format!("{ROOT}/status/{service}/{instance}")
}

/// Filter matching every device status.
pub const DEVICE_STATUS_FILTER: &str = "zw/v1/status/device/+";

/// The retained health topic of a polled device.
pub fn device_status(device: &Id) -> String {
    format!("{ROOT}/status/device/{device}")
}

/// The device of a device status topic, or `None` if it is not one.
pub fn parse_device_status(topic: &str) -> Option<Id> {
    Id::new(topic.strip_prefix(ROOT)?.strip_prefix("/status/device/")?).ok()
}

/// Splits a readings topic into site and device, or `None` if it is not one.
pub fn parse_readings(topic: &str) -> Option<(Id, Id)> {
    let rest = topic.strip_prefix(ROOT)?.strip_prefix("/readings/")?;
    let (site, device) = rest.split_once('/')?;
    Some((Id::new(site).ok()?, Id::new(device).ok()?))
}

/// Filter matching every alert.
pub const ALERTS_FILTER: &str = "zw/v1/alerts/+";

/// The retained topic of an alert.
pub fn alert(id: &crate::alert::AlertId) -> String {
    format!("{ROOT}/alerts/{id}")
}

/// The alert id of an alert topic, or `None` if it is not one.
pub fn parse_alert(topic: &str) -> Option<crate::alert::AlertId> {
    crate::alert::AlertId::parse(topic.strip_prefix(ROOT)?.strip_prefix("/alerts/")?)
}

/// Where the API publishes [`crate::alert::AckCommand`]s (QoS 1, not retained).
pub const ALERT_ACK: &str = "zw/v1/commands/alerts/ack";

/// Where the API announces a watering logged for a tree (QoS 1, not retained; JSON
/// `{"v":1,"tree":"t-1","site":"park-nord","litres":80.0,"at":"…","by":"crew 2"}`); analytics takes it in
/// as water given to the tree.
pub const TREE_WATERED: &str = "zw/v1/commands/trees/watered";

/// Topic of inventory change notices (`zw_bus::ChangeNotice`): retained, one versioned notice after every change
/// an admin makes in the relational store; services reload their inventory from the store when it arrives.
pub const INVENTORY_CHANGED: &str = "zw/v1/inventory/changed";

/// Filter matching every tree status.
pub const TREES_FILTER: &str = "zw/v1/trees/+";

/// The retained status topic of a tree.
pub fn tree(tree: &Id) -> String {
    format!("{ROOT}/trees/{tree}")
}

/// Filter matching every weather area.
pub const WEATHER_FILTER: &str = "zw/v1/weather/+";

/// The topic of an area's weather feed ([`crate::weather::Weather`]).
pub fn weather(area: &Id) -> String {
    format!("{ROOT}/weather/{area}")
}

/// The area of a weather topic, or `None` if it is not one.
pub fn parse_weather(topic: &str) -> Option<Id> {
    Id::new(topic.strip_prefix(ROOT)?.strip_prefix("/weather/")?).ok()
}

/// Filter matching every dynamic price series.
pub const PRICES_FILTER: &str = "zw/v1/prices/+";

/// The topic of a dynamic price series ([`crate::tariff::PriceMessage`]; QoS 1, may be retained; only the
/// `zw-prices` account publishes there).
pub fn prices(series: &Id) -> String {
    format!("{ROOT}/prices/{series}")
}

/// The series of a price topic, or `None` if it is not one.
pub fn parse_prices(topic: &str) -> Option<Id> {
    Id::new(topic.strip_prefix(ROOT)?.strip_prefix("/prices/")?).ok()
}

/// A shared-subscription filter (`$share/{group}/{filter}`) so several instances split one stream.
pub fn shared(group: &str, filter: &str) -> String {
    format!("$share/{group}/{filter}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_topic_round_trips() {
        let (s, d) = (Id::new("park-nord").expect("id"), Id::new("lse01-1").expect("id"));
        let t = readings(&s, &d);
        assert_eq!(t, "zw/v1/readings/park-nord/lse01-1");
        assert_eq!(parse_readings(&t), Some((s, d)));
    }

    #[test]
    fn batches_topic_round_trips() {
        let p = Id::new("gw1").expect("id");
        assert_eq!(batches(&p), "zw/v1/batches/gw1");
        assert_eq!(parse_batches(&batches(&p)), Some(p));
        for t in ["zw/v1/batches/a/b", "zw/v1/batches/", "zw/v1/readings/a/b"] {
            assert_eq!(parse_batches(t), None, "{t}");
        }
    }

    #[test]
    fn device_status_topic_round_trips() {
        let d = Id::new("rathaus-main").expect("id");
        assert_eq!(device_status(&d), "zw/v1/status/device/rathaus-main");
        assert_eq!(parse_device_status(&device_status(&d)), Some(d));
        assert_eq!(parse_device_status("zw/v1/status/device/a/b"), None);
        assert_eq!(parse_device_status("zw/v1/status/gateway/gw1"), None);
    }

    #[test]
    fn alert_and_tree_topics() {
        let id = crate::alert::AlertId::parse("left_on.hh-1.hh-1-plug").expect("id");
        assert_eq!(alert(&id), "zw/v1/alerts/left_on.hh-1.hh-1-plug");
        assert_eq!(parse_alert(&alert(&id)), Some(id));
        assert_eq!(parse_alert("zw/v1/alerts/a/b"), None);
        assert_eq!(tree(&Id::new("t-1").expect("id")), "zw/v1/trees/t-1");
    }

    #[test]
    fn foreign_topics_do_not_parse() {
        for t in [
            "zw/v1/readings/a",
            "zw/v1/readings/a/b/c",
            "zw/v2/readings/a/b",
            "zw/v1/readings/A/b",
        ] {
            assert_eq!(parse_readings(t), None, "{t}");
        }
    }
}
