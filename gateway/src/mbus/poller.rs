//! The task of one wired M-Bus bus: its stream (opened, re-opened with back-off after transport errors),
//! its meters' grids and probes from the Modbus [`Scheduler`] (M-Bus is half duplex: one request at a time),
//! each read's values published as a reading and each meter's health published on its status topic.

use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_bus::BusClient;
use zw_model::Reading;
use zw_model::inventory::StreamEndpoint;

use super::link::{self, Link};
use super::read::{self, ReadLimits, ReadResult};
use super::{MbusMeter, publish_status};
use crate::modbus::schedule::{self, Decision, Limits, Outcome, Scheduler};
use crate::modbus::{Delivery, PollHealth};
use crate::publish::Publisher;
use crate::{Config, Metrics};

/// The source label of wired M-Bus readings and statuses.
pub const SOURCE: &str = "mbus";

/// Polls every meter of one bus until `shutdown`.
pub async fn poll_bus(
    endpoint: StreamEndpoint,
    meters: Vec<MbusMeter>,
    cfg: Config,
    bus: BusClient,
    publisher: Publisher,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let m = &cfg.mbus;
    let now = Instant::now();
    let wall = Utc::now();
    let grid: Vec<(Duration, Instant)> = meters
        .iter()
        .map(|d| (d.interval, now + first_slot(d, wall)))
        .collect();
    let limits = Limits {
        probe_timeout: m.probe_timeout,
        failing_share: m.failing_share,
        backoff_max: m.device_backoff_max,
        probe_max_wait: m.probe_max_wait,
    };
    let mut sched = Scheduler::new(limits, &grid, now);
    let mut health: Vec<PollHealth> = meters
        .iter()
        .map(|d| {
            PollHealth::new(d.site.clone(), d.device.clone(), cfg.instance.clone(), wall).with_source(SOURCE)
        })
        .collect();
    let read_limits = ReadLimits {
        timeout: m.request_timeout,
        retries: m.retries,
        max_telegrams: m.max_telegrams,
    };
    let key = endpoint.key();
    let mut conn: Option<Link> = None;
    let (mut connect_failures, mut retry_at) = (0u32, now);
    let refresh_every = m.status_refresh / 4;
    let mut next_refresh = now + refresh_every;
    let polling = async {
        loop {
            let now = Instant::now();
            if now >= next_refresh {
                for h in &mut health {
                    publish_status(&bus, h, m.status_refresh, &metrics);
                }
                next_refresh = now + refresh_every;
            }
            let (i, probe) = match sched.next(now) {
                Decision::Wait(t) => {
                    sleep_until(t.min(next_refresh)).await;
                    continue;
                }
                Decision::Poll {
                    device,
                    skipped,
                    probe,
                    ..
                } => {
                    metrics.polls_skipped.inc_by(skipped);
                    (device, probe)
                }
            };
            let meter = &meters[i];
            let dev = meter.device.as_str();
            let started = Instant::now();
            if conn.is_none() && started >= retry_at {
                match link::open(&endpoint, cfg.connect_timeout).await {
                    Ok(s) => {
                        metrics.mbus.connects.with_label_values(&[&key, "ok"]).inc();
                        if connect_failures > 0 {
                            info!(bus = %endpoint, "Reconnected to M-Bus endpoint.");
                        }
                        connect_failures = 0;
                        conn = Some(Link::new(s));
                    }
                    Err(e) => {
                        metrics.mbus.connects.with_label_values(&[&key, "error"]).inc();
                        if connect_failures == 0 {
                            warn!(bus = %endpoint, error = %e, "Cannot open M-Bus endpoint; backing off.");
                        }
                        connect_failures = connect_failures.saturating_add(1);
                        let delay = schedule::backoff(
                            Duration::from_millis(200),
                            connect_failures,
                            cfg.reconnect_max,
                            rand::rng().random(),
                        );
                        retry_at = Instant::now() + delay;
                    }
                }
            }
            let Some(link) = conn.as_mut() else {
                sched.finished(
                    i,
                    Outcome::Skipped,
                    probe.is_some(),
                    started,
                    Instant::now(),
                    rand::rng().random(),
                );
                metrics.mbus.reads.with_label_values(&[dev, "skipped"]).inc();
                let msg = format!("bus {endpoint} unreachable; reconnecting with back-off");
                observe(
                    &mut health[i],
                    Delivery::Failed(zw_model::status::ErrorKind::Transport, msg),
                    &cfg,
                );
                publish_status(&bus, &mut health[i], m.status_refresh, &metrics);
                continue;
            };
            match link.drain().await {
                Ok(0) => {}
                Ok(n) => metrics
                    .mbus
                    .stray_bytes
                    .with_label_values(&[&key])
                    .inc_by(n as u64),
                Err(_) => {
                    conn = None;
                    continue;
                }
            }
            let who = (&meter.device, &metrics.mbus);
            let result: ReadResult = match probe {
                Some(t) => read::probe(link, meter.target, t, who).await,
                None => read::read(link, meter.target, read_limits, who).await,
            };
            let ended = Instant::now();
            if result.reconnect {
                conn = None;
            }
            sched.finished(
                i,
                result.outcome,
                probe.is_some(),
                started,
                ended,
                rand::rng().random(),
            );
            let answered = result.outcome == Outcome::Answered;
            let label = match (probe.is_some(), &result.health) {
                (true, _) if answered => "probe_ok",
                (true, _) => "probe_failed",
                (false, Delivery::Complete) => "complete",
                (false, Delivery::Partial(..)) => "partial",
                (false, Delivery::Failed(..)) => "failed",
            };
            metrics.mbus.reads.with_label_values(&[dev, label]).inc();
            if probe.is_some() {
                if answered {
                    info!(device = dev, "M-Bus meter answers again; back on its poll grid.");
                } else {
                    observe(&mut health[i], result.health, &cfg);
                }
            } else {
                if result.outcome == Outcome::Failed && sched.is_failing(i) {
                    warn!(device = dev, bus = %endpoint, "M-Bus meter failed; backing off on its own.");
                }
                observe(&mut health[i], result.health, &cfg);
                if !result.values.is_empty() {
                    let reading = Reading::new(
                        meter.site.clone(),
                        meter.device.clone(),
                        Utc::now(),
                        result.values,
                    );
                    publisher.publish(reading, SOURCE).await;
                }
            }
            publish_status(&bus, &mut health[i], m.status_refresh, &metrics);
        }
    };
    let _ = shutdown.run_until_cancelled(polling).await;
}

fn observe(h: &mut PollHealth, d: Delivery, cfg: &Config) {
    let (before, after) = h.observe(d, Utc::now(), cfg.mbus.offline_after);
    if before != Some(after) && before.is_some() {
        info!(state = after.as_str(), "M-Bus meter health changed.");
    }
}

/// Time until the meter's first slot: the next wall-clock multiple of its interval plus a fixed offset
/// derived from its id, so meters on one bus spread over the interval.
fn first_slot(d: &MbusMeter, now: chrono::DateTime<Utc>) -> Duration {
    let ms = u64::try_from(d.interval.as_millis()).unwrap_or(u64::MAX).max(1);
    let hash = d.device.as_str().bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    let now_ms = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    Duration::from_millis((hash % ms + ms - now_ms % ms) % ms)
}
