//! The report's stretches (the year split at the usage hours, the tariff's days, the year before) of every
//! meter in the report from the rollups, in a few statements for the whole town, whatever the
//! number of stretches and buildings: the watermarks, the day rows of both years and, per local time of day
//! at which a stretch begins or ends other than midnight (07:00 and 18:00 for the default usage hours), a
//! `GROUP BY time(1d, offset) tz(…)` over the quarter rows that gives per local day the first reading at or
//! after that time and the last one before it the next day ([`load`]), the statements run concurrently.
//!
//! Where the roller wrote edge rows at those times of day ([`MEASUREMENT_EDGE`]: per local day the last
//! reading before the time and the first at or after it), one statement per time reads them instead of the
//! four window statements over the quarter rows (365 rows per meter and year instead of 35,040 per field);
//! the windows are read only for a time whose edge rows are missing on a day with readings (rolled up by an
//! older version).
//!
//! That is all [`exact_energy`] needs: the counter's value at each edge (the readings next to it: from the
//! day rows at midnight, from the windows elsewhere) and the steps of (at least) every reading within
//! `max_gap` of the stretch, here those of the local days around it (the day before, its days, the day
//! after), chained exactly ([`Summary::then`]). Where any of that is missing or not plain (a gap, a reset, an
//! edge outside the rollups' watermark or after `now`, an edge off the quarter-hour grid, a window InfluxDB
//! did not align with whole local days, as it may near a DST change), [`Batch::stretches`] leaves the
//! stretch `None` for the readings path ([`crate::routes::energy::intervals`]), which gives the same figure
//! the slow way. So the answer is the same either way; only the number of statements differs (before: about
//! 1,800 per meter and year).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone as _, Timelike, Utc};
use chrono_tz::Tz;
use zw_influx::read::{Agg, Group, Request, Shape};
use zw_model::counter::rollup::{
    EDGE_FIELDS, FIELDS, MEASUREMENT_DAY, MEASUREMENT_EDGE, MEASUREMENT_QUARTER, MEASUREMENT_STATE, QUARTER,
    RETENTION_POLICY, Summary, TAG_AT, TAG_QUANTITY, TAG_TZ, at_tag,
};
use zw_model::counter::{Around, Bucket, CounterConfig, Point, Steps, exact_energy, local_day_edges};
use zw_model::{Id, Quantity, storage};

use crate::AppState;
use crate::error::ApiError;

/// At most this many local times of day other than midnight are read as windows (four statements each);
/// stretches with other edges are left to the readings path.
pub(super) const MAX_TIMES: usize = 4;

/// With at most this many devices the statements name them; with more they read every device of the
/// quantity (a town) and keep the ones asked for.
const NAMED: usize = 24;

/// The first and the last reading of one window of quarter rows, `[start, next window's start)`.
type Window = (DateTime<Utc>, Option<Point>, Option<Point>);

/// The first and the last reading of a window, each read field by field.
type Ends = (Option<Point>, Option<Point>);

/// One device's rollups as read: the watermark, its day rows, its windows per time of day.
#[derive(Debug, Default)]
struct DeviceRows {
    covered: Option<(DateTime<Utc>, DateTime<Utc>)>,
    days: BTreeMap<DateTime<Utc>, Summary>,
    windows: Vec<BTreeMap<DateTime<Utc>, Ends>>,
    /// Edge rows per time of day, by time: the reading before it and the one at or after it, that day.
    edges: Vec<BTreeMap<DateTime<Utc>, Ends>>,
}

/// The rollups of many devices for one quantity and span, read at once.
#[derive(Debug)]
pub(super) struct Batch {
    tz: Tz,
    times: Vec<NaiveTime>,
    day_edges: Vec<DateTime<Utc>>,
    devices: HashMap<(String, String), DeviceRows>,
    /// Per time of day: its edge rows are complete (else the windows were read).
    use_edges: Vec<bool>,
}

/// The local times of day of `edges` that are not midnight, if they are at most [`MAX_TIMES`] whole
/// quarter hours.
pub(super) fn times_of(tz: Tz, edges: &[DateTime<Utc>]) -> Vec<NaiveTime> {
    let mut t: Vec<NaiveTime> = edges
        .iter()
        .map(|e| e.with_timezone(&tz).time())
        .filter(|t| *t != NaiveTime::MIN && t.nanosecond() == 0 && t.second() == 0 && t.minute() % 15 == 0)
        .collect();
    t.sort();
    t.dedup();
    if t.len() > MAX_TIMES { Vec::new() } else { t }
}

/// Reads the rollups of quantity `q` of `devices` (site, device): the watermarks, the day rows of the local
/// days `days`, and for each of `times` the windows of quarter rows from that time to the same time the next
/// day over the local days `windows` ([`Shape::Days`]), through the read interface on either engine. A
/// failed read gives an empty batch: every stretch is left to the readings path.
pub(super) async fn load(
    state: &AppState,
    q: Quantity,
    devices: &[(&Id, &Id)],
    times: &[NaiveTime],
    (days, windows): ((NaiveDate, NaiveDate), (NaiveDate, NaiveDate)),
) -> Result<Batch, ApiError> {
    let tz = state.config.timezone();
    let mut batch = Batch {
        tz,
        times: times.to_vec(),
        day_edges: local_day_edges(&tz, days.0, days.1),
        devices: HashMap::new(),
        use_edges: vec![false; times.len()],
    };
    let window_edges = local_day_edges(&tz, windows.0, windows.1);
    let (Some(&d0), Some(&d1), Some(&w0), Some(&w1)) = (
        batch.day_edges.first(),
        batch.day_edges.last(),
        window_edges.first(),
        window_edges.last(),
    ) else {
        return Ok(batch);
    };
    if devices.is_empty() {
        return Ok(batch);
    }
    // Device ids are unique in the inventory: the answer is grouped by device, its site looked up here.
    let site_of: HashMap<String, String> = devices
        .iter()
        .map(|(s, d)| (d.to_string(), s.to_string()))
        .collect();
    let names: Vec<&str> = devices.iter().map(|d| d.1.as_str()).collect();
    let filter = |r: Request| {
        let r = r
            .in_retention_policy(RETENTION_POLICY)
            .tag(TAG_QUANTITY, q.name())
            .by(storage::TAG_DEVICE);
        if devices.len() <= NAMED {
            r.tag_in(storage::TAG_DEVICE, &names)
        } else {
            r
        }
    };
    let mut requests = vec![
        filter(Request::raw(MEASUREMENT_STATE, &["from_ms", "through_ms"])).shape(Shape::Latest),
        filter(Request::raw(MEASUREMENT_DAY, &FIELDS))
            .tag(TAG_TZ, &state.config.timezone)
            .range(d0, d1),
    ];
    for &at in times {
        requests.push(
            filter(Request::raw(MEASUREMENT_EDGE, &EDGE_FIELDS))
                .tag(TAG_TZ, &state.config.timezone)
                .tag(TAG_AT, &at_tag(at))
                .range(w0, w1),
        );
    }
    // One request each, all at once: InfluxDB runs the statements of one request one after the other,
    // separate requests on all its cores.
    let Some(results) = read_all(state, &requests).await else {
        return Ok(batch);
    };
    let key = |g: &Group| {
        let device = g.tag.clone().unwrap_or_default();
        (site_of.get(&device).cloned().unwrap_or_default(), device)
    };
    let wanted: HashSet<(String, String)> = devices
        .iter()
        .map(|(s, d)| (s.to_string(), d.to_string()))
        .collect();
    let mut results = results.into_iter();
    for g in results.next().unwrap_or_default() {
        if let Some(r) = rows(&mut batch.devices, &wanted, times.len(), key(&g)) {
            r.covered = watermark(&g);
        }
    }
    for g in results.next().unwrap_or_default() {
        if let Some(r) = rows(&mut batch.devices, &wanted, times.len(), key(&g)) {
            r.days = summaries(&g);
        }
    }
    for (k, groups) in results.enumerate() {
        for g in groups {
            let Some(r) = rows(&mut batch.devices, &wanted, times.len(), key(&g)) else {
                continue;
            };
            for row in &g.rows {
                let Some(t) = row.time() else {
                    continue;
                };
                let v = |i: usize| row.values.get(i).copied().flatten();
                let w = r.edges[k].entry(t).or_default();
                set(&mut w.0, v(0), true);
                set(&mut w.0, v(1), false);
                set(&mut w.1, v(2), true);
                set(&mut w.1, v(3), false);
            }
        }
    }
    // A time whose edge rows are missing on a day with readings (rolled up before they were written): the
    // windows over the quarter rows, as before.
    for (k, &at) in times.iter().enumerate() {
        batch.use_edges[k] = batch.devices.values().all(|r| {
            r.days.range(w0..w1).all(|(d, _)| {
                let date = d.with_timezone(&tz).date_naive();
                match tz.from_local_datetime(&date.and_time(at)).single() {
                    Some(t) => r.edges[k].contains_key(&t.with_timezone(&Utc)),
                    None => true,
                }
            })
        });
    }
    let mut requests = Vec::new();
    let mut which = Vec::new();
    for (k, &at) in times.iter().enumerate() {
        if batch.use_edges[k] {
            continue;
        }
        // A window per local day from `at` to `at` the next day: its first row's first reading is the first
        // at or after `at`, its last row's last reading the last before `at` the next day. One field per
        // request: InfluxDB reads several selectors in one statement an order of magnitude slower.
        for (agg, field) in [
            (Agg::First, "first_ms"),
            (Agg::First, "first_wh"),
            (Agg::Last, "last_ms"),
            (Agg::Last, "last_wh"),
        ] {
            requests.push(
                filter(Request::raw(MEASUREMENT_QUARTER, &[field]))
                    .range(w0, w1)
                    .shape(Shape::Days { agg, tz, at }),
            );
            which.push(k);
        }
    }
    if requests.is_empty() {
        return Ok(batch);
    }
    let Some(results) = read_all(state, &requests).await else {
        // Without the windows those stretches go to the readings path.
        for r in batch.devices.values_mut() {
            r.covered = None;
        }
        return Ok(batch);
    };
    for (i, groups) in results.into_iter().enumerate() {
        let (k, field) = (which[i], i % 4);
        for g in groups {
            let Some(r) = rows(&mut batch.devices, &wanted, times.len(), key(&g)) else {
                continue;
            };
            for row in &g.rows {
                let Some(t) = row.time() else {
                    continue;
                };
                let v = row.values.first().copied().flatten();
                let w = r.windows[k].entry(t).or_default();
                let (p, is_time) = match field {
                    0 | 1 => (&mut w.0, field == 0),
                    _ => (&mut w.1, field == 2),
                };
                set(p, v, is_time);
            }
        }
    }
    Ok(batch)
}

/// The answers of `requests`, read concurrently; `None` if any failed.
async fn read_all(state: &AppState, requests: &[Request]) -> Option<Vec<Vec<Group>>> {
    let answers =
        futures_util::future::join_all(requests.iter().map(|r| crate::db::read(state, "energy", r))).await;
    answers.into_iter().collect::<Result<Vec<_>, ApiError>>().ok()
}

/// The rows of `key` if it is one of the devices asked for.
fn rows<'a>(
    devices: &'a mut HashMap<(String, String), DeviceRows>,
    wanted: &HashSet<(String, String)>,
    times: usize,
    key: (String, String),
) -> Option<&'a mut DeviceRows> {
    wanted.contains(&key).then(|| {
        devices.entry(key).or_insert_with(|| DeviceRows {
            windows: vec![BTreeMap::new(); times],
            edges: vec![BTreeMap::new(); times],
            ..DeviceRows::default()
        })
    })
}

/// Sets the time (epoch ms) or the value of a partly read point.
fn set(p: &mut Option<Point>, v: Option<f64>, is_time: bool) {
    let Some(v) = v else { return };
    let old = p.unwrap_or((DateTime::<Utc>::MIN_UTC, f64::NAN));
    *p = if is_time {
        DateTime::from_timestamp_millis(v as i64).map(|t| (t, old.1))
    } else {
        Some((old.0, v))
    };
}

impl Batch {
    /// The energy of every stretch `[edges[k], edges[k + 1])` of `device` at `site` that its rollups answer
    /// exactly; `None` for the others (all of them when it has no rollups).
    pub(super) fn stretches(
        &self,
        (site, device): (&Id, &Id),
        edges: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Vec<Option<Bucket>> {
        let none = vec![None; edges.len().saturating_sub(1)];
        let Some(rows) = self.devices.get(&(site.to_string(), device.to_string())) else {
            return none;
        };
        let Some(covered) = rows.covered else {
            return none;
        };
        let windows: Vec<Vec<Window>> = rows
            .windows
            .iter()
            .map(|w| {
                w.iter()
                    .map(|(t, (a, b))| (*t, complete(*a), complete(*b)))
                    .collect()
            })
            .collect();
        let cfg = CounterConfig::default();
        let rolled = Rolled {
            covered,
            tz: self.tz,
            day_edges: &self.day_edges,
            days: &rows.days,
            gap: cfg.max_gap,
        };
        let around: Vec<Option<Around>> = edges
            .iter()
            .map(|&e| {
                let k = self
                    .times
                    .iter()
                    .position(|t| *t == e.with_timezone(&self.tz).time());
                match k {
                    Some(k) if self.use_edges[k] => rolled.at_edge(&rows.edges[k], e),
                    Some(k) => rolled.at_window(&windows[k], e),
                    None => rolled.at_midnight(e),
                }
            })
            .collect();
        answer(&rolled, edges, &around, now, &cfg)
    }
}

/// A point whose time and value were both read.
fn complete(p: Option<Point>) -> Option<Point> {
    p.filter(|p| p.0 != DateTime::<Utc>::MIN_UTC && p.1.is_finite())
}

/// The energy of each stretch between `edges` (with the readings `around` each edge) that follows exactly
/// from the rollups; `None` for a stretch ending after `now` or one the rule cannot answer.
fn answer(
    rolled: &Rolled,
    edges: &[DateTime<Utc>],
    around: &[Option<Around>],
    now: DateTime<Utc>,
    cfg: &CounterConfig,
) -> Vec<Option<Bucket>> {
    edges
        .windows(2)
        .enumerate()
        .map(|(k, w)| {
            let (s, e) = (w[0], w[1]);
            if e > now {
                return None;
            }
            let (a, b) = (around[k].as_ref()?, around[k + 1].as_ref()?);
            let wh = exact_energy((s, a), (e, b), rolled.steps_around(s, e).as_ref(), cfg)?;
            Some(Bucket {
                start: s,
                end: e,
                wh: Some(wh),
                complete: true,
                coverage: 1.0,
            })
        })
        .collect()
}

/// One device's rollups as read.
struct Rolled<'a> {
    /// The rollups cover the readings in `[from, through)`.
    covered: (DateTime<Utc>, DateTime<Utc>),
    /// The zone of the local days.
    tz: Tz,
    /// Local day edges of the span read.
    day_edges: &'a [DateTime<Utc>],
    /// Day rows by start (a covered day without a row had no readings).
    days: &'a BTreeMap<DateTime<Utc>, Summary>,
    gap: TimeDelta,
}

impl Rolled<'_> {
    /// Days `i..j` (indices into `day_edges`) lie wholly inside the rollups.
    fn covers(&self, i: usize, j: usize) -> bool {
        let (from, through) = self.covered;
        match (self.day_edges.get(i), self.day_edges.get(j)) {
            (Some(a), Some(b)) => from <= *a && *b <= through,
            _ => false,
        }
    }

    /// The readings next to local midnight `e` from the rows of the days before and after it.
    fn at_midnight(&self, e: DateTime<Utc>) -> Option<Around> {
        let i = self.day_edges.iter().position(|d| *d == e)?;
        if i == 0 || !self.covers(i - 1, i + 1) {
            return None;
        }
        let before = self.days.get(&self.day_edges[i - 1]).map(|s| s.last);
        let after = self.days.get(&e).map(|s| s.first);
        Some(self.near(e, before, after))
    }

    /// The readings next to `e` from the window starting at it and the one before.
    fn at_window(&self, windows: &[Window], e: DateTime<Utc>) -> Option<Around> {
        let (from, through) = self.covered;
        if e.timestamp_millis().rem_euclid(QUARTER.num_milliseconds()) != 0
            || e - self.gap < from
            || e + self.gap > through
        {
            return None;
        }
        // Only windows of whole local days around `e`: InfluxDB may shift one near a DST change.
        let local = e.with_timezone(&self.tz);
        let same_time = |d: Option<NaiveDate>| {
            let t = self.tz.from_local_datetime(&d?.and_time(local.time())).single()?;
            Some(t.with_timezone(&Utc))
        };
        let (prev, next) = (
            same_time(local.date_naive().pred_opt())?,
            same_time(local.date_naive().succ_opt()),
        );
        let j = windows.iter().position(|w| w.0 == e)?;
        let before = windows.get(j.checked_sub(1)?).filter(|w| w.0 == prev)?;
        if windows.get(j + 1).is_some_and(|w| Some(w.0) != next) {
            return None;
        }
        Some(self.near(e, before.2, windows[j].1))
    }

    /// The readings next to `e` from its day's edge row, or where the day has none before (after) `e`, from
    /// the day row of the day before (after); `None` where that day is not covered.
    fn at_edge(&self, edges: &BTreeMap<DateTime<Utc>, Ends>, e: DateTime<Utc>) -> Option<Around> {
        let (from, through) = self.covered;
        if e.timestamp_millis().rem_euclid(QUARTER.num_milliseconds()) != 0
            || e - self.gap < from
            || e + self.gap > through
        {
            return None;
        }
        // A local time the day has twice (or not at all) has no edge row.
        let local = e.with_timezone(&self.tz);
        if self.tz.from_local_datetime(&local.naive_local()).single() != Some(local) {
            return None;
        }
        let i = self.day_edges.partition_point(|d| *d <= e).checked_sub(1)?;
        let (start, end) = (self.day_edges[i], *self.day_edges.get(i + 1)?);
        let (before, after) = edges
            .get(&e)
            .map_or((None, None), |(b, a)| (complete(*b), complete(*a)));
        let before = match before {
            Some(p) => Some(p),
            None if e - self.gap >= start => None,
            None if i >= 1 && self.covers(i - 1, i) => self.days.get(&self.day_edges[i - 1]).map(|s| s.last),
            None => return None,
        };
        let after = match after {
            Some(p) => Some(p),
            None if e + self.gap <= end => None,
            None if self.covers(i + 1, i + 2) => self.days.get(&end).map(|s| s.first),
            None => return None,
        };
        Some(self.near(e, before, after))
    }

    /// The readings around `e` as a probe within `max_gap` would find them.
    fn near(&self, e: DateTime<Utc>, before: Option<Point>, after: Option<Point>) -> Around {
        Around {
            before: before.filter(|p| p.0 < e && p.0 >= e - self.gap),
            at_or_after: after.filter(|p| p.0 >= e && p.0 < e + self.gap),
        }
    }

    /// The steps of the readings of the local days from the one before `s` to the one after `e`, a superset
    /// of those within `max_gap` of `[s, e)`; `None` when a day is not covered or there are none.
    fn steps_around(&self, s: DateTime<Utc>, e: DateTime<Utc>) -> Option<Steps> {
        let day = |t: DateTime<Utc>| self.day_edges.partition_point(|d| *d <= t).checked_sub(1);
        let (i, j) = (day(s - self.gap)?, day(e + self.gap)?);
        if !self.covers(i, j + 1) {
            return None;
        }
        self.day_edges[i..=j]
            .iter()
            .filter_map(|d| self.days.get(d).copied())
            .reduce(Summary::then)?
            .steps
    }
}

/// The watermark of a device's latest state row.
fn watermark(g: &Group) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let row = g.rows.last()?;
    let t = |i: usize| DateTime::from_timestamp_millis((*row.values.get(i)?)? as i64);
    Some((t(0)?, t(1)?))
}

fn summaries(g: &Group) -> BTreeMap<DateTime<Utc>, Summary> {
    g.rows
        .iter()
        .filter_map(|row| Some((row.time()?, Summary::from_fields(&row.values)?)))
        .collect()
}

#[cfg(test)]
mod tests;
