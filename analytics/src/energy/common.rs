//! Common cause: the same device class drawing more than usual at many sites at the same time.
//!
//! Cold weather switches on the fan heaters of every building on the same morning; a holiday or a
//! fleet-wide schedule moves every building's load. Each device's learned normal cannot know that the
//! morning is unusually cold, but the fleet can: when many sites deviate together, the cause is shared,
//! not a fault in each device. Then one [`Notice`] explains it and the devices of that class open no alert
//! from their learned normal while it lasts. Static limits and left-on checks still apply, and alerts
//! already open stay open (a stuck heater stays reported through a cold morning).
//!
//! State per device class: how many sites have a device of it and how many of them have one *elevated*
//! (its power averaged over the hold time above its learned median by the normal's floor; see
//! [`crate::energy::high::check_high`]). Updates are counter changes when a device's elevation flips, so
//! the per-reading cost is one comparison.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::CommonCauseConfig;
use crate::explain;

/// How much further than its elevated peers (mean ratio to the usual) a device may deviate and still share
/// their cause.
pub(crate) const PEER_FACTOR: f64 = 2.0;

/// A fleet-wide observation: not an alert about one subject but context for all of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// When it started or ended (event time of the reading that decided it).
    pub at: DateTime<Utc>,
    /// The device class.
    pub class: String,
    /// Sites with an elevated device of the class.
    pub sites: u32,
    /// Sites having the class.
    pub of: u32,
    /// `true` when the common cause starts, `false` when it ends.
    pub started: bool,
    /// One sentence for people.
    pub text: String,
}

#[derive(Debug, Clone, Default)]
struct Class {
    name: String,
    /// Per site index: devices of the class, elevated devices of the class.
    per_site: Vec<(u32, u32)>,
    sites: u32,
    elevated_sites: u32,
    /// Sum and count of the elevated devices' ratios to their usual.
    ratios: (f64, u32),
    active: bool,
    since: i64,
}

/// Elevation counts per device class over the whole fleet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fleet {
    classes: Vec<Class>,
    idx: HashMap<String, usize>,
}

impl Fleet {
    /// The index of class `name`, added if new.
    pub fn class(&mut self, name: &str) -> usize {
        if let Some(&i) = self.idx.get(name) {
            return i;
        }
        self.classes.push(Class {
            name: name.to_string(),
            ..Class::default()
        });
        self.idx.insert(name.to_string(), self.classes.len() - 1);
        self.classes.len() - 1
    }

    /// Counts one more device of `class` at `site`.
    pub fn add(&mut self, class: usize, site: usize) {
        let c = &mut self.classes[class];
        if c.per_site.len() <= site {
            c.per_site.resize(site + 1, (0, 0));
        }
        c.per_site[site].0 += 1;
        if c.per_site[site].0 == 1 {
            c.sites += 1;
        }
    }

    /// Whether `class` is in a common cause now.
    #[cfg(test)]
    pub fn active(&self, class: usize) -> bool {
        self.classes.get(class).is_some_and(|c| c.active)
    }

    /// Whether a device of `class` drawing `ratio` times its usual is held by a common cause: the class is
    /// in one and the device deviates like its peers, not more than [`PEER_FACTOR`] times their mean
    /// ratio. A heater stuck at full power among heaters running a little more on a cold night is its
    /// own problem.
    pub fn holds(&self, class: usize, ratio: f64) -> bool {
        self.classes
            .get(class)
            .is_some_and(|c| c.active && ratio <= PEER_FACTOR * c.ratios.0 / f64::from(c.ratios.1.max(1)))
    }

    /// A device of `class` went from `old` to `new` times its usual (0: not elevated).
    pub fn ratio(&mut self, class: usize, old: f64, new: f64) {
        if let Some(c) = self.classes.get_mut(class) {
            let n = i64::from(c.ratios.1) - i64::from(old > 0.0) + i64::from(new > 0.0);
            c.ratios = (c.ratios.0 - old + new, u32::try_from(n.max(0)).unwrap_or(0));
            if c.ratios.1 == 0 {
                c.ratios.0 = 0.0;
            }
        }
    }

    /// A device of `class` at `site` became elevated (`true`) or normal again (`false`) at `ts`.
    pub fn set(
        &mut self,
        class: usize,
        site: usize,
        elevated: bool,
        ts: i64,
        cfg: &CommonCauseConfig,
        out: &mut Vec<Notice>,
    ) {
        let Some(c) = self.classes.get_mut(class) else {
            return;
        };
        let Some(slot) = c.per_site.get_mut(site) else {
            return;
        };
        if elevated {
            slot.1 += 1;
            if slot.1 == 1 {
                c.elevated_sites += 1;
            }
        } else if slot.1 > 0 {
            slot.1 -= 1;
            if slot.1 == 0 {
                c.elevated_sites = c.elevated_sites.saturating_sub(1);
            }
        }
        let need = cfg.needed(c.sites);
        if !c.active && c.elevated_sites >= need {
            (c.active, c.since) = (true, ts);
            let text = format!(
                "{} above their usual at {} of {} sites at once: a common cause (weather, a holiday, a \
                 schedule) rather than a fault at each; their learned-normal alerts are held while it lasts",
                c.name, c.elevated_sites, c.sites
            );
            out.push(c.notice(ts, true, text));
        } else if c.active && u64::from(c.elevated_sites) * 2 < u64::from(need) {
            c.active = false;
            let text = format!(
                "{} back to usual at all but {} of {} sites after {}; learned-normal alerts resume",
                c.name,
                c.elevated_sites,
                c.sites,
                explain::duration(ts - c.since)
            );
            out.push(c.notice(ts, false, text));
        }
    }
}

impl Class {
    fn notice(&self, ts: i64, started: bool, text: String) -> Notice {
        Notice {
            at: explain::utc(ts),
            class: self.name.clone(),
            sites: self.elevated_sites,
            of: self.sites,
            started,
            text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(site, elevated)` flips in order; returns `(step, started)` of every notice and the final state.
    fn run(sites: usize, flips: &[(usize, bool)]) -> (Vec<(usize, bool)>, bool) {
        let cfg = CommonCauseConfig::default();
        let mut f = Fleet::default();
        let other = f.class("heater");
        let c = f.class("plug");
        for s in 0..sites {
            f.add(c, s);
            f.add(other, s);
        }
        let mut out = Vec::new();
        let mut got = Vec::new();
        for (step, &(site, up)) in flips.iter().enumerate() {
            f.set(c, site, up, step as i64, &cfg, &mut out);
            got.extend(out.drain(..).map(|n| (step, n.started)));
        }
        assert!(!f.active(other), "another class is never affected");
        (got, f.active(c))
    }

    #[test]
    fn a_device_deviating_far_beyond_its_peers_is_not_held() {
        let cfg = CommonCauseConfig::default();
        let mut f = Fleet::default();
        let c = f.class("heater");
        let mut out = Vec::new();
        for s in 0..12 {
            f.add(c, s);
        }
        assert!(!f.holds(c, 1.0), "no common cause yet");
        for s in 0..6 {
            f.ratio(c, 0.0, 1.6);
            f.set(c, s, true, 0, &cfg, &mut out);
        }
        // (ratio, held): peers at 1.6 times their usual; up to twice that is the same cause.
        for (ratio, held) in [(0.0, true), (1.6, true), (3.1, true), (3.3, false), (6.5, false)] {
            assert_eq!(f.holds(c, ratio), held, "{ratio}");
        }
        f.ratio(c, 1.6, 0.0);
        f.ratio(c, 0.0, 8.0);
        // Peers' mean moved to (5 × 1.6 + 8) / 6 = 2.67.
        assert!(f.holds(c, 5.3) && !f.holds(c, 5.4));
    }

    #[test]
    fn table_of_fleet_histories() {
        let up = |s: usize| (s, true);
        let down = |s: usize| (s, false);
        type Case<'a> = (&'a str, usize, Vec<(usize, bool)>, Vec<(usize, bool)>, bool);
        let cases: Vec<Case> = vec![
            ("one site is a device problem", 12, vec![up(0)], vec![], false),
            (
                "two incidents at once are still device problems",
                12,
                vec![up(0), up(5)],
                vec![],
                false,
            ),
            (
                "half of twelve sites at once is a common cause",
                12,
                (0..6).map(up).collect(),
                vec![(5, true)],
                true,
            ),
            (
                "two devices at one site count once",
                12,
                vec![up(0), up(0), up(1), up(2), up(3), up(4)],
                vec![],
                false,
            ),
            (
                "ends once fewer than half of the needed sites remain",
                12,
                [(0..6).map(up).collect::<Vec<_>>(), (0..4).map(down).collect()].concat(),
                vec![(5, true), (9, false)],
                false,
            ),
            (
                "hysteresis: dipping just below the threshold does not end it",
                12,
                vec![up(0), up(1), up(2), up(3), up(4), up(5), down(5), down(4), up(4)],
                vec![(5, true)],
                true,
            ),
            (
                "small fleets need at least three sites",
                3,
                vec![up(0), up(1), up(2)],
                vec![(2, true)],
                true,
            ),
            (
                "a fleet of two never has a common cause",
                2,
                vec![up(0), up(1)],
                vec![],
                false,
            ),
            (
                "a flip back without a flip up is ignored",
                12,
                vec![down(3), up(0)],
                vec![],
                false,
            ),
        ];
        for (name, sites, flips, want, active) in cases {
            assert_eq!(run(sites, &flips), (want, active), "{name}");
        }
    }
}
