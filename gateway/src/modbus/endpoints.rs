//! The inventory's Modbus devices as the gateway polls them: the endpoint plan. The one place the inventory's
//! Modbus sources are read, by config validation ([`crate::validate_inventory`]), the gateway
//! ([`crate::run`]: one poller task per endpoint) and the demo backfill alike.
//!
//! A device needs a known profile and an endpoint that parses; devices on one endpoint share its connection,
//! so they must differ in unit id and agree on the line settings. Every problem is reported, in inventory
//! order.
//!
//! When the inventory changes while the gateway runs, [`diff_plans`] compares the running endpoints with the
//! new plan: an endpoint whose devices (site, id, unit, interval, profile) and line settings are unchanged
//! keeps its task, connection and schedule; one that is gone stops; one that is new or changed is (re)started.

use std::collections::BTreeMap;

use zw_model::inventory::ModbusEndpoint;
use zw_model::{DeviceSource, Inventory};

use super::PolledDevice;
use crate::profile::ProfileSet;

/// What is wrong with a Modbus device of the inventory. `path` is the device's source in the inventory,
/// `sites[i].devices[j].source`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanProblem {
    /// The device names a profile that does not exist.
    #[error("{path}.profile: unknown profile {profile:?} (known: {known})")]
    UnknownProfile {
        /// Inventory path.
        path: String,
        /// Device id.
        device: String,
        /// The profile named.
        profile: String,
        /// The profiles there are, comma-separated.
        known: String,
    },
    /// The endpoint does not parse (the inventory's own validation reports the syntax too).
    #[error("{path}.endpoint: {message}")]
    Endpoint {
        /// Inventory path.
        path: String,
        /// Device id.
        device: String,
        /// What is wrong.
        message: String,
    },
    /// Another device already uses this unit id on this endpoint.
    #[error("{path}.unit_id: unit {unit_id} on {endpoint} is already polled by {other}")]
    UnitTaken {
        /// Inventory path.
        path: String,
        /// The unit id.
        unit_id: u8,
        /// The endpoint's canonical key.
        endpoint: String,
        /// Inventory path of the device polled there already.
        other: String,
    },
    /// The endpoint names the same bus as another device's with other line settings.
    #[error(
        "{path}.endpoint: {endpoint} conflicts with {previous} used by {other} (one bus, one set of line settings)"
    )]
    LineConflict {
        /// Inventory path.
        path: String,
        /// This device's endpoint.
        endpoint: ModbusEndpoint,
        /// The other device's endpoint.
        previous: ModbusEndpoint,
        /// Inventory path of the other device.
        other: String,
    },
}

/// The inventory's Modbus devices, planned.
#[derive(Debug, Default)]
pub struct EndpointPlan {
    /// Every device with a known profile and an endpoint that parses, in inventory order, with its endpoint.
    pub devices: Vec<(ModbusEndpoint, PolledDevice)>,
    /// Every problem, in inventory order.
    pub problems: Vec<PlanProblem>,
}

impl EndpointPlan {
    /// The devices by endpoint (in the order of the endpoints' canonical keys, each endpoint's devices in
    /// inventory order): one poller task each.
    pub fn into_endpoints(self) -> Vec<(ModbusEndpoint, Vec<PolledDevice>)> {
        let mut endpoints: BTreeMap<String, (ModbusEndpoint, Vec<PolledDevice>)> = BTreeMap::new();
        for (endpoint, device) in self.devices {
            endpoints
                .entry(endpoint.key())
                .or_insert_with(|| (endpoint, Vec::new()))
                .1
                .push(device);
        }
        endpoints.into_values().collect()
    }
}

/// The endpoints of a plan by their canonical key, as the gateway keeps its running tasks.
pub type Endpoints = BTreeMap<String, (ModbusEndpoint, Vec<PolledDevice>)>;

/// What to do with the running endpoint tasks when the plan changes.
#[derive(Debug, Default)]
pub struct PlanDiff {
    /// Keys of running endpoints to stop (gone, or changed: then also in `start`).
    pub stop: Vec<String>,
    /// Endpoints to start (new, or changed), with their devices.
    pub start: Vec<(ModbusEndpoint, Vec<PolledDevice>)>,
    /// Keys of running endpoints left alone.
    pub keep: Vec<String>,
}

impl PlanDiff {
    /// Devices polled after the change that were not before, and devices no longer polled (ids).
    pub fn devices(&self, old: &Endpoints) -> (Vec<String>, Vec<String>) {
        let before: std::collections::BTreeSet<&str> = self
            .stop
            .iter()
            .filter_map(|k| old.get(k))
            .flat_map(|(_, d)| d.iter().map(|d| d.device.as_str()))
            .collect();
        let after: std::collections::BTreeSet<&str> = self
            .start
            .iter()
            .flat_map(|(_, d)| d.iter().map(|d| d.device.as_str()))
            .collect();
        (
            after.difference(&before).map(ToString::to_string).collect(),
            before.difference(&after).map(ToString::to_string).collect(),
        )
    }
}

/// Compares the running endpoints `old` with the plan's `new` ones (pure): every key lands in exactly one of
/// stop-only, start-only, stop-and-start (changed) or keep.
pub fn diff_plans(old: &Endpoints, new: Vec<(ModbusEndpoint, Vec<PolledDevice>)>) -> PlanDiff {
    let mut diff = PlanDiff::default();
    let mut seen = std::collections::BTreeSet::new();
    for (endpoint, devices) in new {
        let key = endpoint.key();
        seen.insert(key.clone());
        match old.get(&key) {
            Some((e, d)) if *e == endpoint && same_devices(d, &devices) => diff.keep.push(key),
            Some(_) => {
                diff.stop.push(key);
                diff.start.push((endpoint, devices));
            }
            None => diff.start.push((endpoint, devices)),
        }
    }
    diff.stop
        .extend(old.keys().filter(|k| !seen.contains(*k)).cloned());
    diff.stop.sort();
    diff
}

fn same_devices(a: &[PolledDevice], b: &[PolledDevice]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_as(y))
}

/// Plans the inventory's Modbus devices with the meter `profiles`.
pub fn endpoint_plan(inventory: &Inventory, profiles: &ProfileSet) -> EndpointPlan {
    let mut plan = EndpointPlan::default();
    // By unit key (`endpoint#unit`) and by endpoint key: the inventory path that used it (last), and for
    // endpoint keys the endpoint with its line settings.
    let mut seen: BTreeMap<String, (String, Option<ModbusEndpoint>)> = BTreeMap::new();
    for (i, site) in inventory.sites.iter().enumerate() {
        for (j, dev) in site.devices.iter().enumerate() {
            let DeviceSource::Modbus {
                profile,
                endpoint,
                unit_id,
                interval,
            } = &dev.source
            else {
                continue;
            };
            let path = format!("sites[{i}].devices[{j}].source");
            let found = profiles.get(profile);
            if found.is_none() {
                plan.problems.push(PlanProblem::UnknownProfile {
                    path: path.clone(),
                    device: dev.id.to_string(),
                    profile: profile.clone(),
                    known: profiles.names().join(", "),
                });
            }
            let ep = match ModbusEndpoint::parse(endpoint) {
                Ok(ep) => ep,
                Err(message) => {
                    plan.problems.push(PlanProblem::Endpoint {
                        path,
                        device: dev.id.to_string(),
                        message,
                    });
                    continue;
                }
            };
            let unit_key = format!("{}#{unit_id}", ep.key());
            if let Some((other, _)) = seen.insert(unit_key, (path.clone(), None)) {
                plan.problems.push(PlanProblem::UnitTaken {
                    path: path.clone(),
                    unit_id: *unit_id,
                    endpoint: ep.key(),
                    other,
                });
            }
            if let Some((other, Some(previous))) = seen.insert(ep.key(), (path.clone(), Some(ep.clone())))
                && previous != ep
            {
                plan.problems.push(PlanProblem::LineConflict {
                    path,
                    endpoint: ep.clone(),
                    previous,
                    other,
                });
            }
            if let Some(profile) = found {
                let device = PolledDevice {
                    site: site.id.clone(),
                    device: dev.id.clone(),
                    unit_id: *unit_id,
                    interval: *interval,
                    profile,
                };
                plan.devices.push((ep, device));
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use zw_model::inventory::Device;

    use super::*;

    fn ids(devices: &[PolledDevice]) -> Vec<&str> {
        devices.iter().map(|d| d.device.as_str()).collect()
    }

    #[test]
    fn plans_devices_in_inventory_order_and_reports_every_problem() {
        let inventory = Inventory::builder()
            .building(
                "b",
                [
                    Device::modbus("m1", "10.0.0.1:502", 1, "sdm630"),
                    Device::modbus("m2", "10.0.0.2:502", 1, "nope"),
                    Device::modbus("m3", "10.0.0.1:502", 1, "sdm120"),
                    Device::modbus("m4", "no port", 1, "sdm120"),
                    Device::modbus("m5", "10.0.0.0:502", 2, "sdm120"),
                ],
            )
            .build();
        let profiles = ProfileSet::load(&[]).unwrap_or_else(|e| panic!("built-in profiles: {e:?}"));
        let plan = endpoint_plan(&inventory, &profiles);
        let planned: Vec<_> = plan.devices.iter().map(|(_, d)| d.device.as_str()).collect();
        assert_eq!(planned, ["m1", "m3", "m5"]);
        let problems: Vec<_> = plan
            .problems
            .iter()
            .map(|p| match p {
                PlanProblem::UnknownProfile { device, .. } => format!("profile {device}"),
                PlanProblem::Endpoint { device, .. } => format!("endpoint {device}"),
                PlanProblem::UnitTaken { path, other, .. } => format!("unit {path} {other}"),
                PlanProblem::LineConflict { path, .. } => format!("line {path}"),
            })
            .collect();
        assert_eq!(
            problems,
            [
                "profile m2",
                "unit sites[0].devices[2].source sites[0].devices[0].source",
                "endpoint m4",
            ]
        );
        let endpoints = plan.into_endpoints();
        let grouped: Vec<_> = endpoints.iter().map(|(_, d)| ids(d)).collect();
        assert_eq!(grouped, [vec!["m5"], vec!["m1", "m3"]]);
    }

    fn planned(inventory: &Inventory) -> Vec<(ModbusEndpoint, Vec<PolledDevice>)> {
        let profiles = ProfileSet::load(&[]).unwrap_or_else(|e| panic!("built-in profiles: {e:?}"));
        endpoint_plan(inventory, &profiles).into_endpoints()
    }

    fn running(inventory: &Inventory) -> Endpoints {
        planned(inventory)
            .into_iter()
            .map(|(e, d)| (e.key(), (e, d)))
            .collect()
    }

    #[test]
    fn the_diff_restarts_only_endpoints_whose_devices_changed() {
        let before = Inventory::builder()
            .building(
                "b",
                [
                    Device::modbus("a1", "10.0.0.1:502", 1, "sdm630"),
                    Device::modbus("a2", "10.0.0.1:502", 2, "sdm120"),
                    Device::modbus("b1", "10.0.0.2:502", 1, "sdm630"),
                    Device::modbus("c1", "10.0.0.3:502", 1, "sdm630"),
                ],
            )
            .build();
        let after = Inventory::builder()
            .building(
                "b",
                [
                    // a: unchanged; b: a device added; c: removed; d: new; e1 moved from unit 1 to 2.
                    Device::modbus("a1", "10.0.0.1:502", 1, "sdm630"),
                    Device::modbus("a2", "10.0.0.1:502", 2, "sdm120"),
                    Device::modbus("b1", "10.0.0.2:502", 1, "sdm630"),
                    Device::modbus("b2", "10.0.0.2:502", 2, "sdm120"),
                    Device::modbus("d1", "10.0.0.4:502", 1, "sdm630"),
                ],
            )
            .build();
        let old = running(&before);
        let diff = diff_plans(&old, planned(&after));
        assert_eq!(diff.keep, ["tcp://10.0.0.1:502"]);
        assert_eq!(diff.stop, ["tcp://10.0.0.2:502", "tcp://10.0.0.3:502"]);
        let started: Vec<_> = diff.start.iter().map(|(e, d)| (e.key(), ids(d))).collect();
        assert_eq!(
            started,
            [
                ("tcp://10.0.0.2:502".to_string(), vec!["b1", "b2"]),
                ("tcp://10.0.0.4:502".to_string(), vec!["d1"]),
            ]
        );
        let (added, removed) = diff.devices(&old);
        assert_eq!(added, ["b2", "d1"]);
        assert_eq!(removed, ["c1"]);

        // The same plan again changes nothing; an empty one stops everything.
        let same = diff_plans(&old, planned(&before));
        assert!(same.stop.is_empty() && same.start.is_empty(), "{same:?}");
        assert_eq!(same.keep.len(), 3);
        let none = diff_plans(&old, Vec::new());
        assert_eq!(none.stop.len(), 3);
        assert!(none.start.is_empty() && none.keep.is_empty());
    }

    #[test]
    fn a_changed_unit_interval_or_profile_restarts_the_endpoint() {
        let base = Device::modbus("m", "10.0.0.1:502", 1, "sdm630");
        let old = running(&Inventory::builder().building("b", [base.clone()]).build());
        for changed in [
            Device::modbus("m", "10.0.0.1:502", 2, "sdm630"),
            Device::modbus("m", "10.0.0.1:502", 1, "sdm120"),
            Device::modbus("m", "10.0.0.1:502", 1, "sdm630").every(std::time::Duration::from_secs(7)),
        ] {
            let new = planned(&Inventory::builder().building("b", [changed]).build());
            let diff = diff_plans(&old, new);
            assert_eq!(diff.stop, ["tcp://10.0.0.1:502"]);
            assert_eq!(diff.start.len(), 1);
            assert!(diff.keep.is_empty());
        }
    }
}
