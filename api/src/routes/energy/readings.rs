//! One device's energy per period, exact to its counter readings, read from InfluxDB (or VictoriaMetrics) in a few requests
//! whatever the span, the reading interval or the number of periods.
//!
//! 1. Only when a period is still running: the device's latest reading, which ends the period so far
//!    ([`measured_edges`]).
//! 2. The rollups ([`super::rollups`]): where they cover a period's stretch, its steps come from a few day
//!    and quarter-hour rows, exactly as from its readings (the coarsest rows that answer: days inside,
//!    quarters from each edge to the next day edge).
//! 3. One request of `;`-separated statements: for every edge the three readings before it and the two at
//!    or after it, within `max_gap` (with their own times): the counter's value at the edge and the steps
//!    around it, reading by reading; and, for what the rollups do not cover (the running part after their
//!    watermark, a span never rolled up), the first reading of every `thin` window (1 to 5 minutes): the
//!    steps in between as seen window to window. A thinned step is never shorter than the
//!    real steps it stands for minus `thin`, so "every step at most `max_gap`" is proven soundly; resets and
//!    meter swaps show as a decrease or an implausible rise from one window's first reading to the next.
//!    Nothing is read before the device's first reading when the rollups' request found none there
//!    ([`rollups::Loaded::readings_from`]): an edge there has no readings near it, a period wholly before
//!    it is what [`consumption`] makes of no readings, and the thin windows start at it.
//! 4. For the periods [`exact_energy`] cannot answer from that (a gap, reset, jump or decrease near them, an
//!    edge in a gap, or readings too sparse to prove the period gap-free from windows, e.g. every 15
//!    minutes): their raw readings from `max_gap` before to `max_gap` after, through [`consumption`], in
//!    one request. So the counter component decides what the readings mean; the thinned check only decides
//!    when the raw readings are not needed.
//!
//! InfluxQL subqueries (`elapsed`, `difference`) would give the steps reading by reading, but InfluxDB 1.x
//! evaluates them at about a million readings per second (two minutes for a year of 2-second readings);
//! selectors and `first()` per window run on its fast path. The reads go through [`zw_influx::read`], so
//! VictoriaMetrics answers them as well; the field name is a closed enum, every time and id is bound.

use chrono::{DateTime, TimeDelta, Utc};
use tracing::debug;
use zw_influx::read::{Agg, Request, Shape, points};
use zw_model::counter::{Around, Bucket, CounterConfig, Point, Steps, consumption, exact_energy};
use zw_model::{Id, Quantity, storage};

use super::rollups::{self, Plan};
use crate::AppState;
use crate::error::ApiError;
use crate::periods::measured_edges;

/// Energy per period `[calendar[k], calendar[k + 1])` of one device; a period after `now` is measured up
/// to the device's latest reading.
pub(super) async fn device_buckets(
    state: &AppState,
    (site, device): (&Id, &Id),
    q: Quantity,
    calendar: &[DateTime<Utc>],
    now: DateTime<Utc>,
    cfg: &CounterConfig,
) -> Result<Vec<Bucket>, ApiError> {
    let (Some(&first), Some(&last)) = (calendar.first(), calendar.last()) else {
        return Ok(Vec::new());
    };
    let reader = Reader {
        state,
        site,
        device,
        q,
        cfg,
    };
    let latest = if last > now {
        reader.latest(first - cfg.max_gap, now + cfg.max_gap).await?
    } else {
        None
    };
    let edges = measured_edges(calendar, now, latest, cfg.max_gap);
    let loaded = rollups::load(state, (site, device), q, &edges, cfg).await?;
    let (rolled, readings_from) = (&loaded.rollups, loaded.readings_from);
    // No reading before `readings_from`: what lies wholly before it is not read.
    let empty = |t: DateTime<Utc>| readings_from.is_some_and(|f| t + cfg.max_gap <= f);
    let plans: Vec<Plan> = edges
        .windows(2)
        .map(|w| rollups::plan(rolled, (w[0], w[1]), cfg.max_gap, readings_from))
        .collect();
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = thin_spans(&plans)
        .into_iter()
        .filter_map(|(a, b)| {
            let a = readings_from.map_or(a, |f| a.max(f));
            (a < b).then_some((a, b))
        })
        .collect();
    let grid = Grid::of(calendar, &spans);
    // An edge whose neighbouring periods are both rolled up takes its readings from the quarter rows.
    let rolled_near: Vec<Option<Vec<Point>>> = edges
        .iter()
        .enumerate()
        .map(|(i, &e)| {
            let before = i.checked_sub(1).is_none_or(|k| plans[k].rolled.is_some());
            let after = plans.get(i).is_none_or(|p| p.rolled.is_some());
            (before && after && !empty(e))
                .then(|| rollups::near(rolled, e, cfg.max_gap))
                .flatten()
        })
        .collect();
    let probed: Vec<bool> = edges
        .iter()
        .zip(&rolled_near)
        .map(|(e, r)| !empty(*e) && r.is_none())
        .collect();
    let (mut near, thinned) = reader.summary(&edges, &probed, &grid, &spans).await?;
    for (n, r) in near.iter_mut().zip(rolled_near) {
        if let Some(r) = r {
            *n = r;
        }
    }
    // Steps within each span only: between two spans lie readings the rollups answer.
    let mut windows: Vec<(DateTime<Utc>, Steps)> =
        thinned.iter().flat_map(|t| grid.thinned_steps(t)).collect();
    windows.sort_by_key(|w| w.0);
    let thinned: Vec<Point> = thinned.concat();
    let around: Vec<Around> = edges.iter().zip(&near).map(|(&e, n)| Around::of(n, e)).collect();
    let local: Vec<Option<Steps>> = near.iter().map(|n| Steps::of(n)).collect();
    let mut out: Vec<Bucket> = Vec::with_capacity(edges.len().saturating_sub(1));
    let mut missing = Vec::new();
    for (k, w) in edges.windows(2).enumerate() {
        let (s, e, plan) = (w[0], w[1], plans[k]);
        let mut parts = vec![local[k], local[k + 1]];
        if let Some(rolled) = plan.rolled {
            parts.push(rolled.and_then(|r| r.steps));
            if let Some((mid, end)) = plan.thin() {
                parts.push(grid.steps_near(&windows, mid, end));
                // The step from the last rolled-up reading to the first thinned one, which lies somewhere in
                // its thin window.
                let seam = rollups::seam(rolled.map(|r| r.last), &thinned, mid);
                parts.push(seam.and_then(|p| Steps::of(&p)).map(|mut st| {
                    st.longest += grid.thin;
                    st
                }));
            }
        } else {
            parts.push(grid.steps_near(&windows, s - cfg.max_gap, e + cfg.max_gap));
        }
        let steps = parts.into_iter().flatten().reduce(Steps::merge);
        if empty(e) {
            out.push(consumption(&[], &[s, e], cfg)[0]);
            continue;
        }
        let exact = exact_energy((s, &around[k]), (e, &around[k + 1]), steps.as_ref(), cfg);
        let near = [local[k], local[k + 1]]
            .into_iter()
            .flatten()
            .reduce(Steps::merge);
        if exact.is_none()
            && let Some(b) = rollups::starting_inside(
                &plan,
                (s, e),
                readings_from,
                (near, around[k + 1].value(e, cfg)),
                cfg,
            )
        {
            out.push(b);
            continue;
        }
        if exact.is_none() && s < e {
            missing.push(k);
        }
        out.push(Bucket {
            start: s,
            end: e,
            wh: exact,
            complete: exact.is_some(),
            coverage: if exact.is_some() { 1.0 } else { 0.0 },
        });
    }
    debug!(device = %device, periods = out.len(), from_raw_readings = missing.len(), "Energy per period.");
    let raw = reader.raw(&missing, &edges).await?;
    for (k, points) in missing.into_iter().zip(raw) {
        out[k] = consumption(&points, &edges[k..=k + 1], cfg)[0];
    }
    Ok(out)
}

/// The windows the steps are grouped in, `width` dividing every period and `offset` aligning them to its
/// edges; and the `thin` windows whose first readings stand for the readings in between.
struct Grid {
    width: TimeDelta,
    offset_s: i64,
    thin: TimeDelta,
}

impl Grid {
    fn of(calendar: &[DateTime<Utc>], thin_spans: &[(DateTime<Utc>, DateTime<Utc>)]) -> Self {
        let width_s = calendar
            .windows(2)
            .map(|w| (w[1] - w[0]).num_seconds())
            .fold(86_400, gcd)
            .max(1);
        let offset_s = calendar.first().map_or(0, |t| t.timestamp().rem_euclid(width_s));
        // About 40,000 thin windows (0.5 MB of JSON) for spans up to 4.5 months; 5-minute windows beyond (2.6
        // MB for two years), so readings up to 10 minutes apart are still proven gap-free. Each divides a
        // quarter hour, so the rollups' watermark is a window edge.
        let span_s: i64 = thin_spans.iter().map(|(a, b)| (*b - *a).num_seconds()).sum();
        let thin_s = THIN_S.into_iter().find(|t| *t >= span_s / 40_000).unwrap_or(300);
        Self {
            width: TimeDelta::seconds(width_s),
            offset_s,
            thin: TimeDelta::seconds(thin_s),
        }
    }

    /// The steps between consecutive thinned readings (dated at their thin window's start), each in the
    /// window of its later reading, its length widened by `thin` (the real steps it stands for are at most
    /// that long).
    fn thinned_steps(&self, thinned: &[Point]) -> Vec<(DateTime<Utc>, Steps)> {
        let w = self.width.num_seconds();
        let mut out: Vec<(DateTime<Utc>, Steps)> = Vec::new();
        for pair in thinned.windows(2) {
            let Some(mut step) = Steps::of(pair) else { continue };
            step.longest += self.thin;
            let t = pair[1].0.timestamp();
            let start = t - (t - self.offset_s).rem_euclid(w);
            let Some(start) = DateTime::from_timestamp(start, 0) else {
                continue;
            };
            match out.last_mut() {
                Some((s, acc)) if *s == start => *acc = acc.merge(step),
                _ => out.push((start, step)),
            }
        }
        out
    }

    /// The steps of every window overlapping `[from, to)`; `windows` sorted by start.
    fn steps_near(
        &self,
        windows: &[(DateTime<Utc>, Steps)],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<Steps> {
        let lo = windows.partition_point(|w| w.0 + self.width <= from);
        let hi = windows.partition_point(|w| w.0 < to);
        windows.get(lo..hi)?.iter().map(|w| w.1).reduce(Steps::merge)
    }
}

/// The stretches the plans leave to thinned readings, sorted, overlapping ones merged.
fn thin_spans(plans: &[Plan]) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut spans: Vec<_> = plans.iter().filter_map(Plan::thin).collect();
    spans.sort();
    let mut out: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(spans.len());
    for (a, b) in spans {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Thin window widths (s), each dividing 900.
const THIN_S: [i64; 7] = [60, 90, 100, 150, 180, 225, 300];

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

struct Reader<'a> {
    state: &'a AppState,
    /// The device's inventory site: only its series there is read (scope is site *and* device).
    site: &'a Id,
    device: &'a Id,
    q: Quantity,
    cfg: &'a CounterConfig,
}

impl Reader<'_> {
    /// The device's quantity at its inventory site in `[from, to)`, raw rows oldest first.
    fn request(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Request {
        Request::raw(storage::MEASUREMENT, &[self.q.name()])
            .tag(storage::TAG_SITE, self.site.as_str())
            .tag(storage::TAG_DEVICE, self.device.as_str())
            .range(from, to)
    }

    /// The device's latest reading time in `[from, to)`.
    async fn latest(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        let request = self.request(from, to).shape(Shape::Latest);
        let groups = crate::db::read(self.state, "energy", &request).await?;
        Ok(points(&groups).last().map(|p| p.0))
    }

    /// The readings near every edge with `probed` (three before, two at or after, within `max_gap`; none
    /// near the others), and the first reading of every thin window of each of `thin_spans` (dated at the
    /// window's start), per span.
    async fn summary(
        &self,
        edges: &[DateTime<Utc>],
        probed: &[bool],
        grid: &Grid,
        thin_spans: &[(DateTime<Utc>, DateTime<Utc>)],
    ) -> Result<(Vec<Vec<Point>>, Vec<Vec<Point>>), ApiError> {
        let gap = self.cfg.max_gap;
        let mut requests = Vec::with_capacity(2 * edges.len() + thin_spans.len());
        for (_, &e) in edges.iter().enumerate().filter(|(i, _)| probed[*i]) {
            requests.push(self.request(e - gap, e).newest(3));
            requests.push(self.request(e, e + gap).oldest(2));
        }
        let thin_s = u64::try_from(grid.thin.num_seconds()).unwrap_or(60);
        for &(from, to) in thin_spans {
            requests.push(self.request(from, to).windows(Agg::First, thin_s));
        }
        let results = crate::db::read_all(self.state, "energy", &requests).await?;
        let mut results = results.into_iter();
        let mut near = Vec::with_capacity(edges.len());
        for &p in probed {
            if !p {
                near.push(Vec::new());
                continue;
            }
            let mut before = results.next().map(|s| points(&s)).unwrap_or_default();
            before.sort_by_key(|p| p.0);
            before.extend(results.next().map(|s| points(&s)).unwrap_or_default());
            near.push(before);
        }
        let thinned = results.map(|s| points(&s)).collect();
        Ok((near, thinned))
    }

    /// The raw readings from `max_gap` before to `max_gap` after each period `k` of `missing`.
    async fn raw(&self, missing: &[usize], edges: &[DateTime<Utc>]) -> Result<Vec<Vec<Point>>, ApiError> {
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let gap = self.cfg.max_gap;
        let requests: Vec<Request> = missing
            .iter()
            .map(|&k| self.request(edges[k] - gap, edges[k + 1] + gap))
            .collect();
        let results = crate::db::read_all(self.state, "energy", &requests).await?;
        Ok(results.iter().map(|s| points(s)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_divide_every_period_dst_included() {
        let tz = chrono_tz::Europe::Berlin;
        let day = |m, d| chrono::NaiveDate::from_ymd_opt(2026, m, d).expect("date");
        // (case, first and last local date, expected window in hours)
        let cases = [
            ("days without DST", day(6, 1), day(6, 9), 24),
            ("days over the spring change", day(3, 27), day(3, 31), 1),
            ("one day of 25 hours", day(10, 25), day(10, 25), 1),
        ];
        for (case, a, b, hours) in cases {
            let edges = zw_model::counter::local_day_edges(&tz, a, b);
            let grid = Grid::of(&edges, &[]);
            assert_eq!(grid.width, TimeDelta::hours(hours), "{case}");
            for e in &edges {
                let s = e.timestamp() - grid.offset_s;
                assert_eq!(
                    s.rem_euclid(grid.width.num_seconds()),
                    0,
                    "{case}: {e} is not a window edge"
                );
            }
        }
    }

    #[test]
    fn thinned_steps_prove_short_steps_and_show_resets() {
        let t = |m: i64| DateTime::from_timestamp(0, 0).expect("epoch") + TimeDelta::minutes(m);
        let grid = Grid {
            width: TimeDelta::hours(1),
            offset_s: 0,
            thin: TimeDelta::minutes(1),
        };
        let cfg = CounterConfig::default();
        // First reading per minute of a 2-second meter: every step proven at most 2 minutes.
        let dense: Vec<Point> = (0..120).map(|m| (t(m), 10.0 * m as f64)).collect();
        let steps = grid.thinned_steps(&dense);
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert!(
            steps
                .iter()
                .all(|s| s.1.plain(&cfg) && s.1.longest == TimeDelta::minutes(2))
        );
        // Readings every 15 minutes cannot be proven gap-free from minute windows: raw readings decide.
        let sparse: Vec<Point> = (0..8).map(|k| (t(15 * k), 100.0 * k as f64)).collect();
        assert!(grid.thinned_steps(&sparse).iter().all(|s| !s.1.plain(&cfg)));
        // A reset shows as a decrease in the window of the reading after it.
        let mut reset = dense.clone();
        for p in &mut reset[70..] {
            p.1 -= 700.0;
        }
        let steps = grid.thinned_steps(&reset);
        assert_eq!(
            steps.iter().map(|s| s.1.plain(&cfg)).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn steps_near_a_stretch_merge_the_windows_overlapping_it() {
        let t = |h: i64| DateTime::from_timestamp(0, 0).expect("epoch") + TimeDelta::hours(h);
        let grid = Grid {
            width: TimeDelta::hours(1),
            offset_s: 0,
            thin: TimeDelta::minutes(1),
        };
        let step = |longest_min: i64, smallest_wh: f64| Steps {
            count: 1,
            longest: TimeDelta::minutes(longest_min),
            smallest_wh,
            fastest_w: 10.0,
        };
        let windows = [
            (t(0), step(5, 1.0)),
            (t(1), step(120, 2.0)),
            (t(3), step(5, -1.0)),
        ];
        let near = |a: i64, b: i64| grid.steps_near(&windows, t(a), t(b));
        assert_eq!(near(0, 1).map(|s| s.longest), Some(TimeDelta::minutes(5)));
        assert_eq!(near(0, 2).map(|s| s.longest), Some(TimeDelta::minutes(120)));
        assert_eq!(near(2, 3), None, "no window in 2..3");
        assert_eq!(near(2, 4).map(|s| (s.count, s.smallest_wh)), Some((1, -1.0)));
    }
}
