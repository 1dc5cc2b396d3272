//! The demand charge (Leistungspreis) of a site: net price per kW a year on the billing year's highest
//! 15-minute average, from the site's tariff versions (`demand_eur_per_kw_year`, billing year from
//! `demand_billing`, [`zw_model::tariff::demand`]). A site whose tariffs have none is not watched.

use chrono::NaiveDate;
use zw_model::tariff::DemandBilling;
use zw_model::{Id, Inventory};

/// One tariff version's demand charge for a site.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// First local date it applies to.
    pub from: NaiveDate,
    /// First local date it no longer applies to; `None`: open-ended.
    pub to: Option<NaiveDate>,
    /// Net price per kW of the billing year's peak, a year.
    pub per_kw_year: f64,
    /// ISO 4217 currency.
    pub currency: String,
    /// When its billing year starts.
    pub billing: DemandBilling,
}

impl Rate {
    /// An open-ended rate from `from` with the billing year from January (tests, eval).
    pub fn new(per_kw_year: f64, from: NaiveDate) -> Self {
        Self {
            from,
            to: None,
            per_kw_year,
            currency: "EUR".into(),
            billing: DemandBilling::default(),
        }
    }

    /// The first day of the billing year holding `date`.
    pub fn year_start(&self, date: NaiveDate) -> NaiveDate {
        self.billing.year_of(date).map_or(date, |(s, _)| s)
    }
}

/// The demand-charge versions of `site` (empty: the site has no demand charge).
pub fn rates(inv: &Inventory, site: &Id) -> Vec<Rate> {
    inv.tariffs
        .iter()
        .filter(|t| t.sites.contains(site))
        .filter(|t| t.demand_eur_per_kw_year.is_finite() && t.demand_eur_per_kw_year > 0.0)
        .map(|t| Rate {
            from: t.valid_from,
            to: t.valid_to,
            per_kw_year: t.demand_eur_per_kw_year,
            currency: t.currency.clone(),
            billing: t.demand_billing,
        })
        .collect()
}

/// The rate in force on the local `date`.
pub fn at(rates: &[Rate], date: NaiveDate) -> Option<&Rate> {
    rates
        .iter()
        .find(|r| r.from <= date && r.to.is_none_or(|to| date < to))
}
