//! One read of one wired M-Bus meter: the pure request sequence with the link's exchanges.
//!
//! ```text
//!  primary a:    SND_NKE(a) → E5,  REQ_UD2(a, FCB=1) → RSP_UD [DIF 1F: REQ_UD2(a, FCB=0) → RSP_UD …]
//!  secondary id: SND_UD(253, CI 52, id) → E5,  REQ_UD2(253, FCB=1) → RSP_UD …
//! ```
//!
//! A request without a valid answer (timeout, garbled frame) is repeated `retries` times with the same FCB,
//! so a meter that did answer repeats its telegram instead of sending the next. The answer must come from the
//! meter asked (primary address, or the selected id). Values of all telegrams are merged, the first of each
//! quantity kept. A probe is the first request alone (SND_NKE or select) with the probe timeout.

use std::time::Duration;

use zw_meters::mbus::frame::{self, ADDR_NETWORK, SecondaryAddress};
use zw_model::Id;
use zw_model::reading::Values;
use zw_model::status::ErrorKind;

use super::MbusMetrics;
use super::link::{Link, LinkError};
use crate::modbus::Delivery;
use crate::modbus::schedule::Outcome;

/// How a meter is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Primary address 1–250.
    Primary(u8),
    /// Selected by secondary address (8-digit id) via address 253.
    Secondary(SecondaryAddress),
}

impl Target {
    fn address(self) -> u8 {
        match self {
            Self::Primary(a) => a,
            Self::Secondary(_) => ADDR_NETWORK,
        }
    }
}

/// Timeouts and limits of one read.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Per request.
    pub timeout: Duration,
    /// Repeats of a request without a valid answer.
    pub retries: u32,
    /// Telegrams at most.
    pub max_telegrams: u32,
}

/// What one read (or probe) achieved.
#[derive(Debug)]
pub struct ReadResult {
    /// The values (empty when nothing arrived).
    pub values: Values,
    /// For the meter's health.
    pub health: Delivery,
    /// For the scheduler.
    pub outcome: Outcome,
    /// The stream failed: reconnect.
    pub reconnect: bool,
}

fn failed(kind: ErrorKind, message: String, outcome: Outcome, reconnect: bool) -> ReadResult {
    ReadResult {
        values: Values::new(),
        health: Delivery::Failed(kind, message),
        outcome,
        reconnect,
    }
}

fn kind(e: &LinkError) -> ErrorKind {
    match e {
        LinkError::Timeout(_) => ErrorKind::Timeout,
        LinkError::Garbled(_) => ErrorKind::Decode,
        LinkError::Transport(_) => ErrorKind::Transport,
    }
}

/// Sends `request` until a frame that `accept` takes arrives, at most `1 + retries` times.
async fn request<T>(
    link: &mut Link,
    request: &[u8],
    limits: (Duration, u32),
    (device, metrics): (&Id, &MbusMetrics),
    accept: impl Fn(&[u8]) -> Result<T, String>,
) -> Result<T, (ErrorKind, String)> {
    let mut last = (ErrorKind::Timeout, String::new());
    for _ in 0..=limits.1 {
        let answer = link.exchange(request, limits.0).await;
        let result = match &answer {
            Ok(_) => "ok",
            Err(LinkError::Timeout(_)) => "timeout",
            Err(LinkError::Garbled(_)) => "checksum",
            Err(LinkError::Transport(_)) => "transport",
        };
        match answer {
            Ok(bytes) => match accept(&bytes) {
                Ok(v) => {
                    metrics.requests.with_label_values(&[device.as_str(), "ok"]).inc();
                    return Ok(v);
                }
                Err(m) => {
                    metrics
                        .requests
                        .with_label_values(&[device.as_str(), "checksum"])
                        .inc();
                    last = (ErrorKind::Decode, m);
                }
            },
            Err(e) => {
                metrics
                    .requests
                    .with_label_values(&[device.as_str(), result])
                    .inc();
                if matches!(e, LinkError::Transport(_)) {
                    return Err((ErrorKind::Transport, e.to_string()));
                }
                last = (kind(&e), e.to_string());
            }
        }
        // Whatever came late or garbled must not be read as the repeat's answer.
        if let Err(e) = link.drain().await {
            return Err((ErrorKind::Transport, e.to_string()));
        }
    }
    Err(last)
}

fn ack(bytes: &[u8]) -> Result<(), String> {
    if bytes == [0xE5] {
        Ok(())
    } else {
        Err(format!("expected E5, got a {}-byte frame", bytes.len()))
    }
}

/// The first request of a read (and a probe): SND_NKE, or the select of a secondary address.
fn init_frame(target: Target) -> Vec<u8> {
    match target {
        Target::Primary(a) => frame::snd_nke(a).to_vec(),
        Target::Secondary(s) => frame::select_secondary(&s).to_vec(),
    }
}

/// Checks that an RSP_UD is a decodable telegram from the meter asked.
fn telegram(target: Target, bytes: &[u8]) -> Result<zw_meters::mbus::Telegram, String> {
    let t = zw_meters::mbus::decode(bytes).map_err(|e| e.to_string())?;
    match target {
        Target::Primary(a) if t.primary_address != Some(a) => Err(format!(
            "answer from primary address {:?}, asked {a}",
            t.primary_address
        )),
        Target::Secondary(s) if t.meter.is_some_and(|m| m.id.0 != s.id) => {
            Err("answer from another meter than the one selected".into())
        }
        _ => Ok(t),
    }
}

/// Probes a failing meter: the first request alone, once.
pub async fn probe(link: &mut Link, target: Target, limit: Duration, who: (&Id, &MbusMetrics)) -> ReadResult {
    match request(link, &init_frame(target), (limit, 0), who, ack).await {
        Ok(()) => ReadResult {
            values: Values::new(),
            health: Delivery::Complete,
            outcome: Outcome::Answered,
            reconnect: false,
        },
        Err((kind, message)) => failed(kind, message, Outcome::Failed, kind == ErrorKind::Transport),
    }
}

/// Reads the meter: init, then REQ_UD2 until the last telegram.
pub async fn read(
    link: &mut Link,
    target: Target,
    limits: ReadLimits,
    who: (&Id, &MbusMetrics),
) -> ReadResult {
    let lim = (limits.timeout, limits.retries);
    if let Err((kind, message)) = request(link, &init_frame(target), lim, who, ack).await {
        let outcome = if kind == ErrorKind::Decode {
            Outcome::Answered
        } else {
            Outcome::Failed
        };
        return failed(kind, message, outcome, kind == ErrorKind::Transport);
    }
    let mut values = Values::new();
    let mut fcb = true;
    for k in 0..limits.max_telegrams {
        let req = frame::req_ud2(target.address(), fcb);
        match request(link, &req, lim, who, |b| telegram(target, b)).await {
            Ok(t) => {
                who.1.telegrams.with_label_values(&[who.0.as_str()]).inc();
                for (q, v) in &t.values() {
                    if !values.contains_key(q) {
                        values.insert(*q, *v);
                    }
                }
                if !t.records.more_follow {
                    return ReadResult {
                        health: if values.is_empty() {
                            Delivery::Failed(ErrorKind::Decode, "no current values in the answer".into())
                        } else {
                            Delivery::Complete
                        },
                        values,
                        outcome: Outcome::Answered,
                        reconnect: false,
                    };
                }
                fcb = !fcb;
            }
            Err((kind, message)) => {
                let message = format!("telegram {}: {message}", k + 1);
                let reconnect = kind == ErrorKind::Transport;
                if values.is_empty() {
                    let outcome = if kind == ErrorKind::Decode || k > 0 {
                        Outcome::Answered
                    } else {
                        Outcome::Failed
                    };
                    return failed(kind, message, outcome, reconnect);
                }
                return ReadResult {
                    values,
                    health: Delivery::Partial(kind, message),
                    outcome: Outcome::Answered,
                    reconnect,
                };
            }
        }
    }
    ReadResult {
        values,
        health: Delivery::Partial(
            ErrorKind::Decode,
            format!("more than {} telegrams; the rest not read", limits.max_telegrams),
        ),
        outcome: Outcome::Answered,
        reconnect: false,
    }
}
