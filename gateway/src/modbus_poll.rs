//! One poll of one device on an open connection: run its planned requests (or a probe), decode, and
//! classify what happened for the reading, the device's health and the scheduler.
//!
//! Rules: every request has a timeout; a timeout or transport error ends the poll and asks for a reconnect
//! (the stream is out of sync); an exception skips that request's values and goes on with the next one;
//! a value that fails to decode is dropped and counted, its neighbours still go out. Exceptions that mean
//! "the device behind the gateway did not answer" (0x0A, 0x0B) or "busy" (0x06) back the device off like a
//! timeout, since they cost the bus the gateway's own timeout.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::timeout;
use tokio_modbus::ExceptionCode;
use tokio_modbus::client::{Context, Reader as _};
use tokio_modbus::prelude::{Slave, SlaveContext as _};
use tracing::{debug, warn};
use zw_model::Quantity;
use zw_model::status::ErrorKind;

use crate::Metrics;
use crate::health::PollHealth;
use crate::modbus::PolledDevice;
use crate::modbus_metrics::exception_label;
use crate::profile::{self, Request};
use crate::schedule::Outcome;

/// Everything one poll produced.
#[derive(Debug)]
pub struct PollResult {
    /// Decoded values in canonical units.
    pub values: BTreeMap<Quantity, f64>,
    /// For the device's health.
    pub health: PollHealth,
    /// For the scheduler.
    pub outcome: Outcome,
    /// The connection must be dropped and re-opened.
    pub reconnect: bool,
}

enum Answer {
    Registers(Vec<u16>),
    Exception(ExceptionCode),
    Timeout,
    Transport(String),
}

async fn execute(ctx: &mut Context, req: &Request, limit: Duration) -> Answer {
    let call = async {
        if req.function == 3 {
            ctx.read_holding_registers(req.address, req.count).await
        } else {
            ctx.read_input_registers(req.address, req.count).await
        }
    };
    match timeout(limit, call).await {
        Err(_) => Answer::Timeout,
        Ok(Err(e)) => Answer::Transport(e.to_string()),
        Ok(Ok(Err(code))) => Answer::Exception(code),
        Ok(Ok(Ok(regs))) => Answer::Registers(regs),
    }
}

/// Runs `requests` for `dev` (its plan, or a single probe request) with `limit` per request.
pub async fn poll(
    ctx: &mut Context,
    dev: &PolledDevice,
    requests: &[Request],
    limit: Duration,
    metrics: &Metrics,
) -> PollResult {
    ctx.set_slave(Slave(dev.unit_id));
    let mut values = BTreeMap::new();
    let mut error: Option<(ErrorKind, String)> = None;
    let mut back_off = false;
    let planned: usize = requests.iter().map(|r| r.values.len()).sum();
    for req in requests {
        match execute(ctx, req, limit).await {
            Answer::Registers(regs) => {
                metrics.modbus_requests.with_label_values(&["ok"]).inc();
                for &vi in &req.values {
                    let v = &dev.profile.values[vi];
                    match profile::decode(v, req.address, &regs) {
                        Ok(x) => {
                            values.insert(v.quantity, x);
                        }
                        Err(e) => {
                            metrics.values_dropped.with_label_values(&[e.reason()]).inc();
                            debug!(device = %dev.device, error = %e, "Dropped undecodable value.");
                            error.get_or_insert((ErrorKind::Decode, e.to_string()));
                        }
                    }
                }
            }
            Answer::Exception(code) => {
                metrics.modbus_requests.with_label_values(&["exception"]).inc();
                metrics
                    .modbus
                    .exceptions
                    .with_label_values(&[exception_label(code)])
                    .inc();
                debug!(device = %dev.device, address = req.address, count = req.count, exception = ?code, "Modbus exception.");
                back_off |= matches!(
                    code,
                    ExceptionCode::GatewayTargetDevice
                        | ExceptionCode::GatewayPathUnavailable
                        | ExceptionCode::ServerDeviceBusy
                );
                let msg = format!(
                    "exception {} at {:#06x} x{}",
                    exception_label(code),
                    req.address,
                    req.count
                );
                error = Some((ErrorKind::Exception, msg));
            }
            Answer::Timeout => {
                metrics.modbus_requests.with_label_values(&["timeout"]).inc();
                debug!(device = %dev.device, timeout = ?limit, "Modbus request timed out; reconnecting.");
                let msg = format!(
                    "no answer within {limit:?} to {:#06x} x{}",
                    req.address, req.count
                );
                return finish(values, planned, Some((ErrorKind::Timeout, msg)), true, true);
            }
            Answer::Transport(e) => {
                metrics.modbus_requests.with_label_values(&["transport"]).inc();
                warn!(device = %dev.device, error = %e, "Modbus transport error; reconnecting.");
                return finish(values, planned, Some((ErrorKind::Transport, e)), true, true);
            }
        }
    }
    finish(values, planned, error, back_off, false)
}

fn finish(
    values: BTreeMap<Quantity, f64>,
    planned: usize,
    error: Option<(ErrorKind, String)>,
    back_off: bool,
    reconnect: bool,
) -> PollResult {
    let health = match error {
        None if values.len() >= planned => PollHealth::Complete,
        None => PollHealth::Partial(ErrorKind::Decode, "values missing".into()),
        Some((kind, msg)) if values.is_empty() => PollHealth::Failed(kind, msg),
        Some((kind, msg)) => PollHealth::Partial(kind, msg),
    };
    let outcome = if back_off {
        Outcome::Failed
    } else {
        Outcome::Answered
    };
    PollResult {
        values,
        health,
        outcome,
        reconnect,
    }
}
