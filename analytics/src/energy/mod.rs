//! The energy detectors: high consumption per device and per site (static limits, learned normal), devices
//! left on outside usage hours, and night/weekend baseload per building.
//!
//! Input is `active_power`, which every meter and plug delivers. Each device's power is smoothed
//! (exponentially, `power.smoothing`) and every check compares the smoothed value, so one spike is never an
//! alert; conditions must hold for `power.hold` and clear with hysteresis ([`crate::condition`]). Window
//! means (`power.window`) teach the hour-of-week normal ([`crate::normal`]) unless the device is in an alert
//! condition. A site's total is the sum of its main meters' smoothed power (`power.site_classes`), known
//! only while every one of them reports.
//!
//! Calendars ([`crate::calendar::Calendar`]): each device has its usage hours (per site and class), each
//! site its days off (public holidays of its state, configured days off, school holidays for schools). A
//! day off counts as a Sunday: no usage hours, a weekend day for the baseload, and the Sunday hours of the
//! learned normal. Devices at sites of `left_on.learned_use_kinds` (households) are judged against their
//! own learned use instead of usage hours: a fridge that always runs is never "left on".
//!
//! Cost per reading: two hash lookups at most, a few float operations; window closes (once per window and
//! device) sort at most a few dozen samples.
//!
//! [`Energy::apply`] follows an inventory change: new sites get their detectors, sites and devices that
//! left (or whose site or class changed) are retired (their conditions end, their slots stay inert, the
//! caller resolves their open alerts), and unchanged ones keep their learned normal and open conditions.

mod baseload;
mod common;
mod high;
mod learned;
mod restore;
mod state;

use std::collections::{HashMap, HashSet};

use zw_model::alert::AlertKind;
use zw_model::{Id, Inventory, SiteKind};

use crate::calendar::{Calendar, Local, as_sunday, in_usage_hours, period};
use crate::condition::Transition;
use crate::config::Config;
use crate::explain::{self, Change, Signal};
use crate::normal::Normal;
use baseload::Baseload;
use common::Fleet;
pub use common::Notice;
use high::{Target, check_high, check_left_on};
use state::{Dev, Opened, Params, SiteSt, Window, smooth, smooth_with};

/// Energy detector state for every device and site seen.
#[derive(Debug, Clone)]
pub struct Energy {
    prm: Params,
    cfg: Config,
    cal: Calendar,
    inventory: HashMap<Id, (Id, String)>,
    devs: Vec<Dev>,
    dev_idx: HashMap<Id, usize>,
    sites: Vec<SiteSt>,
    site_idx: HashMap<Id, usize>,
    fleet: Fleet,
    /// Fleet-wide notices not yet taken ([`Energy::take_notices`]).
    notices: Vec<Notice>,
    /// Outdoor temperature sensors (class `outdoor_temperature`): last reading time and smoothed °C.
    outdoor: HashMap<Id, (i64, f64)>,
    /// Power readings ignored because `power.max_devices` devices are tracked already.
    pub over_capacity: u64,
}

impl Energy {
    /// Detectors for the devices of `inv` (others are added when they first report, up to the cap).
    pub fn new(cfg: &Config, inv: &Inventory) -> Self {
        let classes: HashSet<&str> = cfg.power.site_classes.iter().map(String::as_str).collect();
        let mut e = Self {
            prm: Params::new(cfg),
            cfg: cfg.clone(),
            cal: Calendar::new(cfg, inv),
            inventory: inv
                .devices()
                .map(|(s, d)| (d.id.clone(), (s.id.clone(), d.class.clone())))
                .collect(),
            devs: Vec::new(),
            dev_idx: HashMap::new(),
            sites: Vec::new(),
            site_idx: HashMap::new(),
            fleet: Fleet::default(),
            notices: Vec::new(),
            outdoor: HashMap::new(),
            over_capacity: 0,
        };
        for s in &inv.sites {
            let main = s
                .devices
                .iter()
                .filter(|d| classes.contains(d.class.as_str()))
                .count() as u32;
            let i = e.site(&s.id, Some(s.kind));
            e.sites[i].has_class_devices = main > 0;
            e.sites[i].contributors = main;
        }
        e
    }

    /// Follows a changed inventory (see the module doc); returns what was retired: (site, device) for a
    /// device, (site, None) for a site. `now` (UTC ms) dates the fleet's bookkeeping.
    pub fn apply(&mut self, inv: &Inventory, now: i64) -> Vec<(Id, Option<Id>)> {
        let classes: HashSet<String> = self.cfg.power.site_classes.iter().cloned().collect();
        self.cal = Calendar::new(&self.cfg, inv);
        self.inventory = inv
            .devices()
            .map(|(s, d)| (d.id.clone(), (s.id.clone(), d.class.clone())))
            .collect();
        let mut retired = Vec::new();
        let mut tracked: Vec<(Id, usize)> = self.dev_idx.iter().map(|(k, &i)| (k.clone(), i)).collect();
        tracked.sort_by_key(|(_, i)| *i);
        for (id, i) in tracked {
            let site = self.sites[self.devs[i].site].id.clone();
            let keep = self
                .inventory
                .get(&id)
                .is_some_and(|(s, c)| *s == site && *c == self.devs[i].class);
            if !keep {
                self.retire(i, now);
                retired.push((site, Some(id)));
            }
        }
        for s in &inv.sites {
            let i = self.site(&s.id, Some(s.kind));
            let on = self.baseload_on(Some(s.kind));
            let main = s.devices.iter().filter(|d| classes.contains(&d.class)).count() as u32;
            let live: Vec<usize> = self
                .dev_idx
                .values()
                .copied()
                .filter(|&d| self.devs[d].site == i)
                .collect();
            let learned = self.learned_use(Some(s.kind));
            for &d in &live {
                let d = &mut self.devs[d];
                d.usage = self.cal.usage(s.id.as_str(), &d.class);
                d.learned_use = learned;
            }
            let st = &mut self.sites[i];
            (st.kind, st.off) = (Some(s.kind), self.cal.days_off(&s.id));
            st.baseload_on = on;
            st.has_class_devices = main > 0;
            st.contributors = if main > 0 { main } else { live.len() as u32 };
            for d in live {
                let d = &mut self.devs[d];
                d.contributes = main == 0 || classes.contains(&d.class);
            }
        }
        let gone: Vec<(Id, usize)> = self
            .site_idx
            .iter()
            .filter(|(id, _)| !inv.sites.iter().any(|s| &s.id == *id))
            .map(|(id, &i)| (id.clone(), i))
            .collect();
        for (id, i) in gone {
            let s = &mut self.sites[i];
            s.high.reset();
            s.base = Baseload::default();
            (s.present, s.total, s.contributors) = (0, 0.0, 0);
            self.site_idx.remove(&id);
            retired.push((id, None));
        }
        retired
    }

    /// Ends a device's conditions and takes it out of the fleet and the index; its slot stays, inert (the
    /// tick finds it silent), so the other devices' indices hold.
    fn retire(&mut self, i: usize, now: i64) {
        let d = &mut self.devs[i];
        d.high.reset();
        d.left.reset();
        (d.ema, d.slow, d.last_seen, d.ratio) = (None, f64::NAN, i64::MIN, 0.0);
        self.fleet.ratio(d.fleet.0, d.fleet_slot, 0.0);
        if d.fleet.1 {
            d.fleet.1 = false;
            let cc = &self.cfg.common_cause;
            self.fleet
                .set(d.fleet.0, d.site, false, now, cc, &mut self.notices);
        }
        self.fleet.remove(d.fleet.0, d.site);
        self.sites[d.site].explain(d, 0.0);
        self.dev_idx.remove(&d.id);
    }

    fn baseload_on(&self, kind: Option<SiteKind>) -> bool {
        let name = kind_name(kind);
        self.cfg.baseload.site_kinds.iter().any(|k| k == name)
    }

    fn learned_use(&self, kind: Option<SiteKind>) -> bool {
        let name = kind_name(kind);
        self.cfg.left_on.learned_use_kinds.iter().any(|k| k == name)
    }

    fn site(&mut self, id: &Id, kind: Option<SiteKind>) -> usize {
        if let Some(&i) = self.site_idx.get(id) {
            return i;
        }
        let baseload_on = self.baseload_on(kind);
        self.sites.push(SiteSt {
            id: id.clone(),
            kind,
            off: self.cal.days_off(id),
            baseload_on,
            has_class_devices: false,
            contributors: 0,
            present: 0,
            total: 0.0,
            last_ts: 0,
            window: Window::default(),
            normal: Normal::new(self.prm.cap, self.cfg.normal.q_high),
            high: Default::default(),
            high_refresh: 0,
            high_open: Opened::default(),
            explained: 0.0,
            explaining: 0,
            base: Baseload::default(),
        });
        self.site_idx.insert(id.clone(), self.sites.len() - 1);
        self.sites.len() - 1
    }

    fn device(&mut self, site: &Id, id: &Id) -> Option<usize> {
        if let Some(&i) = self.dev_idx.get(id) {
            return Some(i);
        }
        if self.devs.len() >= self.cfg.power.max_devices {
            self.over_capacity += 1;
            return None;
        }
        let (site, class) = self
            .inventory
            .get(id)
            .cloned()
            .unwrap_or_else(|| (site.clone(), String::new()));
        let si = self.site(&site, None);
        let s = &mut self.sites[si];
        let contributes = !s.has_class_devices || self.cfg.power.site_classes.contains(&class);
        if contributes && !s.has_class_devices {
            s.contributors += 1;
        }
        let lo = &self.cfg.left_on;
        let usage = self.cal.usage(self.sites[si].id.as_str(), &class);
        let learned_use = self.learned_use(self.sites[si].kind);
        let fleet_class = self.fleet.class(&class);
        let fleet_slot = self.fleet.add(fleet_class, si);
        let heats = self.cfg.common_cause.weather_classes.contains(&class);
        self.fleet.set_weather_class(fleet_class, heats);
        self.devs.push(Dev {
            id: id.clone(),
            site: si,
            limit: self.cfg.limits.get(&class).map(|w| w.0),
            left_on: lo.classes.contains(&class) && !lo.exclude.iter().any(|x| x == id.as_str()),
            usage,
            learned_use,
            class,
            contributes,
            last_ts: i64::MIN,
            last_seen: i64::MIN,
            ema: None,
            slow: f64::NAN,
            explains: 0.0,
            ratio: 0.0,
            window: Window::default(),
            normal: Normal::new(self.prm.cap, self.cfg.normal.q_high),
            high: Default::default(),
            high_refresh: 0,
            high_open: Opened::default(),
            left: Default::default(),
            left_refresh: 0,
            runs: Default::default(),
            fleet: (fleet_class, false),
            fleet_slot,
        });
        self.dev_idx.insert(id.clone(), self.devs.len() - 1);
        Some(self.devs.len() - 1)
    }

    /// Feeds the `active_power` `p` (W) of `device` at `ts` (UTC ms, local time `local`).
    pub fn power(&mut self, site: &Id, device: &Id, ts: i64, local: Local, p: f64, out: &mut Vec<Signal>) {
        let Some(i) = self.device(site, device) else {
            return;
        };
        let (prm, cfg) = (&self.prm, &self.cfg);
        let d = &mut self.devs[i];
        if ts <= d.last_ts {
            return;
        }
        // A day off (public holiday, school holiday of a school) learns and is judged as a Sunday.
        let days_off = &self.sites[d.site].off;
        let off = days_off.contains(local.day());
        let as_of = |l: Local, off: bool| if off { as_sunday(l) } else { l };
        let judged = as_of(local, off);
        let old = d.ema;
        let dt = ts.saturating_sub(d.last_ts);
        let ema = smooth(old, dt, p, prm);
        // The slow average (time constant three times `power.hold`) decides elevation for the common-
        // cause check: a thermostat's on-phases or a kettle are not a device running above its usual, a
        // fan heater switched on is (1 kW passes a 200 W floor within 7 of the 10 minutes' hold).
        d.slow = smooth_with(d.slow, dt, p, 3.0 * prm.hold as f64, prm.stale);
        (d.ema, d.last_ts, d.last_seen) = (Some(ema), ts, ts.max(d.last_seen));
        if let Some(w) = d.window.add(ts, local, p, prm.win_ms) {
            let adopt = d.high.since().is_some_and(|s| ts - s >= prm.adopt_after);
            if !(d.high.is_engaged() || d.left.is_engaged()) || adopt {
                let how = as_of(w.local, days_off.contains(w.local.day())).hour_of_week();
                if d.learned_use && d.left_on {
                    // Its use is what it learns: a wash at an hour new to it, not an outlier to refuse.
                    d.normal.push(how, w.mean);
                } else {
                    d.normal.learn(how, w.mean, prm.min_samples, &cfg.normal);
                }
            }
        }
        let s = &mut self.sites[d.site];
        let t = Target {
            site: &s.id,
            device: Some(&d.id),
            class: &d.class,
            limit: d.limit,
            adj: if d.high.is_active() {
                d.high_open.adj
            } else if d.contributes && s.contributors == 1 {
                s.base.open_excess()
            } else {
                0.0
            },
            // A meter's excess that an open alert on one of the site's other devices explains (a stuck
            // heater behind the main meter) is that alert's story: the meter is checked beyond it.
            explained: if d.contributes { s.explained } else { 0.0 },
        };
        let mut suppressed = false;
        if d.left_on {
            // A household's device: judged against its own use ([`learned`]); its usual runs are no one's
            // alert, neither its own high consumption nor (below) its meter's.
            let (outside, usual_run) = if d.learned_use {
                let run = d.runs.update(ts, ema, prm.left_min, d.left.is_engaged());
                let v = learned::judge(&d.normal, &d.runs, judged, run, prm.min_samples, prm.left_min);
                suppressed = v.usual;
                // Off: "switched off" when an alert closes.
                (v.outside || run == 0, Some(v.usual_run))
            } else {
                (!in_usage_hours(local, &d.usage, off), None)
            };
            check_left_on(
                &mut d.left,
                &mut d.left_refresh,
                &t,
                ts,
                (outside, usual_run),
                (ema, p),
                prm,
                out,
            );
            suppressed |= d.left.is_engaged();
        }
        // While a baseload alert is open, the baseload's excess is its story: the site's only meter is
        // checked for high consumption beyond it.
        let (adj, x) = (t.adj, t.explained);
        let common = self
            .fleet
            .holds(d.fleet.0, d.ratio, ts, (cfg.common_cause.peer_z, 3 * prm.hold));
        let ratio = check_high(
            &mut d.high,
            (&mut d.high_refresh, &mut d.high_open),
            &d.normal,
            &t,
            ts,
            judged,
            (ema - adj - x, p - adj - x, d.slow - adj),
            (suppressed, common),
            prm,
            &cfg.normal,
            out,
        );
        let elevated = ratio > 0.0;
        if ratio != d.ratio {
            self.fleet.ratio(d.fleet.0, d.fleet_slot, ratio);
            d.ratio = ratio;
        }
        if elevated != d.fleet.1 {
            d.fleet.1 = elevated;
            let cc = &cfg.common_cause;
            self.fleet
                .set(d.fleet.0, d.site, elevated, ts, cc, &mut self.notices);
        }
        if !d.contributes {
            let explains = if d.high.is_active() {
                d.high_open.excess.max(0.0)
            } else if d.left.is_active() {
                ema
            } else if d.learned_use && d.left_on {
                // A household's plug is judged on its own: its meter is checked beyond what the plug draws
                // above its usual for the hour (a wash is the plug's story, not the meter's).
                let how = judged.hour_of_week();
                let usual = d.normal.hour(how, prm.min_samples, &cfg.normal, prm.hysteresis);
                (ema - usual.map_or(0.0, |b| b.expected)).max(0.0)
            } else {
                0.0
            };
            s.explain(d, explains);
            return;
        }
        match old {
            None => (s.present, s.total) = (s.present + 1, s.total + ema),
            Some(o) => s.total += ema - o,
        }
        s.last_ts = s.last_ts.max(ts);
        if !s.total_known() {
            return;
        }
        if let Some(w) = s.window.add(ts, local, s.total, prm.win_ms) {
            let adopt = s.high.since().is_some_and(|x| ts - x >= prm.adopt_after);
            let w_off = s.off.contains(w.local.day());
            if !s.high.is_engaged() || adopt {
                let how = as_of(w.local, w_off).hour_of_week();
                s.normal.learn(how, w.mean, prm.min_samples, &cfg.normal);
            }
            if s.baseload_on {
                let p = period(w.local, &cfg.baseload, w_off);
                let (h, a) = (prm.hysteresis, prm.adopt_after);
                s.base.window(w.start, p, w.mean, &cfg.baseload, h, a, &s.id, out);
            }
        }
        if s.contributors >= 2 {
            let t = Target {
                site: &s.id,
                device: None,
                class: "site",
                limit: None,
                adj: if s.high.is_active() {
                    s.high_open.adj
                } else {
                    s.base.open_excess()
                },
                explained: s.explained,
            };
            let total = s.total - t.adj - t.explained;
            check_high(
                &mut s.high,
                (&mut s.high_refresh, &mut s.high_open),
                &s.normal,
                &t,
                ts,
                judged,
                (total, total, f64::NAN),
                (false, false),
                prm,
                &cfg.normal,
                out,
            );
        }
    }

    /// Feeds an outdoor `temperature` (°C) of `device` at `ts` (UTC ms); only devices of class
    /// `outdoor_temperature` count. The fleet is cold while the mean of the sensors heard within
    /// `power.stale_after`, each smoothed like power, is below `common_cause.cold_below_c`.
    pub fn temperature(&mut self, device: &Id, ts: i64, temperature: f64) {
        let outdoor = self
            .inventory
            .get(device)
            .is_some_and(|(_, c)| c == "outdoor_temperature");
        if !outdoor || !temperature.is_finite() {
            return;
        }
        let prm = &self.prm;
        let e = self.outdoor.entry(device.clone()).or_insert((ts, temperature));
        if ts < e.0 {
            return;
        }
        *e = (ts, smooth_with(e.1, ts - e.0, temperature, prm.tau_ms, prm.stale));
        self.judge_weather(ts);
    }

    fn judge_weather(&mut self, now: i64) {
        let fresh: Vec<f64> = self
            .outdoor
            .values()
            .filter(|(t, _)| now.saturating_sub(*t) <= self.prm.stale)
            .map(|(_, v)| *v)
            .collect();
        let mean = (!fresh.is_empty()).then(|| fresh.iter().sum::<f64>() / fresh.len() as f64);
        let cc = &self.cfg.common_cause;
        let cold = mean.filter(|t| *t < cc.cold_below_c);
        self.fleet.weather(cold, now, cc, &mut self.notices);
    }

    /// Time-driven checks at `now` (UTC ms): devices silent for `power.stale_after` stop counting and their
    /// open conditions resolve.
    pub fn tick(&mut self, now: i64, out: &mut Vec<Signal>) {
        let stale = self.prm.stale;
        if !self.outdoor.is_empty() {
            self.judge_weather(now);
        }
        for s in &mut self.sites {
            s.present = 0;
            s.total = 0.0;
        }
        for d in &mut self.devs {
            let s = &mut self.sites[d.site];
            if now.saturating_sub(d.last_seen) > stale {
                d.ema = None;
                d.slow = f64::NAN;
                self.fleet.ratio(d.fleet.0, d.fleet_slot, 0.0);
                d.ratio = 0.0;
                s.explain(d, 0.0);
                if d.fleet.1 {
                    d.fleet.1 = false;
                    let cc = &self.cfg.common_cause;
                    self.fleet
                        .set(d.fleet.0, d.site, false, now, cc, &mut self.notices);
                }
                let reason = || {
                    format!(
                        "no data for {}",
                        explain::duration(now.saturating_sub(d.last_seen))
                    )
                };
                for (cond, kind) in [
                    (&mut d.high, AlertKind::HighConsumption),
                    (&mut d.left, AlertKind::LeftOn),
                ] {
                    if cond.reset() == Transition::Closed {
                        out.push(clear(kind, &s.id, Some(&d.id), now, reason()));
                    }
                }
            } else if let (Some(e), true) = (d.ema, d.contributes) {
                s.present += 1;
                s.total += e;
            }
        }
        for s in &mut self.sites {
            if !s.total_known()
                && now.saturating_sub(s.last_ts) > stale
                && s.high.reset() == Transition::Closed
            {
                out.push(clear(
                    AlertKind::HighConsumption,
                    &s.id,
                    None,
                    now,
                    "no data from its meters".into(),
                ));
            }
        }
    }

    /// Takes the fleet-wide notices raised since the last call.
    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    /// Devices tracked.
    pub fn devices(&self) -> usize {
        self.devs.len()
    }
}

/// A site kind as named in the config (`building`, `household`, `park`, `business`; unknown: empty).
fn kind_name(kind: Option<SiteKind>) -> &'static str {
    match kind {
        Some(SiteKind::Building) => "building",
        Some(SiteKind::Household) => "household",
        Some(SiteKind::Park) => "park",
        Some(SiteKind::Business) => "business",
        None => "",
    }
}

fn clear(kind: AlertKind, site: &Id, device: Option<&Id>, ts: i64, reason: String) -> Signal {
    Signal {
        kind,
        site: site.clone(),
        subject: zw_model::alert::Subject {
            device: device.cloned(),
            tree: None,
        },
        at: explain::utc(ts),
        change: Change::Clear { reason },
    }
}

#[cfg(test)]
mod calendar_tests;
#[cfg(test)]
mod tests;
