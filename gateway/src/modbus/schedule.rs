//! The per-endpoint poll scheduler: a pure state machine with injected time (no I/O, no clock, no sleep).
//!
//! One connection (TCP gateway or serial bus) serves several devices, one request at a time. The scheduler
//! decides what the connection does next:
//!
//! * **Healthy devices** poll on their own fixed grid (`next_due += interval`, never re-based on the actual
//!   start, so there is no drift). The earliest due device goes first. Slots that passed while the
//!   connection was busy are skipped and counted, never bunched up.
//! * **Failing devices** (a timeout, transport error or "gateway target failed to respond") leave the grid.
//!   Each backs off on its own: the next attempt waits `interval · 2^(failures−1)` (±25 % jitter, capped).
//!   An attempt is a *probe*, a single small read with a short timeout.
//! * A probe runs only in a gap of the healthy devices' schedule, so it delays nobody: with `probe_timeout`
//!   if the gap is that long, else with a *quick* timeout of four healthy round trips on this connection
//!   (a device that answers at all answers a 2-register read that fast). A probe that found no gap for
//!   `probe_max_wait` runs anyway with the quick timeout. Either way probes are paid from
//!   a token bucket refilled at `failing_share` of wall time: failing devices together can never take more
//!   than that share of the connection while healthy devices share it. (With no healthy device left there
//!   is nobody to protect and the bucket is not consulted.)
//! * A successful probe puts the device back on its grid.

use std::time::Duration;

use tokio::time::Instant;

/// Limits of the scheduler; see `[gateway.modbus]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Worst-case duration of a probe.
    pub probe_timeout: Duration,
    /// Share of wall time probes may use while healthy devices exist.
    pub failing_share: f64,
    /// Cap of a device's back-off.
    pub backoff_max: Duration,
    /// How long a due probe waits for a gap before it may delay others.
    pub probe_max_wait: Duration,
}

/// What the connection should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Poll `device` now. For a grid poll `due` is its slot and `skipped` the slots missed before it.
    Poll {
        /// Index of the device.
        device: usize,
        /// The slot (grid poll) or the time the probe became due.
        due: Instant,
        /// Grid slots that passed unpolled.
        skipped: u64,
        /// `Some(timeout)`: a probe of a failing device (instead of a grid poll) with this request timeout.
        probe: Option<Duration>,
    },
    /// Nothing to do before this instant.
    Wait(Instant),
}

/// How a poll ended, as far as scheduling cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The device answered (possibly with exceptions): stay on, or return to, the grid.
    Answered,
    /// It cost bus time without an answer (timeout, transport error, gateway target failure): back off.
    Failed,
    /// The poll did not happen (endpoint unreachable): neither success nor the device's fault.
    Skipped,
}

#[derive(Debug, Clone)]
struct Device {
    interval: Duration,
    /// Next grid slot (kept up to date while failing, so a recovered device rejoins its own phase).
    next_due: Instant,
    failures: u32,
    retry_at: Instant,
}

/// The scheduler of one connection.
#[derive(Debug, Clone)]
pub struct Scheduler {
    limits: Limits,
    devices: Vec<Device>,
    tokens: Duration,
    refilled_at: Instant,
    /// Mean duration of healthy grid polls, for the quick probe timeout.
    rtt: Option<Duration>,
    /// Devices currently backed off.
    failing: usize,
}

impl Scheduler {
    /// Devices as `(interval, first slot)`; the bucket starts full.
    pub fn new(limits: Limits, devices: &[(Duration, Instant)], now: Instant) -> Self {
        Self {
            limits,
            devices: devices
                .iter()
                .map(|&(interval, next_due)| Device {
                    interval: interval.max(Duration::from_millis(1)),
                    next_due,
                    failures: 0,
                    retry_at: next_due,
                })
                .collect(),
            tokens: limits.probe_timeout,
            refilled_at: now,
            rtt: None,
            failing: 0,
        }
    }

    /// Whether `device` is currently backed off.
    pub fn is_failing(&self, device: usize) -> bool {
        self.devices.get(device).is_some_and(|d| d.failures > 0)
    }

    /// Whether any device of this connection is backed off.
    pub fn any_failing(&self) -> bool {
        self.failing > 0
    }

    /// Decides what to do at `now`.
    pub fn next(&mut self, now: Instant) -> Decision {
        self.refill(now);
        let healthy = (0..self.devices.len())
            .filter(|&i| self.devices[i].failures == 0)
            .min_by_key(|&i| self.devices[i].next_due);
        if let Some(i) = healthy
            && self.devices[i].next_due <= now
        {
            let d = &mut self.devices[i];
            let due = d.next_due;
            let skipped = advance(&mut d.next_due, d.interval, now);
            return Decision::Poll {
                device: i,
                due,
                skipped,
                probe: None,
            };
        }
        let next_healthy = healthy.map(|i| self.devices[i].next_due);
        let failing = (0..self.devices.len())
            .filter(|&i| self.devices[i].failures > 0)
            .min_by_key(|&i| self.devices[i].retry_at);
        let Some(f) = failing else {
            return Decision::Wait(next_healthy.unwrap_or(now + Duration::from_secs(3600)));
        };
        let retry_at = self.devices[f].retry_at;
        let mut wake = next_healthy.map_or(retry_at, |h| h.min(retry_at));
        if retry_at <= now {
            let Some(h) = next_healthy else {
                return self.probe(f, now, self.limits.probe_timeout);
            };
            // The longest timeout that fits the gap before the next grid poll: the configured one, else the
            // quick one (a few healthy round trips); after `probe_max_wait` the quick one regardless.
            let gap = h.saturating_duration_since(now);
            let quick = self.quick_timeout();
            let forced_at = retry_at + self.limits.probe_max_wait;
            let timeout = if gap >= self.limits.probe_timeout {
                Some(self.limits.probe_timeout)
            } else {
                (gap >= quick || now >= forced_at).then_some(quick)
            };
            // Otherwise wake when the bucket has refilled, the wait is up, or a grid poll changes the gaps.
            wake = h;
            match timeout {
                Some(t) if self.tokens >= t => return self.probe(f, now, t),
                Some(t) => wake = wake.min(now + (t - self.tokens).div_f64(self.limits.failing_share)),
                None if now < forced_at => wake = wake.min(forced_at),
                None => {}
            }
        }
        Decision::Wait(wake.max(now))
    }

    fn probe(&mut self, device: usize, now: Instant, timeout: Duration) -> Decision {
        let d = &mut self.devices[device];
        advance(&mut d.next_due, d.interval, now);
        Decision::Poll {
            device,
            due: d.retry_at,
            skipped: 0,
            probe: Some(timeout),
        }
    }

    /// A probe timeout of four healthy round trips on this connection (within 5 ms..`probe_timeout`): a
    /// device that answers at all answers a 2-register read that fast, and such a probe fits small gaps.
    fn quick_timeout(&self) -> Duration {
        let max = self.limits.probe_timeout;
        self.rtt
            .map_or(max, |rtt| (rtt * 4).clamp(Duration::from_millis(5).min(max), max))
    }

    /// Records how the poll of `device` started at `started` ended at `now`. `jitter` is a uniform sample in
    /// 0..1 (injected so tests are deterministic).
    pub fn finished(
        &mut self,
        device: usize,
        result: Outcome,
        probe: bool,
        started: Instant,
        now: Instant,
        jitter: f64,
    ) {
        self.refill(now);
        let took = now.saturating_duration_since(started);
        if probe {
            self.tokens = self.tokens.saturating_sub(took);
        } else if result == Outcome::Answered {
            // Exponentially weighted mean of healthy poll durations (an upper bound of one request's).
            self.rtt = Some(self.rtt.map_or(took, |r| r.mul_f64(0.9) + took.mul_f64(0.1)));
        }
        let max = self.limits.backoff_max;
        let Some(d) = self.devices.get_mut(device) else {
            return;
        };
        let was_failing = d.failures > 0;
        match result {
            Outcome::Answered => {
                if probe && d.next_due <= now {
                    // Back on the grid at its next slot; the probe itself was not a grid poll.
                    advance(&mut d.next_due, d.interval, now);
                }
                d.failures = 0;
            }
            Outcome::Failed => {
                d.failures = d.failures.saturating_add(1);
                d.retry_at = now + backoff(d.interval, d.failures, max, jitter);
            }
            Outcome::Skipped if d.failures > 0 => {
                d.retry_at = now + backoff(d.interval, d.failures, max, jitter);
            }
            Outcome::Skipped => {}
        }
        match (was_failing, d.failures > 0) {
            (false, true) => self.failing += 1,
            (true, false) => self.failing = self.failing.saturating_sub(1),
            _ => {}
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at);
        let cap = self
            .limits
            .probe_timeout
            .max(Duration::from_secs(1).mul_f64(self.limits.failing_share));
        self.tokens = (self.tokens + elapsed.mul_f64(self.limits.failing_share)).min(cap);
        self.refilled_at = self.refilled_at.max(now);
    }
}

/// Moves `next` past `now` on its grid; returns how many slots were skipped beyond the one being polled.
fn advance(next: &mut Instant, interval: Duration, now: Instant) -> u64 {
    let mut skipped = 0;
    *next += interval;
    if *next <= now {
        let behind = now.duration_since(*next);
        let n = behind.as_nanos() / interval.as_nanos().max(1) + 1;
        skipped = u64::try_from(n).unwrap_or(u64::MAX);
        *next += interval.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX));
    }
    skipped
}

/// `interval · 2^(failures−1)`, capped at `max`, times a jitter factor in 0.75..1.25.
pub fn backoff(interval: Duration, failures: u32, max: Duration, jitter: f64) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let base = interval.saturating_mul(1u32 << exp).min(max);
    base.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests;
