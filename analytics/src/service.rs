//! The analytics service: the async edge around the pure [`Analytics`].
//!
//! Start-up order, so a restart neither repeats nor loses an alert:
//! 1. read back the retained alerts (`zw/v1/alerts/+`) and re-arm the detectors from them ([`restore`]);
//! 2. learn the normal from InfluxDB history ([`crate::warmup`]), bounded by `warmup.timeout`;
//! 3. go live: readings (QoS 0, newest dropped and counted when the queue is full), acknowledgements
//!    (QoS 1 on a persistent session, so none is lost while analytics is down), a tick every
//!    `tick_interval`. Alerts and tree statuses are published retained with QoS 1; alert changes also go to
//!    InfluxDB and the webhook ([`crate::sink`]).
//!
//! Alert changes and tree statuses the broker had not acknowledged when a connection failed are handed back
//! by the bus client and published again (the newest state of their topic), so a broker restart loses none.
//!
//! One analytics instance runs every site, or several split the sites between them with
//! `[analytics.partitions]`: each runs the detectors of the sites it owns, follows every alert on the bus
//! and takes a failed instance's sites over ([`crate::partition`]).
//!
//! The inventory is a [`LiveInventory`]: on every change the detectors follow it ([`Analytics::apply`]:
//! new sites, devices and trees get detectors, those that left are dropped and their open alerts resolve
//! as `retired`), and the filter of unknown site/device pairs is rebuilt. Counted in
//! `zw_analytics_inventory_applied_total`, logged in one line per change.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::{BusClient, ConnectOptions, FullPolicy, LiveInventory, QoS};
use zw_model::alert::{AckCommand, Alert, AlertKind};
use zw_model::reading::{TimeWindow, for_each_in_message};
use zw_model::topic;
use zw_model::weather::Weather;

use crate::alerts::AckOutcome;
use crate::partition::live::{Live, Step};
use crate::sink::Sinks;
use crate::{Analytics, Config, Event, Metrics};

/// Runs analytics until `shutdown`. `influx` is used for the warm-up and to store alert changes. The
/// detectors follow `live`'s changes.
pub async fn run(
    cfg: Config,
    live: LiveInventory,
    influx: Option<zw_influx::Client>,
    bus: &zw_bus::Bus,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let mut updates = live.subscribe();
    let inventory = updates.borrow_and_update().clone();
    let mut analytics;
    // Readings of pairs the inventory does not know are ignored and counted (`unknown_device`).
    let mut known = zw_model::KnownDevices::of(&inventory);
    analytics = Analytics::new(&cfg, &inventory);
    // Partitions: the heartbeat goes out before the restore, whose connection then follows every alert.
    let mut part = cfg.partitions.enabled.then(|| Live::start(&cfg, bus, &shutdown));
    let restored = match &mut part {
        Some(p) => {
            let (client, inbound) = p.alerts();
            collect(&cfg, client, inbound, &shutdown).await
        }
        None => restore(&cfg, bus, &shutdown).await,
    };
    let Some(restored) = restored else {
        return;
    };
    match &mut part {
        Some(p) => {
            let Some(scope) = p.split(&inventory, &metrics, &shutdown).await else {
                return;
            };
            analytics = Analytics::scoped(&cfg, &inventory, Some(scope));
        }
        None => metrics.sites_owned.set(inventory.sites.len() as i64),
    }
    metrics.restored.inc_by(restored.len() as u64);
    info!(alerts = restored.len(), "Restored alerts from the bus.");
    let pending = analytics.restore(restored, Utc::now());
    if let (Some(client), true) = (&influx, cfg.warmup.enabled) {
        let warm = crate::warmup::warm(&mut analytics, client, &inventory, &cfg, Utc::now());
        tokio::select! {
            () = shutdown.cancelled() => return,
            r = tokio::time::timeout(cfg.warmup.timeout, warm) => match r {
                Ok(Ok((windows, soil))) => {
                    metrics.warmup_windows.inc_by(windows);
                    info!(windows, soil_readings = soil, "Learned the normal and the tree sensors' recent series from InfluxDB history.");
                }
                Ok(Err(e)) => warn!(error = %e, "Warm-up from InfluxDB failed; starting without history."),
                Err(_) => warn!("Warm-up from InfluxDB timed out; starting with what was learned."),
            },
        }
        // The billing year's peak so far of every site with a demand charge.
        let peaks = crate::peak::history::warm(analytics.peaks(), client, Utc::now());
        tokio::select! {
            () = shutdown.cancelled() => return,
            r = tokio::time::timeout(cfg.warmup.timeout, peaks) => match r {
                Ok(Ok(quarters)) => {
                    metrics.peak_warmup_quarters.inc_by(quarters);
                    info!(quarters, "Learned the billing year's peaks so far from InfluxDB history.");
                }
                Ok(Err(e)) => warn!(error = %e, "Reading the peaks so far from InfluxDB failed; starting without."),
                Err(_) => warn!("Reading the peaks so far from InfluxDB timed out; starting with what was read."),
            },
        }
    }
    let stop_bus = CancellationToken::new();
    let (pub_client, mut readings, driver) = bus.connect(
        ConnectOptions {
            subscriptions: vec![
                (topic::READINGS_FILTER.to_string(), QoS::AtMostOnce),
                (topic::BATCHES_FILTER.to_string(), QoS::AtMostOnce),
                // Retained: the newest forecast and observations of an area arrive at once on start.
                (topic::WEATHER_FILTER.to_string(), QoS::AtLeastOnce),
            ],
            ..ConnectOptions::publisher("analytics", &cfg.instance)
        },
        stop_bus.clone(),
    );
    let (ack_client, mut acks, ack_driver) = bus.connect(
        ConnectOptions {
            clean_session: false,
            subscriptions: vec![
                (topic::ALERT_ACK.to_string(), QoS::AtLeastOnce),
                // Waterings logged through the API, queued in this persistent session like acknowledgements.
                (topic::TREE_WATERED.to_string(), QoS::AtLeastOnce),
            ],
            full_policy: FullPolicy::Block,
            ..ConnectOptions::publisher("analytics-commands", &cfg.instance)
        },
        stop_bus.clone(),
    );
    let stop_sinks = CancellationToken::new();
    let budget_influx = influx.clone();
    // The warm-up of sites taken over from another instance.
    let influx_read = influx.clone();
    // The weather feed's observed rain, kept for the parks dashboard (crate::trees::rain).
    let rain_influx = influx.clone();
    let (sinks, sink_tasks) = Sinks::start(&cfg.alerts, influx, &metrics, &stop_sinks);
    let mut out = Output {
        client: pub_client.clone(),
        sinks,
        metrics: metrics.clone(),
        recent: HashMap::new(),
    };
    // Alert changes and tree statuses the broker had not acknowledged when the connection failed come back
    // here and are published again, so a broker restart loses none of them.
    let mut returned = pub_client.unconfirmed();
    out.publish(&mut analytics, pending).await;
    // Budget alerts: the sites' year-end forecasts, read from InfluxDB every hour off this loop.
    let (budget_tx, mut budget_rx) = tokio::sync::mpsc::channel(1);
    // The weather's daily temperatures, for the budgets of heating loads.
    let budget_temps = crate::budget::history::Temps::new(
        cfg.trees.weather.site_area.clone(),
        cfg.trees.weather.default_area.clone(),
    );
    if let Some(client) = budget_influx {
        let watch = crate::budget::history::watch(
            client,
            live.clone(),
            cfg.tz(),
            crate::budget::history::EVERY,
            budget_tx,
            stop_bus.clone(),
            budget_temps.clone(),
        );
        tokio::spawn(watch);
    }
    let mut tick = tokio::time::interval(cfg.tick_interval);
    let mut health = tokio::time::interval_at(Instant::now() + cfg.health_interval, cfg.health_interval);
    info!("Analytics started.");
    let mut following = true;
    // A change during the warm-up is applied at once.
    if updates.has_changed().unwrap_or(false) {
        let inv = updates.borrow_and_update().clone();
        let mut events = analytics.apply(&inv, Utc::now());
        known = zw_model::KnownDevices::of(&inv);
        metrics.inventory_applied.inc();
        if let Some(p) = &mut part {
            events.extend(p.update(&mut analytics, &metrics));
        }
        out.publish(&mut analytics, events).await;
    }
    // A member change during the warm-up is followed at once.
    if let Some(p) = &mut part {
        let events = p.update(&mut analytics, &metrics);
        out.publish(&mut analytics, events).await;
    }
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            changed = updates.changed(), if following => {
                if changed.is_err() {
                    following = false;
                    continue;
                }
                let inv = updates.borrow_and_update().clone();
                let mut events = analytics.apply(&inv, Utc::now());
                known = zw_model::KnownDevices::of(&inv);
                metrics.inventory_applied.inc();
                info!(sites = inv.sites.len(), devices = inv.devices().count(), trees = inv.trees.len(),
                    alerts_resolved = events.len(), "Inventory change applied: detectors follow it.");
                match &mut part {
                    // New sites are split like the others; sites gone are no longer owned.
                    Some(p) => events.extend(p.update(&mut analytics, &metrics)),
                    None => metrics.sites_owned.set(inv.sites.len() as i64),
                }
                out.publish(&mut analytics, events).await;
            }
            step = next_step(&mut part) => {
                let Some(p) = &mut part else { continue };
                let events = match step {
                    Step::Members => p.update(&mut analytics, &metrics),
                    Step::Ready => p.take_over(&mut analytics, influx_read.as_ref(), &cfg, &metrics).await,
                    Step::Followed(msg) => {
                        p.followed(&mut analytics, &msg);
                        continue;
                    }
                };
                out.publish(&mut analytics, events).await;
            }
            _ = tick.tick() => {
                let events = analytics.tick(Utc::now());
                out.publish(&mut analytics, events).await;
                out.forget_older_than(RECENT);
            }
            Some(forecasts) = budget_rx.recv() => {
                let events = analytics.budgets(&forecasts, Utc::now());
                out.publish(&mut analytics, events).await;
            }
            Some(p) = returned.recv() => out.republish(&p.topic, p.payload.to_vec()).await,
            _ = health.tick() => {
                let (devices, over) = analytics.devices();
                info!(connected = pub_client.is_connected(), observed = analytics.observed, devices, over_capacity = over,
                    alerts_active = analytics.alerts().active().count(), last_reading = ?analytics.last_reading, "Analytics health.");
            }
            msg = readings.recv() => {
                let Some(msg) = msg else { break };
                if msg.topic.starts_with("zw/v1/weather/") {
                    weather(&mut analytics, (&cfg, &metrics, &budget_temps, rain_influx.as_ref()), &msg.topic, &msg.payload);
                    continue;
                }
                // A single reading or a batch: each observed in order, the events published after.
                let mut events = Vec::new();
                for_each_in_message(&msg.topic, &msg.payload, Utc::now(), TimeWindow::default(), |r| match r {
                    Ok(r) if !known.contains(r.site.as_str(), r.device.as_str()) => {
                        metrics.rejected.with_label_values(&["unknown_device"]).inc();
                    }
                    Ok(r) if !analytics.owns(r.site.as_str()) => metrics.skipped.inc(),
                    Ok(r) => {
                        metrics.observed.inc();
                        events.extend(analytics.observe(&r, Utc::now()));
                    }
                    Err(e) => metrics.rejected.with_label_values(&[e.reason()]).inc(),
                });
                if !events.is_empty() {
                    out.publish(&mut analytics, events).await;
                }
            }
            msg = acks.recv() => {
                let Some(msg) = msg else { break };
                if msg.topic == topic::TREE_WATERED {
                    match crate::trees::watering::Watered::parse(&msg.payload).and_then(|w| analytics.watered(&w).map(|mm| (w, mm))) {
                        Ok((w, mm)) => info!(tree = %w.tree, litres = w.litres, mm, "Watering taken in."),
                        Err(e) => {
                            metrics.rejected.with_label_values(&[e.reason()]).inc();
                            warn!(error = %e, "Ignoring a watering announcement.");
                        }
                    }
                    continue;
                }
                match serde_json::from_slice::<AckCommand>(&msg.payload) {
                    Ok(cmd) => match analytics.acknowledge(&cmd, Utc::now()) {
                        AckOutcome::Acknowledged(a) => {
                            info!(alert = %a.id, by = %cmd.by, "Alert acknowledged.");
                            metrics.acks.with_label_values(&["acknowledged"]).inc();
                            out.publish(&mut analytics, vec![Event::Alert(*a)]).await;
                        }
                        AckOutcome::Ignored(why) => metrics.acks.with_label_values(&[why]).inc(),
                    },
                    Err(_) => metrics.acks.with_label_values(&["malformed"]).inc(),
                }
            }
        }
    }
    pub_client.disconnect().await;
    ack_client.disconnect().await;
    if let Some(p) = part {
        p.stop().await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = driver.await;
        let _ = ack_driver.await;
    })
    .await;
    stop_bus.cancel();
    // Sinks drain what is queued, bounded in time.
    stop_sinks.cancel();
    drop(out);
    let _ = tokio::time::timeout(Duration::from_secs(5), futures_join(sink_tasks)).await;
    info!("Analytics stopped.");
}

/// Validates a weather message and hands it to the detectors; a bad one is counted by reason and logged.
fn weather(
    analytics: &mut Analytics,
    (cfg, metrics, temps, rain): (
        &Config,
        &Metrics,
        &crate::budget::history::Temps,
        Option<&zw_influx::Client>,
    ),
    topic: &str,
    payload: &[u8],
) {
    let max_age =
        chrono::TimeDelta::from_std(cfg.trees.weather.max_message_age).unwrap_or(chrono::TimeDelta::days(7));
    match Weather::from_message(topic, payload, Utc::now(), max_age) {
        Ok(w) => {
            temps.apply(&w);
            if let Some(client) = rain {
                crate::trees::rain::store(client, &w, metrics);
            }
            let used = analytics.weather(&w);
            let result = if used { "used" } else { "unused_area" };
            metrics.weather.with_label_values(&[result]).inc();
        }
        Err(e) => {
            metrics.weather_rejected.with_label_values(&[e.reason()]).inc();
            warn!(topic, error = %e, "Rejected a weather message.");
        }
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// How long [`Output`] remembers what it published on a topic: longer than any publish can stay
/// unacknowledged on a live connection (the keep-alive check ends a connection that stops answering).
const RECENT: Duration = Duration::from_secs(600);

/// Publishing events.
struct Output {
    client: BusClient,
    sinks: Sinks,
    metrics: Metrics,
    /// The newest payload published per retained topic, and when: a publish handed back after a connection
    /// loss is replaced by the newest state of its topic, never re-sent stale over a newer one.
    recent: HashMap<String, (Vec<u8>, Instant)>,
}

impl Output {
    /// Publishes a handed-back publish again: the newest state of its topic if one was published since,
    /// else the payload handed back.
    async fn republish(&mut self, topic: &str, returned: Vec<u8>) {
        self.metrics.republished.inc();
        let payload = self.recent.get(topic).map_or(returned, |(p, _)| p.clone());
        self.send(topic.to_string(), payload).await;
    }

    /// Forgets topics published longer ago than `age`.
    fn forget_older_than(&mut self, age: Duration) {
        let now = Instant::now();
        self.recent.retain(|_, (_, at)| now.duration_since(*at) < age);
    }

    async fn send(&self, topic: String, payload: Vec<u8>) {
        if self
            .client
            .publish(topic, QoS::AtLeastOnce, true, payload)
            .await
            .is_err()
        {
            self.metrics.publish_errors.inc();
        }
    }

    async fn publish(&mut self, analytics: &mut Analytics, events: Vec<Event>) {
        for c in analytics.take_closed_quarters() {
            let warned = if c.warned_at.is_some() { "yes" } else { "no" };
            self.metrics
                .peak_quarters
                .with_label_values(&[c.result(), warned])
                .inc();
        }
        let mut alerts_changed = false;
        for e in events {
            let (topic, payload) = match &e {
                Event::Alert(a) => {
                    alerts_changed = true;
                    self.metrics
                        .alert_changes
                        .with_label_values(&[a.kind.name(), a.state.name()])
                        .inc();
                    self.sinks.send(a);
                    (topic::alert(&a.id), a.to_json())
                }
                Event::AlertRemoved(id) => (topic::alert(id), Vec::new()),
                Event::Notice(n) => {
                    self.metrics.notices.inc();
                    info!(class = %n.class, sites = n.sites, of = n.of, started = n.started, "{}", n.text);
                    continue;
                }
                Event::Tree(t) => {
                    self.metrics.tree_statuses.inc();
                    (topic::tree(&t.tree), t.to_json())
                }
            };
            self.recent
                .insert(topic.clone(), (payload.clone(), Instant::now()));
            self.send(topic, payload).await;
        }
        if alerts_changed {
            for &k in AlertKind::ALL {
                let n = analytics.alerts().active().filter(|a| a.kind == k).count();
                self.metrics
                    .alerts_active
                    .with_label_values(&[k.name()])
                    .set(n as i64);
            }
        }
    }
}

/// Reads the retained alerts: waits for the broker, then collects until no alert arrived for
/// `restore_quiet` or `restore_wait` passed. `None` when shut down meanwhile.
async fn restore(cfg: &Config, bus: &zw_bus::Bus, shutdown: &CancellationToken) -> Option<Vec<Alert>> {
    let stop = CancellationToken::new();
    let (client, mut inbound, driver) = bus.connect(
        ConnectOptions {
            subscriptions: vec![(topic::ALERTS_FILTER.to_string(), QoS::AtLeastOnce)],
            full_policy: FullPolicy::Block,
            ..ConnectOptions::publisher("analytics-restore", &cfg.instance)
        },
        stop.clone(),
    );
    let alerts = collect(cfg, &client, &mut inbound, shutdown).await;
    client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), driver).await;
    stop.cancel();
    alerts
}

/// Collects the retained alerts on `client`'s connection (subscribed to `zw/v1/alerts/+`) until quiet (see
/// [`restore`]). `None` when shut down meanwhile.
async fn collect(
    cfg: &Config,
    client: &BusClient,
    inbound: &mut zw_bus::Inbound,
    shutdown: &CancellationToken,
) -> Option<Vec<Alert>> {
    tokio::select! {
        () = shutdown.cancelled() => return None,
        () = client.wait_connected() => {}
    }
    let mut alerts = Vec::new();
    let deadline = Instant::now() + cfg.alerts.restore_wait;
    loop {
        let quiet = (Instant::now() + cfg.alerts.restore_quiet).min(deadline);
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep_until(quiet) => break,
            msg = inbound.recv() => {
                let Some(msg) = msg else { break };
                match Alert::from_json(&msg.payload) {
                    Ok(Some(a)) if msg.retain && topic::parse_alert(&msg.topic).as_ref() == Some(&a.id) => alerts.push(a),
                    Ok(_) => {}
                    Err(e) => warn!(topic = %msg.topic, error = %e, "Ignoring an unreadable retained alert."),
                }
            }
        }
    }
    Some(alerts)
}

/// The partition's next step; never resolves without partitions.
async fn next_step(part: &mut Option<Live>) -> Step {
    match part {
        Some(p) => p.next().await,
        None => std::future::pending().await,
    }
}
