//! Exact consumption of a bucket from the readings around its edges, without walking every reading.
//!
//! Where every step between consecutive readings is *plain* (not longer than `max_gap`, not decreasing, not
//! faster than `max_power_w`), the [`CounterTracker`](super::CounterTracker) counts each step as measured and
//! [`consumption`](super::consumption) spreads it linearly, so a bucket's energy telescopes to
//! `V(end) − V(start)`: V at an instant is the reading there, or the linear interpolation between the last
//! reading before it and the first after it. This module states that rule once, so a store can answer with
//! two readings per edge ([`Around`]) and a summary of the steps in between ([`Steps`]) instead of every
//! reading. Where the rule does not apply (a gap, a decrease, a jump), [`exact_energy`] says so with `None`
//! and the caller runs [`consumption`](super::consumption) on the raw readings of
//! `[start − max_gap, end + max_gap)`: the answer is the same either way (tested below, also by property).

use chrono::{DateTime, TimeDelta, Utc};

use super::CounterConfig;

/// One counter reading: time and value in Wh.
pub type Point = (DateTime<Utc>, f64);

/// The readings around an instant: the last one before it and the first one at or after it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Around {
    /// The last reading before the instant, if any (a store may look back only `max_gap`).
    pub before: Option<Point>,
    /// The first reading at or after the instant, if any (a store may look ahead only `max_gap`).
    pub at_or_after: Option<Point>,
}

impl Around {
    /// The readings around `t` in time-sorted `readings`.
    pub fn of(readings: &[Point], t: DateTime<Utc>) -> Self {
        let i = readings.partition_point(|r| r.0 < t);
        Self {
            before: i.checked_sub(1).map(|j| readings[j]),
            at_or_after: readings.get(i).copied(),
        }
    }

    /// The counter's value at `t`: the reading at `t`, or the interpolation between the readings around it
    /// when they are at most `max_gap` apart and not decreasing. `None`: `t` lies in a gap, a decrease or
    /// before or after all data.
    pub fn value(&self, t: DateTime<Utc>, cfg: &CounterConfig) -> Option<f64> {
        match (self.before, self.at_or_after) {
            (_, Some((ta, va))) if ta == t => (va >= 0.0).then_some(va),
            (Some((tb, vb)), Some((ta, va))) if ta - tb <= cfg.max_gap && vb >= 0.0 && va >= vb => {
                let share = nanos(t - tb) as f64 / nanos(ta - tb) as f64;
                Some(vb + (va - vb) * share)
            }
            _ => None,
        }
    }
}

/// What a store can say about the steps between consecutive readings of a stretch (InfluxQL:
/// `max(elapsed())`, `min(difference())`, `max(derivative(…, 1h))` over the readings).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steps {
    /// Number of steps.
    pub count: u64,
    /// Longest time between two consecutive readings.
    pub longest: TimeDelta,
    /// Smallest growth of the counter in one step, Wh (negative: it went down).
    pub smallest_wh: f64,
    /// Highest average power of one step, W.
    pub fastest_w: f64,
}

impl Steps {
    /// The steps of time-sorted `readings`; `None` with fewer than two.
    pub fn of(readings: &[Point]) -> Option<Self> {
        readings
            .windows(2)
            .map(|w| {
                let dt = w[1].0 - w[0].0;
                let d = w[1].1 - w[0].1;
                Self {
                    count: 1,
                    longest: dt,
                    smallest_wh: d,
                    fastest_w: d / (nanos(dt) as f64 / 3.6e12),
                }
            })
            .reduce(Self::merge)
    }

    /// The steps of two stretches together.
    pub fn merge(self, other: Self) -> Self {
        Self {
            count: self.count + other.count,
            longest: self.longest.max(other.longest),
            smallest_wh: self.smallest_wh.min(other.smallest_wh),
            fastest_w: self.fastest_w.max(other.fastest_w),
        }
    }

    /// Every step is one the tracker counts as measured: at most `max_gap` long, not decreasing, not faster
    /// than `max_power_w`.
    pub fn plain(&self, cfg: &CounterConfig) -> bool {
        self.longest <= cfg.max_gap && self.smallest_wh >= 0.0 && self.fastest_w <= cfg.max_power_w
    }
}

/// The energy of `[start, end)` when it follows from the edges alone: both edges have a value
/// ([`Around::value`]) and `steps`, the steps of (at least) every reading in `[start − max_gap, end +
/// max_gap)`, are all plain. Then the bucket is complete and this is exactly what
/// [`consumption`](super::consumption) computes from those readings. `None`: look at the raw readings.
pub fn exact_energy(
    start: (DateTime<Utc>, &Around),
    end: (DateTime<Utc>, &Around),
    steps: Option<&Steps>,
    cfg: &CounterConfig,
) -> Option<f64> {
    if start.0 >= end.0 || !steps?.plain(cfg) {
        return None;
    }
    let (a, b) = (start.1.value(start.0, cfg)?, end.1.value(end.0, cfg)?);
    (b >= a).then_some(b - a)
}

fn nanos(d: TimeDelta) -> i64 {
    d.num_nanoseconds()
        .unwrap_or(if d < TimeDelta::zero() { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests;
