//! Writes batches to InfluxDB and decides per outcome: done, split (413), find and dead-letter the refused
//! lines (400/422), or hand the rest back for retry or spooling (429, 5xx, timeouts, auth, missing database).

use std::time::Duration;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};
use zw_influx::WriteError;

use crate::dead_letter::{DeadLetter, Record};
use crate::{Config, Metrics};

/// How often a writer backing off from an unreachable server checks whether it is back.
const PROBE: Duration = Duration::from_secs(1);

/// Whether `e` means the server is not there at all (nothing listening), as opposed to overloaded or
/// failing: only then may a successful `/ping` cut the back-off short (a 429/5xx back-off and its
/// `Retry-After` are always honoured in full).
fn is_down(e: &WriteError) -> bool {
    matches!(e, WriteError::Unavailable { message, retry_after: None } if message == "connection failed")
}

/// A slice of line protocol and the number of lines in it.
pub(crate) type Part = (Bytes, usize);

/// The result of one pass over a batch.
pub(crate) enum Outcome {
    /// Every line is either accepted by InfluxDB or in the dead-letter store.
    Done,
    /// InfluxDB could not take these parts now (in order); `error` says why.
    Retry {
        /// Lines still to be written.
        parts: Vec<Part>,
        /// The failure that stopped the pass.
        error: WriteError,
    },
    /// Shutdown came while the refused lines' dead letters could not be stored: nothing of this pass may
    /// be acknowledged (the broker re-delivers it).
    Stopped,
}

/// Batch writer with the retry policy (cheap to clone).
#[derive(Clone)]
pub struct Writer {
    influx: zw_influx::Client,
    retry: (Duration, Duration),
    bisect_requests: u32,
    metrics: Metrics,
    dead: DeadLetter,
}

impl Writer {
    /// A writer for `influx` with the retry and bisection settings of `cfg`.
    pub fn new(influx: zw_influx::Client, cfg: &Config, metrics: Metrics, dead: DeadLetter) -> Self {
        Self {
            influx,
            retry: (cfg.retry_min, cfg.retry_max),
            bisect_requests: cfg.reject_bisect_requests,
            metrics,
            dead,
        }
    }

    /// Writes `body` (`lines` lines), retrying with back-off until done. Returns `false` only if `stop` ended
    /// the retries; then some lines may not be written.
    pub async fn write_retrying(&self, body: Bytes, lines: usize, stop: &CancellationToken) -> bool {
        let mut parts = vec![(body, lines)];
        let mut failures: u32 = 0;
        loop {
            match self.write_once(parts).await {
                Outcome::Done => return true,
                Outcome::Stopped => return false,
                Outcome::Retry { parts: rest, error } => {
                    parts = rest;
                    let delay = self.backoff(failures, &error);
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = stop.cancelled() => return false,
                        () = tokio::time::sleep(delay) => {}
                        () = self.back_up(), if is_down(&error) && delay > PROBE => {}
                    }
                }
            }
        }
    }

    /// One pass: each part is written once; 413 splits it, a refusal is narrowed down by bisection and the
    /// refused lines are dead-lettered; the first retryable failure ends the pass.
    pub(crate) async fn write_once(&self, parts: Vec<Part>) -> Outcome {
        let mut stack: Vec<Part> = parts.into_iter().rev().collect();
        let mut budget = self.bisect_requests;
        let mut dead = Vec::new();
        while let Some((body, n)) = stack.pop() {
            let started = tokio::time::Instant::now();
            let err = match self.influx.write(body.clone()).await {
                Ok(()) => {
                    self.metrics
                        .write_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.written.inc_by(n as u64);
                    self.metrics.auth_failing.set(0);
                    continue;
                }
                Err(e) => e,
            };
            self.metrics.write_errors.with_label_values(&[err.reason()]).inc();
            match err {
                WriteError::TooLarge if n > 1 => {
                    warn!(points = n, "Batch too large for InfluxDB; splitting.");
                    push_halves(&mut stack, &body, n);
                }
                WriteError::TooLarge => dead.extend(records(
                    &body,
                    "too_large",
                    Some(413),
                    "line larger than the server accepts",
                )),
                WriteError::Rejected { status, message } if n == 1 => {
                    dead.extend(records(&body, "rejected", Some(status), &message));
                }
                WriteError::Rejected { .. } if budget >= 2 => {
                    // Accepted lines of a partial write are stored already; rewriting them is idempotent.
                    budget -= 2;
                    push_halves(&mut stack, &body, n);
                }
                WriteError::Rejected { status, message } => {
                    let message = format!(
                        "{message} (not narrowed down: bisection budget spent; lines of this chunk may have been stored)"
                    );
                    dead.extend(records(&body, "rejected_unresolved", Some(status), &message));
                }
                other => {
                    self.log_retryable(&other);
                    stack.push((body, n));
                    stack.reverse();
                    return self.dead_lettered(dead, stack, other).await;
                }
            }
        }
        if self.dead.append(dead).await {
            Outcome::Done
        } else {
            Outcome::Stopped
        }
    }

    /// A retry of `parts` once the refused lines' dead letters are stored; [`Outcome::Stopped`] if they
    /// could not be (shutdown while the file was blocked).
    async fn dead_lettered(&self, dead: Vec<Record>, parts: Vec<Part>, error: WriteError) -> Outcome {
        if self.dead.append(dead).await {
            Outcome::Retry { parts, error }
        } else {
            Outcome::Stopped
        }
    }

    /// Returns once InfluxDB answers `/ping` again, probing every [`PROBE`]: after an outage the drain
    /// starts within a second instead of after the remaining back-off.
    async fn back_up(&self) {
        loop {
            tokio::time::sleep(PROBE).await;
            if self.influx.ping().await {
                return;
            }
        }
    }

    fn log_retryable(&self, e: &WriteError) {
        match e {
            WriteError::Auth { status } => {
                self.metrics.auth_failing.set(1);
                error!(
                    status,
                    "InfluxDB REFUSES OUR CREDENTIALS: data is being spooled, fix influx.token or username/password."
                );
            }
            WriteError::NotFound(m) => error!(error = %m, "InfluxDB database or bucket missing; retrying."),
            other => warn!(error = %other, "InfluxDB write failed; will retry."),
        }
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Back-off for the `failures`-th consecutive failure; a longer `Retry-After` wins.
    pub(crate) fn backoff(&self, failures: u32, error: &WriteError) -> Duration {
        let (min, max) = self.retry;
        let backoff = min.saturating_mul(1u32 << failures.min(16)).min(max);
        match error {
            WriteError::Unavailable {
                retry_after: Some(ra),
                ..
            } => backoff.max(*ra),
            _ => backoff,
        }
    }
}

fn push_halves(stack: &mut Vec<Part>, body: &Bytes, n: usize) {
    let ((a, na), (b, nb)) = split(body, n);
    stack.push((b, nb));
    stack.push((a, na));
}

/// One dead-letter record per line of `body`.
fn records(body: &[u8], reason: &str, status: Option<u16>, message: &str) -> Vec<Record> {
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut r = Record::new("influx", reason, message);
            r.status = status;
            r.line = Some(String::from_utf8_lossy(l).into_owned());
            r
        })
        .collect()
}

/// Splits a body of `n` lines into two halves at a line boundary (no copy).
fn split(body: &Bytes, n: usize) -> (Part, Part) {
    let half = n / 2;
    let cut = body
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(half.saturating_sub(1))
        .map_or(body.len(), |(i, _)| i + 1);
    ((body.slice(..cut), half), (body.slice(cut..), n - half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_line_once() {
        let body = Bytes::from("a 1\nb 2\nc 3\n");
        let ((a, na), (b, nb)) = split(&body, 3);
        assert_eq!(
            (&a[..], na, &b[..], nb),
            (&b"a 1\n"[..], 1, &b"b 2\nc 3\n"[..], 2)
        );
    }

    #[test]
    fn backoff_doubles_caps_and_honours_retry_after() {
        let metrics = Metrics::unregistered().expect("metrics");
        let dead = DeadLetter::new(&crate::DeadLetterConfig::default(), metrics.clone());
        let influx = zw_influx::Client::new(zw_influx::Config::default()).expect("client");
        let w = Writer::new(influx, &Config::default(), metrics, dead);
        let down = |ra| WriteError::Unavailable {
            message: "x".into(),
            retry_after: ra,
        };
        assert_eq!(w.backoff(0, &down(None)), Duration::from_millis(200));
        assert_eq!(w.backoff(3, &down(None)), Duration::from_millis(1600));
        assert_eq!(w.backoff(20, &down(None)), Duration::from_secs(30));
        assert_eq!(
            w.backoff(0, &down(Some(Duration::from_secs(5)))),
            Duration::from_secs(5)
        );
        assert_eq!(
            w.backoff(0, &WriteError::Auth { status: 401 }),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn one_record_per_line() {
        let r = records(b"a 1\nb 2\n", "rejected", Some(400), "bad");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].line.as_deref(), Some("b 2"));
        assert_eq!(r[1].status, Some(400));
    }
}
