//! The rollups a report reads instead of the readings between its edges ([`zw_model::counter::rollup`]):
//! the device's watermark, then in one request the day rows of the span and the quarter rows from every
//! edge to the nearest day edge and before the watermark ([`quarter_spans`]). [`plan`] decides per period which stretch the rollups answer;
//! the rest (the running part after the watermark, or a span never rolled up) is read as before, from the
//! first reading of every thin window ([`super::readings`]).
//!
//! The same request asks for the latest reading before the watermark within the report's reach: when
//! there is none (the comparison year of a meter installed since, a span before the first reading), the
//! reports reads nothing there ([`Loaded::readings_from`]), instead of probing an empty year window by window.

use chrono::{DateTime, TimeDelta, Utc};
use zw_influx::read::{Group, Request};
use zw_model::counter::rollup::{
    FIELDS, MEASUREMENT_DAY, MEASUREMENT_QUARTER, MEASUREMENT_STATE, QUARTER, RETENTION_POLICY, Rollups,
    Summary, TAG_QUANTITY, TAG_TZ, quarter_floor, quarter_spans,
};
use zw_model::counter::{Bucket, Point, Steps};
use zw_model::counter::{CounterConfig, local_day_edges};
use zw_model::{Id, Quantity, storage};

use crate::AppState;
use crate::error::ApiError;

/// The rollups a report reads, and where its readings start.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// The rollups of the report's span.
    pub rollups: Rollups,
    /// `Some(from)`: the device has no reading from `max_gap` before the first edge up to `from` (the start
    /// of the rollups' watermark), so nothing before `from` needs reading.
    pub readings_from: Option<DateTime<Utc>>,
}

/// The rollups of one device's quantity needed for the periods between `edges`; empty (nothing covered)
/// when it has none.
pub(super) async fn load(
    state: &AppState,
    (site, device): (&Id, &Id),
    q: Quantity,
    edges: &[DateTime<Utc>],
    cfg: &CounterConfig,
) -> Result<Loaded, ApiError> {
    let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
        return Ok(Loaded::default());
    };
    let scoped = |r: Request| {
        r.tag(storage::TAG_SITE, site.as_str())
            .tag(storage::TAG_DEVICE, device.as_str())
            .tag(TAG_QUANTITY, q.name())
    };
    let state_rows = scoped(Request::raw(MEASUREMENT_STATE, &["from_ms", "through_ms"]));
    let state_rows = state_rows.in_retention_policy(RETENTION_POLICY);
    let series = crate::db::read(state, "energy", &state_rows).await?;
    let Some((from, through)) = watermark(&series) else {
        return Ok(Loaded::default());
    };
    let (lo, hi) = ((first - cfg.max_gap).max(from), (last + cfg.max_gap).min(through));
    if lo >= hi {
        return Ok(Loaded::default());
    }
    let tz = state.config.timezone();
    let day_edges: Vec<DateTime<Utc>> = local_day_edges(
        &tz,
        lo.with_timezone(&tz).date_naive(),
        hi.with_timezone(&tz).date_naive(),
    )
    .into_iter()
    .filter(|d| from <= *d && *d <= through)
    .collect();
    let quarters_read = quarter_spans(edges, &day_edges, cfg.max_gap, (from, through));
    let mut requests = Vec::with_capacity(quarters_read.len() + 2);
    if let (Some(d0), Some(d1)) = (day_edges.first(), day_edges.last()) {
        requests.push(
            scoped(Request::raw(MEASUREMENT_DAY, &FIELDS))
                .in_retention_policy(RETENTION_POLICY)
                .tag(TAG_TZ, &state.config.timezone)
                .range(*d0, *d1),
        );
    }
    for (a, b) in &quarters_read {
        requests.push(
            scoped(Request::raw(MEASUREMENT_QUARTER, &FIELDS))
                .in_retention_policy(RETENTION_POLICY)
                .range(*a, *b),
        );
    }
    // The latest reading before the watermark within reach (none: nothing to read there).
    let probe = first - cfg.max_gap < from;
    if probe {
        requests.push(
            Request::raw(storage::MEASUREMENT, &[q.name()])
                .tag(storage::TAG_SITE, site.as_str())
                .tag(storage::TAG_DEVICE, device.as_str())
                .range(first - cfg.max_gap, from)
                .newest(1),
        );
    }
    let mut results = crate::db::read_all(state, "energy", &requests).await?;
    let readings_from = if probe {
        let before = results.pop().unwrap_or_default();
        let none = before.first().is_none_or(|s| s.rows.is_empty());
        none.then_some(from)
    } else {
        None
    };
    let mut results = results.into_iter();
    let days = if day_edges.len() >= 2 {
        summaries(&results.next().unwrap_or_default())
            .into_iter()
            .collect()
    } else {
        Default::default()
    };
    let quarters = results.flat_map(|s| summaries(&s)).collect();
    Ok(Loaded {
        rollups: Rollups {
            covered: Some((from, through)),
            day_edges,
            days,
            quarters,
            quarters_read,
        },
        readings_from,
    })
}

/// What answers the steps of one period `[s, e)`, i.e. of the readings in `[s − max_gap, e + max_gap)`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// From the rollups: the summary of the readings from the quarter holding `s − max_gap` up to `mid`
    /// (`Some(None)`: there are none); `None`: the rollups do not answer, `mid` is `s − max_gap`.
    pub rolled: Option<Option<Summary>>,
    /// Where the thinned readings take over, up to `e + max_gap` (nothing left when they are equal).
    pub mid: DateTime<Utc>,
    /// `e + max_gap`.
    pub end: DateTime<Utc>,
}

impl Plan {
    /// The stretch left to the thinned readings, if any.
    pub fn thin(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        (self.mid < self.end).then_some((self.mid, self.end))
    }
}

/// How the steps of period `[s, e)` are answered; with `readings_from` (no reading before it,
/// [`Loaded::readings_from`]) the stretch starts there at the earliest, so a period holding the device's
/// first reading is answered from the rollups too.
pub(super) fn plan(
    r: &Rollups,
    (s, e): (DateTime<Utc>, DateTime<Utc>),
    gap: TimeDelta,
    readings_from: Option<DateTime<Utc>>,
) -> Plan {
    let (a, end) = ((s - gap).max(readings_from.unwrap_or(s - gap)), e + gap);
    if let Some((_, through)) = r.covered {
        let mid = through.min(end);
        if mid > a
            && let Some(rolled) = r.stretch(a, mid)
        {
            return Plan {
                rolled: Some(rolled),
                mid,
                end,
            };
        }
    }
    Plan {
        rolled: None,
        mid: a,
        end,
    }
}

/// Period `[s, e)` holding the device's first reading (none before `readings_from`, which lies after
/// `s − max_gap`), answered wholly by the rollups (`plan` leaves nothing to thinned readings): what
/// [`consumption`](zw_model::counter::consumption) makes of its readings when every step from the first
/// reading to `e + max_gap` is plain (`near`: the steps of the readings next to the edges) and the counter
/// has a value at `e` (`end_value`): the rise from the first reading to `e`, incomplete, covering the share
/// of the period from the first reading on. `None`: the raw readings decide.
pub(super) fn starting_inside(
    plan: &Plan,
    (s, e): (DateTime<Utc>, DateTime<Utc>),
    readings_from: Option<DateTime<Utc>>,
    (near, end_value): (Option<Steps>, Option<f64>),
    cfg: &CounterConfig,
) -> Option<Bucket> {
    if readings_from.is_none_or(|f| s - cfg.max_gap >= f) || plan.thin().is_some() {
        return None;
    }
    let rolled = plan.rolled??;
    let first = rolled.first;
    let steps = [rolled.steps, near].into_iter().flatten().reduce(Steps::merge);
    let b = end_value?;
    if !(s < first.0 && first.0 < e && steps?.plain(cfg) && b >= first.1) {
        return None;
    }
    let nanos = |d: TimeDelta| d.num_nanoseconds();
    Some(Bucket {
        start: s,
        end: e,
        wh: Some(b - first.1),
        complete: false,
        coverage: nanos(e - first.0)? as f64 / nanos(e - s)? as f64,
    })
}

/// The readings next to edge `e` from the quarter rows, when every quarter of `[e − max_gap, e +
/// max_gap)` was given and `e` is a quarter edge: the last reading in `[e − max_gap, e)` and the first in
/// `[e, e + max_gap)` (what the edge probe would read there; the other readings' steps are in the rolled
/// stretches). `None`: probe the readings.
pub(super) fn near(r: &Rollups, e: DateTime<Utc>, gap: TimeDelta) -> Option<Vec<Point>> {
    let (from, through) = r.covered?;
    let lo = quarter_floor(e - gap);
    if quarter_floor(e) != e || lo < from || e + gap > through {
        return None;
    }
    let (mut before, mut after) = (None, None);
    let mut t = lo;
    while t < e + gap {
        if !r.quarters_read.iter().any(|(a, b)| *a <= t && t < *b) {
            return None;
        }
        if let Some(q) = r.quarters.get(&t) {
            if t < e {
                before = Some(q.last);
            } else if after.is_none() {
                after = Some(q.first);
            }
        }
        t += QUARTER;
    }
    let before = before.filter(|p| p.0 >= e - gap);
    let after = after.filter(|p| p.0 < e + gap);
    Some(before.into_iter().chain(after).collect())
}

/// The last rolled-up reading before `mid` and the first thinned one at or after it.
pub(super) fn seam(last: Option<Point>, thinned: &[Point], mid: DateTime<Utc>) -> Option<[Point; 2]> {
    let next = thinned.get(thinned.partition_point(|p| p.0 < mid))?;
    Some([last?, *next])
}

fn watermark(groups: &[Group]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let row = groups.first()?.rows.last()?;
    // Epoch milliseconds, exact in an f64.
    let t = |i: usize| DateTime::from_timestamp_millis((*row.values.get(i)?)? as i64);
    Some((t(0)?, t(1)?))
}

fn summaries(groups: &[Group]) -> Vec<(DateTime<Utc>, Summary)> {
    groups
        .first()
        .map(|g| {
            g.rows
                .iter()
                .filter_map(|row| Some((row.time()?, Summary::from_fields(&row.values)?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use zw_model::counter::rollup::{Rollups, quarter_edges, summarize};

    use super::*;

    #[test]
    fn an_edge_takes_the_readings_next_to_it_from_the_quarter_rows() {
        let t = |m: i64| DateTime::from_timestamp(1_767_225_600, 0).expect("time") + TimeDelta::minutes(m);
        // Readings every 7 minutes from minute 0 to 180, none in 80..100.
        let readings: Vec<Point> = (0..=25)
            .map(|k| (t(7 * k), 10.0 * k as f64))
            .filter(|p| !(t(80) <= p.0 && p.0 < t(100)))
            .collect();
        let rows = summarize(&readings, &quarter_edges(t(0), t(180)));
        let r = Rollups {
            covered: Some((t(0), t(180))),
            quarters: rows.iter().map(|(a, _, s)| (*a, *s)).collect(),
            quarters_read: vec![(t(0), t(180))],
            ..Rollups::default()
        };
        let gap = TimeDelta::minutes(15);
        let probe = |e: DateTime<Utc>| -> Vec<Point> {
            let before = readings.iter().rfind(|p| e - gap <= p.0 && p.0 < e);
            let after = readings.iter().find(|p| e <= p.0 && p.0 < e + gap);
            before.into_iter().chain(after).copied().collect()
        };
        for m in [30, 60, 90, 105, 150] {
            assert_eq!(near(&r, t(m), gap), Some(probe(t(m))), "edge at minute {m}");
        }
        // In the gap: nothing on either side within 15 minutes before minute 90, as the probe says.
        assert_eq!(near(&r, t(90), gap).map(|n| n.len()), Some(1));
        // Not a quarter edge, or too close to what the rollups cover: the probe decides.
        assert_eq!(near(&r, t(40), gap), None);
        assert_eq!(near(&r, t(0), gap), None);
        assert_eq!(near(&r, t(180), gap), None);
    }
}
