//! The soil side of the season report: per tree, the local days it was critical and its longest critical
//! spell, the weeks it was and was not critical (and so the litres the plan did not need), and per sensor the
//! share of expected readings received.
//!
//! The input is one [`SensorSeason`] per soil sensor (per depth of a multi-depth probe): its days with
//! readings, each with the day's mean on the dryness scale ([`crate::tree::dryness`], the rule analytics
//! judges by: `1` at tension `analytics.trees.critical_kpa`, or at the VWC of the tree's soil profile's
//! critical depletion). A day without a reading is **unknown**: it neither counts as good nor continues a
//! critical spell.
//!
//! * A tree's day is known when any of its sensors has a reading that day. Its dryness combines its sensors'
//!   as the live state does ([`Combine`], `analytics.trees.combine`): `worst` the driest, `mean` the mean
//!   weighed by each depth's share of the roots ([`SensorSeason::weight`]); a depth that does not decide
//!   (weight 0, below `min_root_share` while another depth has more) counts only when no deciding one
//!   reported that day. The day is critical at a dryness of 1 or more.
//! * A tree without a sensor that inherits from reference trees ([`crate::tree::inherit`]) takes, per day, the
//!   mean dryness of the references known that day; its report says so (`inherited_from`), and it lists no
//!   sensor of its own.
//! * A week is a block of seven local days from the season's first day (the last one may be shorter). It is
//!   *critical* when any of its days is; *not critical* when none is and at least half its days are known;
//!   otherwise *unknown*.
//! * **Litres saved**: in every not-critical week, the plan's litres for the week ([`super::GUIDELINE_LITRES_PER_WEEK`]
//!   × days / 7) minus the litres given in it, at least 0. Critical and unknown weeks save nothing.
//! * **Uptime**: readings received in the period / readings expected (the period's length divided by the
//!   sensor's reporting interval), at most 1; none when nothing was expected.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::super::dryness::Combine;
use crate::Id;

/// A tree critical for more than this many consecutive days is reported as having *stayed critical*
/// (domain.md, season report: "trees that stayed critical (> 80 kPa) for more than 3 days").
pub const CRITICAL_SPELL_DAYS: u32 = 3;

/// One local day of one sensor with at least one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SensorDay {
    /// The local date.
    pub day: NaiveDate,
    /// The day's mean value on the dryness scale (see the module docs): critical at 1 or more.
    pub dryness: f64,
    /// Readings received that day.
    pub readings: u64,
}

/// One soil sensor (or one depth of a probe) over the season.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorSeason {
    /// The tree it stands at.
    pub tree: Id,
    /// The device.
    pub device: Id,
    /// The depth: 1 for a sensor's only (or a probe's top) depth, 2–4 a probe's further depths.
    pub depth: u8,
    /// How often it reports: readings expected = the period / this.
    pub interval: Duration,
    /// Its days with readings, any order; days outside the period are ignored.
    pub days: Vec<SensorDay>,
    /// Its weight among the tree's sensors: the share of the tree's roots in its layer when every depth of
    /// the tree is known, else 1; 0 when it does not decide (below `min_root_share` while another depth has
    /// more).
    pub weight: f64,
}

impl SensorDay {
    /// Whether the day was critical.
    pub fn critical(&self) -> bool {
        self.dryness >= 1.0
    }
}

/// A run of consecutive critical days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticalSpell {
    /// Its first local day.
    pub first_day: NaiveDate,
    /// Its last local day (inclusive).
    pub last_day: NaiveDate,
    /// Its length in days.
    pub days: u32,
}

/// One sensor's uptime over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorUptime {
    /// The device.
    pub device: Id,
    /// Its depth (1 = only or top).
    pub depth: u8,
    /// The reporting interval expected readings are counted from, seconds.
    pub interval_s: u64,
    /// Readings expected in the period.
    pub expected: u64,
    /// Readings received in the period.
    pub received: u64,
    /// `received / expected`, at most 1; absent when nothing was expected (an empty period).
    pub uptime: Option<f64>,
    /// Local days with at least one reading.
    pub days_with_readings: u32,
}

/// One tree's soil over the period (see the module docs for every definition).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeSoil {
    /// Days with a reading of any of its sensors.
    pub known_days: u32,
    /// Critical days.
    pub critical_days: u32,
    /// The longest run of critical days (the earliest of equal ones).
    pub longest_critical: Option<CriticalSpell>,
    /// Weeks with a critical day.
    pub weeks_critical: u32,
    /// Weeks without one and with at least half their days known.
    pub weeks_not_critical: u32,
    /// The other weeks.
    pub weeks_unknown: u32,
    /// Litres the plan asked for in not-critical weeks and were not given.
    pub litres_saved: f64,
    /// Per sensor, by device and depth.
    pub sensors: Vec<SensorUptime>,
}

/// The local days of the period: `first` and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Days {
    /// The period's first local day.
    pub first: NaiveDate,
    /// Local days in the period (0 for an empty one).
    pub count: u32,
}

impl Days {
    fn index(self, day: NaiveDate) -> Option<usize> {
        let i = (day - self.first).num_days();
        (0..i64::from(self.count))
            .contains(&i)
            .then(|| usize::try_from(i).unwrap_or(0))
    }
}

/// Expected readings in `[from, to)` for a sensor reporting every `interval` (0 for a zero interval).
pub fn expected_readings(from: DateTime<Utc>, to: DateTime<Utc>, interval: Duration) -> u64 {
    let span = u64::try_from((to - from).num_milliseconds()).unwrap_or(0);
    let every = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
    span.checked_div(every).unwrap_or(0)
}

/// A tree's dryness per local day of `days` (`None`: no reading) from its sensors (those of `sensors` whose
/// `tree` is `tree`), combined by `how` (module docs).
pub fn daily_dryness(tree: &Id, sensors: &[SensorSeason], how: Combine, days: Days) -> Vec<Option<f64>> {
    // Per day: each reading sensor's (weight, dryness).
    let mut per_day: Vec<Vec<(f64, f64)>> = vec![Vec::new(); days.count as usize];
    for s in sensors.iter().filter(|s| &s.tree == tree) {
        for d in &s.days {
            if let Some(i) = days.index(d.day) {
                per_day[i].push((s.weight, d.dryness));
            }
        }
    }
    per_day
        .iter()
        .map(|day| {
            let deciding: Vec<(f64, f64)> = day.iter().copied().filter(|(w, _)| *w > 0.0).collect();
            // Nothing deciding reported: every reading counts alike.
            let chosen = if deciding.is_empty() {
                day.iter().map(|(_, d)| (1.0, *d)).collect()
            } else {
                deciding
            };
            if chosen.is_empty() {
                return None;
            }
            Some(match how {
                Combine::Worst => chosen.iter().map(|(_, d)| *d).fold(f64::MIN, f64::max),
                Combine::Mean => {
                    let total: f64 = chosen.iter().map(|(w, _)| w).sum();
                    chosen.iter().map(|(w, d)| w * d).sum::<f64>() / total
                }
            })
        })
        .collect()
}

/// The soil figures of one tree from its sensors (those of `sensors` whose `tree` is `tree`) combined by
/// `how`, or, for a tree without sensors, from its reference trees `inherited` (each one's combined days;
/// empty: none), its litres given per local day, over `days`; `expected` gives a sensor's expected readings
/// from its interval.
pub fn tree_soil(
    tree: &Id,
    sensors: &[SensorSeason],
    how: Combine,
    inherited: &[Id],
    litres_by_day: &BTreeMap<NaiveDate, f64>,
    days: Days,
    expected: impl Fn(Duration) -> u64,
) -> TreeSoil {
    let own = sensors.iter().any(|s| &s.tree == tree);
    let dryness: Vec<Option<f64>> = if own || inherited.is_empty() {
        daily_dryness(tree, sensors, how, days)
    } else {
        let refs: Vec<Vec<Option<f64>>> = inherited
            .iter()
            .map(|r| daily_dryness(r, sensors, how, days))
            .collect();
        (0..days.count as usize)
            .map(|i| {
                let known: Vec<f64> = refs.iter().filter_map(|r| r[i]).collect();
                (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
            })
            .collect()
    };
    // Per day: None unknown, Some(critical).
    let state: Vec<Option<bool>> = dryness.iter().map(|d| d.map(|d| d >= 1.0)).collect();
    let mut uptimes = Vec::new();
    for s in sensors.iter().filter(|s| &s.tree == tree) {
        let (mut received, mut with) = (0, 0);
        for d in &s.days {
            if days.index(d.day).is_none() {
                continue;
            }
            received += d.readings;
            with += u32::from(d.readings > 0);
        }
        let exp = expected(s.interval);
        uptimes.push(SensorUptime {
            device: s.device.clone(),
            depth: s.depth,
            interval_s: s.interval.as_secs(),
            expected: exp,
            received,
            uptime: (exp > 0).then(|| ((received as f64 / exp as f64).min(1.0) * 1000.0).round() / 1000.0),
            days_with_readings: with,
        });
    }
    uptimes.sort_by(|a, b| (&a.device, a.depth).cmp(&(&b.device, b.depth)));
    let mut out = TreeSoil {
        sensors: uptimes,
        ..TreeSoil::default()
    };
    let mut run: Option<CriticalSpell> = None;
    for (i, s) in state.iter().enumerate() {
        out.known_days += u32::from(s.is_some());
        let day = days.first + chrono::Days::new(i as u64);
        if *s == Some(true) {
            out.critical_days += 1;
            let r = run.get_or_insert(CriticalSpell {
                first_day: day,
                last_day: day,
                days: 0,
            });
            r.last_day = day;
            r.days += 1;
            if out.longest_critical.is_none_or(|l| r.days > l.days) {
                out.longest_critical = Some(*r);
            }
        } else {
            run = None;
        }
    }
    for (w, week) in state.chunks(7).enumerate() {
        let critical = week.contains(&Some(true));
        let known = week.iter().filter(|s| s.is_some()).count();
        if critical {
            out.weeks_critical += 1;
        } else if known * 2 >= week.len() {
            out.weeks_not_critical += 1;
            let first = days.first + chrono::Days::new(7 * w as u64);
            let last = first + chrono::Days::new(week.len() as u64);
            let given: f64 = litres_by_day.range(first..last).map(|(_, l)| l).sum();
            let plan = super::GUIDELINE_LITRES_PER_WEEK * week.len() as f64 / 7.0;
            out.litres_saved += (plan - given).max(0.0);
        } else {
            out.weeks_unknown += 1;
        }
    }
    out
}
