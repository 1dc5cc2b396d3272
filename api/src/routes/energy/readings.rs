//! One device's energy per period, exact to its counter readings, read from InfluxDB in a few requests
//! whatever the span, the reading interval or the number of periods.
//!
//! 1. Only when a period is still running: the device's latest reading, which ends the period so far
//!    ([`measured_edges`]).
//! 2. One request of `;`-separated statements: for every edge the last reading before it and the first at
//!    or after it, each within `max_gap` (selectors without `GROUP BY` return the reading's own time), and
//!    the step statistics of every reading (longest spacing, smallest growth, highest power: `elapsed`,
//!    `difference`, `derivative` in a subquery) per window of `W`, where `W` divides every period (the
//!    greatest common divisor of their lengths and a day, aligned to the first edge), so each window lies in
//!    one period.
//! 3. For the periods [`exact_energy`] cannot answer from that (a gap, reset, jump or decrease near them, or
//!    an edge in a gap): their raw readings from `max_gap` before to `max_gap` after, through
//!    [`consumption`], in one request. Either way the counter component decides what the readings mean.
//!
//! Only the field name (a closed enum) and numbers computed here are spliced into the InfluxQL; every
//! time and the device id are bound parameters.

use chrono::{DateTime, TimeDelta, Utc};
use tracing::debug;
use zw_influx::Series;
use zw_model::counter::{Around, Bucket, CounterConfig, Point, Steps, consumption, exact_energy};
use zw_model::{Id, Quantity, storage};

use crate::AppState;
use crate::error::ApiError;
use crate::periods::measured_edges;

/// Energy per period `[calendar[k], calendar[k + 1])` of one device; a period after `now` is measured up
/// to the device's latest reading.
pub(super) async fn device_buckets(
    state: &AppState,
    device: &Id,
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
    let grid = Grid::of(calendar);
    let (around, windows) = reader.summary(&edges, &grid).await?;
    let mut out: Vec<Bucket> = Vec::with_capacity(edges.len().saturating_sub(1));
    let mut missing = Vec::new();
    for (k, w) in edges.windows(2).enumerate() {
        let (s, e) = (w[0], w[1]);
        let steps = grid.steps_near(&windows, s - cfg.max_gap, e + cfg.max_gap);
        let exact = exact_energy((s, &around[k]), (e, &around[k + 1]), steps.as_ref(), cfg);
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

/// The windows of the step statistics: `width` divides every period, `offset` aligns them to its edges.
struct Grid {
    width: TimeDelta,
    offset_s: i64,
}

impl Grid {
    fn of(calendar: &[DateTime<Utc>]) -> Self {
        let width_s = calendar
            .windows(2)
            .map(|w| (w[1] - w[0]).num_seconds())
            .fold(86_400, gcd)
            .max(1);
        let offset_s = calendar.first().map_or(0, |t| t.timestamp().rem_euclid(width_s));
        Self {
            width: TimeDelta::seconds(width_s),
            offset_s,
        }
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

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

struct Reader<'a> {
    state: &'a AppState,
    device: &'a Id,
    q: Quantity,
    cfg: &'a CounterConfig,
}

impl Reader<'_> {
    /// `FROM … WHERE device = $device AND ` with the quantity's field as `{f}`.
    fn select(&self, what: &str) -> String {
        format!(
            "SELECT {what} FROM \"{m}\" WHERE \"{t}\" = $device AND ",
            what = what.replace("{f}", &format!("\"{}\"", self.q.name())),
            m = storage::MEASUREMENT,
            t = storage::TAG_DEVICE,
        )
    }

    /// The device's latest reading time in `[from, to)`.
    async fn latest(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        let q = self.select("last({f})") + "time >= $from AND time < $to";
        let (f, t) = (from.to_rfc3339(), to.to_rfc3339());
        let params = [("device", self.device.as_str()), ("from", &f), ("to", &t)];
        let series = crate::db::query(self.state, "energy", &q, &params).await?;
        Ok(points(&series).last().map(|p| p.0))
    }

    /// The readings around every edge, and the step statistics per window from `max_gap` before the first
    /// edge to `max_gap` after the last, sorted by window start.
    #[allow(clippy::type_complexity)]
    async fn summary(
        &self,
        edges: &[DateTime<Utc>],
        grid: &Grid,
    ) -> Result<(Vec<Around>, Vec<(DateTime<Utc>, Steps)>), ApiError> {
        let gap = self.cfg.max_gap;
        let mut q = Vec::with_capacity(2 * edges.len() + 1);
        let mut params: Vec<(String, String)> = vec![("device".into(), self.device.as_str().into())];
        for (i, &e) in edges.iter().enumerate() {
            q.push(self.select("last({f})") + &format!("time >= $lo{i} AND time < $e{i}"));
            q.push(self.select("first({f})") + &format!("time >= $e{i} AND time < $hi{i}"));
            params.push((format!("lo{i}"), (e - gap).to_rfc3339()));
            params.push((format!("e{i}"), e.to_rfc3339()));
            params.push((format!("hi{i}"), (e + gap).to_rfc3339()));
        }
        let (Some(&first), Some(&last)) = (edges.first(), edges.last()) else {
            return Ok((Vec::new(), Vec::new()));
        };
        q.push(format!(
            "SELECT max(\"e\") AS \"longest\", min(\"d\") AS \"smallest\", max(\"p\") AS \"fastest\", \
             count(\"d\") AS \"steps\" FROM ({inner}time >= $from AND time < $to) \
             GROUP BY time({w}s, {o}s) fill(none)",
            inner = self
                .select(r#"elapsed({f}, 1ms) AS "e", difference({f}) AS "d", derivative({f}, 1h) AS "p""#),
            w = grid.width.num_seconds(),
            o = grid.offset_s,
        ));
        params.push(("from".into(), (first - gap).to_rfc3339()));
        params.push(("to".into(), (last + gap).to_rfc3339()));
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let results = crate::db::query_all(self.state, "energy", &q.join("; "), &params).await?;
        let mut results = results.into_iter();
        let mut next_point = || results.next().and_then(|s| points(&s).first().copied());
        let around = edges
            .iter()
            .map(|_| Around {
                before: next_point(),
                at_or_after: next_point(),
            })
            .collect();
        let windows = results.next().map(|s| windows(&s)).unwrap_or_default();
        Ok((around, windows))
    }

    /// The raw readings from `max_gap` before to `max_gap` after each period `k` of `missing`.
    async fn raw(&self, missing: &[usize], edges: &[DateTime<Utc>]) -> Result<Vec<Vec<Point>>, ApiError> {
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let gap = self.cfg.max_gap;
        let mut q = Vec::with_capacity(missing.len());
        let mut params: Vec<(String, String)> = vec![("device".into(), self.device.as_str().into())];
        for &k in missing {
            q.push(self.select("{f}") + &format!("time >= $a{k} AND time < $b{k}"));
            params.push((format!("a{k}"), (edges[k] - gap).to_rfc3339()));
            params.push((format!("b{k}"), (edges[k + 1] + gap).to_rfc3339()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let results = crate::db::query_all(self.state, "energy", &q.join("; "), &params).await?;
        Ok(results.iter().map(|s| points(s)).collect())
    }
}

/// (time, value) rows of the first series, in time order.
fn points(series: &[Series]) -> Vec<Point> {
    series
        .first()
        .map(|s| {
            s.values
                .iter()
                .filter_map(|row| {
                    let t = DateTime::from_timestamp_millis(row.first()?.as_i64()?)?;
                    Some((t, row.get(1)?.as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// (window start, steps) rows of the step statistics.
fn windows(series: &[Series]) -> Vec<(DateTime<Utc>, Steps)> {
    let Some(s) = series.first() else {
        return Vec::new();
    };
    s.values
        .iter()
        .filter_map(|row| {
            let t = DateTime::from_timestamp_millis(row.first()?.as_i64()?)?;
            let num = |i: usize| row.get(i).and_then(serde_json::Value::as_f64);
            Some((
                t,
                Steps {
                    count: row.get(4)?.as_u64()?,
                    longest: TimeDelta::milliseconds(num(1)? as i64),
                    smallest_wh: num(2)?,
                    fastest_w: num(3)?,
                },
            ))
        })
        .collect()
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
            let grid = Grid::of(&edges);
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
    fn steps_near_a_stretch_merge_the_windows_overlapping_it() {
        let t = |h: i64| DateTime::from_timestamp(0, 0).expect("epoch") + TimeDelta::hours(h);
        let grid = Grid {
            width: TimeDelta::hours(1),
            offset_s: 0,
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
