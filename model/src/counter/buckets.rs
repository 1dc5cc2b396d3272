//! The batch half: consumption per bucket (hour, local day, …) from stored counter points.
//!
//! Intervals from the [`CounterTracker`] are laid over the buckets. A measured interval is spread linearly
//! (constant power between two close readings); a gap's energy counts only in a bucket that contains all of
//! it, but covers nothing (when in the gap it was used is unknown); an unknown interval covers nothing. A
//! bucket is `complete` when every instant of it is covered by measured readings, i.e. no gap longer than
//! `max_gap`, no reset and no missing data touches it.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};

use super::{CounterConfig, CounterTracker, Interval, IntervalKind};

/// Consumption in one bucket `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
    /// Consumption in the covered part of the bucket plus the growth across gaps wholly inside it, Wh;
    /// `None` when nothing of the bucket is known (unknown, not 0).
    pub wh: Option<f64>,
    /// Every instant of the bucket is covered by readings at most `max_gap` apart: `wh` is the bucket's
    /// total. When `false`, `wh` is a lower bound; show it as incomplete and never add it into totals as if
    /// it were whole.
    pub complete: bool,
    /// Share of the bucket's duration covered by readings at most `max_gap` apart, 0–1.
    pub coverage: f64,
}

/// Consumption of one local calendar day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayTotal {
    /// The local date.
    pub date: NaiveDate,
    /// Its bucket, from local midnight to the next local midnight (23, 24 or 25 hours).
    pub bucket: Bucket,
}

/// Consumption per bucket. `points` are (time, counter value in Wh) in any order, duplicates allowed (the
/// first of equal timestamps wins); `edges` are ascending bucket boundaries (`n + 1` edges → `n` buckets).
pub fn consumption(
    points: &[(DateTime<Utc>, f64)],
    edges: &[DateTime<Utc>],
    cfg: &CounterConfig,
) -> Vec<Bucket> {
    let intervals = intervals(points, cfg);
    let mut out = Vec::with_capacity(edges.len().saturating_sub(1));
    let mut first = 0;
    for w in edges.windows(2) {
        let (start, end) = (w[0], w[1]);
        while first < intervals.len() && intervals[first].to <= start {
            first += 1;
        }
        let span = nanos(end - start);
        let (mut wh, mut covered, mut known) = (0.0, 0i64, false);
        for i in intervals[first..].iter().take_while(|i| i.from < end) {
            let overlap = nanos(i.to.min(end) - i.from.max(start));
            if overlap <= 0 {
                continue;
            }
            match (i.kind, i.wh) {
                (IntervalKind::Gap, Some(x)) if i.from >= start && i.to <= end => {
                    wh += x;
                    known = true;
                }
                (IntervalKind::Gap, _) | (_, None) => {}
                (_, Some(x)) => {
                    wh += x * overlap as f64 / nanos(i.to - i.from) as f64;
                    covered += overlap;
                    known = true;
                }
            }
        }
        out.push(Bucket {
            start,
            end,
            wh: known.then_some(wh),
            complete: span > 0 && covered >= span,
            coverage: if span > 0 {
                covered as f64 / span as f64
            } else {
                0.0
            },
        });
    }
    out
}

/// Daily consumption for the local dates `first..=last` in `tz` (e.g. `chrono_tz::Europe::Berlin`).
pub fn daily<Z: TimeZone>(
    points: &[(DateTime<Utc>, f64)],
    tz: Z,
    first: NaiveDate,
    last: NaiveDate,
    cfg: &CounterConfig,
) -> Vec<DayTotal> {
    let edges = local_day_edges(&tz, first, last);
    let buckets = consumption(points, &edges, cfg);
    first
        .iter_days()
        .zip(buckets)
        .map(|(date, bucket)| DayTotal { date, bucket })
        .collect()
}

/// Local midnights (as UTC instants) from `first` through the day after `last`: the edges of the local days
/// `first..=last`. Where midnight does not exist (a zone switching at 00:00), the day starts at the first
/// local time that does.
pub fn local_day_edges<Z: TimeZone>(tz: &Z, first: NaiveDate, last: NaiveDate) -> Vec<DateTime<Utc>> {
    let mut edges = Vec::new();
    let mut day = first;
    loop {
        if let Some(t) = local_start_of_day(tz, day) {
            edges.push(t);
        }
        if day > last {
            break;
        }
        match day.checked_add_days(Days::new(1)) {
            Some(next) => day = next,
            None => break,
        }
    }
    edges
}

fn local_start_of_day<Z: TimeZone>(tz: &Z, day: NaiveDate) -> Option<DateTime<Utc>> {
    (0..=4).find_map(|h| {
        let t = day.and_time(NaiveTime::MIN) + TimeDelta::hours(h);
        tz.from_local_datetime(&t)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// Edges every `step` from `start` until `end` (inclusive if it falls on the grid). Empty if `step <= 0`.
pub fn uniform_edges(start: DateTime<Utc>, end: DateTime<Utc>, step: TimeDelta) -> Vec<DateTime<Utc>> {
    if step <= TimeDelta::zero() {
        return Vec::new();
    }
    let mut edges = Vec::new();
    let mut t = start;
    while t <= end {
        edges.push(t);
        t += step;
    }
    edges
}

/// Runs a tracker over the points in time order and collects its intervals.
fn intervals(points: &[(DateTime<Utc>, f64)], cfg: &CounterConfig) -> Vec<Interval> {
    let mut sorted = points.to_vec();
    // Stable: of equal timestamps the first in input order stays first and wins.
    sorted.sort_by_key(|p| p.0);
    let mut tracker = CounterTracker::new(cfg.clone());
    let mut out = Vec::with_capacity(sorted.len());
    for (ts, v) in sorted {
        out.extend(tracker.observe(ts, v).intervals());
    }
    out.extend(tracker.finish());
    out
}

fn nanos(d: TimeDelta) -> i64 {
    d.num_nanoseconds()
        .unwrap_or(if d < TimeDelta::zero() { i64::MIN } else { i64::MAX })
}
