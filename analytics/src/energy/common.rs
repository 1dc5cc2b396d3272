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
//!
//! The weather, where it is measured: with an outdoor temperature below `common_cause.cold_below_c`
//! ([`Fleet::weather`]), a heating class (`common_cause.weather_classes`) is in a common cause from its
//! first elevated site on, and the notice names the temperature: a cold morning raising every building's
//! heating is the weather, however few buildings there are.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::config::CommonCauseConfig;
use crate::explain;

/// MAD → standard deviation for normally distributed data.
const MAD_TO_SIGMA: f64 = 1.4826;
/// The peers' spread counts as at least this share of their median ratio: peers that happen to deviate
/// alike must not make every slightly different device its own problem.
const MIN_SPREAD_REL: f64 = 0.1;
/// How often (event time, ms) the peers' median and spread are recomputed while a class is in a common
/// cause: ratios are 30-minute averages, a minute-old figure is as good.
const PEER_REFRESH_MS: i64 = 60_000;

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
    /// Per device of the class (slot from [`Fleet::add`]): its ratio to its usual while elevated, else 0.
    ratios: Vec<f64>,
    /// The elevated devices' median ratio and its spread (1.4826 · MAD, at least [`MIN_SPREAD_REL`] of the
    /// median), and the event time they were computed at.
    peers: (f64, f64, i64),
    active: bool,
    since: i64,
    /// When the class's common cause was last announced, and whether the current one was.
    announced: (Option<i64>, bool),
    /// A heating class, driven by the outdoor temperature.
    weather: bool,
}

/// Elevation counts per device class over the whole fleet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Fleet {
    classes: Vec<Class>,
    idx: HashMap<String, usize>,
    /// The outdoor temperature (°C) while it is below `cold_below_c`; `None`: not cold, or not measured.
    cold: Option<f64>,
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

    /// Marks `class` as a heating class (`common_cause.weather_classes`).
    pub fn set_weather_class(&mut self, class: usize, weather: bool) {
        if let Some(c) = self.classes.get_mut(class) {
            c.weather = weather;
        }
    }

    /// The outdoor temperature changed: `cold` is it while below `cold_below_c`, else `None`. Heating
    /// classes start or end their common cause accordingly.
    pub fn weather(&mut self, cold: Option<f64>, ts: i64, cfg: &CommonCauseConfig, out: &mut Vec<Notice>) {
        if cold.is_some() == self.cold.is_some() {
            self.cold = cold;
            return;
        }
        self.cold = cold;
        for c in self.classes.iter_mut().filter(|c| c.weather) {
            c.judge(cold, ts, cfg, out);
        }
    }

    /// Counts one more device of `class` at `site`; returns its slot in the class.
    pub fn add(&mut self, class: usize, site: usize) -> usize {
        let c = &mut self.classes[class];
        c.ratios.push(0.0);
        if c.per_site.len() <= site {
            c.per_site.resize(site + 1, (0, 0));
        }
        c.per_site[site].0 += 1;
        if c.per_site[site].0 == 1 {
            c.sites += 1;
        }
        c.ratios.len() - 1
    }

    /// Counts one device of `class` at `site` less (it left the inventory); its ratio slot stays, at 0.
    pub fn remove(&mut self, class: usize, site: usize) {
        let Some(c) = self.classes.get_mut(class) else {
            return;
        };
        if let Some(slot) = c.per_site.get_mut(site).filter(|s| s.0 > 0) {
            slot.0 -= 1;
            if slot.0 == 0 {
                c.sites = c.sites.saturating_sub(1);
            }
        }
    }

    /// Whether `class` is in a common cause now.
    #[cfg(test)]
    pub fn active(&self, class: usize) -> bool {
        self.classes.get(class).is_some_and(|c| c.active)
    }

    /// Whether a device of `class` drawing `ratio` times its usual is held by a common cause at `ts`: the
    /// class is in one and the device deviates like its peers, within `peer_z` spreads (1.4826 · MAD) of
    /// the elevated devices' median ratio. A heater stuck at full power among heaters running a little more
    /// on a cold night is its own problem; fan heaters of different sizes switched on together are not.
    ///
    /// For the first `ramp` ms of a common cause every device of the class is held: the slow averages
    /// are still rising, each at a pace set by its own power, and a comparison then would single out the
    /// largest fan heater of a cold morning rather than a fault.
    pub fn holds(&mut self, class: usize, ratio: f64, ts: i64, (peer_z, ramp): (f64, i64)) -> bool {
        let Some(c) = self.classes.get_mut(class).filter(|c| c.active) else {
            return false;
        };
        if ratio <= 0.0 || ts - c.since < ramp {
            return true;
        }
        if ts < c.peers.2 || ts - c.peers.2 >= PEER_REFRESH_MS {
            c.peers = peer_spread(&c.ratios, ts);
        }
        ratio <= c.peers.0 + peer_z * c.peers.1
    }

    /// The device in `slot` of `class` now draws `ratio` times its usual (0: not elevated).
    pub fn ratio(&mut self, class: usize, slot: usize, ratio: f64) {
        if let Some(r) = self.classes.get_mut(class).and_then(|c| c.ratios.get_mut(slot)) {
            *r = ratio;
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
        c.judge(self.cold, ts, cfg, out);
    }
}

impl Class {
    /// Starts or ends the class's common cause from its counts; `cold`: the outdoor temperature while cold.
    fn judge(&mut self, cold: Option<f64>, ts: i64, cfg: &CommonCauseConfig, out: &mut Vec<Notice>) {
        let c = self;
        let weather = cold.filter(|_| c.weather && cfg.enabled);
        let need = if weather.is_some() { 1 } else { cfg.needed(c.sites) };
        if !c.active && c.elevated_sites >= need {
            (c.active, c.since) = (true, ts);
            c.peers = peer_spread(&c.ratios, ts);
            let every = i64::try_from(cfg.announce_every.as_millis()).unwrap_or(i64::MAX);
            let announce = c.announced.0.is_none_or(|a| ts - a >= every);
            c.announced = if announce {
                (Some(ts), true)
            } else {
                (c.announced.0, false)
            };
            if !announce {
                return;
            }
            let text = match weather {
                Some(t) => format!(
                    "{} above their usual at {} of {} sites while it is cold outside ({t:.1} °C, below \
                     {:.1} °C): the weather rather than a fault at each; their learned-normal alerts are held \
                     while it lasts",
                    c.name, c.elevated_sites, c.sites, cfg.cold_below_c
                ),
                None => format!(
                    "{} above their usual at {} of {} sites at once: a common cause (weather, a holiday, a \
                     schedule) rather than a fault at each; their learned-normal alerts are held while it \
                     lasts",
                    c.name, c.elevated_sites, c.sites
                ),
            };
            out.push(c.notice(ts, true, text));
        } else if c.active && u64::from(c.elevated_sites) * 2 < u64::from(need) {
            c.active = false;
            if !std::mem::take(&mut c.announced.1) {
                return;
            }
            let text = if c.elevated_sites > 0 && c.weather && weather.is_none() {
                format!(
                    "{}: no longer cold outside after {} ({} of {} sites still above their usual); \
                     learned-normal alerts resume",
                    c.name,
                    explain::duration(ts - c.since),
                    c.elevated_sites,
                    c.sites
                )
            } else {
                format!(
                    "{} back to usual at all but {} of {} sites after {}; learned-normal alerts resume",
                    c.name,
                    c.elevated_sites,
                    c.sites,
                    explain::duration(ts - c.since)
                )
            };
            out.push(c.notice(ts, false, text));
        }
    }
}

/// Median and spread (1.4826 · MAD, at least [`MIN_SPREAD_REL`] of the median) of the positive `ratios`,
/// stamped `ts`.
fn peer_spread(ratios: &[f64], ts: i64) -> (f64, f64, i64) {
    let mut xs: Vec<f64> = ratios.iter().copied().filter(|r| *r > 0.0).collect();
    let (median, mad) = crate::normal::median_mad(&mut xs);
    (median, (MAD_TO_SIGMA * mad).max(MIN_SPREAD_REL * median), ts)
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

    /// A fleet of twelve sites with one heater each whose first `peers.len()` are elevated at the given
    /// ratios (a common cause once six are).
    fn fleet(peers: &[f64]) -> (Fleet, usize) {
        let cfg = CommonCauseConfig::default();
        let mut f = Fleet::default();
        let c = f.class("heater");
        let mut out = Vec::new();
        let slots: Vec<usize> = (0..12).map(|s| f.add(c, s)).collect();
        for (s, &r) in peers.iter().enumerate() {
            f.ratio(c, slots[s], r);
            f.set(c, s, true, 0, &cfg, &mut out);
        }
        (f, c)
    }

    #[test]
    fn a_device_deviating_far_beyond_its_peers_is_not_held() {
        let z = CommonCauseConfig::default().peer_z;
        let (mut f, c) = fleet(&[1.6; 5]);
        assert!(!f.holds(c, 1.0, 0, (z, 0)), "five of twelve: no common cause yet");
        // (peers' ratios, the device's ratio, held): within `peer_z` robust spreads of the peers' median.
        let cases: &[(&[f64], f64, bool)] = &[
            // Alike peers: the spread counts as a tenth of the median, 1.6 + 3 × 0.16 = 2.08.
            (&[1.6; 6], 0.0, true),
            (&[1.6; 6], 1.6, true),
            (&[1.6; 6], 2.05, true),
            (&[1.6; 6], 2.1, false),
            // A heater stuck at full power (three times its usual) among heaters a little above theirs.
            (&[1.5, 1.6, 1.6, 1.7, 1.8, 1.9], 3.0, false),
            // Fan heaters of different sizes against a 200 W usual: wide spread, all one cause.
            (&[5.0, 6.0, 7.5, 8.0, 9.0, 10.0], 10.0, true),
            (&[5.0, 6.0, 7.5, 8.0, 9.0, 10.0], 20.0, false),
        ];
        for &(peers, ratio, held) in cases {
            let (mut f, c) = fleet(peers);
            assert_eq!(f.holds(c, ratio, 0, (z, 0)), held, "{peers:?} {ratio}");
        }
        // The figures follow the peers, recomputed once a minute.
        let (mut f, c) = fleet(&[1.6; 6]);
        f.ratio(c, 0, 8.0);
        f.ratio(c, 1, 8.0);
        f.ratio(c, 2, 8.0);
        assert!(
            !f.holds(c, 2.5, 30_000, (z, 0)),
            "not recomputed within the minute"
        );
        assert!(f.holds(c, 2.5, 60_000, (z, 0)), "median 4.8, spread 4.7");
        // While the averages still rise, everyone is held.
        assert!(f.holds(c, 50.0, 60_000, (z, 90_000)) && !f.holds(c, 50.0, 90_000, (z, 90_000)));
    }

    proptest::proptest! {
        #[test]
        fn held_devices_never_deviate_beyond_the_peers_range_by_more_than_the_spread(
            peers in proptest::collection::vec(1.5f64..20.0, 6..12),
            ratio in 0.0f64..50.0,
        ) {
            let z = CommonCauseConfig::default().peer_z;
            let (mut f, c) = fleet(&peers);
            let max = peers.iter().copied().fold(0.0, f64::max);
            // At or below the median always held; held ones within the largest peer plus z spreads of it.
            let mut sorted = peers.clone();
            sorted.sort_by(f64::total_cmp);
            let held = f.holds(c, ratio, 0, (z, 0));
            if ratio <= sorted[0] {
                proptest::prop_assert!(held);
            }
            if held {
                proptest::prop_assert!(ratio <= max + z * 1.4826 * (max - sorted[0]).max(0.1 * max) + 1e-9);
            }
        }
    }

    #[test]
    fn a_common_cause_is_announced_at_most_once_a_day() {
        let cfg = CommonCauseConfig::default();
        let mut f = Fleet::default();
        let c = f.class("heater");
        for s in 0..12 {
            f.add(c, s);
        }
        const H: i64 = 3_600_000;
        // (hour, sites elevated from then on, notices expected: started?, in a common cause)
        let cases: [(i64, usize, Vec<bool>, bool); 6] = [
            (4, 6, vec![true], true),
            (5, 2, vec![false], false),
            (6, 6, vec![], true),  // the same morning again: held, not announced
            (7, 0, vec![], false), // …nor its end
            (29, 6, vec![true], true),
            (30, 0, vec![false], false),
        ];
        let (mut up, mut out) = (0usize, Vec::new());
        for (hour, want, notices, active) in cases {
            while up < want {
                f.set(c, up, true, hour * H, &cfg, &mut out);
                up += 1;
            }
            while up > want {
                up -= 1;
                f.set(c, up, false, hour * H, &cfg, &mut out);
            }
            let got: Vec<bool> = out.drain(..).map(|n| n.started).collect();
            assert_eq!(got, notices, "hour {hour}");
            assert_eq!(f.active(c), active, "hour {hour}");
        }
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
