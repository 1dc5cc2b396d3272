//! Checks of the analytics settings against the inventory: every tree, sensor, site and device a setting
//! names must exist, so a typo in an id fails `check-config` instead of being silently ignored.

use std::collections::HashSet;

use zw_model::Inventory;

use super::Config;

/// Every setting of `cfg` that names a tree, soil sensor, site or device missing from `inv`, with its path.
/// An inventory without sites is not checked against (it lives in the store, `[store]`).
pub fn validate_inventory(cfg: &Config, inv: &Inventory) -> Vec<String> {
    let mut e = Vec::new();
    if inv.sites.is_empty() {
        return e;
    }
    let trees: HashSet<&str> = inv.trees.iter().map(|t| t.id.as_str()).collect();
    let sensors: HashSet<&str> = inv
        .trees
        .iter()
        .flat_map(|t| t.sensors.iter().map(|s| s.as_str()))
        .collect();
    let sites: HashSet<&str> = inv.sites.iter().map(|s| s.id.as_str()).collect();
    let devices: HashSet<&str> = inv.devices().map(|(_, d)| d.id.as_str()).collect();
    let t = &cfg.trees;
    for tree in t.tree_soil.keys().filter(|k| !trees.contains(k.as_str())) {
        e.push(format!(
            "analytics.trees.tree_soil.{tree}: no tree {tree:?} in the inventory ([[trees]])"
        ));
    }
    let sensor_maps = [
        (
            "trees.sensor_depth_cm",
            t.sensor_depth_cm.keys().collect::<Vec<_>>(),
        ),
        ("trees.sensor_depths_cm", t.sensor_depths_cm.keys().collect()),
        (
            "trees.faults.sensor_battery",
            t.faults.sensor_battery.keys().collect(),
        ),
    ];
    for (path, keys) in sensor_maps {
        for s in keys.into_iter().filter(|k| !sensors.contains(k.as_str())) {
            e.push(format!(
                "analytics.{path}.{s}: no soil sensor {s:?} in the inventory (a device listed in a tree's sensors)"
            ));
        }
    }
    for site in t.weather.site_area.keys().filter(|k| !sites.contains(k.as_str())) {
        e.push(format!(
            "analytics.trees.weather.site_area.{site}: no site {site:?} in the inventory"
        ));
    }
    for site in cfg.calendar.sites.keys().filter(|k| !sites.contains(k.as_str())) {
        e.push(format!(
            "analytics.calendar.sites.{site}: no site {site:?} in the inventory"
        ));
    }
    for (i, d) in cfg.left_on.exclude.iter().enumerate() {
        if !devices.contains(d.as_str()) {
            e.push(format!(
                "analytics.left_on.exclude[{i}]: no device {d:?} in the inventory"
            ));
        }
    }
    e
}
