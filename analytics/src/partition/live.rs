//! The async edge of [`Partition`]: this instance's membership, the connection that follows every alert,
//! and the handover itself (release at once; take over after the settle: re-arm, then warm up).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{Bus, BusClient, ConnectOptions, FullPolicy, Inbound, Members, Membership, Publish, QoS};
use zw_model::alert::Alert;
use zw_model::{Id, Inventory, topic};

use super::Partition;
use crate::{Analytics, Config, Event, Metrics};

/// What happened to the partition.
pub(crate) enum Step {
    /// The live member set changed.
    Members,
    /// A gained site's settle is over.
    Ready,
    /// An alert change (or a cleared alert topic) on the bus.
    Followed(Publish),
}

/// A running partition.
pub(crate) struct Live {
    me: String,
    partition: Partition,
    membership: Membership,
    members: watch::Receiver<Members>,
    /// `false` once the membership task ended (shutdown): the split stays as it is.
    following: bool,
    client: BusClient,
    alerts: Inbound,
    driver: JoinHandle<()>,
    stop: CancellationToken,
    since: tokio::time::Instant,
}

impl Live {
    /// Joins the analytics members and opens the connection following `zw/v1/alerts/+` (read first for the
    /// restore at start, then for as long as the service runs).
    pub(crate) fn start(cfg: &Config, bus: &Bus, shutdown: &CancellationToken) -> Self {
        let p = &cfg.partitions;
        let membership = Membership::spawn(bus, "analytics", &cfg.instance, p.membership(), shutdown.clone());
        let stop = CancellationToken::new();
        let (client, alerts, driver) = bus.connect(
            ConnectOptions {
                subscriptions: vec![(topic::ALERTS_FILTER.to_string(), QoS::AtLeastOnce)],
                full_policy: FullPolicy::Block,
                ..ConnectOptions::publisher("analytics-alerts", &cfg.instance)
            },
            stop.clone(),
        );
        Self {
            me: cfg.instance.clone(),
            partition: Partition::new(p.membership().settle()),
            members: membership.watch(),
            membership,
            following: true,
            client,
            alerts,
            driver,
            stop,
            since: tokio::time::Instant::now(),
        }
    }

    /// The alert-following connection and its messages (the restore at start reads them).
    pub(crate) fn alerts(&mut self) -> (&BusClient, &mut Inbound) {
        (&self.client, &mut self.alerts)
    }

    /// The first split of `inv`'s sites, once one heartbeat has passed since joining (the others'
    /// retained heartbeats are in by then); `None` when shut down meanwhile.
    pub(crate) async fn split(
        &mut self,
        inv: &Inventory,
        metrics: &Metrics,
        shutdown: &CancellationToken,
    ) -> Option<BTreeSet<Id>> {
        let settle = self.since + self.membership.config().settle();
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep_until(settle) => {}
        }
        let members = self.members.borrow_and_update().clone();
        let me = self.me.as_str();
        self.partition
            .start(inv.sites.iter().map(|s| &s.id), |s| members.owns(me, s.as_str()));
        let owned = self.partition.owned().clone();
        metrics.sites_owned.set(owned.len() as i64);
        info!(members = ?members.iter().collect::<Vec<_>>(), owned = owned.len(), of = inv.sites.len(),
            sites = ?owned.iter().map(Id::as_str).collect::<Vec<_>>(), "Partitioned: running the detectors of the sites this instance owns.");
        Some(owned)
    }

    /// Waits for the next change of the member set, the end of a settle or a followed alert. Never returns
    /// once everything it waits for has ended.
    pub(crate) async fn next(&mut self) -> Step {
        let ready = self.partition.next_ready().map(|at| {
            let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            tokio::time::Instant::now() + wait
        });
        tokio::select! {
            changed = self.members.changed(), if self.following => match changed {
                Ok(()) => Step::Members,
                Err(_) => {
                    self.following = false;
                    std::future::pending().await
                }
            },
            () = sleep_until(ready) => Step::Ready,
            msg = self.alerts.recv() => match msg {
                Some(p) => Step::Followed(p),
                None => std::future::pending().await,
            },
        }
    }

    /// Follows the member set or the site list of `analytics`' inventory (after a change of either): sites
    /// lost are released at once (logged once, counted); sites gained wait for the settle.
    pub(crate) fn update(&mut self, analytics: &mut Analytics, metrics: &Metrics) -> Vec<Event> {
        let members = self.members.borrow_and_update().clone();
        let me = self.me.as_str();
        let sites = analytics.inventory().sites.iter().map(|s| &s.id);
        let lost = self
            .partition
            .update(sites, |s| members.owns(me, s.as_str()), Utc::now());
        if lost.is_empty() {
            return Vec::new();
        }
        let events = analytics.rescope(self.partition.owned().clone(), Utc::now());
        metrics
            .handovers
            .with_label_values(&["lost"])
            .inc_by(lost.len() as u64);
        metrics.sites_owned.set(self.partition.owned().len() as i64);
        info!(members = ?members.iter().collect::<Vec<_>>(), sites = ?lost.iter().map(Id::as_str).collect::<Vec<_>>(),
            owned = self.partition.owned().len(), "Released sites to another analytics instance: their detectors stopped here.");
        events
    }

    /// Takes over the sites whose settle is over: detectors built and re-armed from the followed alerts,
    /// then warmed up from the store (bounded by `warmup.timeout`), before any of their readings is
    /// evaluated. Logged once, counted.
    pub(crate) async fn take_over(
        &mut self,
        analytics: &mut Analytics,
        influx: Option<&zw_influx::Client>,
        cfg: &Config,
        metrics: &Metrics,
    ) -> Vec<Event> {
        let gained = self.partition.take_ready(Utc::now());
        if gained.is_empty() {
            return Vec::new();
        }
        let events = analytics.rescope(self.partition.owned().clone(), Utc::now());
        let rearmed = analytics
            .alerts()
            .active()
            .filter(|a| gained.contains(&a.site))
            .count();
        let mut windows = 0;
        if let (Some(client), true) = (influx, cfg.warmup.enabled) {
            let mut only = analytics.inventory().clone();
            only.sites.retain(|s| gained.contains(&s.id));
            only.trees.retain(|t| gained.contains(&t.site));
            let warm = async {
                let (w, _) = crate::warmup::warm(analytics, client, &only, cfg, Utc::now()).await?;
                // The peaks so far: read into a watch of the gained sites alone, then handed over.
                let mut peaks = crate::peak::PeakWatch::new(&cfg.peak, cfg.tz(), &only, &|s| {
                    analytics.site_contributors(s)
                });
                crate::peak::history::warm(&mut peaks, client, Utc::now()).await?;
                for site in &gained {
                    if let Some(p) = peaks.peak(site) {
                        analytics.peaks().warm(site, p.quarter, p.w);
                    }
                }
                Ok::<u64, zw_influx::QueryError>(w)
            };
            match tokio::time::timeout(cfg.warmup.timeout, warm).await {
                Ok(Ok(w)) => windows = w,
                Ok(Err(e)) => {
                    warn!(error = %e, "Warm-up of the sites taken over failed; going on without history.")
                }
                Err(_) => warn!("Warm-up of the sites taken over timed out; going on with what was learned."),
            }
            metrics.warmup_windows.inc_by(windows);
        }
        metrics
            .handovers
            .with_label_values(&["gained"])
            .inc_by(gained.len() as u64);
        metrics.sites_owned.set(self.partition.owned().len() as i64);
        let members = self.members.borrow().clone();
        info!(members = ?members.iter().collect::<Vec<_>>(), sites = ?gained.iter().map(Id::as_str).collect::<Vec<_>>(),
            owned = self.partition.owned().len(), alerts_rearmed = rearmed, windows,
            "Took over sites from another analytics instance: re-armed from their open alerts and warmed up.");
        events
    }

    /// An alert change of another instance into the book (a cleared topic forgets it); this instance's own
    /// sites' alerts are its own book's.
    pub(crate) fn followed(&self, analytics: &mut Analytics, p: &Publish) {
        let Some(id) = topic::parse_alert(&p.topic) else {
            return;
        };
        match Alert::from_json(&p.payload) {
            Ok(Some(a)) if a.id == id => {
                analytics.follow(a);
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                analytics.forget(&id);
            }
            Err(e) => warn!(topic = %p.topic, error = %e, "Ignoring an unreadable alert on the bus."),
        }
    }

    /// Leaves the members (the heartbeat is cleared) and closes the alert-following connection.
    pub(crate) async fn stop(self) {
        self.client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.driver).await;
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.membership.stopped()).await;
    }
}

/// Sleeps until `at`; never wakes without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
