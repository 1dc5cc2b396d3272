//! [`Analytics`]: every detector and the alert book behind two pure, synchronous calls,
//! [`Analytics::observe`] (one reading) and [`Analytics::tick`] (time passes), with the time injected.
//!
//! The service feeds it from the bus with the wall clock; `zaehlwerk eval` and the benchmarks feed it
//! simulated weeks at full speed. Both get the same [`Event`]s: alerts to publish (retained), alerts to
//! clear, and tree statuses.
//!
//! [`Analytics::apply`] follows an inventory change while running: detectors for new sites, devices and
//! trees; those that left are dropped and their open alerts resolve with the reason `retired` (a device
//! whose site or class changed starts over: its alerts resolve as `reconfigured`); the rest keep their
//! learned normal, series and open alerts.
//!
//! With partitions ([`crate::partition`]) the detectors run for a scope of sites only
//! ([`Analytics::scoped`], [`Analytics::rescope`]); the book also holds the other instances' alerts,
//! followed from the bus ([`Analytics::follow`]), and never resolves, expires or acknowledges them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use zw_model::alert::{AckCommand, Alert, AlertId, AlertKind};
use zw_model::tariff::Budget;
use zw_model::tree::TreeStatus;
use zw_model::weather::Weather;
use zw_model::{Id, Inventory, Quantity, Reading};

use crate::alerts::{AckOutcome, AlertBook};
use crate::budget::{BudgetWatch, YearEnd};
use crate::calendar::LocalClock;
use crate::config::Config;
use crate::energy::{Energy, Notice};
use crate::explain::Signal;
use crate::peak::{Closed, PeakWatch};
use crate::trees::Trees;

/// Something analytics concluded, to be published.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An alert opened, changed, was acknowledged or resolved: publish it retained on its topic.
    Alert(Alert),
    /// A resolved alert expired: clear its retained topic.
    AlertRemoved(AlertId),
    /// A tree's status: publish it retained on its topic.
    Tree(TreeStatus),
    /// Fleet-wide context that is no alert (a common cause starting or ending): logged and counted.
    Notice(Notice),
}

/// Detector state and the alert book. Pure: no I/O, time injected.
#[derive(Debug, Clone)]
pub struct Analytics {
    clock: LocalClock,
    energy: Energy,
    trees: Trees,
    book: AlertBook,
    budgets: BudgetWatch,
    peaks: PeakWatch,
    signals: Vec<Signal>,
    /// Readings observed since start.
    pub observed: u64,
    /// Time of the newest reading observed.
    pub last_reading: Option<DateTime<Utc>>,
    /// The sites whose detectors run here; `None`: every site of the inventory (a single instance).
    scope: Option<BTreeSet<Id>>,
    /// The whole inventory as last applied: a changed scope rebuilds the detectors from it.
    inventory: Inventory,
}

/// `inv` with only the sites of `scope` (and their trees).
fn watched(inv: &Inventory, scope: Option<&BTreeSet<Id>>) -> Inventory {
    let mut inv = inv.clone();
    if let Some(scope) = scope {
        inv.sites.retain(|s| scope.contains(&s.id));
        inv.trees.retain(|t| scope.contains(&t.site));
    }
    inv
}

impl Analytics {
    /// Detectors for the devices and trees of `inv`.
    pub fn new(cfg: &Config, inv: &Inventory) -> Self {
        Self::scoped(cfg, inv, None)
    }

    /// Detectors for the sites of `scope` in `inv` (all of them when `None`) and their devices and trees.
    pub fn scoped(cfg: &Config, inv: &Inventory, scope: Option<BTreeSet<Id>>) -> Self {
        let full = inv;
        let inv = &watched(inv, scope.as_ref());
        let energy = Energy::new(cfg, inv);
        let peaks = PeakWatch::new(&cfg.peak, cfg.tz(), inv, &|s| energy.contributors(s));
        Self {
            scope,
            inventory: full.clone(),
            clock: LocalClock::new(cfg.tz()),
            energy,
            peaks,
            trees: Trees::new(&cfg.trees, inv),
            book: AlertBook::new(cfg.alerts.resolved_retention),
            budgets: BudgetWatch::new(),
            signals: Vec::new(),
            observed: 0,
            last_reading: None,
        }
    }

    /// Feeds one validated reading; `now` is the receiver's clock (unused by the per-reading checks, which
    /// run on the reading's own time so that replays behave like live data).
    pub fn observe(&mut self, r: &Reading, _now: DateTime<Utc>) -> Vec<Event> {
        if !self.owns(r.site.as_str()) {
            return Vec::new();
        }
        self.observed += 1;
        self.last_reading = Some(self.last_reading.map_or(r.ts, |t| t.max(r.ts)));
        let ts = r.ts.timestamp_millis();
        if let Some(&p) = r.values.get(&Quantity::ActivePower) {
            let local = self.clock.local(ts);
            self.energy
                .power(&r.site, &r.device, ts, local, p, &mut self.signals);
            self.peaks.power(&r.site, &r.device, ts, p, &mut self.signals);
        }
        if let Some(&t) = r.values.get(&Quantity::Temperature) {
            self.energy.temperature(&r.device, ts, t);
        }
        let soil = [
            Quantity::SoilMoisture,
            Quantity::SoilWaterTension,
            Quantity::BatteryVoltage,
        ];
        if soil.iter().any(|q| r.values.contains_key(q)) {
            self.trees.observe(r);
        }
        self.drain(Vec::new())
    }

    /// Feeds one validated weather message (ET0 observed and forecast of an area). `false` when no park
    /// uses its area. The forecast counts from the next tree evaluation on, and only ever as issued: a
    /// caller never hands in a message before its `issued` time.
    pub fn weather(&mut self, w: &Weather) -> bool {
        self.trees.weather(w)
    }

    /// Time-driven checks at `now`: stale devices, sensor gaps, tree evaluation, alert expiry.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<Event> {
        let ms = now.timestamp_millis();
        self.energy.tick(ms, &mut self.signals);
        self.peaks.tick(ms, &mut self.signals);
        let local = self.clock.local(ms);
        let trees = self.trees.tick(ms, local, &mut self.signals);
        let mut events = self.drain(Vec::new());
        events.extend(trees.into_iter().map(Event::Tree));
        // Another instance's resolved alerts leave the book silently: their owner clears their topics.
        let expired = self.book.expire(now).into_iter();
        events.extend(
            expired
                .filter(|a| self.scope.as_ref().is_none_or(|s| s.contains(&a.site)))
                .map(|a| Event::AlertRemoved(a.id)),
        );
        events
    }

    /// Evaluates the sites' budgets against their year-end forecasts ([`crate::budget`]) at `now`.
    pub fn budgets(&mut self, forecasts: &[(Budget, YearEnd)], now: DateTime<Utc>) -> Vec<Event> {
        for (b, f) in forecasts {
            if !self.owns(b.site.as_str()) {
                continue;
            }
            if let Some(s) = self.budgets.evaluate(b, f, now) {
                self.signals.push(s);
            }
        }
        self.drain(Vec::new())
    }

    fn drain(&mut self, mut events: Vec<Event>) -> Vec<Event> {
        for s in self.signals.drain(..) {
            if let Some(a) = self.book.apply(s) {
                events.push(Event::Alert(a));
            }
        }
        events.extend(self.energy.take_notices().into_iter().map(Event::Notice));
        events
    }

    /// Takes back the alerts read from the bus at start, before any reading: active ones re-arm their
    /// detector so they resolve through the normal path and are never opened twice. An active alert no
    /// detector can take back (its device or tree left the inventory) is resolved at once.
    pub fn restore(&mut self, alerts: Vec<Alert>, now: DateTime<Utc>) -> Vec<Event> {
        let mut events = Vec::new();
        for a in alerts {
            if !self.owns(a.site.as_str()) {
                // Another instance's: known, carried on by its owner.
                self.book.restore(a);
                continue;
            }
            let active = a.is_active();
            let id = a.id.clone();
            let rearmed = active && self.rearm(&a, now);
            self.book.restore(a);
            if active
                && !rearmed
                && let Some(a) = self.book.resolve(&id, now, "its subject is no longer watched")
            {
                events.push(Event::Alert(a));
            }
        }
        events
    }

    /// Re-arms the detector of an active alert `a` (at a restart or a handover); `false` when no
    /// detector of this instance takes it.
    fn rearm(&mut self, a: &Alert, now: DateTime<Utc>) -> bool {
        let (kind, since) = (a.kind, a.explanation.since.timestamp_millis());
        self.energy.restore(
            kind,
            &a.site,
            a.subject.device.as_ref(),
            since,
            now.timestamp_millis(),
        ) || self.trees.restore(kind, &a.subject, since)
            || (kind == AlertKind::Peak && self.peaks.restore(&a.site, since))
            || (kind == AlertKind::Budget && self.budgets.restore(a))
    }

    /// Whether this instance runs `site`'s detectors.
    pub fn owns(&self, site: &str) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(site))
    }

    /// Takes in an alert another instance published (followed on `zw/v1/alerts/+`); `false` when its site
    /// is this instance's (the book is the authority for its own sites; the bus only echoes it).
    pub fn follow(&mut self, a: Alert) -> bool {
        if self.owns(a.site.as_str()) {
            return false;
        }
        self.book.restore(a);
        true
    }

    /// Forgets an alert whose retained topic another instance cleared; `false` when its site is this
    /// instance's or it is unknown.
    pub fn forget(&mut self, id: &AlertId) -> bool {
        match self.book.get(id) {
            Some(a) if !self.owns(a.site.as_str()) => self.book.remove(id).is_some(),
            _ => false,
        }
    }

    /// Runs the detectors for `scope` from now on ([`crate::partition`]): sites that left it are dropped
    /// at once, their alerts neither resolved nor raised; sites that joined it get fresh detectors, re-armed
    /// from the book's active alerts of theirs (an active alert no detector takes is resolved, as at a
    /// restart). Returns those resolutions. Warm the joined sites up before feeding their readings.
    pub fn rescope(&mut self, scope: BTreeSet<Id>, now: DateTime<Utc>) -> Vec<Event> {
        let joined: BTreeSet<Id> = match &self.scope {
            Some(old) => scope.difference(old).cloned().collect(),
            None => BTreeSet::new(),
        };
        if let Some(old) = &self.scope {
            for site in old.difference(&scope) {
                self.budgets.forget(site);
            }
        }
        self.scope = Some(scope);
        let inv = watched(&self.inventory, self.scope.as_ref());
        // Detectors of sites that left are reset without a signal; those of sites that joined start fresh.
        self.energy.apply(&inv, now.timestamp_millis());
        let energy = &self.energy;
        self.peaks.apply(&inv, &|s| energy.contributors(s));
        self.trees.apply(&inv);
        let active: Vec<Alert> = self
            .book
            .active()
            .filter(|a| joined.contains(&a.site))
            .cloned()
            .collect();
        let mut events = Vec::new();
        for a in active {
            if !self.rearm(&a, now)
                && let Some(a) = self.book.resolve(&a.id, now, "its subject is no longer watched")
            {
                events.push(Event::Alert(a));
            }
        }
        events.extend(self.drain(Vec::new()));
        events
    }

    /// Follows a changed inventory (see the module doc) at `now`; returns the alerts resolved.
    pub fn apply(&mut self, inv: &Inventory, now: DateTime<Utc>) -> Vec<Event> {
        self.inventory = inv.clone();
        let full = inv;
        let inv = &watched(inv, self.scope.as_ref());
        let retired = self.energy.apply(inv, now.timestamp_millis());
        let energy = &self.energy;
        self.peaks.apply(inv, &|s| energy.contributors(s));
        self.trees.apply(inv);
        let inv = full;
        let mut resolve: Vec<(AlertId, &str)> = Vec::new();
        // Another instance's alerts are resolved by their owner.
        let scope = self.scope.as_ref();
        for a in self
            .book
            .active()
            .filter(|a| scope.is_none_or(|s| s.contains(&a.site)))
        {
            let s = &a.subject;
            let site_known = inv.sites.iter().any(|x| x.id == a.site);
            let device_known = s
                .device
                .as_ref()
                .is_none_or(|d| inv.device(d.as_str()).is_some_and(|(site, _)| site.id == a.site));
            let tree_known = s
                .tree
                .as_ref()
                .is_none_or(|t| inv.trees.iter().any(|x| &x.id == t && x.site == a.site));
            if !(site_known && device_known && tree_known) {
                resolve.push((a.id.clone(), "retired"));
            } else if matches!(a.kind, AlertKind::HighConsumption | AlertKind::LeftOn)
                && retired
                    .iter()
                    .any(|(site, d)| *site == a.site && d.is_some() && *d == s.device)
            {
                resolve.push((a.id.clone(), "reconfigured"));
            }
        }
        let mut events = self.drain(Vec::new());
        for (id, reason) in resolve {
            if let Some(a) = self.book.resolve(&id, now, reason) {
                events.push(Event::Alert(a));
            }
        }
        events
    }

    /// Applies an acknowledgement from the API.
    pub fn acknowledge(&mut self, cmd: &AckCommand, now: DateTime<Utc>) -> AckOutcome {
        // Another instance's alert: its owner applies the acknowledgement.
        if self
            .book
            .get(&cmd.alert)
            .is_some_and(|a| !self.owns(a.site.as_str()))
        {
            return AckOutcome::Ignored("not_owned");
        }
        self.book.acknowledge(cmd, now)
    }

    /// Takes in a watering logged through the API ([`crate::trees::watering`]); returns the mm it gave.
    pub fn watered(
        &mut self,
        w: &crate::trees::watering::Watered,
    ) -> Result<f64, crate::trees::watering::WateringError> {
        self.trees.watered(w)
    }

    /// The tree sensors' device ids (warm-up).
    pub fn tree_sensors(&self) -> Vec<Id> {
        self.trees.sensor_ids().cloned().collect()
    }

    /// Learns a historic soil reading (warm-up): the sensor's series, trend and fault state. Nothing is
    /// evaluated and no alert raised; the next tick evaluates the trees with this history.
    pub fn warm_soil(&mut self, r: &Reading) {
        self.trees.observe(r);
    }

    /// Learns a historic window mean of a device (warm-up), hour-of-week `how`.
    pub fn warm_device(&mut self, site: &Id, device: &Id, how: usize, mean: f64) {
        self.energy.warm(site, device, how, mean);
    }

    /// Learns a historic window of a site total (warm-up) starting at `start`.
    pub fn warm_site(&mut self, site: &Id, start: DateTime<Utc>, total: f64) {
        let local = self.clock.at(start);
        self.energy
            .warm_site(site, start.timestamp_millis(), local, total);
    }

    /// The hour of the week of `t` in the configured time zone.
    pub fn hour_of_week(&mut self, t: DateTime<Utc>) -> usize {
        self.clock.at(t).hour_of_week()
    }

    /// Devices whose power makes up `site`'s total.
    pub fn site_contributors(&self, site: &Id) -> Vec<Id> {
        self.energy.contributors(site)
    }

    /// The peak watch (warm-up, eval).
    pub fn peaks(&mut self) -> &mut PeakWatch {
        &mut self.peaks
    }

    /// How the watched sites' quarter hours ended since the last call (metrics, eval).
    pub fn take_closed_quarters(&mut self) -> Vec<Closed> {
        self.peaks.take_closed()
    }

    /// The inventory as last applied (every site, owned or not).
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The alert book.
    pub fn alerts(&self) -> &AlertBook {
        &self.book
    }

    /// Power devices tracked, and readings ignored because the cap was reached.
    pub fn devices(&self) -> (usize, u64) {
        (self.energy.devices(), self.energy.over_capacity)
    }
}
