//! Settings of the common-cause check (`[analytics.common_cause]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{check, within};

/// When the same device class draws more than usual in many sites at once, the cause is shared (cold
/// weather switching on fan heaters everywhere, a holiday, a fleet-wide schedule) rather than a fault in
/// each device: one notice for the fleet instead of an alert per device.
///
/// A device is *elevated* while its power averaged over three times `power.hold` (exponentially) is above
/// its learned median by the
/// normal's floor (`normal.min_rel` and `normal.min_abs`): a fan heater switched on, not a thermostat's
/// on-phase. Site totals are not counted (their devices are). A class is in a common cause while
/// elevated devices of it are at `min_sites` sites or more *and* at `share` or more of the sites that have
/// that class; it ends when fewer than half that many sites remain. Meanwhile devices of that class open no
/// alert from the learned normal (static limits and left-on still apply; alerts already open stay open).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommonCauseConfig {
    /// Whether the check runs.
    pub enabled: bool,
    /// Fewest sites with an elevated device of one class for a common cause.
    pub min_sites: u32,
    /// Least share (0–1) of the sites having that class whose device of it is elevated.
    pub share: f64,
    /// How far above its elevated peers a device may deviate and still share their cause, in robust
    /// spreads: a device is held while its ratio to its usual is at most the peers' median ratio plus
    /// `peer_z` times 1.4826 · MAD of their ratios (the spread counts as at least a tenth of the median).
    pub peer_z: f64,
    /// A class's common cause is announced (a notice) at most once in this time: a cold morning that
    /// switches the heaters' common cause on and off several times is one notice, not one per flip. The
    /// hold itself follows every flip.
    #[serde(with = "humantime_serde")]
    pub announce_every: Duration,
    /// Device classes that heat, so run more when it is cold outside.
    pub weather_classes: Vec<String>,
    /// Outdoor temperature (°C) below which it counts as cold. Where the inventory has an outdoor
    /// temperature sensor (a device of class `outdoor_temperature` reporting `temperature`), a heating class
    /// above its usual while the (smoothed) outdoor temperature is below this is a common cause, the
    /// weather, from the first site on; the notice names the temperature. Without such a sensor, only the
    /// rule of many sites at once applies.
    pub cold_below_c: f64,
}

impl Default for CommonCauseConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_sites: 3,
            share: 0.5,
            peer_z: 3.0,
            announce_every: Duration::from_secs(86_400),
            weather_classes: vec!["heater".into(), "heat_pump".into()],
            cold_below_c: 5.0,
        }
    }
}

impl CommonCauseConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        check(e, self.min_sites >= 2, "common_cause.min_sites", "at least 2");
        check(
            e,
            within(self.share, 0.0, 1.0) && self.share > 0.0,
            "common_cause.share",
            "above 0 and at most 1",
        );
        check(
            e,
            within(self.peer_z, 0.0, 100.0) && self.peer_z > 0.0,
            "common_cause.peer_z",
            "above 0 and at most 100",
        );
        check(
            e,
            within(self.cold_below_c, -50.0, 40.0),
            "common_cause.cold_below_c",
            "between -50 and 40 (°C)",
        );
    }

    /// Sites needed out of `sites` having the class (`u32::MAX`, never reached, when the check is off).
    pub fn needed(&self, sites: u32) -> u32 {
        if !self.enabled {
            return u32::MAX;
        }
        let by_share = (self.share * f64::from(sites)).ceil() as u32;
        self.min_sites.max(by_share)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_needed_and_validation() {
        let c = CommonCauseConfig::default();
        for (sites, want) in [(1, 3), (4, 3), (6, 3), (7, 4), (12, 6), (100, 50)] {
            assert_eq!(c.needed(sites), want, "{sites} sites");
        }
        let off = CommonCauseConfig {
            enabled: false,
            ..c.clone()
        };
        assert_eq!(off.needed(12), u32::MAX);
        let mut e = Vec::new();
        CommonCauseConfig {
            min_sites: 1,
            share: 0.0,
            peer_z: 0.0,
            ..c
        }
        .validate(&mut e);
        assert_eq!(e.len(), 3, "{e:?}");
    }
}
