//! A dynamic price series: day-ahead spot prices per hour or quarter-hour, read from CSV.
//!
//! Format: a header `start,price_ct_per_kwh`, then one row per interval, `start` in RFC 3339 (e.g.
//! `2026-03-29T01:00:00+01:00` or `…Z`), the price in net ct/kWh (negative prices allowed, at most three
//! decimals). The step (15 or 60 minutes) is the smallest distance between two starts; a row ends one step
//! after its start, and a time no row covers has no price.

use chrono::{DateTime, TimeDelta, Utc};

/// Prices in milli-cent per kWh by interval start, sorted, with one step.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSeries {
    starts: Vec<DateTime<Utc>>,
    mct: Vec<i64>,
    step: TimeDelta,
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
