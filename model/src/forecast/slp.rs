//! The BDEW 2025 standard load profiles H25 (households, dynamic) and G25 (commerce, static), per local hour.
//!
//! Source: the tables `h25.csv` and `g25.csv` in this folder are copied unchanged from oemof/demandlib 0.2.2
//! (MIT, PyPI wheel `demandlib-0.2.2`, `src/demandlib/bdew/bdew_data/`), which carries BDEW's tables of
//! 18 March 2025: kWh per quarter-hour for 12 months × 3 day types (WT weekday, SA Saturday, FT Sunday or
//! holiday), normalised to 1 000 000 kWh a year. Here the four quarter-hours of each hour are summed. H25 is
//! multiplied by BDEW's dynamisation polynomial F(t) of the day of year t. Day types follow BDEW: 24 and
//! 31 December count as Saturday unless they are Sundays. Public holidays are not known here and count as
//! the weekday they fall on.

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// Which standard profile a site without enough history starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slp {
    /// H25, households.
    H25,
    /// G25, commerce and public buildings.
    G25,
}

/// kWh per hour for [month 0–11][day type WT, SA, FT][hour 0–23], normalised to 10⁶ kWh a year.
type Table = [[[f64; 24]; 3]; 12];

fn parse(csv: &str) -> Table {
    let mut t = [[[0.0; 24]; 3]; 12];
    let mut lines = csv.lines();
    let _months = lines.next();
    let types: Vec<usize> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .skip(1)
        .map(|s| match s.trim() {
            "WT" => 0,
            "SA" => 1,
            _ => 2,
        })
        .collect();
    for (q, line) in lines.take(96).enumerate() {
        for (col, v) in line.split(',').skip(1).enumerate() {
            let v: f64 = v.trim().parse().unwrap_or(0.0);
            t[(col / 3).min(11)][types.get(col).copied().unwrap_or(2)][q / 4] += v;
        }
    }
    t
}

fn table(p: Slp) -> &'static Table {
    static H25: OnceLock<Table> = OnceLock::new();
    static G25: OnceLock<Table> = OnceLock::new();
    match p {
        Slp::H25 => H25.get_or_init(|| parse(include_str!("slp/h25.csv"))),
        Slp::G25 => G25.get_or_init(|| parse(include_str!("slp/g25.csv"))),
    }
}

/// BDEW day type index of a date: 0 weekday, 1 Saturday (and 24/31 Dec), 2 Sunday.
fn day_type(d: NaiveDate) -> usize {
    match d.weekday() {
        Weekday::Sun => 2,
        Weekday::Sat => 1,
        _ if d.month() == 12 && (d.day() == 24 || d.day() == 31) => 1,
        _ => 0,
    }
}

/// H25's dynamisation factor for day of year `t`.
fn dynamisation(t: f64) -> f64 {
    -3.92e-10 * t.powi(4) + 3.2e-7 * t.powi(3) - 7.02e-5 * t.powi(2) + 2.1e-3 * t + 1.24
}

impl Slp {
    /// Relative energy of local hour `hour` (0–23) on `date` (kWh at 10⁶ kWh a year).
    pub fn hour(self, date: NaiveDate, hour: u32) -> f64 {
        let base = table(self)[date.month0() as usize][day_type(date)][hour.min(23) as usize];
        match self {
            Slp::H25 => base * dynamisation(f64::from(date.ordinal())),
            Slp::G25 => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_of_g25_is_about_a_million_kwh() {
        let mut sum = 0.0;
        let mut d = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
        while d.year() == 2025 {
            sum += (0..24).map(|h| Slp::G25.hour(d, h)).sum::<f64>();
            d = d.succ_opt().expect("date");
        }
        assert!((sum / 1e6 - 1.0).abs() < 0.02, "{sum}");
    }

    #[test]
    fn h25_evenings_use_more_than_nights() {
        let d = NaiveDate::from_ymd_opt(2026, 1, 14).expect("date");
        assert!(Slp::H25.hour(d, 19) > 2.0 * Slp::H25.hour(d, 3));
    }
}
