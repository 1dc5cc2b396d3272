//! The quarter hours a peak report and a demand charge read: one device's from its quarter-hour rollups
//! where they reach and its raw readings elsewhere (at most [`MAX_RAW_READINGS`] per device and request), a
//! site's as the sum of its meters' ([`site_quarters`]), and the peaks of the billing years a cost report
//! touches ([`Peaks`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use zw_influx::read::{Group, Request, points};
use zw_model::counter::quarter_hours::{self, QuarterHour};
use zw_model::counter::rollup::{
    FIELDS, MEASUREMENT_QUARTER, MEASUREMENT_STATE, QUARTER, RETENTION_POLICY, Summary, TAG_QUANTITY,
};
use zw_model::counter::{CounterConfig, Point};
use zw_model::tariff::{Peak, Schedule};
use zw_model::{Device, Id, Quantity, Site, User, storage};

use super::RunningQuarter;
use crate::AppState;
use crate::error::ApiError;
use crate::periods::local_midnight;

/// Most raw readings read per device and request where the rollups do not reach (about 3 days of 2-second
/// readings, a year of minute readings); more is a 503 until the rollups have caught up.
pub const MAX_RAW_READINGS: usize = 600_000;

/// Quarter hours of one device's `energy_import`, from the rollups and the raw readings.
pub(super) struct Reader<'a> {
    pub state: &'a AppState,
    pub site: &'a Id,
    pub device: &'a Id,
    pub cfg: CounterConfig,
}

/// One device's quarter hours over one span, and the readings (rollup rows' first and last, raw ones)
/// near its end, for the running quarter.
pub(super) struct Read {
    pub quarters: Vec<QuarterHour>,
    pub points: Vec<Point>,
}

impl Reader<'_> {
    fn scoped(&self, r: Request) -> Request {
        r.tag(storage::TAG_SITE, self.site.as_str())
            .tag(storage::TAG_DEVICE, self.device.as_str())
    }

    /// The quarter hours of each span `[a, b)` (each reading one counter gap and a quarter beyond).
    pub async fn quarters(&self, spans: &[(DateTime<Utc>, DateTime<Utc>)]) -> Result<Vec<Read>, ApiError> {
        let q = Quantity::EnergyImport;
        let watermark = self
            .scoped(Request::raw(MEASUREMENT_STATE, &["from_ms", "through_ms"]).tag(TAG_QUANTITY, q.name()))
            .in_retention_policy(RETENTION_POLICY);
        let wm = crate::db::read(self.state, "peak", &watermark).await?;
        let covered = wm.first().and_then(|g| g.rows.last()).and_then(|row| {
            let t = |i: usize| DateTime::from_timestamp_millis((*row.values.get(i)?)? as i64);
            Some((t(0)?, t(1)?))
        });
        let reach = self.cfg.max_gap + QUARTER;
        // Per span: (rollup request, raw requests).
        let mut requests = Vec::new();
        let mut layout = Vec::new();
        for &(a, b) in spans {
            let (lo, hi) = (a - reach, b + reach);
            let mut raw = vec![(lo, hi)];
            let mut rolled = false;
            if let Some((f, t)) = covered
                && lo.max(f) < hi.min(t)
            {
                requests.push(
                    self.scoped(Request::raw(MEASUREMENT_QUARTER, &FIELDS).tag(TAG_QUANTITY, q.name()))
                        .in_retention_policy(RETENTION_POLICY)
                        .range(lo.max(f), hi.min(t)),
                );
                rolled = true;
                raw = vec![(lo, hi.min(f)), (lo.max(t), hi)];
            }
            raw.retain(|(x, y)| x < y);
            for (x, y) in &raw {
                requests.push(
                    self.scoped(Request::raw(storage::MEASUREMENT, &[q.name()]))
                        .range(*x, *y)
                        .oldest(MAX_RAW_READINGS + 1),
                );
            }
            layout.push((rolled, raw.len()));
        }
        let mut results = crate::db::read_all(self.state, "peak", &requests)
            .await?
            .into_iter();
        let mut out = Vec::with_capacity(spans.len());
        for (&(a, b), (rolled, raws)) in spans.iter().zip(layout) {
            let rows: BTreeMap<DateTime<Utc>, Summary> = if rolled {
                summaries(&results.next().unwrap_or_default())
            } else {
                BTreeMap::new()
            };
            let mut raw: Vec<Point> = Vec::new();
            for _ in 0..raws {
                let p = points(&results.next().unwrap_or_default());
                if p.len() > MAX_RAW_READINGS {
                    return Err(ApiError::Unavailable("peak (readings not rolled up yet)"));
                }
                raw.extend(p);
            }
            let quarters = quarter_hours::from_rollups(&rows, &raw, (a, b), &self.cfg);
            let tail = b - reach;
            let mut near: Vec<Point> = rows
                .range(tail - reach..)
                .flat_map(|(_, s)| [s.first, s.last])
                .chain(raw.into_iter().filter(|p| p.0 >= tail - reach))
                .collect();
            near.sort_by_key(|p| p.0);
            near.dedup_by_key(|p| p.0);
            out.push(Read {
                quarters,
                points: near,
            });
        }
        Ok(out)
    }
}

fn summaries(groups: &[Group]) -> BTreeMap<DateTime<Utc>, Summary> {
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

/// The quarter hours of `devices` summed over `[from, to)` (missing before `since`), and the running
/// quarter at `now` (every meter's, or none).
pub(crate) async fn site_quarters(
    state: &AppState,
    (site, devices): (&Id, &[&Device]),
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    (now, since): (DateTime<Utc>, Option<DateTime<Utc>>),
) -> Result<(Vec<QuarterHour>, Option<RunningQuarter>), ApiError> {
    let cfg = CounterConfig::default();
    let mut all = Vec::with_capacity(devices.len());
    let mut running: Vec<Option<quarter_hours::Running>> = Vec::new();
    for dev in devices {
        let reader = Reader {
            state,
            site,
            device: &dev.id,
            cfg: cfg.clone(),
        };
        let read = reader.quarters(&[(from, to)]).await?.pop();
        let Some(read) = read else { continue };
        running.push(quarter_hours::running(&read.points, now, &cfg));
        all.push(read.quarters);
    }
    let mut sum = quarter_hours::sum(&all);
    if all.is_empty() {
        sum = quarter_hours::starts(from, to)
            .into_iter()
            .map(|start| QuarterHour { start, wh: None })
            .collect();
    }
    for q in &mut sum {
        if since.is_some_and(|s| q.start < s) {
            q.wh = None;
        }
    }
    // Every meter's running quarter, or none.
    let running: Option<Vec<quarter_hours::Running>> = running.into_iter().collect();
    let running = running.filter(|r| !r.is_empty()).and_then(|r| {
        let first = r.first()?;
        (since.is_none_or(|s| first.start >= s) && r.iter().all(|x| x.start == first.start)).then(|| {
            RunningQuarter {
                start: first.start,
                elapsed_s: r.iter().map(|x| x.elapsed_s).fold(f64::INFINITY, f64::min),
                kw: r.iter().map(|x| x.avg_w).sum::<f64>() / 1000.0,
            }
        })
    });
    Ok((sum, running))
}

pub(super) fn quarter_floor_now(now: DateTime<Utc>) -> DateTime<Utc> {
    zw_model::counter::rollup::quarter_floor(now)
}

/// Most days of quarter hours a cost report reads for its demand charge (two billing years and a bit).
pub const MAX_DEMAND_DAYS: i64 = 800;

/// A site's quarter hours over the billing years a cost report's days touch: the peaks its demand charge
/// is billed on ([`zw_model::tariff::demand`]).
pub(crate) struct Peaks {
    /// The billing years: first day, and their UTC span.
    years: Vec<(NaiveDate, DateTime<Utc>, DateTime<Utc>)>,
    quarters: Vec<QuarterHour>,
}

impl Peaks {
    /// The quarter hours of `devices` (the site's total) from the start of the first billing year of a
    /// demand tariff among the local days `dates[0]..dates[last]` up to the end of the last or now; a
    /// `BadRequest` when that spans more than [`MAX_DEMAND_DAYS`].
    pub(crate) async fn read(
        state: &AppState,
        user: &User,
        (site, devices): (&Site, &[&Device]),
        schedule: &Schedule<'_, chrono_tz::Tz>,
        (dates, now): (&[NaiveDate], DateTime<Utc>),
    ) -> Result<Self, ApiError> {
        let tz = state.config.timezone();
        let (Some(&first), Some(&last)) = (dates.first(), dates.last()) else {
            return Ok(Self {
                years: Vec::new(),
                quarters: Vec::new(),
            });
        };
        let today = now.with_timezone(&tz).date_naive();
        let mut years = Vec::new();
        for d in first.iter_days().take_while(|d| *d < last && *d <= today) {
            let Some(t) = schedule.at(d).filter(|t| t.demand_eur_per_kw_year > 0.0) else {
                continue;
            };
            if let Some((ys, ye)) = t.demand_billing.year_of(d)
                && !years.iter().any(|(s, _, _)| *s == ys)
                && let (Some(a), Some(b)) = (local_midnight(tz, ys), local_midnight(tz, ye))
            {
                years.push((ys, a, b));
            }
        }
        let (Some(from), Some(end)) = (years.iter().map(|y| y.1).min(), years.iter().map(|y| y.2).max())
        else {
            return Ok(Self {
                years,
                quarters: Vec::new(),
            });
        };
        let to = end
            .min(quarter_floor_now(now))
            .min(local_midnight(tz, last).unwrap_or(end))
            .max(from);
        if (to - from).num_days() > MAX_DEMAND_DAYS {
            return Err(ApiError::BadRequest(format!(
                "the demand charge of these periods needs the quarter hours of {} days, more than \
                 {MAX_DEMAND_DAYS}: ask for fewer periods",
                (to - from).num_days()
            )));
        }
        let (quarters, _) = site_quarters(state, (&site.id, devices), (from, to), (now, user.since)).await?;
        Ok(Self { years, quarters })
    }

    /// The peak of every billing year up to `cutoff` (a year without a known quarter hour has none).
    pub(crate) fn at(&self, cutoff: DateTime<Utc>) -> Vec<Peak> {
        self.years
            .iter()
            .filter_map(|&(year_start, a, b)| {
                let end = b.min(cutoff);
                let w = self
                    .quarters
                    .iter()
                    .filter(|q| q.start >= a && q.start + QUARTER <= end)
                    .filter_map(QuarterHour::avg_w)
                    .reduce(f64::max)?;
                Some(Peak { year_start, w })
            })
            .collect()
    }
}
