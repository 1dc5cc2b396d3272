//! Who is alive among the instances of one service, and which of them owns a key: what lets a service run N
//! times and split its work (gateways their devices, analytics its sites) without a coordinator.
//!
//! Every instance publishes a heartbeat on `zw/v1/members/{service}/{instance}` (retained, QoS 1, JSON
//! [`Heartbeat`]) every [`MembershipConfig::heartbeat`], and leaves a last will on that topic that clears it
//! (an empty retained payload): a clean stop clears it itself, a `kill -9` closes the socket and the broker
//! publishes the will at once (a machine that vanishes: after 1.5 × `bus.keep_alive`). Every instance reads
//! all heartbeats of its service ([`Membership::spawn`]); a member whose last heartbeat is older than
//! [`MembershipConfig::timeout`] is gone too.
//!
//! The pure part, with time injected: a [`Roster`] records who was seen when, [`Roster::live`] gives the
//! [`Members`] alive now, and [`Members::owner`] says who owns a key by rendezvous (highest random weight)
//! hashing. The weight of a member for a key is [`weight`]: FNV-1a 64 of `member \0 key`, then the
//! `fmix64` finalizer of MurmurHash3 (FNV-1a alone spreads keys unevenly over members whose names differ in
//! one character); ties go to the smaller id. It is fixed by definition, so every instance and every version
//! agrees on the owner from the same member set. Adding or removing one member moves only that member's keys
//! (to it, or from it to the others): nothing else changes hands.
//!
//! Handover and its windows. Instances learn of a change at slightly different times (a heartbeat's
//! delivery, each one's own expiry tick), so for a moment two instances may disagree on the set. A user of
//! [`Membership`] therefore **releases at once** a key it no longer owns, and **takes a new key only after
//! a settle window** ([`MembershipConfig::settle`], one heartbeat) in which the set stayed the same;
//! [`Membership::owners`] gives exactly that ([`Owners::owns`]):
//! * a newcomer counts itself live at once, so it would own its keys immediately; the old owners see it
//!   within one heartbeat delivery and release theirs; with the settle it starts after they stopped, so
//!   the window in which a key is worked twice is at most the delivery delay beyond the settle (normally
//!   none), and the gap in which nobody works it is about one settle;
//! * a member that is gone (will or timeout) has stopped already; the survivors take its keys one settle
//!   after they noticed: the gap is the detection time (about nothing for a killed process, `timeout` for a
//!   silent one) plus the settle.
//!
//! While this instance's broker connection is down it keeps its last view (a peer cannot be told from its own
//! outage): nobody expires, and after the reconnect every known peer gets a full `timeout` to be heard again.
//! Clocks: a heartbeat received live counts at the receiver's clock; a retained one (at subscribe) at its own
//! `at`, so a stale one from an instance long gone does not count; clocks must agree well within `timeout`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::{Bus, ConnectOptions, FullPolicy, QoS};

/// The heartbeat topic of an instance of a service.
pub fn topic(service: &str, instance: &str) -> String {
    format!("{}/members/{service}/{instance}", zw_model::topic::ROOT)
}

/// The filter matching every heartbeat of a service.
pub fn filter(service: &str) -> String {
    format!("{}/members/{service}/+", zw_model::topic::ROOT)
}

/// The instance of a heartbeat topic of `service`, or `None` if it is not one.
pub fn parse_topic<'a>(service: &str, topic: &'a str) -> Option<&'a str> {
    let rest = topic
        .strip_prefix(zw_model::topic::ROOT)?
        .strip_prefix("/members/")?
        .strip_prefix(service)?
        .strip_prefix('/')?;
    (!rest.is_empty() && !rest.contains('/')).then_some(rest)
}

/// How often an instance says it is alive and how long a silent one counts as alive
/// (`[gateway.shards]`, `[analytics.partitions]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MembershipConfig {
    /// Interval between two heartbeats; also the settle window before a new owner takes a key.
    #[serde(with = "humantime_serde")]
    pub heartbeat: Duration,
    /// A member not heard of for this long is gone and its keys move to the others.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl MembershipConfig {
    /// How long the member set must stay unchanged before a new owner takes a key (one heartbeat).
    pub fn settle(&self) -> Duration {
        self.heartbeat
    }

    /// Every invalid setting, prefixed with `at` (e.g. `gateway.shards`):
    /// * `heartbeat`: must be between 100ms and 1min;
    /// * `timeout`: must be at least 3 heartbeats (one late heartbeat must not look like a failure).
    pub fn validate(&self, at: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if !(Duration::from_millis(100)..=Duration::from_secs(60)).contains(&self.heartbeat) {
            errors.push(format!("{at}.heartbeat: must be between 100ms and 1min"));
        }
        if self.timeout < self.heartbeat * 3 {
            errors.push(format!(
                "{at}.timeout: must be at least 3 heartbeats ({:?})",
                self.heartbeat * 3
            ));
        }
        errors
    }
}

/// The weight of `member` for `key` in rendezvous hashing: FNV-1a 64 of `member \0 key`, finalized with
/// MurmurHash3's `fmix64`. Fixed by definition: every instance must compute the same.
pub fn weight(member: &str, key: &str) -> u64 {
    let mut bytes = Vec::with_capacity(member.len() + 1 + key.len());
    bytes.extend_from_slice(member.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.as_bytes());
    fmix64(fnv1a64(&bytes))
}

/// FNV-1a, 64 bits.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The live instances of a service: a sorted set of ids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Members(Vec<String>);

impl Members {
    /// The set of `ids` (sorted, duplicates removed).
    pub fn new<I, S>(ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut v: Vec<String> = ids.into_iter().map(Into::into).collect();
        v.sort();
        v.dedup();
        Self(v)
    }

    /// The member that owns `key`: the highest [`weight`], ties to the smaller id; `None` without members.
    pub fn owner(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .map(|m| (weight(m, key), m))
            // Equal weights: `max_by` keeps the last maximum, so compare ids reversed to keep the smaller.
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cmp(a.1)))
            .map(|(_, m)| m.as_str())
    }

    /// Whether `me` owns `key`.
    pub fn owns(&self, me: &str, key: &str) -> bool {
        self.owner(key) == Some(me)
    }

    /// Whether `id` is a member.
    pub fn contains(&self, id: &str) -> bool {
        self.0.binary_search_by(|m| m.as_str().cmp(id)).is_ok()
    }

    /// The ids, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

/// Who may work on a key, with the settle window applied: the live set now and the last set that stayed
/// unchanged for [`MembershipConfig::settle`]. A key is this instance's only while both say so, so a key it
/// loses is released at once and a key it gains is taken only once the new set has settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owners {
    /// The live members now.
    pub current: Members,
    /// The live members as they were when they last stayed unchanged for one settle window (empty until the
    /// first did: a newcomer works nothing before it has heard the others).
    pub settled: Members,
}

impl Owners {
    /// Whether `me` may work on `key` now.
    pub fn owns(&self, me: &str, key: &str) -> bool {
        self.current.owns(me, key) && self.settled.owns(me, key)
    }

    /// Whether the settle window is over (nothing waits to be taken).
    pub fn is_settled(&self) -> bool {
        self.current == self.settled
    }
}

/// Who was last heard of when.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    seen: BTreeMap<String, DateTime<Utc>>,
}

impl Roster {
    /// Records that `instance` was alive `at` (a later time than known only).
    pub fn observe(&mut self, instance: &str, at: DateTime<Utc>) {
        match self.seen.get_mut(instance) {
            Some(t) => *t = (*t).max(at),
            None => {
                self.seen.insert(instance.to_owned(), at);
            }
        }
    }

    /// Records that `instance` left (its heartbeat was cleared).
    pub fn leave(&mut self, instance: &str) {
        self.seen.remove(instance);
    }

    /// Counts everyone known as seen `at` at the latest: after an outage of our own, each gets a full
    /// timeout.
    pub fn refresh(&mut self, at: DateTime<Utc>) {
        for t in self.seen.values_mut() {
            *t = (*t).max(at);
        }
    }

    /// The members heard of within `timeout` before `now`; forgets the others.
    pub fn live(&mut self, now: DateTime<Utc>, timeout: Duration) -> Members {
        let timeout = chrono::Duration::from_std(timeout).unwrap_or(chrono::Duration::MAX);
        self.seen
            .retain(|_, at| now.signed_duration_since(*at) <= timeout);
        Members(self.seen.keys().cloned().collect())
    }
}

/// The heartbeat payload on `zw/v1/members/{service}/{instance}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// 1.
    pub schema_version: u32,
    /// The instance id (the topic's last level).
    pub instance: String,
    /// When the instance started.
    pub started_at: DateTime<Utc>,
    /// When this heartbeat was sent.
    pub at: DateTime<Utc>,
}

/// A running membership: this instance's heartbeat and its view of the live members.
pub struct Membership {
    instance: String,
    cfg: MembershipConfig,
    members: watch::Receiver<Members>,
    owners: watch::Receiver<Owners>,
    task: JoinHandle<()>,
}

impl Membership {
    /// Joins `service` as `instance` over a connection of its own (account of `service`, client
    /// `{service}-members`): heartbeats, the clearing will, and the view of the others. On `shutdown` it
    /// clears its heartbeat and disconnects; await [`Membership::stopped`] for that.
    pub fn spawn(
        bus: &Bus,
        service: &str,
        instance: &str,
        cfg: MembershipConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let me = topic(service, instance);
        let client = format!("{service}-members");
        let opts = ConnectOptions {
            client: client.clone(),
            instance: instance.to_owned(),
            clean_session: true,
            subscriptions: vec![(filter(service), QoS::AtLeastOnce)],
            manual_acks: false,
            full_policy: FullPolicy::Block,
            last_will: Some((me.clone(), Vec::new())),
        };
        // The driver outlives the task's last publish (the cleared heartbeat): its own token.
        let driver_stop = CancellationToken::new();
        let (conn, inbound, driver) = bus.connect(opts, driver_stop.clone());
        let started_at = Utc::now();
        let mut roster = Roster::default();
        roster.observe(instance, started_at);
        let (tx, rx) = watch::channel(roster.live(started_at, cfg.timeout));
        let (owners_tx, owners) = watch::channel(Owners {
            current: rx.borrow().clone(),
            settled: Members::default(),
        });
        let live = bus.metrics.members_live.with_label_values(&[service]);
        live.set(1);
        let task = Task {
            service: service.to_owned(),
            instance: instance.to_owned(),
            topic: me,
            cfg,
            started_at,
            roster,
            tx,
            owners: owners_tx,
            settle_at: Some(tokio::time::Instant::now() + cfg.settle()),
            live,
            changes: bus.metrics.members_changes.with_label_values(&[service]),
            invalid: bus.metrics.members_invalid.with_label_values(&[service]),
        };
        let task = tokio::spawn(async move {
            task.run(conn.clone(), inbound, shutdown).await;
            let _ = tokio::time::timeout(Duration::from_secs(3), conn.disconnect()).await;
            let mut driver = driver;
            if tokio::time::timeout(Duration::from_secs(3), &mut driver)
                .await
                .is_err()
            {
                driver_stop.cancel();
                let _ = driver.await;
            }
        });
        Self {
            instance: instance.to_owned(),
            cfg,
            members: rx,
            owners,
            task,
        }
    }

    /// This instance's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The settings it runs with.
    pub fn config(&self) -> MembershipConfig {
        self.cfg
    }

    /// The live members, changing only when the set changes.
    pub fn watch(&self) -> watch::Receiver<Members> {
        self.members.clone()
    }

    /// Who may work on which key, with the settle window applied (changes when either set changes).
    pub fn owners(&self) -> watch::Receiver<Owners> {
        self.owners.clone()
    }

    /// The live members now.
    pub fn current(&self) -> Members {
        self.members.borrow().clone()
    }

    /// Waits until the heartbeat is cleared and the connection closed (after `shutdown`).
    pub async fn stopped(self) {
        let _ = self.task.await;
    }
}

/// The membership task: heartbeats out, heartbeats in, expiry.
struct Task {
    service: String,
    instance: String,
    topic: String,
    cfg: MembershipConfig,
    started_at: DateTime<Utc>,
    roster: Roster,
    tx: watch::Sender<Members>,
    owners: watch::Sender<Owners>,
    /// When the current set will have settled (`None`: it has).
    settle_at: Option<tokio::time::Instant>,
    live: prometheus::IntGauge,
    changes: prometheus::IntCounter,
    invalid: prometheus::IntCounter,
}

impl Task {
    async fn run(mut self, conn: crate::BusClient, mut inbound: crate::Inbound, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(self.cfg.heartbeat);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut was_connected = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {
                    let now = Utc::now();
                    let connected = conn.is_connected();
                    if connected && !was_connected {
                        self.roster.refresh(now);
                    }
                    was_connected = connected;
                    self.roster.observe(&self.instance, now);
                    let beat = Heartbeat {
                        schema_version: 1,
                        instance: self.instance.clone(),
                        started_at: self.started_at,
                        at: now,
                    };
                    let payload = serde_json::to_vec(&beat).unwrap_or_default();
                    // A full request queue (broker away) skips a beat; the next one says the same.
                    let _ = conn.try_publish(self.topic.clone(), QoS::AtLeastOnce, true, payload);
                    if connected {
                        self.update(now);
                    }
                }
                () = sleep_until(self.settle_at) => {
                    self.settle_at = None;
                    self.owners.send_modify(|o| o.settled = o.current.clone());
                }
                msg = inbound.recv() => match msg {
                    Some(p) => self.receive(&p),
                    None => break,
                },
            }
        }
        // Leaving: clear the heartbeat so the others hand over at once instead of after the timeout.
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            conn.publish(self.topic.clone(), QoS::AtLeastOnce, true, Vec::new()),
        )
        .await;
        self.live.set(0);
    }

    fn receive(&mut self, p: &crate::Publish) {
        let Some(instance) = parse_topic(&self.service, &p.topic) else {
            return;
        };
        if p.payload.is_empty() {
            if instance != self.instance {
                self.roster.leave(instance);
                self.update(Utc::now());
            }
            return;
        }
        let now = Utc::now();
        match serde_json::from_slice::<Heartbeat>(&p.payload) {
            Ok(beat) if beat.instance == instance => {
                // Live: heard now. Retained (at subscribe): as old as it says, never in the future.
                let at = if p.retain { beat.at.min(now) } else { now };
                self.roster.observe(instance, at);
                self.update(now);
            }
            Ok(_) | Err(_) => {
                self.invalid.inc();
                debug!(service = %self.service, topic = %p.topic, "Invalid membership heartbeat ignored.");
            }
        }
    }

    fn update(&mut self, now: DateTime<Utc>) {
        let live = self.roster.live(now, self.cfg.timeout);
        let (instance, service) = (&self.instance, &self.service);
        let changed = self.tx.send_if_modified(|cur| {
            if *cur == live {
                return false;
            }
            info!(service, instance, members = %live, was = %cur, "Members changed.");
            *cur = live;
            true
        });
        if changed {
            let current = self.tx.borrow().clone();
            self.owners.send_modify(|o| o.current = current);
            self.settle_at = Some(tokio::time::Instant::now() + self.cfg.settle());
            self.changes.inc();
            self.live
                .set(i64::try_from(self.tx.borrow().len()).unwrap_or(i64::MAX));
        }
    }
}

/// Waits until `at`, or for ever without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
