//! The demand charge (Leistungspreis) of interval-metered customers (RLM): a price per kW and year on the
//! billing year's peak, the highest 15-minute average power.
//!
//! A [`Tariff`] with `demand_eur_per_kw_year` > 0 charges it. The billing year starts on the first of
//! `demand_billing.start_month` (default January) and ends a year later; the peak is measured on the meter
//! operator's quarter-hour grid (:00, :15, :30, :45, in UTC, which is the local quarter-hour grid in every
//! zone whose offset is a multiple of 15 minutes, DST days included), see
//! [`counter::quarter_hours`](crate::counter::quarter_hours).
//!
//! # How a period is charged
//! As German RLM bills show monthly instalments on the annual peak: **every local day of the period costs
//! `peak_kW × price / days of its billing year`** (365 or 366), where `peak_kW` is the highest quarter hour
//! of that billing year up to the end of the period (or now, for a running period) and the price is that
//! of the tariff version valid on the day. So a whole billing year costs exactly `peak × price`, a month
//! its share by days, and a new peak raises the periods from its own on, never the past ones. The peak is
//! taken to the watt (rounded), the price to the milli-euro; the day sums are kept in nano-cents and
//! rounded to the cent once per tariff version and period, and added to its net before VAT, as the
//! Grundpreis is ([`cost`](super::cost)).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{Tariff, milli};

/// When the billing year of the demand charge starts (`demand_billing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandBilling {
    /// Month (1–12) whose first local day starts the billing year; default 1 (January).
    #[serde(default = "january")]
    pub start_month: u32,
}

impl Default for DemandBilling {
    fn default() -> Self {
        Self { start_month: 1 }
    }
}

fn january() -> u32 {
    1
}

impl DemandBilling {
    /// The billing year holding the local `date`: its first day and the first day of the next one.
    pub fn year_of(&self, date: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
        let m = self.start_month.clamp(1, 12);
        let y = if date.month() >= m {
            date.year()
        } else {
            date.year() - 1
        };
        Some((
            NaiveDate::from_ymd_opt(y, m, 1)?,
            NaiveDate::from_ymd_opt(y + 1, m, 1)?,
        ))
    }

    /// Days in the billing year holding `date` (365 or 366).
    pub fn days_of(&self, date: NaiveDate) -> i64 {
        self.year_of(date).map_or(365, |(a, b)| (b - a).num_days())
    }
}

/// The peak that applies to the days of one billing year in a bill: the highest quarter-hour average of
/// that billing year up to the end of the billed period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Peak {
    /// First day of the billing year.
    pub year_start: NaiveDate,
    /// The peak, W (a 15-minute average).
    pub w: f64,
}

/// The demand charge of one tariff version, net nano-cents, for the local `days` (all under it) at the peaks
/// `peaks`; `None` when a day's billing year has no peak (unknown, not 0). A tariff without a demand
/// charge costs `Some(0)`.
pub(crate) fn day_nano_cents(t: &Tariff, day: NaiveDate, peaks: &[Peak]) -> Option<i128> {
    let price = i128::from(milli(t.demand_eur_per_kw_year).unwrap_or(0));
    if price == 0 {
        return Some(0);
    }
    let (start, _) = t.demand_billing.year_of(day)?;
    let peak = peaks.iter().find(|p| p.year_start == start)?;
    let w = peak.w.max(0.0).round() as i128;
    // milli-€ per kW·a × 100 = milli-cent; × 10⁶ = nano-cent; × W / 1000 = per kW; / days of the year.
    Some(price * 100 * 1_000_000 * w / (1000 * i128::from(t.demand_billing.days_of(day))))
}

/// Every problem with a tariff's demand charge, prefixed with `path`: `demand_eur_per_kw_year` not a number
/// ≥ 0 with at most three decimals, `demand_billing.start_month` not 1–12.
pub(crate) fn validate(t: &Tariff, path: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if milli(t.demand_eur_per_kw_year).is_none() {
        errors.push(format!(
            "{path}.demand_eur_per_kw_year: {} must be a number >= 0 with at most three decimals",
            t.demand_eur_per_kw_year
        ));
    }
    if !(1..=12).contains(&t.demand_billing.start_month) {
        errors.push(format!(
            "{path}.demand_billing.start_month: {} must be a month 1 to 12",
            t.demand_billing.start_month
        ));
    }
    errors
}

/// The demand charge of a billing year's peak `w` over a whole billing year, and its share for `days` of a
/// year of `year_days`: net cents, VAT cents, gross cents (VAT on the rounded net), as a bill shows it.
pub fn charge(eur_per_kw_year: f64, vat_percent: f64, w: f64, (days, year_days): (i64, i64)) -> Money {
    let price = i128::from(milli(eur_per_kw_year).unwrap_or(0));
    let w = w.max(0.0).round() as i128;
    let nc = price * 100 * 1_000_000 * w * i128::from(days) / (1000 * i128::from(year_days.max(1)));
    Money::with_vat(super::cost::cents(nc), vat_percent)
}

/// An amount as a bill shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Net cents.
    pub net_cents: i64,
    /// VAT on the net, cents.
    pub vat_cents: i64,
    /// Net plus VAT, cents.
    pub gross_cents: i64,
}

impl Money {
    /// `net_cents` with VAT at `vat_percent` on it, rounded to the cent half away from zero.
    pub fn with_vat(net_cents: i64, vat_percent: f64) -> Self {
        let bp = (vat_percent * 100.0).round() as i128;
        let vat = super::cost::cents(i128::from(net_cents) * bp * 1_000_000_000 / 10_000);
        Self {
            net_cents,
            vat_cents: vat,
            gross_cents: net_cents + vat,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tariff::{Schedule, Tariff};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    fn rlm(price: f64, start_month: u32) -> Tariff {
        let mut t: Tariff = toml::from_str(&format!(
            "id = \"rlm\"\nvalid_from = \"2025-01-01\"\nsites = [\"schule\"]\n\
             demand_eur_per_kw_year = {price}\ndemand_billing = {{ start_month = {start_month} }}\n"
        ))
        .expect("tariff");
        t.vat_percent = 19.0;
        t
    }

    #[test]
    fn billing_years_start_on_their_month_and_count_their_days() {
        let b = DemandBilling { start_month: 10 };
        assert_eq!(
            b.year_of(date(2026, 3, 5)),
            Some((date(2025, 10, 1), date(2026, 10, 1)))
        );
        assert_eq!(
            b.year_of(date(2026, 10, 1)),
            Some((date(2026, 10, 1), date(2027, 10, 1)))
        );
        assert_eq!(b.days_of(date(2026, 3, 5)), 365);
        assert_eq!(b.days_of(date(2027, 12, 5)), 366, "holds 29 February 2028");
        assert_eq!(DemandBilling::default().days_of(date(2028, 6, 1)), 366);
    }

    #[test]
    fn a_whole_year_costs_peak_times_price_and_a_month_its_share_by_days() {
        let tariffs = [rlm(120.0, 1)];
        let id = crate::Id::new("schule").expect("id");
        let s = Schedule::for_site(&tariffs, &id, chrono_tz::Europe::Berlin);
        let peaks = [Peak {
            year_start: date(2026, 1, 1),
            w: 85_432.4,
        }];
        let year: Vec<NaiveDate> = date(2026, 1, 1).iter_days().take(365).collect();
        let b = s.clone().with_peaks(peaks.to_vec()).bill(&[], &year);
        // 85.432 kW × 120 €/kW·a = 10,251.84 €; VAT 19 % = 1,947.85 €.
        assert_eq!(b.demand_net_cents, 1_025_184);
        assert_eq!(b.vat_cents, 194_785);
        assert_eq!(b.gross_cents, 1_025_184 + 194_785);
        let february: Vec<NaiveDate> = date(2026, 2, 1).iter_days().take(28).collect();
        let m = s.with_peaks(peaks.to_vec()).bill(&[], &february);
        // 10,251.84 € × 28 / 365 = 786.442… €.
        assert_eq!(m.demand_net_cents, 78_644);
        assert_eq!(charge(120.0, 19.0, 85_432.4, (28, 365)).net_cents, 78_644);
        assert!(m.priced);
    }

    #[test]
    fn a_day_without_its_billing_years_peak_is_not_priced() {
        let tariffs = [rlm(120.0, 4)];
        let id = crate::Id::new("schule").expect("id");
        let s = Schedule::for_site(&tariffs, &id, chrono_tz::Europe::Berlin).with_peaks(vec![Peak {
            year_start: date(2026, 4, 1),
            w: 10_000.0,
        }]);
        // 31 March belongs to the billing year from 1 April 2025: no peak given.
        let b = s.bill(&[], &[date(2026, 3, 31), date(2026, 4, 1)]);
        assert!(!b.priced);
        // 10 kW × 120 € / 365 for 1 April only.
        assert_eq!(b.demand_net_cents, 329);
        // Without a demand charge nothing is needed.
        let plain = [Tariff {
            demand_eur_per_kw_year: 0.0,
            ..rlm(0.0, 1)
        }];
        let b = Schedule::for_site(&plain, &id, chrono_tz::Europe::Berlin).bill(&[], &[date(2026, 3, 31)]);
        assert!(b.priced);
        assert_eq!(b.demand_net_cents, 0);
    }

    #[test]
    fn every_error_of_the_demand_fields_is_listed() {
        let mut t = rlm(12.3456, 13);
        let errors = validate(&t, "tariffs[0]");
        assert_eq!(
            errors,
            [
                "tariffs[0].demand_eur_per_kw_year: 12.3456 must be a number >= 0 with at most three decimals",
                "tariffs[0].demand_billing.start_month: 13 must be a month 1 to 12",
            ]
        );
        t.demand_eur_per_kw_year = -1.0;
        t.demand_billing.start_month = 0;
        assert_eq!(t.validate("t").len(), 2, "{:?}", t.validate("t"));
        assert!(validate(&rlm(99.5, 10), "t").is_empty());
    }
}
