//! The rollup writer: quarter-hour and local-day [`Summary`] rows of every device's energy counters,
//! computed from the raw readings, so energy reports over months and years read a few hundred rows
//! ([`zw_model::counter::rollup`] says what they hold and why they stay exact).
//!
//! [`Roller::roll`] recomputes `[from, to)` (whole quarters) for every device and energy quantity: per local
//! day, the raw readings of the stretch give its quarter rows; the quarter rows of the whole day (old and
//! new) give the day row; last, the watermark (`rollup_state`) is extended to cover the stretch. Rows are
//! keyed by device, quantity (and zone) and interval start, so rolling a stretch again overwrites them: it is
//! idempotent, and `zaehlwerk rollup --since` re-computes any span. [`run`] rolls the last
//! `ingest.rollup.lookback` every `ingest.rollup.every`, up to `settle` ago, so readings arriving up to
//! `lookback` late are rolled up again. Readings arriving later (an import, a hand-back after a longer outage)
//! need `zaehlwerk rollup --since`.
//!
//! Given local times of day ([`Roller::with_edge_times`]: the API's usage hours), it also writes per local day
//! and time an edge row ([`MEASUREMENT_EDGE`]: the day's last reading before that time and its first at or
//! after it), so the town's energy report splits a year at the usage hours from day-sized rows.
//!
//! The rows live in their own retention policy ([`RETENTION_POLICY`], one shard group a year: a town's year
//! of rollups is read from one shard per meter, not 53 weekly ones), which [`Roller::prepare`] creates
//! before the first roll. Rollups written by an older version into the database's default policy are
//! copied over once, a week at a time and the watermarks last ([`Roller::prepare`]), so no report loses
//! the years they cover (the raw readings behind them may be gone already). A span the watermark does not cover is read from the readings, so an
//! imported year is exact (and slower) before it is rolled up. Inside the watermark a stale rollup mostly
//! costs time, not exactness: late readings that fill a gap leave a rollup that still shows the gap, and the
//! API reads the raw readings there. It is wrong only where a late reading lands between readings already
//! rolled up and breaks a plain stretch (a late reset or decrease): see api/README.md.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Timelike as _, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use zw_influx::read::{self, Agg, Group, Request};
use zw_model::counter::rollup::{
    EDGE_FIELDS, FIELDS, MEASUREMENT_DAY, MEASUREMENT_EDGE, MEASUREMENT_QUARTER, MEASUREMENT_STATE, QUARTER,
    RETENTION_POLICY, SHARD_DURATION, Summary, TAG_AT, TAG_QUANTITY, TAG_TZ, at_tag, edge_of, quarter_edges,
    quarter_floor, summarize,
};
use zw_model::counter::{Point, local_day_edges};
use zw_model::{Id, Quantity, storage};

/// The rollup task (`[ingest.rollup]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollupConfig {
    /// Keep rollups up to date while ingest runs (the API reads them for long reports).
    pub enabled: bool,
    /// How often the last `lookback` is rolled up again.
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// How far back each run recomputes: readings arriving later than this need `zaehlwerk rollup --since`.
    #[serde(with = "humantime_serde")]
    pub lookback: Duration,
    /// Quarters ending less than this ago are left for the next run (readings still on their way).
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
}

impl Default for RollupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            every: Duration::from_secs(300),
            lookback: Duration::from_secs(6 * 3600),
            settle: Duration::from_secs(120),
        }
    }
}

impl RollupConfig {
    /// Every problem: `every` 10 s to 1 h; `lookback` 30 min to 31 days and at least `every`; `settle` at
    /// most 1 h.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(Duration::from_secs(10)..=Duration::from_secs(3600)).contains(&self.every) {
            errors.push("ingest.rollup.every: must be 10s..=1h".into());
        }
        if !(Duration::from_secs(1800)..=Duration::from_secs(31 * 86_400)).contains(&self.lookback) {
            errors.push("ingest.rollup.lookback: must be 30min..=31days".into());
        } else if self.lookback < self.every {
            errors.push("ingest.rollup.lookback: must be at least ingest.rollup.every".into());
        }
        if self.settle > Duration::from_secs(3600) {
            errors.push("ingest.rollup.settle: must be at most 1h".into());
        }
        errors
    }
}

/// A rollup could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    /// Reading raw readings, rows or the watermark failed.
    #[error("reading for the rollups: {0}")]
    Query(#[from] zw_influx::QueryError),
    /// Writing rows failed.
    #[error("writing rollups: {0}")]
    Write(#[from] zw_influx::WriteError),
}

/// What a roll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rolled {
    /// Raw readings read.
    pub readings: u64,
    /// Quarter and day rows written.
    pub rows: u64,
}

/// Computes and writes rollups for some devices.
pub struct Roller<Z: TimeZone> {
    /// Reads the raw readings (and the rollups, naming their retention policy).
    client: zw_influx::Client,
    /// Writes the rollups into [`RETENTION_POLICY`].
    rolled: zw_influx::Client,
    /// [`Roller::prepare`] has succeeded.
    prepared: AtomicBool,
    tz: Z,
    tz_name: String,
    devices: Vec<(Id, Id)>,
    /// Local times of day of the edge rows.
    edge_times: Vec<NaiveTime>,
}

/// Lines per write request.
const WRITE_BATCH: usize = 5_000;

impl<Z: TimeZone> Roller<Z> {
    /// A roller for `devices` (site, device), with local days of `tz` (named `tz_name` in the day rows'
    /// `tz` tag). A device's readings and rollups are those stored under its current site.
    pub fn new(client: zw_influx::Client, tz: Z, tz_name: &str, devices: Vec<(Id, Id)>) -> Self {
        Self {
            rolled: client.with_retention_policy(RETENTION_POLICY),
            client,
            prepared: AtomicBool::new(false),
            tz,
            tz_name: tz_name.to_string(),
            devices,
            edge_times: Vec::new(),
        }
    }

    /// Also writes edge rows at these local times of day; times off the quarter-hour grid are left out
    /// (the API reads the quarter rows there).
    pub fn with_edge_times(mut self, times: &[NaiveTime]) -> Self {
        let mut t: Vec<NaiveTime> = times
            .iter()
            .copied()
            .filter(|t| {
                *t != NaiveTime::MIN && t.nanosecond() == 0 && t.second() == 0 && t.minute() % 15 == 0
            })
            .collect();
        t.sort();
        t.dedup();
        self.edge_times = t;
        self
    }

    /// The energy quantities rolled up.
    pub const QUANTITIES: [Quantity; 2] = [Quantity::EnergyImport, Quantity::EnergyExport];

    /// Recomputes the rollups of the whole quarters in `[from, to)` for every device and energy quantity,
    /// then extends each watermark to cover them.
    pub async fn roll(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Rolled, RollupError> {
        let (from, to) = (quarter_floor(from), quarter_floor(to));
        let mut total = Rolled::default();
        if from >= to {
            return Ok(total);
        }
        if !self.prepared.load(Ordering::Relaxed) {
            self.prepare().await?;
            self.prepared.store(true, Ordering::Relaxed);
        }
        for device in &self.devices {
            let device = (&device.0, &device.1);
            for q in Self::QUANTITIES {
                let r = self.roll_one(device, q, from, to).await?;
                total.readings += r.readings;
                total.rows += r.rows;
            }
        }
        Ok(total)
    }

    /// Creates the rollups' retention policy (if missing) and copies rollups an older version wrote into the
    /// default policy over, once: when no watermark is in [`RETENTION_POLICY`] yet but one is in the
    /// default policy. A week at a time from the earliest watermark's start (a month of a town's quarter
    /// rows took over the client's 10 s timeout on a busy 2-core machine), the watermarks last, so an
    /// interrupted copy is started over at the next roll (rows copied again overwrite themselves).
    /// An engine without retention policies (VictoriaMetrics) refuses the statement: logged, not an error.
    pub async fn prepare(&self) -> Result<(), RollupError> {
        let db = ident(self.client.database());
        let create = format!(
            "CREATE RETENTION POLICY {} ON {db} DURATION INF REPLICATION 1 SHARD DURATION {SHARD_DURATION}",
            ident(RETENTION_POLICY)
        );
        if let Err(e) = self.client.execute(&create).await {
            // An existing policy of that name with other settings is used as it is.
            if !e.to_string().contains("already exists") {
                warn!(error = %e, "Rollups: their retention policy was not created; writing all the same.");
                return Ok(());
            }
        }
        let state = Request::raw(MEASUREMENT_STATE, &["from_ms"]);
        let new = self
            .client
            .read(&state.clone().in_retention_policy(RETENTION_POLICY))
            .await?;
        if new.iter().any(|g| !g.rows.is_empty()) {
            return Ok(());
        }
        let old = self.client.read(&state).await?;
        let Some(first) = old
            .iter()
            .flat_map(|g| g.rows.iter())
            .filter_map(|r| r.values.first().copied().flatten())
            .map(|ms| ms as i64)
            .min()
            .and_then(DateTime::from_timestamp_millis)
        else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let copy = |m: &str, range: &str| {
            format!(
                "SELECT * INTO {}.{} FROM {} {range} GROUP BY *",
                ident(RETENTION_POLICY),
                ident(m),
                ident(m)
            )
        };
        let (mut from, now) = (quarter_floor(first) - TimeDelta::days(1), Utc::now());
        while from < now {
            let to = from + TimeDelta::days(7);
            let range = format!(
                "WHERE time >= {}ms AND time < {}ms",
                from.timestamp_millis(),
                to.timestamp_millis()
            );
            for m in [MEASUREMENT_QUARTER, MEASUREMENT_DAY] {
                self.client.query(&copy(m, &range), &[]).await?;
            }
            from = to;
        }
        self.client.query(&copy(MEASUREMENT_STATE, ""), &[]).await?;
        info!(
            since = %first,
            s = started.elapsed().as_secs(),
            "Rollups copied into their own retention policy."
        );
        Ok(())
    }

    async fn roll_one(
        &self,
        device: (&Id, &Id),
        q: Quantity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Rolled, RollupError> {
        let mut out = Rolled::default();
        let mut lines = String::new();
        let before = self.watermark(device, q).await?;
        // Catch up from where the rollups end when ingest was stopped for a while (up to 31 days).
        let from = match before {
            Some((_, t)) if t < from && from - t <= TimeDelta::days(31) => quarter_floor(t),
            _ => from,
        };
        let first_day = from.with_timezone(&self.tz).date_naive();
        let last_day = (to - TimeDelta::milliseconds(1))
            .with_timezone(&self.tz)
            .date_naive();
        let days = local_day_edges(&self.tz, first_day, last_day);
        let hours = self.hours_with_readings(device, q, from, to).await?;
        for d in days.windows(2) {
            let (a, b) = (d[0].max(from), d[1].min(to));
            // A stretch without readings changes no row (readings are never taken away).
            let lo = hours.partition_point(|h| *h + TimeDelta::hours(1) <= a);
            if a >= b || hours.get(lo).is_none_or(|h| *h >= b) {
                continue;
            }
            let readings = self.readings(device, q, a, b).await?;
            out.readings += readings.len() as u64;
            let fresh = summarize(&readings, &quarter_edges(a, b));
            for (start, _, s) in &fresh {
                row(&mut lines, MEASUREMENT_QUARTER, device, q, None, *start, s);
                out.rows += 1;
            }
            // Written before the day row is made from them.
            self.flush(&mut lines, true).await?;
            // The day row from all its quarter rows: the stored ones, the ones just written as computed (an
            // engine may not show a write to reads at once, as VictoriaMetrics for about a second).
            let mut quarters = self.quarters(device, q, d[0], d[1].min(to)).await?;
            quarters.extend(fresh.into_iter().map(|(start, _, s)| (start, s)));
            let date = d[0].with_timezone(&self.tz).date_naive();
            for &local in &self.edge_times {
                // A time the day does not have (a DST gap) or has twice gets no row.
                let Some(at) = self.tz.from_local_datetime(&date.and_time(local)).single() else {
                    continue;
                };
                let at = at.with_timezone(&Utc);
                let (before, after) = edge_of(&quarters, at);
                if before.is_some() || after.is_some() {
                    let tag = (self.tz_name.as_str(), local, at);
                    edge_row(&mut lines, device, q, tag, before, after);
                    out.rows += 1;
                }
            }
            let day = quarters.into_values().reduce(Summary::then);
            if let Some(day) = day {
                row(
                    &mut lines,
                    MEASUREMENT_DAY,
                    device,
                    q,
                    Some(&self.tz_name),
                    d[0],
                    &day,
                );
                out.rows += 1;
            }
        }
        self.flush(&mut lines, true).await?;
        let (from, to) = match before {
            Some((f, t)) if from <= t && f <= to => (f.min(from), t.max(to)),
            _ => (from, to),
        };
        let _ = writeln!(
            lines,
            "{MEASUREMENT_STATE},{}={},{}={},{TAG_QUANTITY}={} from_ms={}i,through_ms={}i 0",
            storage::TAG_SITE,
            device.0,
            storage::TAG_DEVICE,
            device.1,
            q.name(),
            from.timestamp_millis(),
            to.timestamp_millis()
        );
        self.flush(&mut lines, true).await?;
        Ok(out)
    }

    async fn flush(&self, lines: &mut String, all: bool) -> Result<(), RollupError> {
        if lines.is_empty() || (!all && lines.matches('\n').count() < WRITE_BATCH) {
            return Ok(());
        }
        self.rolled.write(std::mem::take(lines)).await?;
        Ok(())
    }

    async fn readings(
        &self,
        device: (&Id, &Id),
        q: Quantity,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Result<Vec<Point>, RollupError> {
        let request = scoped(Request::raw(storage::MEASUREMENT, &[q.name()]), device).range(a, b);
        Ok(points(&self.client.read(&request).await?))
    }

    /// The starts of the hours in `[from, to)` holding readings, sorted.
    async fn hours_with_readings(
        &self,
        device: (&Id, &Id),
        q: Quantity,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, RollupError> {
        let request = scoped(Request::raw(storage::MEASUREMENT, &[q.name()]), device)
            .range(from, to)
            .windows(Agg::Count, 3600);
        Ok(points(&self.client.read(&request).await?)
            .into_iter()
            .map(|p| p.0)
            .collect())
    }

    async fn quarters(
        &self,
        device: (&Id, &Id),
        q: Quantity,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Result<BTreeMap<DateTime<Utc>, Summary>, RollupError> {
        let request = scoped(Request::raw(MEASUREMENT_QUARTER, &FIELDS), device)
            .in_retention_policy(RETENTION_POLICY)
            .tag(TAG_QUANTITY, q.name())
            .range(a, b);
        Ok(summaries(&self.client.read(&request).await?)
            .into_iter()
            .collect())
    }

    /// The watermark `[from, through)` of a device's quantity, if any.
    pub async fn watermark(
        &self,
        device: (&Id, &Id),
        q: Quantity,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, RollupError> {
        let request = scoped(
            Request::raw(MEASUREMENT_STATE, &["from_ms", "through_ms"]),
            device,
        )
        .in_retention_policy(RETENTION_POLICY)
        .tag(TAG_QUANTITY, q.name());
        Ok(watermark(&self.client.read(&request).await?))
    }
}

/// One rollup row in line protocol, with a millisecond timestamp.
fn row(
    out: &mut String,
    m: &str,
    device: (&Id, &Id),
    q: Quantity,
    tz: Option<&str>,
    start: DateTime<Utc>,
    s: &Summary,
) {
    let _ = write!(
        out,
        "{m},{}={},{}={},{TAG_QUANTITY}={}",
        storage::TAG_SITE,
        device.0,
        storage::TAG_DEVICE,
        device.1,
        q.name()
    );
    if let Some(tz) = tz {
        let _ = write!(out, ",{TAG_TZ}={}", tz.replace(' ', "\\ ").replace(',', "\\,"));
    }
    for (i, (name, v)) in FIELDS.iter().zip(s.fields()).enumerate() {
        let _ = write!(out, "{}{name}={v:?}", if i == 0 { ' ' } else { ',' });
    }
    let _ = writeln!(out, " {}", start.timestamp_millis());
}

/// One edge row in line protocol at `at` (milliseconds), tagged with the zone and the local time of day:
/// the fields of the readings present.
fn edge_row(
    out: &mut String,
    device: (&Id, &Id),
    q: Quantity,
    (tz, local, at): (&str, NaiveTime, DateTime<Utc>),
    before: Option<Point>,
    after: Option<Point>,
) {
    let _ = write!(
        out,
        "{MEASUREMENT_EDGE},{}={},{}={},{TAG_QUANTITY}={},{TAG_TZ}={},{TAG_AT}={}",
        storage::TAG_SITE,
        device.0,
        storage::TAG_DEVICE,
        device.1,
        q.name(),
        tz.replace(' ', "\\ ").replace(',', "\\,"),
        at_tag(local)
    );
    let values = [before, after]
        .into_iter()
        .flat_map(|p| [p.map(|p| p.0.timestamp_millis() as f64), p.map(|p| p.1)]);
    let mut sep = ' ';
    for (name, v) in EDGE_FIELDS.iter().zip(values) {
        if let Some(v) = v {
            let _ = write!(out, "{sep}{name}={v:?}");
            sep = ',';
        }
    }
    let _ = writeln!(out, " {}", at.timestamp_millis());
}

/// (time, value) rows of the first series.
pub fn points(groups: &[Group]) -> Vec<Point> {
    read::points(groups)
}

/// The time and summary of every rollup row of the first group.
pub fn summaries(groups: &[Group]) -> Vec<(DateTime<Utc>, Summary)> {
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

/// The watermark `[from, through)` in the last state row (the latest written).
pub fn watermark(groups: &[Group]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let row = groups.first()?.rows.last()?;
    // Epoch milliseconds, exact in an f64.
    let t = |i: usize| DateTime::from_timestamp_millis((*row.values.get(i)?)? as i64);
    Some((t(0)?, t(1)?))
}

/// An InfluxQL identifier, quoted.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `request` scoped to the device at its site.
fn scoped(request: Request, device: (&Id, &Id)) -> Request {
    request
        .tag(storage::TAG_SITE, device.0.as_str())
        .tag(storage::TAG_DEVICE, device.1.as_str())
}

/// Rolls up the last `lookback` every `every` until `stop`; errors are logged and retried at the next run.
pub async fn run<Z: TimeZone>(cfg: RollupConfig, roller: Roller<Z>, stop: CancellationToken) {
    if !cfg.enabled {
        return;
    }
    let (lookback, settle) = (td(cfg.lookback), td(cfg.settle));
    loop {
        let to = Utc::now() - settle;
        let started = std::time::Instant::now();
        match roller.roll(to - lookback, to).await {
            Ok(r) => info!(
                readings = r.readings,
                rows = r.rows,
                ms = started.elapsed().as_millis() as u64,
                "Rollups updated."
            ),
            Err(e) => warn!(error = %e, "Rollups not updated; retrying at the next run."),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(cfg.every) => {}
        }
    }
}

fn td(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(QUARTER)
}
