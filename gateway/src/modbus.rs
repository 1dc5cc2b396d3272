//! Modbus TCP polling: one task and one connection per endpoint, devices on it polled on a fixed grid.
//!
//! Guarantees:
//! * Requests on one connection are serialised (one task owns it); different endpoints run in parallel.
//! * Every request has a timeout. After a timeout or transport error the connection is dropped (the stream is
//!   out of sync) and re-opened with exponential back-off and jitter; the endpoint's devices are skipped while
//!   it backs off, other endpoints are unaffected.
//! * Polls are scheduled on a fixed grid aligned to the wall clock, so there is no drift; a poll that starts
//!   late is measured, and slots missed entirely are skipped and counted, never bunched up.
//! * Modbus exceptions are told apart from transport errors in logs and metrics; the values of a failed
//!   request are missing from the reading, never 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::Rng;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_modbus::client::{Client as _, Context, Reader};
use tokio_modbus::prelude::{Slave, SlaveContext};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use zw_bus::{BusClient, QoS};
use zw_model::{Id, Quantity, Reading, reading::TimeWindow};

use crate::profile::{self, Profile, Request};
use crate::{Config, Metrics};

/// A device polled over Modbus.
#[derive(Debug, Clone)]
pub struct PolledDevice {
    /// Site id.
    pub site: Id,
    /// Device id.
    pub device: Id,
    /// Modbus unit id.
    pub unit_id: u8,
    /// Poll interval.
    pub interval: Duration,
    /// The meter profile.
    pub profile: Arc<Profile>,
}

/// Outcome of one request, as counted in `zw_gateway_modbus_requests_total{result}`.
enum Outcome {
    Ok(Vec<u16>),
    Exception(tokio_modbus::ExceptionCode),
    Timeout,
    Transport(String),
}

struct Slot {
    device: PolledDevice,
    plan: Vec<Request>,
    next_due: Instant,
}

/// Polls every device of one endpoint until `shutdown`.
pub async fn poll_endpoint(
    endpoint: String,
    devices: Vec<PolledDevice>,
    cfg: Config,
    bus: BusClient,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let now = Instant::now();
    let mut slots: Vec<Slot> = devices
        .into_iter()
        .map(|d| Slot {
            plan: d.profile.plan(),
            next_due: now + grid_offset(d.interval),
            device: d,
        })
        .collect();
    let mut conn: Option<Context> = None;
    let mut failures: u32 = 0;
    let mut retry_at = now;
    loop {
        let Some(i) = (0..slots.len()).min_by_key(|&i| slots[i].next_due) else {
            return;
        };
        let due = slots[i].next_due;
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = sleep_until(due) => {}
        }
        let started = Instant::now();
        metrics.poll_lateness.observe((started - due).as_secs_f64());
        let slot = &mut slots[i];
        // Advance on the grid; count slots that passed while we were busy.
        slot.next_due += slot.device.interval;
        while slot.next_due <= started {
            slot.next_due += slot.device.interval;
            metrics.polls_skipped.inc();
        }
        if conn.is_none() && started >= retry_at {
            match connect(&endpoint, cfg.connect_timeout).await {
                Ok(c) => {
                    if failures > 0 {
                        info!(%endpoint, "Reconnected to Modbus endpoint.");
                    }
                    conn = Some(c);
                }
                Err(e) => {
                    if failures == 0 {
                        warn!(%endpoint, error = %e, "Cannot connect to Modbus endpoint; backing off.");
                    }
                    metrics.modbus_requests.with_label_values(&["transport"]).inc();
                    retry_at = Instant::now() + backoff(failures, cfg.reconnect_max);
                    failures = failures.saturating_add(1);
                }
            }
        }
        let Some(ctx) = conn.as_mut() else { continue };
        let (values, broken) = poll_device(ctx, &slot.device, &slot.plan, &cfg, &metrics).await;
        if broken {
            conn = None;
            retry_at = Instant::now() + backoff(failures, cfg.reconnect_max);
            failures = failures.saturating_add(1);
        } else {
            failures = 0;
        }
        if !values.is_empty() {
            let reading = Reading::new(
                slot.device.site.clone(),
                slot.device.device.clone(),
                Utc::now(),
                values,
            );
            publish(&bus, &reading, "modbus", &metrics).await;
        }
    }
    if let Some(mut c) = conn {
        let _ = c.disconnect().await;
    }
}

/// Runs a device's planned requests; returns the decoded values and whether the connection must be dropped.
async fn poll_device(
    ctx: &mut Context,
    dev: &PolledDevice,
    plan: &[Request],
    cfg: &Config,
    metrics: &Metrics,
) -> (BTreeMap<Quantity, f64>, bool) {
    ctx.set_slave(Slave(dev.unit_id));
    let mut values = BTreeMap::new();
    for req in plan {
        let call = async {
            if req.function == 3 {
                ctx.read_holding_registers(req.address, req.count).await
            } else {
                ctx.read_input_registers(req.address, req.count).await
            }
        };
        let outcome = match timeout(cfg.request_timeout, call).await {
            Err(_) => Outcome::Timeout,
            Ok(Err(e)) => Outcome::Transport(e.to_string()),
            Ok(Ok(Err(code))) => Outcome::Exception(code),
            Ok(Ok(Ok(regs))) => Outcome::Ok(regs),
        };
        match outcome {
            Outcome::Ok(regs) => {
                metrics.modbus_requests.with_label_values(&["ok"]).inc();
                for &vi in &req.values {
                    let v = &dev.profile.values[vi];
                    match profile::decode(v, req.address, &regs) {
                        Ok(x) => {
                            values.insert(v.quantity, x);
                        }
                        Err(e) => {
                            metrics.values_dropped.with_label_values(&["decode"]).inc();
                            debug!(device = %dev.device, error = %e, "Dropped undecodable value.");
                        }
                    }
                }
            }
            Outcome::Exception(code) => {
                metrics.modbus_requests.with_label_values(&["exception"]).inc();
                warn!(device = %dev.device, address = req.address, count = req.count, exception = ?code, "Modbus exception.");
            }
            Outcome::Timeout => {
                metrics.modbus_requests.with_label_values(&["timeout"]).inc();
                warn!(device = %dev.device, timeout = ?cfg.request_timeout, "Modbus request timed out; reconnecting.");
                return (values, true);
            }
            Outcome::Transport(e) => {
                metrics.modbus_requests.with_label_values(&["transport"]).inc();
                warn!(device = %dev.device, error = %e, "Modbus transport error; reconnecting.");
                return (values, true);
            }
        }
    }
    (values, false)
}

async fn connect(endpoint: &str, limit: Duration) -> Result<Context, String> {
    let attempt = async {
        let addr: SocketAddr = tokio::net::lookup_host(endpoint)
            .await
            .map_err(|e| format!("cannot resolve: {e}"))?
            .next()
            .ok_or_else(|| "no address".to_string())?;
        tokio_modbus::client::tcp::connect(addr)
            .await
            .map_err(|e| e.to_string())
    };
    timeout(limit, attempt)
        .await
        .map_err(|_| "connect timed out".to_string())?
}

/// Publishes a reading after validating it; failures are counted, never silent.
pub(crate) async fn publish(bus: &BusClient, reading: &Reading, source: &str, metrics: &Metrics) {
    if let Err(e) = reading.validate(Utc::now(), TimeWindow::default()) {
        metrics
            .messages_rejected
            .with_label_values(&[source, e.reason()])
            .inc();
        warn!(device = %reading.device, error = %e, "Dropped invalid reading.");
        return;
    }
    let topic = zw_model::topic::readings(&reading.site, &reading.device);
    match bus
        .publish(topic, QoS::AtLeastOnce, false, reading.to_json())
        .await
    {
        Ok(()) => metrics.readings_published.with_label_values(&[source]).inc(),
        Err(e) => {
            metrics.publish_errors.inc();
            warn!(device = %reading.device, error = %e, "Could not publish reading.");
        }
    }
}

/// Time until the next multiple of `interval` on the wall clock, so polls land on :00, :05, … .
fn grid_offset(interval: Duration) -> Duration {
    let ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
    let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    Duration::from_millis(ms - now_ms % ms)
}

fn backoff(failures: u32, max: Duration) -> Duration {
    let base = Duration::from_millis(200)
        .saturating_mul(1u32 << failures.min(16))
        .min(max);
    base.mul_f64(0.75 + 0.5 * rand::rng().random::<f64>())
}
