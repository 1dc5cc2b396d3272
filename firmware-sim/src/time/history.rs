//! The span of simulated past (`[sim] history`) every device is stepped through before serving starts: one
//! clock reading for all devices, so their histories end at the same instant.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The span of past to step through: from `start` to `now` in steps of at least `step`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct History {
    /// When every device starts (`now` without a history).
    pub start: DateTime<Utc>,
    /// When the history ends and serving begins.
    pub now: DateTime<Utc>,
    step: Duration,
}

impl History {
    /// `span` before `now` (none for 0), in steps of `step` (at least 1 s).
    pub fn new(span: Duration, step: Duration, now: DateTime<Utc>) -> Self {
        Self {
            start: now - TimeDelta::from_std(span).unwrap_or(TimeDelta::zero()),
            now,
            step: step.max(Duration::from_secs(1)),
        }
    }

    /// The step times after `start`, at least `min_every` apart (the device's own interval), before `now`.
    pub fn times(&self, min_every: Duration) -> impl Iterator<Item = DateTime<Utc>> {
        let every = TimeDelta::from_std(self.step.max(min_every)).unwrap_or(TimeDelta::MAX);
        let (start, now) = (self.start, self.now);
        (1..)
            .map_while(move |k| start.checked_add_signed(every.checked_mul(k)?))
            .take_while(move |t| *t < now)
    }
}
