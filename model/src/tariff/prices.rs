//! A dynamic price series: day-ahead spot prices per hour or quarter-hour, read from CSV.
//!
//! Format: a header `start,price_ct_per_kwh`, then one row per interval, `start` in RFC 3339 (e.g.
//! `2026-03-29T01:00:00+01:00` or `…Z`), the price in net ct/kWh (negative prices allowed, at most three
//! decimals). The step (15 or 60 minutes) is the smallest distance between two starts; a row ends one step
//! after its start, and a time no row covers has no price.
//!
//! A series may also grow from the bus ([`super::message`]): [`PriceSeries::merge`] adds intervals of the
//! same step, a newer price for an interval replacing the older. [`LivePrices`] is the shared, updatable
//! handle a tariff holds, so a merged price applies to every tariff of the series at once.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, TimeDelta, Utc};

/// Prices in milli-cent per kWh by interval start, sorted, with one step.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSeries {
    starts: Vec<DateTime<Utc>>,
    mct: Vec<i64>,
    step: TimeDelta,
}

impl Default for PriceSeries {
    /// An empty hourly series.
    fn default() -> Self {
        Self::empty(TimeDelta::hours(1))
    }
}

impl PriceSeries {
    /// Reads the CSV text; every bad row is reported (`line N: …`), as are duplicate or unordered starts and
    /// a step other than 15 or 60 minutes.
    pub fn from_csv(text: &str) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut rows: Vec<(DateTime<Utc>, i64)> = Vec::new();
        let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        match lines.next() {
            Some((_, h)) if h.trim().replace(' ', "") == "start,price_ct_per_kwh" => {}
            _ => errors.push("line 1: the header must be `start,price_ct_per_kwh`".into()),
        }
        for (i, line) in lines {
            let n = i + 1;
            let Some((t, p)) = line.split_once(',') else {
                errors.push(format!("line {n}: expected `start,price_ct_per_kwh`"));
                continue;
            };
            let t = DateTime::parse_from_rfc3339(t.trim()).map(|t| t.with_timezone(&Utc));
            let p = p.trim().parse::<f64>().ok().and_then(|p| {
                let m = (p * 1000.0).round();
                (p.is_finite() && (p * 1000.0 - m).abs() < 1e-6 && m.abs() < 1e12).then_some(m as i64)
            });
            match (t, p) {
                (Ok(t), Some(p)) => {
                    if rows.last().is_some_and(|(last, _)| *last >= t) {
                        errors.push(format!("line {n}: {t} is not after the row before"));
                    } else {
                        rows.push((t, p));
                    }
                }
                (Err(e), _) => errors.push(format!("line {n}: start is not RFC 3339: {e}")),
                (_, None) => errors.push(format!(
                    "line {n}: price is not a number with at most three decimals"
                )),
            }
        }
        let step = rows
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .min()
            .unwrap_or(TimeDelta::hours(1));
        if step != TimeDelta::minutes(15) && step != TimeDelta::hours(1) {
            errors.push(format!(
                "the step is {} minutes; it must be 15 or 60",
                step.num_minutes()
            ));
        }
        if rows.is_empty() {
            errors.push("no prices".into());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (starts, mct) = rows.into_iter().unzip();
        Ok(Self { starts, mct, step })
    }

    /// An empty series of intervals `step` long (a series filled only from the bus).
    pub fn empty(step: TimeDelta) -> Self {
        Self {
            starts: Vec::new(),
            mct: Vec::new(),
            step,
        }
    }

    /// Merges `rows` (interval start, milli-cent per kWh) of intervals `step` long: a row for a start the
    /// series has replaces its price, others are added. An empty series takes `step`; a series with prices
    /// of another step refuses the whole merge (`Err` with the series' step). Returns how many prices
    /// changed or were added.
    pub fn merge(&mut self, rows: &[(DateTime<Utc>, i64)], step: TimeDelta) -> Result<usize, TimeDelta> {
        if step != self.step {
            if !self.starts.is_empty() {
                return Err(self.step);
            }
            self.step = step;
        }
        let mut changed = 0;
        for &(t, p) in rows {
            match self.starts.binary_search(&t) {
                Ok(i) if self.mct[i] == p => {}
                Ok(i) => {
                    self.mct[i] = p;
                    changed += 1;
                }
                Err(i) => {
                    self.starts.insert(i, t);
                    self.mct.insert(i, p);
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Every interval start with its price (milli-cent per kWh), in order.
    pub fn rows(&self) -> impl Iterator<Item = (DateTime<Utc>, i64)> + '_ {
        self.starts.iter().copied().zip(self.mct.iter().copied())
    }

    /// Number of prices.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether it has no price.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The price at `t` in milli-cent per kWh, if a row covers it.
    pub fn at(&self, t: DateTime<Utc>) -> Option<i64> {
        let i = self.starts.partition_point(|s| *s <= t).checked_sub(1)?;
        (t < self.starts[i] + self.step).then(|| self.mct[i])
    }

    /// The distance between rows (15 or 60 minutes).
    pub fn step(&self) -> TimeDelta {
        self.step
    }
}

/// A price series shared by every tariff (and every clone of one) that holds it, updated in place.
/// Equal when the prices are.
#[derive(Debug, Clone)]
pub struct LivePrices(Arc<RwLock<PriceSeries>>);

impl LivePrices {
    /// A handle on `series`.
    pub fn new(series: PriceSeries) -> Self {
        Self(Arc::new(RwLock::new(series)))
    }

    /// The price at `t` in milli-cent per kWh, if the series covers it.
    pub fn at(&self, t: DateTime<Utc>) -> Option<i64> {
        self.0.read().ok()?.at(t)
    }

    /// The series' step.
    pub fn step(&self) -> TimeDelta {
        self.0.read().map_or(TimeDelta::hours(1), |s| s.step())
    }

    /// [`PriceSeries::merge`] into the shared series.
    pub fn merge(&self, rows: &[(DateTime<Utc>, i64)], step: TimeDelta) -> Result<usize, TimeDelta> {
        let mut s = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        s.merge(rows, step)
    }

    /// A copy of the series as it is now.
    pub fn snapshot(&self) -> PriceSeries {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether both are the same shared series.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl PartialEq for LivePrices {
    fn eq(&self, other: &Self) -> bool {
        self.same(other) || self.snapshot() == other.snapshot()
    }
}
