//! Readings only for the inventory's site/device pairs: a point whose pair the inventory does not know (a
//! device of another site published under this one, or no inventory device at all) is taken out of the batch,
//! counted in `zw_ingest_readings_rejected_total{reason="unknown_device"}` and dead-lettered.
//!
//! The check runs on the encoded points (`readings,device=…,site=… …`), so it is the same for the fused, the
//! general and the batch paths, and costs one map lookup per point; a batch is rebuilt only when it has an
//! unknown point. With an empty inventory (ingest as a bare storage relay, as in benchmarks) nothing is
//! checked; the service warns at start.
//!
//! The pairs follow the live inventory ([`Known::live`]): the loop calls [`Known::refresh`] once per chunk
//! of received messages, which is one atomic load while nothing changed and a rebuild of the map when the
//! inventory was replaced (an admin added a device), so a reading of a device added a moment ago is written,
//! not dead-lettered, and nothing is paid per reading.

use std::sync::Arc;

use tokio::sync::watch;
use zw_model::{Inventory, KnownDevices, storage};

use crate::line::Rejection;

/// The site/device pairs ingest writes: fixed, or following a [`zw_bus::LiveInventory`].
#[derive(Debug)]
pub struct Known {
    devices: KnownDevices,
    live: Option<watch::Receiver<Arc<Inventory>>>,
}

impl Known {
    /// The pairs of `live`'s inventory now, rebuilt by [`Known::refresh`] whenever it is replaced.
    pub fn live(live: &zw_bus::LiveInventory) -> Self {
        let mut rx = live.subscribe();
        let devices = KnownDevices::of(&rx.borrow_and_update());
        Self {
            devices,
            live: Some(rx),
        }
    }

    /// The pairs to check now.
    pub fn devices(&self) -> &KnownDevices {
        &self.devices
    }

    /// Rebuilds the pairs if the live inventory was replaced since the last call; returns whether it was.
    /// Costs one atomic load when nothing changed (and nothing for fixed pairs).
    pub fn refresh(&mut self) -> bool {
        let Some(rx) = &mut self.live else {
            return false;
        };
        // An error means the live inventory is gone (the process is stopping): keep the pairs.
        if !rx.has_changed().unwrap_or(false) {
            return false;
        }
        self.devices = KnownDevices::of(&rx.borrow_and_update());
        true
    }
}

impl From<KnownDevices> for Known {
    fn from(devices: KnownDevices) -> Self {
        Self { devices, live: None }
    }
}

/// The site and device tags of an encoded point.
fn pair(line: &str) -> Option<(&str, &str)> {
    let rest = line
        .strip_prefix(storage::MEASUREMENT)?
        .strip_prefix(',')?
        .strip_prefix(storage::TAG_DEVICE)?
        .strip_prefix('=')?;
    let (device, rest) = rest.split_once(',')?;
    let rest = rest.strip_prefix(storage::TAG_SITE)?.strip_prefix('=')?;
    let site = rest.split(' ').next()?;
    Some((site, device))
}

/// Takes the points of `body[start..]` whose pair `known` lacks out of `body`, handing each to `reject` with
/// its line; returns how many were taken out.
pub fn filter(
    known: &KnownDevices,
    body: &mut String,
    start: usize,
    mut reject: impl FnMut(Rejection, &str),
) -> usize {
    if known.is_empty() {
        return 0;
    }
    let is_known = |line: &str| pair(line).is_some_and(|(s, d)| known.contains(s, d));
    let tail = &body[start..];
    if tail.lines().all(is_known) {
        return 0;
    }
    let mut kept = String::with_capacity(tail.len());
    let mut removed = 0;
    for line in tail.lines() {
        if is_known(line) {
            kept.push_str(line);
            kept.push('\n');
        } else {
            removed += 1;
            let (site, device) = pair(line).unwrap_or(("?", "?"));
            reject(
                Rejection {
                    reason: "unknown_device",
                    message: format!("no inventory device {device:?} at site {site:?}"),
                },
                line,
            );
        }
    }
    body.truncate(start);
    body.push_str(&kept);
    removed
}

#[cfg(test)]
mod tests {
    use zw_model::{Device, Inventory};

    use super::*;

    fn known() -> KnownDevices {
        let inv = Inventory::builder()
            .household("hh-12", [Device::tasmota("hh-12-plug", "tasmota_12")])
            .household("hh-13", [Device::tasmota("hh-13-plug", "tasmota_13")])
            .build();
        KnownDevices::of(&inv)
    }

    #[test]
    fn only_points_of_inventory_pairs_stay() {
        let mut body = String::from("kept-before\n");
        let start = body.len();
        body.push_str("readings,device=hh-12-plug,site=hh-12 active_power=5 1000\n");
        body.push_str("readings,device=hh-13-plug,site=hh-12 active_power=6 1000\n");
        body.push_str("readings,device=ghost,site=hh-12 active_power=7 1000\n");
        let mut rejected = Vec::new();
        let n = filter(&known(), &mut body, start, |r, line| {
            rejected.push((r.reason, line.to_owned()))
        });
        assert_eq!(n, 2);
        assert_eq!(
            body,
            "kept-before\nreadings,device=hh-12-plug,site=hh-12 active_power=5 1000\n"
        );
        assert!(rejected.iter().all(|(r, _)| *r == "unknown_device"));
        assert!(rejected[0].1.contains("hh-13-plug,site=hh-12"));
    }

    #[test]
    fn live_pairs_follow_a_replaced_inventory() {
        let live = zw_bus::LiveInventory::new(
            Inventory::builder()
                .household("hh-12", [Device::tasmota("hh-12-plug", "tasmota_12")])
                .build(),
        );
        let mut known = Known::live(&live);
        let line = "readings,device=hh-14-plug,site=hh-14 active_power=5 1000\n";
        let mut body = String::from(line);
        assert_eq!(
            filter(known.devices(), &mut body, 0, |_, _| {}),
            1,
            "not yet known"
        );
        assert!(!known.refresh(), "nothing changed");
        live.replace(
            Inventory::builder()
                .household("hh-12", [Device::tasmota("hh-12-plug", "tasmota_12")])
                .household("hh-14", [Device::tasmota("hh-14-plug", "tasmota_14")])
                .build(),
        );
        assert!(known.refresh(), "the replacement is seen");
        let mut body = String::from(line);
        assert_eq!(filter(known.devices(), &mut body, 0, |_, _| panic!("{line}")), 0);
        assert_eq!(body, line);
        assert!(!known.refresh(), "seen once");
        let mut fixed = Known::from(KnownDevices::default());
        assert!(!fixed.refresh());
    }

    #[test]
    fn an_empty_inventory_checks_nothing() {
        let mut body = String::from("readings,device=d,site=s active_power=1 1\n");
        assert_eq!(filter(&KnownDevices::default(), &mut body, 0, |_, _| panic!()), 0);
    }
}
