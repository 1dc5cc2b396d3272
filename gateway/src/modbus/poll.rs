//! One poll of one device on an open connection: run its planned requests (or a probe), decode, and
//! classify what happened for the reading, the device's health and the scheduler.
//!
//! Rules: every request has a timeout; a timeout or transport error ends the poll. A transport or protocol
//! error (e.g. an answer whose MBAP transaction id belongs to an earlier request) asks for a reconnect. A
//! timeout asks for one unless the caller says the stream survives it ([`TimeoutPolicy::Keep`], Modbus TCP,
//! whose transaction ids tell a late answer apart: if one ever arrives it fails the request it meets with a
//! protocol error, which reconnects then); an exception skips that request's values and goes on with the next one;
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

use super::PolledDevice;
use super::poll_health::Delivery;
use super::schedule::Outcome;
use crate::Metrics;
use crate::metrics::modbus::exception_label;
use crate::profile::Request;

/// Everything one poll produced.
#[derive(Debug)]
pub struct PollResult {
    /// Decoded values in canonical units.
    pub values: BTreeMap<Quantity, f64>,
    /// For the device's health.
    pub health: Delivery,
    /// For the scheduler.
    pub outcome: Outcome,
    /// The connection must be dropped and re-opened, for this reason (a metrics label).
    pub reconnect: Option<&'static str>,
    /// The poll ended in a timeout.
    pub timed_out: bool,
}

/// What a timeout means for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPolicy {
    /// The stream may be out of sync (RTU framing: no transaction ids): reconnect.
    Reconnect,
    /// The stream is still in sync (Modbus TCP): keep the connection.
    Keep,
}

enum Answer {
    Registers(Vec<u16>),
    Exception(ExceptionCode),
    Timeout,
    Transport(&'static str, String),
}

async fn execute(ctx: &mut Context, req: &Request, limit: Duration, metrics: &Metrics) -> Answer {
    let started = tokio::time::Instant::now();
    let call = async {
        if req.function == 3 {
            ctx.read_holding_registers(req.address, req.count).await
        } else {
            ctx.read_input_registers(req.address, req.count).await
        }
    };
    let answer = timeout(limit, call).await;
    if matches!(answer, Ok(Ok(_))) {
        metrics
            .modbus
            .request_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    match answer {
        Err(_) => Answer::Timeout,
        Ok(Err(e @ tokio_modbus::Error::Protocol(_))) => Answer::Transport("protocol", e.to_string()),
        Ok(Err(e)) => Answer::Transport("transport", e.to_string()),
        Ok(Ok(Err(code))) => Answer::Exception(code),
        Ok(Ok(Ok(regs))) => Answer::Registers(regs),
    }
}

/// Runs `requests` for `dev` (its plan, or a single probe request) with `limit` per request.
pub async fn poll(
    ctx: &mut Context,
    dev: &PolledDevice,
    requests: &[Request],
    (limit, on_timeout): (Duration, TimeoutPolicy),
    metrics: &Metrics,
) -> PollResult {
    ctx.set_slave(Slave(dev.unit_id));
    let mut values = BTreeMap::new();
    let mut error: Option<(ErrorKind, String)> = None;
    let mut back_off = false;
    let planned: usize = requests.iter().map(|r| r.values.len()).sum();
    for req in requests {
        match execute(ctx, req, limit, metrics).await {
            Answer::Registers(regs) => {
                metrics.modbus_requests.with_label_values(&["ok"]).inc();
                dev.profile.decode_response(req, &regs, &mut values, |e| {
                    metrics.values_dropped.with_label_values(&[e.reason()]).inc();
                    debug!(device = %dev.device, error = %e, "Dropped undecodable value.");
                    error.get_or_insert((ErrorKind::Decode, e.to_string()));
                });
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
                debug!(device = %dev.device, timeout = ?limit, "Modbus request timed out.");
                let msg = format!(
                    "no answer within {limit:?} to {:#06x} x{}",
                    req.address, req.count
                );
                let reconnect = (on_timeout == TimeoutPolicy::Reconnect).then_some("timeout");
                return finish(values, planned, Some((ErrorKind::Timeout, msg)), true, reconnect);
            }
            Answer::Transport(reason, e) => {
                metrics.modbus_requests.with_label_values(&["transport"]).inc();
                warn!(device = %dev.device, error = %e, "Modbus transport error; reconnecting.");
                return finish(
                    values,
                    planned,
                    Some((ErrorKind::Transport, e)),
                    true,
                    Some(reason),
                );
            }
        }
    }
    finish(values, planned, error, back_off, None)
}

fn finish(
    values: BTreeMap<Quantity, f64>,
    planned: usize,
    error: Option<(ErrorKind, String)>,
    back_off: bool,
    reconnect: Option<&'static str>,
) -> PollResult {
    let health = match error {
        None if values.len() >= planned => Delivery::Complete,
        None => Delivery::Partial(ErrorKind::Decode, "values missing".into()),
        Some((kind, msg)) if values.is_empty() => Delivery::Failed(kind, msg),
        Some((kind, msg)) => Delivery::Partial(kind, msg),
    };
    let outcome = if back_off {
        Outcome::Failed
    } else {
        Outcome::Answered
    };
    let timed_out = matches!(
        &health,
        Delivery::Failed(ErrorKind::Timeout, _) | Delivery::Partial(ErrorKind::Timeout, _)
    );
    PollResult {
        values,
        health,
        outcome,
        reconnect,
        timed_out,
    }
}
