//! Several analytics instances, each running the detectors of its share of the sites
//! (`[analytics.partitions]`, [`crate::config::PartitionsConfig`]).
//!
//! **Split.** Every instance publishes a heartbeat on `zw/v1/members/analytics/{instance}` and follows the
//! others' ([`zw_bus::Membership`]); a site belongs to the live instance its id ranks highest under
//! rendezvous hashing ([`zw_bus::Members::owner`]), so every instance computes the same split without
//! talking to the others, and an instance joining or leaving moves only its own sites. Readings of sites
//! owned elsewhere are acknowledged unread (`zw_analytics_readings_skipped_total`); the energy, tree,
//! budget and peak detectors run only for owned sites, and acknowledgements are applied by the owner.
//!
//! **Alert book.** Every instance follows every retained alert on `zw/v1/alerts/+` for as long as it runs
//! (not only at start), so its book holds the other instances' open alerts as they change.
//!
//! **Handover** ([`Partition`], pure with the time injected):
//! * a site lost is released at once: its detectors are dropped, no alert of it is resolved or raised by
//!   the instance that lost it (the new owner carries them on);
//! * a site gained waits one heartbeat (the settle, so the previous owner has seen the same member set and
//!   released it, and its last alert changes have reached the book), then its detectors are built, re-armed
//!   from the book's active alerts of that site (as at a restart: an open alert is refreshed, never opened
//!   a second time) and warmed up from the time-series store ([`crate::warmup`], restricted to the gained
//!   sites, plus the peaks so far), all before any reading of it is evaluated.
//!
//! **Windows.** After an instance dies, its sites go unwatched until the others notice (its last will
//! clears its heartbeat after the broker's keep-alive check, or `partitions.timeout` passes), plus the
//! settle and the warm-up: readings in that gap are not evaluated, alert conditions that still hold are
//! raised (or refreshed) by the new owner once their hold time passes again. When an instance joins, the
//! old owner releases at once and the newcomer takes over a heartbeat later: a gap, never an overlap,
//! unless the two see the member change more than a heartbeat apart (a slow broker link), in which case
//! both may refresh the same alert for that while (the same id: still one alert).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use zw_model::Id;

pub(crate) mod live;

/// Which sites this instance owns and which it is about to take over.
#[derive(Debug, Clone)]
pub struct Partition {
    owned: BTreeSet<Id>,
    /// Sites gained, and when the settle is over.
    pending: BTreeMap<Id, DateTime<Utc>>,
    settle: TimeDelta,
}

impl Partition {
    /// No site owned yet; a site gained is taken over `settle` after the change that gave it.
    pub fn new(settle: Duration) -> Self {
        Self {
            owned: BTreeSet::new(),
            pending: BTreeMap::new(),
            settle: TimeDelta::from_std(settle).unwrap_or(TimeDelta::seconds(2)),
        }
    }

    /// The first split at start, taken at once (nothing of this instance ran before): the sites of
    /// `sites` that `owns`.
    pub fn start<'a>(&mut self, sites: impl IntoIterator<Item = &'a Id>, owns: impl Fn(&Id) -> bool) {
        self.owned = sites.into_iter().filter(|s| owns(s)).cloned().collect();
        self.pending.clear();
    }

    /// Follows a changed member set or site list at `now`: returns the sites released at once (no longer
    /// owned, or gone from `sites`); sites newly owned wait for the settle ([`Partition::take_ready`]).
    /// A site that moves away again while waiting is simply not taken.
    pub fn update<'a>(
        &mut self,
        sites: impl IntoIterator<Item = &'a Id>,
        owns: impl Fn(&Id) -> bool,
        now: DateTime<Utc>,
    ) -> Vec<Id> {
        let mut mine = BTreeSet::new();
        for s in sites {
            if owns(s) {
                mine.insert(s.clone());
            }
        }
        let lost: Vec<Id> = self.owned.difference(&mine).cloned().collect();
        for s in &lost {
            self.owned.remove(s);
        }
        self.pending.retain(|s, _| mine.contains(s));
        for s in mine {
            if !self.owned.contains(&s) {
                self.pending.entry(s).or_insert(now + self.settle);
            }
        }
        lost
    }

    /// When the next gained site's settle is over.
    pub fn next_ready(&self) -> Option<DateTime<Utc>> {
        self.pending.values().min().copied()
    }

    /// The gained sites whose settle is over at `now`, now owned: the caller re-arms and warms them up
    /// before evaluating any of their readings.
    pub fn take_ready(&mut self, now: DateTime<Utc>) -> Vec<Id> {
        let ready: Vec<Id> = self
            .pending
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(s, _)| s.clone())
            .collect();
        for s in &ready {
            self.pending.remove(s);
            self.owned.insert(s.clone());
        }
        ready
    }

    /// Whether this instance runs `site`'s detectors now.
    pub fn owns(&self, site: &str) -> bool {
        self.owned.contains(site)
    }

    /// The sites owned now.
    pub fn owned(&self) -> &BTreeSet<Id> {
        &self.owned
    }
}

#[cfg(test)]
mod tests;
