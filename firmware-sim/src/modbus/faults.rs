//! Scripted faults of simulated Modbus meters, seeded and deterministic.
//!
//! A fault is active in a time window relative to the simulator's start (`after`, `duration`) and hits a
//! share of requests (`ratio`, decided by hashing the seed, the unit and the request's sequence number, so a
//! run is reproducible). Kinds:
//!
//! | kind | what the meter does |
//! |---|---|
//! | `no_answer` | nothing: the request is swallowed (the client times out) |
//! | `slow` | answers after `delay` (the connection is blocked meanwhile, like a serial gateway) |
//! | `exception` | answers with exception `code` (default 6, server device busy) |
//! | `drop_connection` | closes the TCP connection instead of answering |
//! | `stuck` | keeps answering, but its values stop changing |

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::curves::unit;

/// What kind of misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Swallow the request.
    NoAnswer,
    /// Answer late.
    Slow,
    /// Answer with an exception.
    Exception,
    /// Close the connection.
    DropConnection,
    /// Freeze the values.
    Stuck,
}

/// One scripted fault.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// The misbehaviour.
    pub kind: FaultKind,
    /// Start, relative to the simulator's start (default at once).
    #[serde(with = "humantime_serde", default)]
    pub after: Duration,
    /// How long it lasts (default: forever).
    #[serde(with = "humantime_serde", default)]
    pub duration: Option<Duration>,
    /// Share of requests hit, 0–1 (default 1). Ignored by `stuck`.
    #[serde(default = "one")]
    pub ratio: f64,
    /// Delay of a `slow` answer (default 2s).
    #[serde(with = "humantime_serde", default = "default_delay")]
    pub delay: Duration,
    /// Exception code of an `exception` fault (default 6, server device busy).
    #[serde(default = "default_code")]
    pub code: u8,
}

fn one() -> f64 {
    1.0
}
fn default_delay() -> Duration {
    Duration::from_secs(2)
}
fn default_code() -> u8 {
    6
}

impl FaultConfig {
    /// A fault of `kind` active all the time for every request.
    pub fn always(kind: FaultKind) -> Self {
        Self {
            kind,
            after: Duration::ZERO,
            duration: None,
            ratio: 1.0,
            delay: default_delay(),
            code: default_code(),
        }
    }

    /// Reports problems, each prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        if !(0.0..=1.0).contains(&self.ratio) {
            errors.push(format!("{path}.ratio: must be 0..=1, got {}", self.ratio));
        }
        if self.kind == FaultKind::Exception && !matches!(self.code, 1..=4 | 5 | 6 | 8 | 10 | 11) {
            errors.push(format!(
                "{path}.code: {} is not a Modbus exception code",
                self.code
            ));
        }
        if self.kind == FaultKind::Slow && self.delay > Duration::from_secs(600) {
            errors.push(format!("{path}.delay: at most 600s"));
        }
        errors
    }

    fn active(&self, elapsed: Duration) -> bool {
        elapsed >= self.after && self.duration.is_none_or(|d| elapsed < self.after + d)
    }
}

/// What to do with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Answer normally.
    Answer,
    /// Swallow it.
    NoAnswer,
    /// Answer after this delay.
    Delay(Duration),
    /// Answer with this exception code.
    Exception(u8),
    /// Close the connection.
    Drop,
}

/// The faults of one meter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    seed: u64,
    list: Vec<FaultConfig>,
}

impl Faults {
    /// Faults of the meter seeded with `seed`.
    pub fn new(seed: u64, list: Vec<FaultConfig>) -> Self {
        Self { seed, list }
    }

    /// The action for request number `seq`, `elapsed` after the simulator started: the first active,
    /// hitting fault wins.
    pub fn action(&self, elapsed: Duration, seq: u64) -> Action {
        for (i, f) in self.list.iter().enumerate() {
            if f.kind == FaultKind::Stuck || !f.active(elapsed) {
                continue;
            }
            if f.ratio < 1.0 && unit(self.seed ^ ((i as u64) << 56), seq) >= f.ratio {
                continue;
            }
            return match f.kind {
                FaultKind::NoAnswer => Action::NoAnswer,
                FaultKind::Slow => Action::Delay(f.delay),
                FaultKind::Exception => Action::Exception(f.code),
                FaultKind::DropConnection => Action::Drop,
                FaultKind::Stuck => Action::Answer,
            };
        }
        Action::Answer
    }

    /// Whether the meter's values are frozen at `elapsed`.
    pub fn stuck(&self, elapsed: Duration) -> bool {
        self.list
            .iter()
            .any(|f| f.kind == FaultKind::Stuck && f.active(elapsed))
    }

    /// Whether there are no faults at all.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_ratios_and_kinds_are_deterministic() {
        let s = Duration::from_secs;
        let slow = FaultConfig {
            after: s(10),
            duration: Some(s(5)),
            delay: s(3),
            ..FaultConfig::always(FaultKind::Slow)
        };
        let busy = FaultConfig {
            ratio: 0.3,
            ..FaultConfig::always(FaultKind::Exception)
        };
        let stuck = FaultConfig {
            after: s(20),
            ..FaultConfig::always(FaultKind::Stuck)
        };
        let f = Faults::new(7, vec![slow, busy, stuck]);
        // The slow window is 10..15 s; the 30 % exception applies throughout.
        assert_eq!(f.action(s(12), 0), Action::Delay(s(3)));
        assert_ne!(f.action(s(15), 0), Action::Delay(s(3)));
        let hits = (0..10_000)
            .filter(|&q| f.action(s(1), q) == Action::Exception(6))
            .count();
        assert!((2700..3300).contains(&hits), "{hits}");
        assert_eq!(
            f.action(s(1), 42),
            Faults::new(7, f.list.clone()).action(s(1), 42)
        );
        assert!(!f.stuck(s(19)) && f.stuck(s(20)));
        assert!(
            FaultConfig {
                ratio: 2.0,
                code: 7,
                ..FaultConfig::always(FaultKind::Exception)
            }
            .validate("x")
            .len()
                == 2
        );
    }
}
