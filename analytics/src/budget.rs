//! Budget alerts: a site's yearly budget of a medium (`[[budgets]]`, energy in kWh, volume in m³ for gas
//! and water, and/or gross cost) against the medium's year-end forecast (measured so far plus the forecast of the rest, with its p10–p90 band, as
//! `GET /api/v1/sites/{id}/forecast` computes it).
//!
//! [`BudgetWatch::evaluate`] is pure, with the time injected: it raises an alert of kind `budget` on the
//! site while the year-end forecast exceeds a budget of that year, saying by how much, and clears it when
//! the forecast no longer does (or when the budget's year has ended: the year's bill is then known). It is
//! critical when the budget is exceeded even at the band's lower end, else a warning. The forecasts come
//! from InfluxDB every hour ([`history`]).
//!
//! Each medium has its own alert: an electricity budget's is about the whole site, a heat, gas or water
//! budget's names the site's meter of the medium (the first by id when it has several), and its baseline
//! the medium ("2026 heat budget of site …"), which is how a restart re-arms it ([`BudgetWatch::restore`]).

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Utc};
use zw_model::Id;
use zw_model::alert::{Alert, AlertKind, Explanation, Severity, Subject};
use zw_model::report::Medium;
use zw_model::tariff::Budget;

use crate::explain::{Change, Signal};

pub mod history;

/// A site's year-end forecast of one medium.
#[derive(Debug, Clone, PartialEq)]
pub struct YearEnd {
    /// Calendar year.
    pub year: i32,
    /// The medium forecast.
    pub medium: Medium,
    /// Projected energy, kWh, and the band's lower end; `None` for water and for gas without a
    /// calorific value.
    pub kwh: Option<(f64, f64)>,
    /// Projected volume, m³, and the band's lower end (gas and water).
    pub m3: Option<(f64, f64)>,
    /// Projected gross cost, and the band's lower end; `None` when not priced.
    pub gross: Option<(f64, f64)>,
    /// Currency of `gross`.
    pub currency: String,
    /// The meter a heat, gas or water budget's alert names; `None` for electricity (the whole site).
    pub meter: Option<Id>,
}

/// Which budgets are exceeded, remembered so that a clear is said once.
#[derive(Debug, Clone, Default)]
pub struct BudgetWatch {
    open: HashSet<(Id, i32, Medium)>,
}

/// One budget against its projection: `(budget, projected, lower end, unit)`.
type Line = (f64, f64, f64, String);

impl BudgetWatch {
    /// An empty watch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Re-arms a budget alert that was open before a restart: its year and medium from its baseline
    /// ("2026 budget of site …", "2026 gas budget of site …"; the year it began without one). Always true.
    pub fn restore(&mut self, a: &Alert) -> bool {
        let mut words = a.explanation.baseline.split(' ');
        let year = words.next().and_then(|y| y.parse().ok());
        let medium = words
            .next()
            .and_then(|m| Medium::ALL.into_iter().find(|x| x.name() == m))
            .unwrap_or_default();
        let year = year.unwrap_or(a.explanation.since.year());
        self.open.insert((a.site.clone(), year, medium));
        true
    }

    /// Forgets `site`'s open budgets (its detectors moved to another instance, [`crate::partition`]).
    pub fn forget(&mut self, site: &Id) {
        self.open.retain(|(s, _, _)| s != site);
    }

    /// The signal for `budget` given the site's year-end forecast `f` (of the budget's year) at `now`:
    /// a raise while some budget is exceeded (refreshing the figures), a clear once none is, nothing when
    /// within budget and no alert is open.
    pub fn evaluate(&mut self, budget: &Budget, f: &YearEnd, now: DateTime<Utc>) -> Option<Signal> {
        if f.medium != budget.medium {
            return None;
        }
        let key = (budget.site.clone(), budget.year, budget.medium);
        let signal = |change| Signal {
            kind: AlertKind::Budget,
            site: budget.site.clone(),
            subject: Subject {
                device: f.meter.clone(),
                tree: None,
            },
            at: now,
            change,
        };
        let name = match budget.medium {
            Medium::Electricity => format!("{} budget", budget.year),
            m => format!("{} {} budget", budget.year, m.name()),
        };
        let mut over: Vec<Line> = Vec::new();
        if f.year == budget.year {
            if let (Some(b), Some(k)) = (budget.kwh, f.kwh)
                && k.0 > b
            {
                over.push((b, k.0, k.1, "kWh".into()));
            }
            if let (Some(b), Some(v)) = (budget.m3, f.m3)
                && v.0 > b
            {
                over.push((b, v.0, v.1, "m³".into()));
            }
            if let (Some(b), Some(g)) = (budget.gross, f.gross)
                && g.0 > b
            {
                over.push((b, g.0, g.1, f.currency.clone()));
            }
        }
        // The cost line first when both are over: it is what the budget holder is asked about.
        over.reverse();
        let Some((b, projected, low, unit)) = over.first().cloned() else {
            return self.open.remove(&key).then(|| {
                signal(Change::Clear {
                    reason: if f.year == budget.year {
                        format!("the year-end forecast is within the {name} again")
                    } else {
                        format!("the budget's year {} has ended", budget.year)
                    },
                })
            });
        };
        self.open.insert(key);
        let by = projected - b;
        let severity = if over.iter().any(|l| l.2 > l.0) {
            Severity::Critical
        } else {
            Severity::Warning
        };
        let also = over
            .get(1)
            .map(|l| {
                format!(
                    "; {} over the {} budget too",
                    amount(l.1 - l.0, &l.3),
                    amount(l.0, &l.3)
                )
            })
            .unwrap_or_default();
        Some(signal(Change::Raise {
            severity,
            explanation: Explanation {
                observed: round2(projected),
                expected: round2(b),
                threshold: round2(b),
                unit: unit.clone(),
                baseline: format!("{name} of site {}", budget.site),
                since: now,
                text: format!(
                    "year-end forecast {}, {} ({:.0} %) above the {name} of {}{}{also}",
                    amount(projected, &unit),
                    amount(by, &unit),
                    100.0 * by / b.max(f64::MIN_POSITIVE),
                    amount(b, &unit),
                    if low > b {
                        format!(
                            " (even the forecast's lower end, {}, exceeds it)",
                            amount(low, &unit)
                        )
                    } else {
                        String::new()
                    }
                ),
            },
        }))
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// "1,234 kWh", "1,234 m³", "1,234.56 EUR".
fn amount(x: f64, unit: &str) -> String {
    let digits = if unit == "kWh" || unit == "m³" { 0 } else { 2 };
    let s = format!("{:.*}", digits, x.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped} {unit}")
    } else {
        format!("{sign}{grouped}.{frac} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn budget(kwh: Option<f64>, gross: Option<f64>) -> Budget {
        Budget {
            site: Id::new("rathaus").expect("id"),
            year: 2026,
            medium: Default::default(),
            kwh,
            m3: None,
            gross,
        }
    }

    fn year_end(kwh: f64, gross: f64) -> YearEnd {
        YearEnd {
            year: 2026,
            medium: Medium::Electricity,
            kwh: Some((kwh, kwh * 0.95)),
            m3: None,
            gross: Some((gross, gross * 0.95)),
            currency: "EUR".into(),
            meter: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 10, 1, 6, 0, 0).single().expect("time")
    }

    #[test]
    fn raises_with_the_excess_then_clears_once_within() {
        let mut w = BudgetWatch::new();
        let b = budget(None, Some(10_000.0));
        assert_eq!(
            w.evaluate(&b, &year_end(50_000.0, 9_000.0), now()),
            None,
            "within"
        );
        let s = w
            .evaluate(&b, &year_end(50_000.0, 10_400.0), now())
            .expect("raised");
        assert_eq!(s.kind, AlertKind::Budget);
        assert_eq!(s.site.as_str(), "rathaus");
        assert_eq!(s.subject, Subject::default(), "a whole-site alert");
        let Change::Raise {
            severity,
            explanation,
        } = s.change
        else {
            panic!("a raise: {s:?}")
        };
        // The lower end (9,880) is within: a warning, not critical.
        assert_eq!(severity, Severity::Warning);
        assert_eq!(explanation.observed, 10_400.0);
        assert_eq!(explanation.threshold, 10_000.0);
        assert_eq!(explanation.unit, "EUR");
        assert!(
            explanation
                .text
                .contains("400.00 EUR (4 %) above the 2026 budget of 10,000.00 EUR"),
            "{}",
            explanation.text
        );
        // Still over: refreshed; then within: one clear, then nothing.
        assert!(matches!(
            w.evaluate(&b, &year_end(50_000.0, 12_000.0), now())
                .map(|s| s.change),
            Some(Change::Raise {
                severity: Severity::Critical,
                ..
            })
        ));
        assert!(matches!(
            w.evaluate(&b, &year_end(50_000.0, 9_999.0), now())
                .map(|s| s.change),
            Some(Change::Clear { .. })
        ));
        assert_eq!(w.evaluate(&b, &year_end(50_000.0, 9_999.0), now()), None);
    }

    #[test]
    fn an_energy_budget_counts_kwh_and_the_cost_line_leads_when_both_are_over() {
        let mut w = BudgetWatch::new();
        let s = w
            .evaluate(&budget(Some(1000.0), None), &year_end(1500.0, 0.0), now())
            .expect("raised");
        let Change::Raise { explanation, .. } = s.change else {
            panic!("a raise")
        };
        assert_eq!(explanation.unit, "kWh");
        assert!(
            explanation.text.contains("500 kWh (50 %) above"),
            "{}",
            explanation.text
        );
        assert!(
            explanation.text.contains("even the forecast's lower end"),
            "{}",
            explanation.text
        );
        let s = BudgetWatch::new()
            .evaluate(
                &budget(Some(1000.0), Some(300.0)),
                &year_end(1500.0, 450.0),
                now(),
            )
            .expect("raised");
        let Change::Raise { explanation, .. } = s.change else {
            panic!("a raise")
        };
        assert_eq!(explanation.unit, "EUR");
        assert!(
            explanation.text.contains("500 kWh over the 1,000 kWh budget too"),
            "{}",
            explanation.text
        );
    }

    #[test]
    fn a_restored_alert_clears_when_the_year_is_over_or_unpriced() {
        let mut w = BudgetWatch::new();
        let b = budget(None, Some(100.0));
        let open = w
            .evaluate(&b, &year_end(10.0, 500.0), now())
            .and_then(|s| crate::alerts::AlertBook::default().apply(s))
            .expect("an alert");
        let mut w = BudgetWatch::new();
        assert!(w.restore(&open));
        let next_year = YearEnd {
            year: 2027,
            ..year_end(10.0, 500.0)
        };
        let s = w.evaluate(&b, &next_year, now()).expect("cleared");
        assert!(
            matches!(&s.change, Change::Clear { reason } if reason.contains("has ended")),
            "{s:?}"
        );
        // A forecast without a price cannot exceed a cost budget.
        let unpriced = YearEnd {
            gross: None,
            ..year_end(10.0, 0.0)
        };
        assert_eq!(BudgetWatch::new().evaluate(&b, &unpriced, now()), None);
    }

    #[test]
    fn a_heat_budget_has_its_own_alert_on_its_meter_and_a_gas_budget_counts_m3() {
        let mut w = BudgetWatch::new();
        let heat = Budget {
            medium: Medium::Heat,
            ..budget(Some(12_000.0), None)
        };
        let f = YearEnd {
            medium: Medium::Heat,
            meter: Some(Id::new("waerme").expect("id")),
            gross: None,
            ..year_end(15_000.0, 0.0)
        };
        // An electricity forecast says nothing about a heat budget.
        assert_eq!(w.evaluate(&heat, &year_end(15_000.0, 0.0), now()), None);
        let s = w.evaluate(&heat, &f, now()).expect("raised");
        assert_eq!(s.subject.device.as_ref().map(Id::as_str), Some("waerme"));
        let Change::Raise { explanation, .. } = &s.change else {
            panic!("a raise: {s:?}")
        };
        assert_eq!(explanation.baseline, "2026 heat budget of site rathaus");
        assert!(
            explanation
                .text
                .contains("3,000 kWh (25 %) above the 2026 heat budget of 12,000 kWh"),
            "{}",
            explanation.text
        );
        // Restored after a restart as the heat budget: it clears once within.
        let open = crate::alerts::AlertBook::default().apply(s).expect("an alert");
        let mut again = BudgetWatch::new();
        again.restore(&open);
        let within = YearEnd {
            kwh: Some((11_000.0, 10_000.0)),
            ..f.clone()
        };
        assert!(matches!(
            again.evaluate(&heat, &within, now()).map(|s| s.change),
            Some(Change::Clear { .. })
        ));
        // Gas in m³: 5,400 m³ against 5,000.
        let gas = Budget {
            medium: Medium::Gas,
            m3: Some(5000.0),
            ..budget(None, None)
        };
        let g = YearEnd {
            medium: Medium::Gas,
            kwh: None,
            m3: Some((5400.0, 5100.0)),
            gross: None,
            ..f
        };
        let s = BudgetWatch::new().evaluate(&gas, &g, now()).expect("raised");
        let Change::Raise {
            severity,
            explanation,
        } = s.change
        else {
            panic!("a raise")
        };
        assert_eq!((severity, explanation.unit.as_str()), (Severity::Critical, "m³"));
        assert!(
            explanation
                .text
                .contains("400 m³ (8 %) above the 2026 gas budget of 5,000 m³"),
            "{}",
            explanation.text
        );
    }
}
