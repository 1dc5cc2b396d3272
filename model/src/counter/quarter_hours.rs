//! 15-minute average power on the meter operator's quarter-hour grid: what a demand charge is billed on.
//!
//! The grid is the UTC quarter hours (:00, :15, :30, :45), which are the local quarter hours in every zone
//! whose offset is a whole number of quarter hours, so a DST change day simply has 92 or 100 of them and no
//! quarter hour is ever split or doubled. A quarter hour's average power is its energy × 4.
//!
//! * From counter readings ([`from_counter`]): the energy of `[q, q + 15 min)` exactly as
//!   [`consumption`](super::consumption) gives it, i.e. the counter interpolated at both edges; a quarter
//!   hour is known only when it is `complete` (no gap longer than `max_gap`, no reset, swap or jump in it),
//!   otherwise it is missing, never 0 and never a lower bound. A rollover (`rollover_wh`) and jitter are
//!   handled as the tracker handles them.
//! * From rolled-up readings ([`from_rollups`]): the first and last reading of each quarter stand for its
//!   readings (the energy between them telescopes); a quarter whose own steps are not all plain (a reset,
//!   a decrease, an implausible rise) is missing.
//! * From power samples, W ([`from_power`]): the time-weighted mean, each sample holding until the next one
//!   (at most `max_gap`); a quarter hour covered less than `min_coverage` is missing.
//!
//! [`top`] ranks quarter hours, [`sum`] adds devices (a quarter hour any device misses is missing) and
//! [`running`] gives the average of the running quarter hour so far.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::rollup::{QUARTER, Summary, quarter_floor};
use super::{CounterConfig, Point, consumption};

/// One quarter hour's energy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuarterHour {
    /// Its start (a multiple of 15 minutes since the epoch).
    pub start: DateTime<Utc>,
    /// Energy, Wh; `None` when not known for the whole quarter hour.
    pub wh: Option<f64>,
}

impl QuarterHour {
    /// Average power, W (`wh` × 4).
    pub fn avg_w(&self) -> Option<f64> {
        self.wh.map(|wh| wh * 4.0)
    }
}

/// The quarter-hour starts from the quarter holding `from` up to (excluding) `to`.
pub fn starts(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut t = quarter_floor(from);
    let mut out = Vec::new();
    while t < to {
        out.push(t);
        t += QUARTER;
    }
    out
}

/// The quarter hours of `[from, to)` from counter readings (Wh, any order) through the counter component.
pub fn from_counter(
    points: &[Point],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    cfg: &CounterConfig,
) -> Vec<QuarterHour> {
    let mut edges = starts(from, to);
    let Some(&last) = edges.last() else {
        return Vec::new();
    };
    edges.push(last + QUARTER);
    consumption(points, &edges, cfg)
        .into_iter()
        .map(|b| QuarterHour {
            start: b.start,
            wh: b.wh.filter(|_| b.complete),
        })
        .collect()
}

/// The quarter hours of `[from, to)` from the quarter rollups of one device (by start; a quarter without a
/// row had no readings) and the raw `readings` where the rollups do not reach: the first and last reading
/// of every row stand for its readings, and a quarter is missing where its row's steps are not plain.
pub fn from_rollups(
    rows: &BTreeMap<DateTime<Utc>, Summary>,
    readings: &[Point],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    cfg: &CounterConfig,
) -> Vec<QuarterHour> {
    let lo = quarter_floor(from) - cfg.max_gap - QUARTER;
    let mut points = readings.to_vec();
    for s in rows.range(lo..to + cfg.max_gap + QUARTER).map(|(_, s)| s) {
        points.push(s.first);
        if s.last != s.first {
            points.push(s.last);
        }
    }
    let mut out = from_counter(&points, (from, to), cfg);
    for q in &mut out {
        let plain = rows
            .get(&q.start)
            .is_none_or(|s| s.steps.is_none_or(|st| st.plain(cfg)));
        if !plain {
            q.wh = None;
        }
    }
    out
}

/// The quarter hours of `[from, to)` from power samples (W, any order): each sample holds until the next
/// one if that follows within `max_gap`; a quarter hour covered less than `min_coverage` (0–1) is missing.
pub fn from_power(
    samples: &[Point],
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    max_gap: TimeDelta,
    min_coverage: f64,
) -> Vec<QuarterHour> {
    let mut sorted = samples.to_vec();
    sorted.sort_by_key(|p| p.0);
    sorted.dedup_by_key(|p| p.0);
    let quarter_ms = QUARTER.num_milliseconds() as f64;
    let mut out = Vec::new();
    let mut i = 0;
    for start in starts(from, to) {
        let end = start + QUARTER;
        // The last sample before the quarter may hold into it.
        while i + 1 < sorted.len() && sorted[i + 1].0 <= start {
            i += 1;
        }
        let (mut covered_ms, mut w_ms) = (0i64, 0.0);
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j].0 < end {
            let ((a, w), b) = (sorted[j], sorted[j + 1].0);
            if b - a <= max_gap && w.is_finite() {
                let (s, e) = (a.max(start), b.min(end));
                if e > s {
                    let ms = (e - s).num_milliseconds();
                    covered_ms += ms;
                    w_ms += w * ms as f64;
                }
            }
            j += 1;
        }
        let coverage = covered_ms as f64 / quarter_ms;
        let wh = (covered_ms > 0 && coverage >= min_coverage).then(|| w_ms / covered_ms as f64 / 4.0);
        out.push(QuarterHour { start, wh });
    }
    out
}

/// The `n` quarter hours with the highest known energy, highest first (of equal ones the earlier first).
pub fn top(quarters: &[QuarterHour], n: usize) -> Vec<QuarterHour> {
    let mut known: Vec<QuarterHour> = quarters.iter().filter(|q| q.wh.is_some()).copied().collect();
    known.sort_by(|a, b| {
        b.wh.partial_cmp(&a.wh)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.start.cmp(&b.start))
    });
    known.truncate(n);
    known
}

/// The quarter hours of several devices over the same starts, added: a quarter any device misses is
/// missing (the site's total is then unknown, not the sum of the others).
pub fn sum(devices: &[Vec<QuarterHour>]) -> Vec<QuarterHour> {
    let Some(first) = devices.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(k, q)| QuarterHour {
            start: q.start,
            wh: devices
                .iter()
                .map(|d| d.get(k).filter(|o| o.start == q.start).and_then(|o| o.wh))
                .sum(),
        })
        .collect()
}

/// The running quarter hour so far: its start, the seconds measured and the average power, W.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Running {
    /// Start of the quarter hour holding the latest reading.
    pub start: DateTime<Utc>,
    /// Seconds from its start to the latest reading.
    pub elapsed_s: f64,
    /// Average power from its start to the latest reading, W.
    pub avg_w: f64,
}

/// The running quarter hour of counter readings (Wh) at `now`: from the quarter's start (the counter
/// interpolated there) to the latest reading at or before `now`; `None` when the latest reading is not in
/// the quarter holding `now`, or the counter is not known at the quarter's start.
pub fn running(points: &[Point], now: DateTime<Utc>, cfg: &CounterConfig) -> Option<Running> {
    let start = quarter_floor(now);
    let mut mine: Vec<Point> = points.iter().filter(|p| p.0 <= now).copied().collect();
    mine.sort_by_key(|p| p.0);
    let &(t, _) = mine.last()?;
    if t <= start {
        return None;
    }
    let wh = consumption(&mine, &[start, t], cfg).into_iter().next()?;
    let wh = wh.wh.filter(|_| wh.complete)?;
    let elapsed_s = (t - start).num_milliseconds() as f64 / 1000.0;
    Some(Running {
        start,
        elapsed_s,
        avg_w: wh * 3600.0 / elapsed_s,
    })
}

#[cfg(test)]
mod tests;
