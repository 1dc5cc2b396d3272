//! A household's monthly advance payment (Abschlag, `[[advance_payments]]`): what it pays its supplier each
//! month of a calendar year ahead of the yearly bill, so the projected bill can be set against it ("you will
//! get back about 40 €" or "you will pay about 60 € extra").
//!
//! One entry per site and year: the gross amount per payment in the tariff's currency and how many payments
//! the year has (12 by default; some suppliers collect 11, a household that moved in mid-year fewer).

use serde::{Deserialize, Serialize};

use crate::{Id, Site, SiteKind};

/// A site's advance payments in one calendar year (`[[advance_payments]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvancePayment {
    /// The household (or business) paying.
    pub site: Id,
    /// Calendar year.
    pub year: i32,
    /// Gross amount of one payment, in the tariff's currency; at least 0.
    pub gross_per_month: f64,
    /// Number of payments in the year, 1 to 12; default 12.
    #[serde(default = "twelve")]
    pub months: u8,
}

fn twelve() -> u8 {
    12
}

impl AdvancePayment {
    /// What the year's payments add up to, gross.
    pub fn year_total(&self) -> f64 {
        self.gross_per_month * f64::from(self.months)
    }
}

/// The advance payments of `site` in `year`, if any.
pub fn for_year<'a>(payments: &'a [AdvancePayment], site: &str, year: i32) -> Option<&'a AdvancePayment> {
    payments
        .iter()
        .find(|p| p.site.as_str() == site && p.year == year)
}

/// Every problem with the advance payments, each prefixed with `advance_payments[i]`: an unknown site, a
/// site that is neither a household nor a business, an amount that is negative or not finite, a number of
/// months outside 1–12, a year outside 2000–2100, and a second entry for the same site and year.
pub fn validate(payments: &[AdvancePayment], sites: &[Site]) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, p) in payments.iter().enumerate() {
        let path = format!("advance_payments[{i}]");
        match sites.iter().find(|s| s.id == p.site) {
            None => errors.push(format!("{path}.site: unknown site {:?}", p.site.as_str())),
            Some(s) if !matches!(s.kind, SiteKind::Household | SiteKind::Business) => errors.push(format!(
                "{path}.site: site {:?} is no household or business",
                p.site.as_str()
            )),
            Some(_) => {}
        }
        if !(p.gross_per_month.is_finite() && p.gross_per_month >= 0.0) {
            errors.push(format!(
                "{path}.gross_per_month: {} is not an amount of at least 0",
                p.gross_per_month
            ));
        }
        if !(1..=12).contains(&p.months) {
            errors.push(format!("{path}.months: {} is not 1 to 12", p.months));
        }
        if !(2000..=2100).contains(&p.year) {
            errors.push(format!("{path}.year: {} is implausible", p.year));
        }
        if payments[..i].iter().any(|o| o.site == p.site && o.year == p.year) {
            errors.push(format!(
                "{path}: a second entry for site {:?} and year {}",
                p.site.as_str(),
                p.year
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(site: &str, year: i32, gross: f64, months: u8) -> AdvancePayment {
        AdvancePayment {
            site: Id::new(site).expect("id"),
            year,
            gross_per_month: gross,
            months,
        }
    }

    #[test]
    fn the_year_adds_up_and_is_found_by_site_and_year() {
        let p = [payment("hh-1", 2026, 85.0, 12), payment("hh-1", 2027, 90.0, 11)];
        assert_eq!(p[0].year_total(), 1020.0);
        assert_eq!(p[1].year_total(), 990.0);
        assert_eq!(for_year(&p, "hh-1", 2027), Some(&p[1]));
        assert_eq!(for_year(&p, "hh-1", 2025), None);
        assert_eq!(for_year(&p, "hh-2", 2026), None);
        let parsed: AdvancePayment =
            toml::from_str("site = \"hh-1\"\nyear = 2026\ngross_per_month = 85.0").expect("toml");
        assert_eq!(parsed.months, 12, "twelve payments by default");
    }

    #[test]
    fn every_problem_is_listed() {
        let sites = [
            Site::new("hh-1", SiteKind::Household, []),
            Site::new("rathaus", SiteKind::Building, []),
        ];
        assert!(validate(&[payment("hh-1", 2026, 85.0, 12)], &sites).is_empty());
        let errors = validate(
            &[
                payment("hh-9", 2026, 85.0, 12),
                payment("rathaus", 2026, 85.0, 12),
                payment("hh-1", 2026, -1.0, 0),
                payment("hh-1", 2026, f64::NAN, 13),
                payment("hh-1", 1900, 10.0, 12),
            ],
            &sites,
        );
        let expected = [
            "advance_payments[0].site: unknown site",
            "advance_payments[1].site: site \"rathaus\" is no household",
            "advance_payments[2].gross_per_month: -1",
            "advance_payments[2].months: 0",
            "advance_payments[3].gross_per_month: NaN",
            "advance_payments[3].months: 13",
            "advance_payments[3]: a second entry",
            "advance_payments[4].year: 1900",
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (e, want) in errors.iter().zip(expected) {
            assert!(e.starts_with(want), "{e:?} does not start with {want:?}");
        }
    }
}
