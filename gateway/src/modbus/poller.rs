//! The task of one endpoint: its connection (opened, re-opened with back-off, dropped after errors), its
//! devices' grids and probes from the [`Scheduler`], each poll's values published as a reading and each
//! device's health observed and published. The rules are in the [`crate::modbus`] doc.

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::time::{Instant, sleep_until};
use tokio_modbus::client::{Client as _, Context};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::BusClient;
use zw_model::Reading;
use zw_model::inventory::ModbusEndpoint;
use zw_model::status::{ErrorKind, HealthState};

use super::PolledDevice;
use super::poll::{TimeoutPolicy, poll};
use super::poll_health::{Delivery, PollHealth};
use super::schedule::{self, Decision, Limits, Outcome, Scheduler};
use super::status::publish_status;
use super::trace::{Activity, Trace};
use super::transport;
use crate::config::modbus::Phase;
use crate::profile::Request;
use crate::publish::Publisher;
use crate::{Config, Metrics};

struct Slot {
    device: PolledDevice,
    plan: Vec<Request>,
    probe: Vec<Request>,
    health: PollHealth,
}

/// The connection of one endpoint with its reconnect back-off.
struct Link {
    ctx: Option<Context>,
    failures: u32,
    retry_at: Instant,
    /// Timeouts since the connection last answered anything.
    silent_timeouts: u32,
}

/// Polls every device of one endpoint until `shutdown`.
pub async fn poll_endpoint(
    endpoint: ModbusEndpoint,
    devices: Vec<PolledDevice>,
    cfg: Config,
    bus: BusClient,
    publisher: Publisher,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let now = Instant::now();
    let wall = Utc::now();
    let grid: Vec<(Duration, Instant)> = devices
        .iter()
        .map(|d| (d.interval, now + first_slot(d, cfg.modbus.phase, wall)))
        .collect();
    let limits = Limits {
        probe_timeout: cfg.modbus.probe_timeout,
        failing_share: cfg.modbus.failing_share,
        backoff_max: cfg.modbus.device_backoff_max,
        probe_max_wait: cfg.modbus.probe_max_wait,
    };
    let mut sched = Scheduler::new(limits, &grid, now);
    let mut slots: Vec<Slot> = devices
        .into_iter()
        .map(|d| Slot {
            plan: d.profile.plan(),
            probe: d.profile.probe_request().into_iter().collect(),
            health: PollHealth::new(d.site.clone(), d.device.clone(), cfg.instance.clone(), wall),
            device: d,
        })
        .collect();
    let mut link = Link {
        ctx: None,
        failures: 0,
        retry_at: now,
        silent_timeouts: 0,
    };
    let on_timeout = match endpoint {
        ModbusEndpoint::Tcp { .. } => TimeoutPolicy::Keep,
        ModbusEndpoint::RtuOverTcp { .. } | ModbusEndpoint::Rtu(_) => TimeoutPolicy::Reconnect,
    };
    let mut trace = Trace::default();
    let [lateness_healthy, lateness_failing] =
        ["healthy", "failing"].map(|n| metrics.modbus.lateness_by_neighbours.with_label_values(&[n]));
    let refresh_every = cfg.modbus.status_refresh / 4;
    let mut next_refresh = now + refresh_every;
    // Every await inside (connect, request, publish to a stalled broker) ends at shutdown.
    let polling = async {
        loop {
            let now = Instant::now();
            if now >= next_refresh {
                for s in &mut slots {
                    publish_status(&bus, &mut s.health, cfg.modbus.status_refresh, &metrics).await;
                }
                next_refresh = now + refresh_every;
                trace.record(Activity::Status, now, Instant::now(), &metrics);
            }
            let (i, probe_timeout) = match sched.next(now) {
                Decision::Wait(t) => {
                    metrics.modbus.wakeups.inc();
                    sleep_until(t.min(next_refresh)).await;
                    continue;
                }
                Decision::Poll {
                    device,
                    due,
                    skipped,
                    probe,
                } => {
                    if probe.is_none() {
                        let late = now.saturating_duration_since(due);
                        metrics.poll_lateness.observe(late.as_secs_f64());
                        let by_neighbours = if sched.any_failing() {
                            &lateness_failing
                        } else {
                            &lateness_healthy
                        };
                        by_neighbours.observe(late.as_secs_f64());
                        metrics.polls_skipped.inc_by(skipped);
                        if late > slots[device].device.interval / 10 {
                            metrics.modbus.polls_late.inc();
                        }
                        trace.attribute(due, now, &metrics);
                    }
                    (device, probe)
                }
            };
            let probe = probe_timeout.is_some();
            let slot = &mut slots[i];
            let started = Instant::now();
            let Some(ctx) = link.open(&endpoint, &cfg, &metrics, &mut trace).await else {
                sched.finished(
                    i,
                    Outcome::Skipped,
                    probe,
                    started,
                    Instant::now(),
                    rand::rng().random(),
                );
                let msg = format!("endpoint {endpoint} unreachable; reconnecting with back-off");
                observe(slot, Delivery::Failed(ErrorKind::Transport, msg), &cfg, &metrics);
                let t = Instant::now();
                publish_status(&bus, &mut slot.health, cfg.modbus.status_refresh, &metrics).await;
                trace.record(Activity::Status, t, Instant::now(), &metrics);
                continue;
            };
            let started = Instant::now();
            let (requests, limit) = match probe_timeout {
                Some(t) => (&slot.probe, t),
                None => (&slot.plan, cfg.request_timeout),
            };
            let result = poll(ctx, &slot.device, requests, (limit, on_timeout), &metrics).await;
            let ended = Instant::now();
            let class = if probe { Activity::Probe } else { Activity::Grid };
            trace.record(class, started, ended, &metrics);
            let mut reconnect = result.reconnect;
            if result.timed_out {
                link.silent_timeouts += 1;
                if link.silent_timeouts >= 2 {
                    reconnect = reconnect.or(Some("silent_connection"));
                }
            } else {
                link.silent_timeouts = 0;
            }
            if let Some(reason) = reconnect {
                metrics.modbus.disconnects.with_label_values(&[reason]).inc();
                link.drop_connection().await;
                trace.record(Activity::Disconnect, ended, Instant::now(), &metrics);
            }
            sched.finished(i, result.outcome, probe, started, ended, rand::rng().random());
            if probe {
                let answered = result.outcome == Outcome::Answered;
                metrics
                    .modbus
                    .probes
                    .with_label_values(&[if answered { "answered" } else { "failed" }])
                    .inc();
                if answered {
                    info!(device = %slot.device.device, "Device answers again; back on its poll grid.");
                } else {
                    observe(slot, result.health, &cfg, &metrics);
                }
            } else {
                if result.outcome == Outcome::Failed && sched.is_failing(i) {
                    warn!(device = %slot.device.device, unit = slot.device.unit_id, "Device failed; backing off on its own.");
                }
                observe(slot, result.health, &cfg, &metrics);
                if !result.values.is_empty() {
                    let d = &slot.device;
                    let mut values = result.values;
                    d.profile.derive(&mut values);
                    let reading = Reading::new(d.site.clone(), d.device.clone(), Utc::now(), values);
                    let t = Instant::now();
                    publisher.publish(reading, "modbus").await;
                    trace.record(Activity::Publish, t, Instant::now(), &metrics);
                }
            }
            let t = Instant::now();
            publish_status(&bus, &mut slot.health, cfg.modbus.status_refresh, &metrics).await;
            trace.record(Activity::Status, t, Instant::now(), &metrics);
        }
    };
    let _ = shutdown.run_until_cancelled(polling).await;
    link.drop_connection().await;
    // The task ends (shutdown, or its endpoint left the plan): its devices leave the per-state gauge.
    for s in &slots {
        if let Some(state) = s.health.state() {
            metrics.modbus.devices.with_label_values(&[state.as_str()]).dec();
        }
    }
}

impl Link {
    /// The open connection, connecting first if allowed; `None` while backing off or when connecting fails.
    async fn open(
        &mut self,
        endpoint: &ModbusEndpoint,
        cfg: &Config,
        metrics: &Metrics,
        trace: &mut Trace,
    ) -> Option<&mut Context> {
        if self.ctx.is_none() && Instant::now() >= self.retry_at {
            let t = Instant::now();
            let attempt = transport::connect(endpoint, cfg.connect_timeout).await;
            trace.record(Activity::Connect, t, Instant::now(), metrics);
            match attempt {
                Ok(c) => {
                    metrics.modbus.connects.with_label_values(&["ok"]).inc();
                    if self.failures > 0 {
                        info!(%endpoint, "Reconnected to Modbus endpoint.");
                    }
                    self.failures = 0;
                    self.ctx = Some(c);
                }
                Err(e) => {
                    metrics.modbus.connects.with_label_values(&["error"]).inc();
                    if self.failures == 0 {
                        warn!(%endpoint, error = %e, "Cannot connect to Modbus endpoint; backing off.");
                    }
                    let delay = schedule::backoff(
                        Duration::from_millis(200),
                        self.failures + 1,
                        cfg.reconnect_max,
                        rand::rng().random(),
                    );
                    self.retry_at = Instant::now() + delay;
                    self.failures = self.failures.saturating_add(1);
                }
            }
        }
        self.ctx.as_mut()
    }

    async fn drop_connection(&mut self) {
        self.silent_timeouts = 0;
        if let Some(mut c) = self.ctx.take() {
            let _ = tokio::time::timeout(Duration::from_millis(100), c.disconnect()).await;
        }
    }
}

fn observe(slot: &mut Slot, health: Delivery, cfg: &Config, metrics: &Metrics) {
    let (before, after) = slot.health.observe(health, Utc::now(), cfg.modbus.offline_after);
    if before != Some(after) {
        if let Some(b) = before {
            metrics.modbus.devices.with_label_values(&[b.as_str()]).dec();
        }
        metrics.modbus.devices.with_label_values(&[after.as_str()]).inc();
        if after == HealthState::Offline || before == Some(HealthState::Offline) {
            info!(device = %slot.device.device, state = after.as_str(), "Device health changed.");
        }
    }
}

/// Time until the device's first slot: the next wall-clock multiple of its interval, plus (spread) a
/// fixed per-device offset within the interval derived from its id.
fn first_slot(d: &PolledDevice, phase: Phase, now: chrono::DateTime<Utc>) -> Duration {
    let ms = u64::try_from(d.interval.as_millis()).unwrap_or(u64::MAX).max(1);
    let offset = match phase {
        Phase::Aligned => 0,
        Phase::Spread => fnv1a(d.device.as_str()) % ms,
    };
    let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    Duration::from_millis((offset + ms - now_ms % ms) % ms)
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}
