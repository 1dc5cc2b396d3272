//! Daily mean outdoor temperatures from CSV, and the Gradtagzahl G20/15 of a span of days.
//!
//! Two layouts are read, told apart by the header:
//! - `date,temp_c`: one local date (`YYYY-MM-DD`) and the daily mean in °C per line; the header line is
//!   optional (before the first day), `#` starts a comment line.
//! - The German Weather Service's daily station data (`produkt_klima_tag_*.txt` of
//!   `CDC/observations_germany/climate/daily/kl`): `;`-separated, header with `MESS_DATUM` (`YYYYMMDD`) and
//!   `TMK` (daily mean, °C); `-999` marks a missing value, which stays missing.
//!
//! A span's degree days are known only when every one of its days has a temperature (a missing day is
//! missing, not 0 °C and not a warm day): [`Temperatures::degree_days`] says how many are missing.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::forecast::degree_days::{BASE_C, INSIDE_C, heating_degree_days};

/// Why a temperature CSV cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemperatureError {
    /// A line does not hold a date and a temperature.
    #[error("line {line}: {reason}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The same date appears twice.
    #[error("line {line}: {date} appears twice")]
    Duplicate {
        /// 1-based line number of the second one.
        line: usize,
        /// The date.
        date: NaiveDate,
    },
    /// The DWD header lacks `MESS_DATUM` or `TMK`.
    #[error("the header names no {0} column")]
    Column(&'static str),
}

/// Daily mean temperatures by local date, °C.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Temperatures(BTreeMap<NaiveDate, f64>);

/// Degree days of a span that lacks some days' temperatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{missing} of {days} days have no temperature")]
pub struct MissingDays {
    /// Days without a temperature.
    pub missing: usize,
    /// Days in the span.
    pub days: usize,
}

impl Temperatures {
    /// Temperatures from `(date, °C)` pairs.
    pub fn from_days(days: impl IntoIterator<Item = (NaiveDate, f64)>) -> Self {
        Self(days.into_iter().collect())
    }

    /// Reads either layout (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, TemperatureError> {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        if first.contains("MESS_DATUM") {
            Self::parse_dwd(text, first)
        } else {
            Self::parse_simple(text)
        }
    }

    fn insert(&mut self, line: usize, date: NaiveDate, t: f64) -> Result<(), TemperatureError> {
        if self.0.insert(date, t).is_some() {
            return Err(TemperatureError::Duplicate { line, date });
        }
        Ok(())
    }

    fn parse_simple(text: &str) -> Result<Self, TemperatureError> {
        let mut out = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let (line, l) = (i + 1, raw.trim());
            if l.is_empty() || l.starts_with('#') || (out.is_empty() && l.starts_with("date")) {
                continue;
            }
            let bad = |reason: String| TemperatureError::Line { line, reason };
            let (d, t) = l
                .split_once(',')
                .ok_or_else(|| bad(format!("{l:?} is not `date,temp_c`")))?;
            let date = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .map_err(|_| bad(format!("{:?} is not a date YYYY-MM-DD", d.trim())))?;
            let t: f64 = t
                .trim()
                .parse()
                .ok()
                .filter(|t: &f64| t.is_finite() && (-90.0..=60.0).contains(t))
                .ok_or_else(|| bad(format!("{:?} is not a temperature in °C", t.trim())))?;
            out.insert(line, date, t)?;
        }
        Ok(out)
    }

    fn parse_dwd(text: &str, header: &str) -> Result<Self, TemperatureError> {
        let cols: Vec<&str> = header.split(';').map(str::trim).collect();
        let at = |name: &'static str| {
            cols.iter()
                .position(|c| *c == name)
                .ok_or(TemperatureError::Column(name))
        };
        let (d_col, t_col) = (at("MESS_DATUM")?, at("TMK")?);
        let mut out = Self::default();
        for (i, raw) in text.lines().enumerate().skip(1) {
            let (line, l) = (i + 1, raw.trim());
            if l.is_empty() {
                continue;
            }
            let bad = |reason: String| TemperatureError::Line { line, reason };
            let f: Vec<&str> = l.split(';').map(str::trim).collect();
            let (Some(d), Some(t)) = (f.get(d_col), f.get(t_col)) else {
                return Err(bad(format!("fewer than {} fields", d_col.max(t_col) + 1)));
            };
            let date = NaiveDate::parse_from_str(d, "%Y%m%d")
                .map_err(|_| bad(format!("MESS_DATUM {d:?} is not YYYYMMDD")))?;
            let t: f64 = t.parse().map_err(|_| bad(format!("TMK {t:?} is not a number")))?;
            if t <= -999.0 {
                continue;
            }
            out.insert(line, date, t)?;
        }
        Ok(out)
    }

    /// Number of days with a temperature.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no day has a temperature.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The Gradtagzahl G20/15 (VDI 3807) of the days `from..to` (end exclusive), K·d; an error when a day
    /// has no temperature.
    pub fn degree_days(&self, from: NaiveDate, to: NaiveDate) -> Result<f64, MissingDays> {
        let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d < to).collect();
        let temps: Vec<f64> = days.iter().filter_map(|d| self.0.get(d).copied()).collect();
        if temps.len() < days.len() {
            return Err(MissingDays {
                missing: days.len() - temps.len(),
                days: days.len(),
            });
        }
        Ok(heating_degree_days(&temps, BASE_C, INSIDE_C))
    }
}
