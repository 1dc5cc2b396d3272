//! Rollups: what [`exact_energy`](super::exact_energy) needs to know about the readings of a stretch,
//! stored per quarter hour and per local day, so a report over a year reads a few hundred rows instead of
//! millions of readings, and stays exact.
//!
//! The rule of [`exact`](super::exact) needs, for a period `[s, e)`, the counter's value at both edges (read
//! from the raw readings next to each edge) and the [`Steps`] of every reading in `[s − max_gap, e +
//! max_gap)`. A [`Summary`] of an interval keeps the first and the last reading in it and the steps between
//! its consecutive readings; summaries of adjoining intervals concatenate exactly ([`Summary::then`]: the
//! step from one's last reading to the next one's first is added), so the steps of any stretch made of whole
//! intervals are *the same* as [`Steps::of`] over its readings, not an estimate. An interval without
//! readings has no summary: the step across it is then as long as the gap really is.
//!
//! Rollups are written per device and quantity for every quarter hour (`rollup_15m`, aligned to the epoch,
//! hence to local midnights in every zone whose offset is a multiple of 15 minutes) and every local day of
//! the configured zone (`rollup_day`, tagged with the zone), up to a watermark (`rollup_state`: the rollups
//! cover `[from, through)`), all in their own retention policy ([`RETENTION_POLICY`]). [`Rollups::stretch`] builds a stretch from days where whole days fit and from
//! quarters elsewhere, and says `None` where it would need a row it was not given, so a caller falls back to
//! the readings instead of guessing.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Point, Steps};

/// Measurement of the quarter-hour rollups (tags: device, quantity).
pub const MEASUREMENT_QUARTER: &str = "rollup_15m";
/// Measurement of the local-day rollups (tags: device, quantity, tz).
pub const MEASUREMENT_DAY: &str = "rollup_day";
/// Measurement of the watermark (tags: device, quantity; fields `from_ms`, `through_ms`; one point at 0).
pub const MEASUREMENT_STATE: &str = "rollup_state";
/// Measurement of the usage-hour edge rollups (tags: device, quantity, tz, [`TAG_AT`]; fields
/// [`EDGE_FIELDS`]), one row per local day and configured local time of day `at`, at that day's `at`: the
/// last reading of the day before `at` and the first at or after it ([`edge_of`]). With the day rows they
/// give the counter's readings next to a usage-hour edge without scanning the quarter rows.
pub const MEASUREMENT_EDGE: &str = "rollup_edge";
/// Tag of an edge row's local time of day (`"07:00"`, [`at_tag`]).
pub const TAG_AT: &str = "at";
/// The fields of an edge row: the reading before the edge (that day), the one at or after it (that day).
pub const EDGE_FIELDS: [&str; 4] = ["before_ms", "before_wh", "after_ms", "after_wh"];
/// Retention policy of the rollup measurements, created by the writer ([`SHARD_DURATION`], kept for ever;
/// `[retention] rollups` deletes old rows): a year of rows in one shard group, where the database's default
/// policy starts a shard group every week, so a statement over a year of a town's rollups opens one cursor
/// per meter instead of 53. Engines without retention policies (VictoriaMetrics) ignore it.
pub const RETENTION_POLICY: &str = "rollups";
/// Shard group duration of [`RETENTION_POLICY`] (InfluxQL duration).
pub const SHARD_DURATION: &str = "52w";
/// Tag of the quantity (its storage field name).
pub const TAG_QUANTITY: &str = "quantity";
/// Tag of the zone of a day rollup.
pub const TAG_TZ: &str = "tz";
/// The fields of a rollup row, in the order [`Summary::fields`] gives and [`Summary::from_fields`] takes.
pub const FIELDS: [&str; 8] = [
    "first_ms",
    "first_wh",
    "last_ms",
    "last_wh",
    "steps",
    "longest_ms",
    "smallest_wh",
    "fastest_w",
];

/// The quarter hour.
pub const QUARTER: TimeDelta = TimeDelta::minutes(15);

/// The readings of an interval as the exact rule needs them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Its first reading.
    pub first: Point,
    /// Its last reading.
    pub last: Point,
    /// The steps between its consecutive readings; `None` with a single reading.
    pub steps: Option<Steps>,
}

impl Summary {
    /// The summary of time-sorted `readings`; `None` when there are none.
    pub fn of(readings: &[Point]) -> Option<Self> {
        Some(Self {
            first: *readings.first()?,
            last: *readings.last()?,
            steps: Steps::of(readings),
        })
    }

    /// The summary of this interval's readings followed by those of a later one.
    pub fn then(self, next: Self) -> Self {
        let across = Steps::of(&[self.last, next.first]);
        let steps = [self.steps, across, next.steps]
            .into_iter()
            .flatten()
            .reduce(Steps::merge);
        Self {
            first: self.first,
            last: next.last,
            steps,
        }
    }

    /// The values of [`FIELDS`]; without steps: no step, 0 ms, +∞ Wh, 0 W (neutral for merging).
    pub fn fields(&self) -> [f64; 8] {
        let s = self.steps;
        [
            self.first.0.timestamp_millis() as f64,
            self.first.1,
            self.last.0.timestamp_millis() as f64,
            self.last.1,
            s.map_or(0.0, |s| s.count as f64),
            s.map_or(0.0, |s| s.longest.num_milliseconds() as f64),
            s.map_or(f64::MAX, |s| s.smallest_wh),
            s.map_or(0.0, |s| s.fastest_w),
        ]
    }

    /// The summary stored as [`FIELDS`]; `None` when a value is missing or a time is out of range.
    pub fn from_fields(v: &[Option<f64>]) -> Option<Self> {
        let get = |i: usize| v.get(i).copied().flatten();
        let time = |i: usize| DateTime::from_timestamp_millis(get(i)? as i64);
        let count = get(4)? as u64;
        let steps = (count > 0).then_some(()).and_then(|()| {
            Some(Steps {
                count,
                longest: TimeDelta::milliseconds(get(5)? as i64),
                smallest_wh: get(6)?,
                fastest_w: get(7)?,
            })
        });
        if count > 0 && steps.is_none() {
            return None;
        }
        Some(Self {
            first: (time(0)?, get(1)?),
            last: (time(2)?, get(3)?),
            steps,
        })
    }
}

/// The summaries of time-sorted `readings` per interval `[edges[k], edges[k + 1])`, as (start, end,
/// summary); intervals without readings are left out.
pub fn summarize(
    readings: &[Point],
    edges: &[DateTime<Utc>],
) -> Vec<(DateTime<Utc>, DateTime<Utc>, Summary)> {
    edges
        .windows(2)
        .filter_map(|w| {
            let lo = readings.partition_point(|r| r.0 < w[0]);
            let hi = readings.partition_point(|r| r.0 < w[1]);
            Some((w[0], w[1], Summary::of(&readings[lo..hi])?))
        })
        .collect()
}

/// The [`TAG_AT`] value of a local time of day: `"HH:MM"`.
pub fn at_tag(at: chrono::NaiveTime) -> String {
    at.format("%H:%M").to_string()
}

/// The edge row at `at` of a day from its quarter rows (`quarters`, by start, all within the day): the last
/// reading before `at` and the first at or after it (`at` on the quarter grid, so no quarter straddles it).
pub fn edge_of(
    quarters: &BTreeMap<DateTime<Utc>, Summary>,
    at: DateTime<Utc>,
) -> (Option<Point>, Option<Point>) {
    (
        quarters.range(..at).next_back().map(|(_, s)| s.last),
        quarters.range(at..).next().map(|(_, s)| s.first),
    )
}

/// The start of the quarter hour holding `t`.
pub fn quarter_floor(t: DateTime<Utc>) -> DateTime<Utc> {
    let q = QUARTER.num_milliseconds();
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(q)).unwrap_or(t)
}

/// The quarter-hour edges from the quarter holding `from` through the first at or after `to`.
pub fn quarter_edges(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut t = quarter_floor(from);
    let mut out = vec![t];
    while t < to {
        t += QUARTER;
        out.push(t);
    }
    out
}

/// Where a reader must be given every quarter row so that [`Rollups::stretch`] answers the periods between
/// `edges` (each read from `max_gap` before its start to `max_gap` after its end) and any stretch ending at
/// the watermark, given the day rows of `day_edges`: from each stretch's start to the next day edge, from the
/// last day edge to each stretch's end; all within `covered`.
pub fn quarter_spans(
    edges: &[DateTime<Utc>],
    day_edges: &[DateTime<Utc>],
    max_gap: TimeDelta,
    covered: (DateTime<Utc>, DateTime<Utc>),
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let (from, through) = covered;
    let next_day = |t: DateTime<Utc>| day_edges.get(day_edges.partition_point(|d| *d < t)).copied();
    let prev_day = |t: DateTime<Utc>| {
        day_edges
            .partition_point(|d| *d <= t)
            .checked_sub(1)
            .map(|i| day_edges[i])
    };
    let mut spans = Vec::with_capacity(2 * edges.len() + 1);
    for &e in edges {
        let (a, c) = (quarter_floor(e - max_gap), e + max_gap);
        spans.push((a, next_day(a).unwrap_or(through)));
        spans.push((prev_day(c).unwrap_or(from), c + QUARTER));
    }
    spans.push((prev_day(through).unwrap_or(from), through));
    spans
        .into_iter()
        .map(|(a, b)| (a.max(from), b.min(through)))
        .filter(|(a, b)| a < b)
        .collect()
}

/// The rollup rows a reader was given for one device and quantity, and what they cover.
#[derive(Debug, Clone, Default)]
pub struct Rollups {
    /// The rollups cover the readings in `[from, through)`.
    pub covered: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Edges of consecutive local days whose rows were all given (a day without a row had no readings).
    pub day_edges: Vec<DateTime<Utc>>,
    /// Day rows by start.
    pub days: BTreeMap<DateTime<Utc>, Summary>,
    /// Quarter rows by start.
    pub quarters: BTreeMap<DateTime<Utc>, Summary>,
    /// Where every quarter row was given (a quarter without a row there had no readings).
    pub quarters_read: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Rollups {
    /// The summary of the readings in `[quarter_floor(a), c)` (a superset of those in `[a, c)`) when the
    /// rollups cover it and every row it needs was given: `Some(None)` when there are no readings, `None`
    /// when the rollups cannot tell.
    pub fn stretch(&self, a: DateTime<Utc>, c: DateTime<Utc>) -> Option<Option<Summary>> {
        let (from, through) = self.covered?;
        let mut t = quarter_floor(a);
        if t < from || c > through {
            return None;
        }
        let mut acc: Option<Summary> = None;
        let mut push = |s: Summary| acc = Some(acc.map_or(s, |a| a.then(s)));
        while t < c {
            let k = self.day_edges.partition_point(|d| *d < t);
            let whole_day = (self.day_edges.get(k) == Some(&t))
                .then(|| self.day_edges.get(k + 1).copied())
                .flatten()
                .filter(|end| *end <= c);
            if let Some(end) = whole_day {
                if let Some(s) = self.days.get(&t) {
                    push(*s);
                }
                t = end;
                continue;
            }
            if !self.quarters_read.iter().any(|(lo, hi)| *lo <= t && t < *hi) {
                return None;
            }
            if let Some(s) = self.quarters.get(&t) {
                push(*s);
            }
            t += QUARTER;
        }
        Some(acc)
    }
}

#[cfg(test)]
mod tests;
