//! Tariffs as a German bill shows them, and the cost of metered energy (or water) under them.
//!
//! A tariff prices one [`Medium`] (`medium`, default electricity): electricity, heat and gas per kWh (gas on
//! the kWh of the DVGW conversion, [`crate::counter::gas`]), water per m³ (`ct_per_m3`). Feed-in and the
//! demand charge are electricity's only; a water tariff has no kWh price, windows or dynamic prices.
//!
//! A [`Tariff`] (`[[tariffs]]` in the config) is one price sheet valid from a local date (inclusive) to an
//! optional local date (exclusive) for the sites it names. A price change is a new entry with a later
//! `valid_from`, so the costs of past periods never change. Its components:
//!
//! - Arbeitspreis `energy_ct_per_kwh` (net ct/kWh);
//! - Grundpreis `base_eur_per_month` (net €/month), prorated by day: each local day costs 1/28 … 1/31 of it;
//! - time-of-use `windows`: weekdays and a local wall-clock window (Europe/Berlin or the configured zone, so
//!   a window follows the clock across DST), each with its own price; the first matching window wins, else
//!   the Arbeitspreis. A window with `holidays = "DE"` (the nationwide holidays) or a state code such as
//!   `holidays = "NW"` (that Land's, [`crate::holidays`]: all 16 states) also applies on those public
//!   holidays, whatever their weekday (as on Sundays): on a holiday such windows are tried first;
//! - a `dynamic` price series (day-ahead hourly or 15-minute prices from a CSV and/or received on the bus
//!   as the named `series`, [`prices`], [`message`]) plus a fixed markup, which replaces the Arbeitspreis
//!   where it has a price;
//! - `feed_in_ct_per_kwh` credited for exported energy (`energy_export`), shown without VAT;
//! - `vat_percent` (default 19 %): net and gross are both shown;
//! - Leistungspreis `demand_eur_per_kw_year` (net €/kW/a) on the billing year's highest 15-minute average
//!   power, its year starting in `demand_billing.start_month` ([`demand`]: how a period is charged).
//!
//! [`cost`] prices energy interval by interval (15-minute, hourly or daily counter deltas) with the tariff
//! valid on each interval's local date and the price at its start. All money is integer: prices are read to
//! the milli-cent, energy to the milli-Wh, sums kept in nano-cents and rounded to the cent once per tariff
//! and period (net, then VAT on the rounded net), so nothing drifts with the number of intervals.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::Id;
use crate::report::Medium;

pub mod cost;
pub mod demand;
pub mod message;
pub mod prices;
#[cfg(test)]
mod tests;

pub use cost::{Bill, Interval, Schedule, TariffLine};
pub use demand::{DemandBilling, Peak};
pub use message::{PriceMessage, PriceMessageError};
pub use prices::{LivePrices, PriceSeries};

/// Default VAT rate on electricity in Germany, percent.
pub const DEFAULT_VAT_PERCENT: f64 = 19.0;

/// One tariff version (`[[tariffs]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tariff {
    /// Tariff id, shown in cost reports (several versions of one tariff may share it).
    pub id: Id,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// First local date it applies to (a TOML date `2026-01-01` or a string).
    #[serde(deserialize_with = "dates::one")]
    pub valid_from: NaiveDate,
    /// First local date it no longer applies to; absent: open-ended.
    #[serde(default, deserialize_with = "dates::optional")]
    pub valid_to: Option<NaiveDate>,
    /// The sites it applies to; two versions of one medium for one site must not overlap in time.
    #[serde(default)]
    pub sites: Vec<Id>,
    /// What it prices: `electricity` (default), `heat`, `gas` (per kWh after the DVGW conversion) or
    /// `water` (per m³, `ct_per_m3`).
    #[serde(default)]
    pub medium: Medium,
    /// Water price, net ct/m³, at most three decimals (water tariffs only); default 0.
    #[serde(default)]
    pub ct_per_m3: f64,
    /// ISO 4217 currency code; default `EUR`.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// VAT rate in percent, 0–100; default 19.
    #[serde(default = "default_vat")]
    pub vat_percent: f64,
    /// Arbeitspreis, net ct/kWh, at most three decimals; default 0.
    #[serde(default)]
    pub energy_ct_per_kwh: f64,
    /// Grundpreis, net €/month, prorated by day; default 0.
    #[serde(default)]
    pub base_eur_per_month: f64,
    /// Feed-in payment, ct/kWh exported; default 0.
    #[serde(default)]
    pub feed_in_ct_per_kwh: f64,
    /// Time-of-use windows, first match wins (on a public holiday those applying on holidays first);
    /// default none.
    #[serde(default)]
    pub windows: Vec<Window>,
    /// Dynamic prices; default none.
    #[serde(default)]
    pub dynamic: Option<Dynamic>,
    /// Leistungspreis, net €/kW per billing year on the year's peak 15-minute average, at most three
    /// decimals; default 0 (no demand charge). See [`demand`].
    #[serde(default)]
    pub demand_eur_per_kw_year: f64,
    /// The demand charge's billing year; default from January.
    #[serde(default)]
    pub demand_billing: DemandBilling,
}

/// A time-of-use window: on `days`, local time `from` (inclusive) to `to` (exclusive), `HH:MM`; a window with
/// `to` ≤ `from` runs past midnight (its start day decides); `to = "24:00"` is midnight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Weekdays, `mon` … `sun`; empty: every day.
    #[serde(default)]
    pub days: Vec<Day>,
    /// Local start, `HH:MM`.
    pub from: String,
    /// Local end, `HH:MM` (exclusive).
    pub to: String,
    /// Net price in the window, ct/kWh.
    pub ct_per_kwh: f64,
    /// The public holidays it also applies on, whatever their weekday, as on Sundays: `"DE"` (the
    /// nationwide ones) or a state code (`"NW"`, `"BY"`, …: nationwide plus the Land's,
    /// [`crate::holidays::Calendar`]); default none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holidays: Option<crate::holidays::Calendar>,
}

/// A weekday in a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(w: Weekday) -> Self {
        [
            Self::Mon,
            Self::Tue,
            Self::Wed,
            Self::Thu,
            Self::Fri,
            Self::Sat,
            Self::Sun,
        ][w.num_days_from_monday() as usize]
    }
}

/// Dynamic prices: a series of net spot prices from a CSV file and/or received on the bus, plus a fixed
/// markup (grid fees, levies, margin). The config loader reads the file into `prices`; the API merges the
/// bus's messages for `series` into it ([`message`]). At least one of `csv` and `series` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dynamic {
    /// CSV file with a header `start,price_ct_per_kwh` and one row per hour or quarter-hour (`start` in
    /// RFC 3339), see [`PriceSeries::from_csv`]; relative paths are relative to the working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<std::path::PathBuf>,
    /// The series' name on the bus (`zw/v1/prices/{series}`, e.g. `epex-de-lu`): an id (lower-case letters,
    /// digits, `-`, `_`, `.`); tariffs naming one series share its prices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<crate::Id>,
    /// Added to every spot price, net ct/kWh; default 0.
    #[serde(default)]
    pub markup_ct_per_kwh: f64,
    /// The prices: read from `csv` by the config loader (or set by tests), merged with the bus's by the
    /// API; shared by every clone of the tariff.
    #[serde(skip)]
    pub prices: Option<LivePrices>,
}

/// A site's consumption budget of one medium for one calendar year (`[[budgets]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// The site.
    pub site: Id,
    /// Calendar year.
    pub year: i32,
    /// The medium budgeted: `electricity` (default), `heat`, `gas` or `water` (checked against the site's
    /// meters and gas conversions by [`crate::forecast::media::validate_budgets`]).
    #[serde(default)]
    pub medium: Medium,
    /// Energy budget, kWh imported (electricity, heat, gas through its calorific value); optional.
    #[serde(default)]
    pub kwh: Option<f64>,
    /// Volume budget, m³ (gas, water); optional.
    #[serde(default)]
    pub m3: Option<f64>,
    /// Cost budget, gross, in the tariff's currency; optional.
    #[serde(default)]
    pub gross: Option<f64>,
}

/// Dates written as TOML dates (`valid_from = 2026-01-01`, which the TOML reader hands over as a one-entry
/// map) or as strings.
pub(crate) mod dates {
    use chrono::NaiveDate;
    use serde::Deserializer;
    use serde::de::{Error, MapAccess, Visitor};

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = NaiveDate;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a date like 2026-01-01")
        }

        fn visit_str<E: Error>(self, s: &str) -> Result<NaiveDate, E> {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
                .map_err(|_| E::custom(format!("{s:?} is not a date like 2026-01-01")))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NaiveDate, A::Error> {
            let Some((_, v)) = map.next_entry::<String, String>()? else {
                return Err(A::Error::custom("expected a date like 2026-01-01"));
            };
            self.visit_str(&v)
        }
    }

    pub fn one<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
        d.deserialize_any(V)
    }

    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
        d.deserialize_any(V).map(Some)
    }
}

fn default_currency() -> String {
    "EUR".into()
}

fn default_vat() -> f64 {
    DEFAULT_VAT_PERCENT
}

/// `x` (ct or €) in thousandths, if it is a finite number ≥ 0 with at most three decimals.
pub(crate) fn milli(x: f64) -> Option<i64> {
    let m = (x * 1000.0).round();
    (x.is_finite() && x >= 0.0 && m < 1e15 && (x * 1000.0 - m).abs() < 1e-6).then_some(m as i64)
}

/// Minutes after midnight of `HH:MM` (`24:00` allowed).
pub(crate) fn minutes(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

impl Window {
    /// Whether `date` is one of the public holidays the window also applies on.
    pub(crate) fn on_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.is_some_and(|c| c.is_holiday(date))
    }

    /// Whether the local date and minute of day fall in the window (on one of its `holidays` it is on,
    /// whatever the weekday).
    pub(crate) fn contains(&self, date: NaiveDate, minute: u32) -> bool {
        let (Some(from), Some(to)) = (minutes(&self.from), minutes(&self.to)) else {
            return false;
        };
        let on = |d: NaiveDate| {
            self.days.is_empty() || self.days.contains(&Day::of(d.weekday())) || self.on_holiday(d)
        };
        let yesterday = date.pred_opt().unwrap_or(date);
        if from < to {
            on(date) && (from..to).contains(&minute)
        } else {
            (on(date) && minute >= from) || (on(yesterday) && minute < to)
        }
    }
}

impl Tariff {
    /// Whether it applies on the local `date`.
    pub fn valid_on(&self, date: NaiveDate) -> bool {
        date >= self.valid_from && self.valid_to.is_none_or(|to| date < to)
    }

    /// Every problem with this tariff, each prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        let mut price = |name: &str, x: f64| {
            if milli(x).is_none() {
                errors.push(format!(
                    "{path}.{name}: {x} must be a number >= 0 with at most three decimals"
                ));
            }
        };
        price("energy_ct_per_kwh", self.energy_ct_per_kwh);
        price("base_eur_per_month", self.base_eur_per_month);
        price("feed_in_ct_per_kwh", self.feed_in_ct_per_kwh);
        price("ct_per_m3", self.ct_per_m3);
        for (i, w) in self.windows.iter().enumerate() {
            price(&format!("windows[{i}].ct_per_kwh"), w.ct_per_kwh);
        }
        if let Some(d) = &self.dynamic {
            price("dynamic.markup_ct_per_kwh", d.markup_ct_per_kwh);
        }
        if self
            .dynamic
            .as_ref()
            .is_some_and(|d| d.csv.is_none() && d.series.is_none())
        {
            errors.push(format!(
                "{path}.dynamic: needs a csv file or a series received on the bus (or both)"
            ));
        }
        errors.extend(demand::validate(self, path));
        errors.extend(self.validate_medium(path));
        if !(0.0..=100.0).contains(&self.vat_percent) || milli(self.vat_percent / 100.0).is_none() {
            errors.push(format!(
                "{path}.vat_percent: {} must be 0 to 100 with at most one decimal",
                self.vat_percent
            ));
        }
        if self.valid_to.is_some_and(|to| to <= self.valid_from) {
            errors.push(format!(
                "{path}.valid_to: must be after valid_from {}",
                self.valid_from
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            errors.push(format!(
                "{path}.currency: {:?} is not an ISO 4217 code like \"EUR\"",
                self.currency
            ));
        }
        for (i, w) in self.windows.iter().enumerate() {
            for (name, v) in [("from", &w.from), ("to", &w.to)] {
                if minutes(v).is_none() {
                    errors.push(format!(
                        "{path}.windows[{i}].{name}: {v:?} is not a time HH:MM (00:00 to 24:00)"
                    ));
                }
            }
            if minutes(&w.from).is_some() && minutes(&w.from) == minutes(&w.to) {
                errors.push(format!("{path}.windows[{i}]: from and to are equal"));
            }
        }
        errors
    }

    /// The unit of the price follows the medium: feed-in and demand charge for electricity only, `ct_per_m3`
    /// for water only, which has no kWh price, windows or dynamic prices.
    fn validate_medium(&self, path: &str) -> Vec<String> {
        let m = self.medium.name();
        let mut errors = Vec::new();
        let mut not = |cond: bool, field: &str, why: &str| {
            if cond {
                errors.push(format!("{path}.{field}: not for a {m} tariff ({why})"));
            }
        };
        let electricity = self.medium == Medium::Electricity;
        let water = self.medium == Medium::Water;
        not(
            !electricity && self.feed_in_ct_per_kwh > 0.0,
            "feed_in_ct_per_kwh",
            "electricity only",
        );
        not(
            !electricity && self.demand_eur_per_kw_year > 0.0,
            "demand_eur_per_kw_year",
            "electricity only",
        );
        not(
            !water && self.ct_per_m3 > 0.0,
            "ct_per_m3",
            "water only; priced per kWh: energy_ct_per_kwh",
        );
        not(
            water && self.energy_ct_per_kwh > 0.0,
            "energy_ct_per_kwh",
            "water is priced per m³: ct_per_m3",
        );
        not(
            water && !self.windows.is_empty(),
            "windows",
            "water is priced per m³: ct_per_m3",
        );
        not(
            water && self.dynamic.is_some(),
            "dynamic",
            "water is priced per m³: ct_per_m3",
        );
        errors
    }

    /// Days in the month of `date` (for the Grundpreis per day).
    pub(crate) fn days_in_month(date: NaiveDate) -> i64 {
        let (y, m) = (date.year(), date.month());
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        };
        next.map_or(30, |n| (n - date.with_day(1).unwrap_or(date)).num_days())
    }
}

/// Every problem with the tariffs and budgets against the inventory's sites (`tariffs[i]…`, `budgets[i]…`):
/// each tariff's own problems, unknown sites, and two versions of one medium overlapping for one site.
pub fn validate(tariffs: &[Tariff], budgets: &[Budget], sites: &[crate::Site]) -> Vec<String> {
    let mut errors = Vec::new();
    let known = |id: &Id| sites.iter().any(|s| &s.id == id);
    for (i, t) in tariffs.iter().enumerate() {
        let path = format!("tariffs[{i}]");
        errors.extend(t.validate(&path));
        for (k, s) in t.sites.iter().enumerate() {
            if !known(s) {
                errors.push(format!("{path}.sites[{k}]: unknown site {:?}", s.as_str()));
            }
        }
        for (j, u) in tariffs.iter().enumerate().take(i) {
            let end = |t: &Tariff| t.valid_to.unwrap_or(NaiveDate::MAX);
            let overlap = t.medium == u.medium && t.valid_from < end(u) && u.valid_from < end(t);
            if let Some(s) = t.sites.iter().find(|s| u.sites.contains(s)).filter(|_| overlap) {
                errors.push(format!(
                    "{path}: overlaps tariffs[{j}] ({:?}) for site {:?} and {}; give one a valid_to",
                    u.id.as_str(),
                    s.as_str(),
                    t.medium.name()
                ));
            }
        }
    }
    for (i, b) in budgets.iter().enumerate() {
        let path = format!("budgets[{i}]");
        if !known(&b.site) {
            errors.push(format!("{path}.site: unknown site {:?}", b.site.as_str()));
        }
        if !(1970..=2200).contains(&b.year) {
            errors.push(format!("{path}.year: {} is implausible", b.year));
        }
        for (name, v) in [("kwh", b.kwh), ("m3", b.m3), ("gross", b.gross)] {
            if v.is_some_and(|v| !v.is_finite() || v <= 0.0) {
                errors.push(format!("{path}.{name}: must be a number > 0"));
            }
        }
        if b.kwh.is_none() && b.m3.is_none() && b.gross.is_none() {
            errors.push(format!("{path}: needs kwh or gross (or m3 for gas and water)"));
        }
        if budgets[..i]
            .iter()
            .any(|o| o.site == b.site && o.year == b.year && o.medium == b.medium)
        {
            errors.push(format!(
                "{path}: a second {} budget for site {:?} and year {}",
                b.medium.name(),
                b.site.as_str(),
                b.year
            ));
        }
    }
    errors
}
