//! Forecasts of any medium: electricity and heat in Wh, gas in m³ and (through the calorific value) in
//! kWh, water in m³, each priced with the medium's tariffs.
//!
//! A model ([`super::learn`]) learns from a meter's counter units: Wh for electricity and heat, m³ for
//! gas and water. [`outlook_medium`] projects a horizon in them and in what the medium's tariffs price
//! ([`super::outlook_scaled`]):
//!
//! - **gas**: the measured m³ become kWh with the site's `[[gas_conversions]]` valid over each interval
//!   ([`crate::counter::gas::energy`], E = V × Z × Hₛ), the forecast m³ with the conversion valid at the
//!   forecast's start (a later one, not yet valid, is not anticipated). Without a conversion for all of
//!   the measured part, or none valid at the start, the kWh and the cost are unknown (`None`), and
//!   [`MediumOutlook::missing`] says why: never a silent 0;
//! - **water**: m³, priced per m³ (`ct_per_m3`, the tariff counting litres);
//! - **heat**: Wh of the heat meters, priced per kWh.
//!
//! A medium without a tariff has no cost (`None`, with the reason). Heat and gas follow the weather as
//! the electric heating loads do when the caller passes the temperatures ([`super::heating`]).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::heating::Applied;
use super::outlook::{Outlook, Weather, outlook_scaled};
use super::{Model, Projection};
use crate::Site;
use crate::counter::Bucket;
use crate::counter::gas::{self, GasConversion};
use crate::report::Medium;
use crate::tariff::{Budget, Interval, Schedule};

/// A horizon's cost: projected gross cents and its band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CostOutlook {
    /// Projected gross cost, cents (measured and forecast priced by the tariffs, Grundpreis included).
    pub gross_cents: i64,
    /// Lower end of the cost band, cents.
    pub low_gross_cents: i64,
    /// Upper end of the cost band, cents.
    pub high_gross_cents: i64,
    /// Every interval, measured and forecast, had a tariff and a price.
    pub priced: bool,
}

/// A horizon's outlook of one medium.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediumOutlook {
    /// Volume, m³ (gas and water); `None` for electricity and heat.
    pub m3: Option<Projection>,
    /// Energy, Wh (electricity, heat, gas through its calorific value); `None` for water and for gas
    /// without a valid conversion.
    pub wh: Option<Projection>,
    /// The cost under the medium's tariffs; `None` without a tariff or without the gas's kWh.
    pub cost: Option<CostOutlook>,
    /// Why `wh` or `cost` is unknown (empty when both are known or not expected).
    pub missing: Vec<String>,
}

fn projection(o: &Outlook) -> Projection {
    Projection {
        measured_wh: o.measured_wh,
        remaining_wh: o.remaining_wh,
        wh: o.wh,
        low_wh: o.low_wh,
        high_wh: o.high_wh,
    }
}

fn cost(o: &Outlook) -> CostOutlook {
    CostOutlook {
        gross_cents: o.gross_cents,
        low_gross_cents: o.low_gross_cents,
        high_gross_cents: o.high_gross_cents,
        priced: o.priced,
    }
}

/// kWh per m³ (Z × Hₛ) of `site`'s gas at `at`: the conversion valid then; `None` when none is.
pub fn kwh_per_m3_at(site: &str, conversions: &[GasConversion], at: DateTime<Utc>) -> Option<f64> {
    let probe = Bucket {
        start: at,
        end: at,
        wh: Some(1.0),
        complete: true,
        coverage: 1.0,
    };
    gas::energy(site, &[probe], conversions)
        .first()
        .and_then(|g| g.wh)
        .map(|wh| wh / 1000.0)
}

fn intervals(measured: &[Bucket], f: impl Fn(&Bucket) -> Option<f64>) -> Vec<Interval> {
    measured
        .iter()
        .map(|b| Interval {
            start: b.start,
            import_wh: f(b),
            export_wh: None,
        })
        .collect()
}

/// The outlook of `medium` over `[start, until)`: `measured` are the counter deltas (Wh, or m³ for gas
/// and water) of the intervals from `start` to `from`, `model` was learned in the same units, and
/// `schedule` holds the site's tariffs of the medium (maybe none). `site` and `conversions` convert gas.
pub fn outlook_medium<Z: chrono::TimeZone>(
    medium: Medium,
    model: &Model<Z>,
    schedule: &Schedule<'_, Z>,
    (site, conversions): (&str, &[GasConversion]),
    measured: &[Bucket],
    range: (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
    weather: Option<Weather<'_>>,
) -> (MediumOutlook, Applied) {
    let counter = intervals(measured, |b| b.wh);
    let (own, applied) = outlook_scaled(model, schedule, &counter, range, weather, 1.0);
    let mut missing = Vec::new();
    let no_tariff = || {
        format!(
            "site {site} has no {} tariff ([[tariffs]] with medium = \"{}\"): no cost",
            medium.name(),
            medium.name()
        )
    };
    let priced = |o: &Outlook, missing: &mut Vec<String>| {
        if schedule.is_empty() {
            missing.push(no_tariff());
            None
        } else {
            Some(cost(o))
        }
    };
    let out = match medium {
        Medium::Electricity | Medium::Heat => MediumOutlook {
            m3: None,
            wh: Some(projection(&own)),
            cost: priced(&own, &mut missing),
            missing,
        },
        Medium::Water => {
            let litres = intervals(measured, |b| b.wh.map(|m3| m3 * 1000.0));
            let (l, _) = outlook_scaled(model, schedule, &litres, range, weather, 1000.0);
            MediumOutlook {
                m3: Some(projection(&own)),
                wh: None,
                cost: priced(&l, &mut missing),
                missing,
            }
        }
        Medium::Gas => {
            let energy = gas::energy(site, measured, conversions);
            let unconverted = energy.iter().any(|g| g.m3.is_some() && g.wh.is_none());
            let now = kwh_per_m3_at(site, conversions, range.1);
            if unconverted {
                missing.push(format!(
                    "site {site} has no [[gas_conversions]] valid for all of the measured gas since {}: \
                     its kWh and cost are unknown",
                    range.0
                ));
            }
            if now.is_none() {
                missing.push(format!(
                    "site {site} has no [[gas_conversions]] valid at {}: the forecast gas has no kWh \
                     and no cost",
                    range.1
                ));
            }
            let kwh = now.filter(|_| !unconverted).map(|k| {
                let ivs: Vec<Interval> = measured
                    .iter()
                    .zip(&energy)
                    .map(|(b, g)| Interval {
                        start: b.start,
                        import_wh: g.wh,
                        export_wh: None,
                    })
                    .collect();
                outlook_scaled(model, schedule, &ivs, range, weather, k * 1000.0).0
            });
            let cost = kwh.as_ref().and_then(|o| priced(o, &mut missing));
            MediumOutlook {
                m3: Some(projection(&own)),
                wh: kwh.as_ref().map(projection),
                cost,
                missing,
            }
        }
    };
    (out, applied)
}

/// Every problem of the budgets' media (`budgets[i]…`; the budgets' own are [`crate::tariff::validate`]'s):
/// a volume budget (`m3`) of electricity or heat, an energy budget (`kwh`) of water, a budget of a medium
/// the site has no meter of, and a gas budget in kWh or cost (gas is priced per kWh) without a
/// `[[gas_conversions]]` entry of the site valid from the budget year's start.
pub fn validate_budgets(budgets: &[Budget], sites: &[Site], conversions: &[GasConversion]) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, b) in budgets.iter().enumerate() {
        let path = format!("budgets[{i}]");
        let m = b.medium.name();
        if b.m3.is_some() && matches!(b.medium, Medium::Electricity | Medium::Heat) {
            errors.push(format!("{path}.m3: {m} is budgeted in kWh or gross, not m³"));
        }
        if b.kwh.is_some() && b.medium == Medium::Water {
            errors.push(format!("{path}.kwh: water is budgeted in m3 or gross, not kWh"));
        }
        let site = sites.iter().find(|s| s.id == b.site);
        if let (Some(site), Some(class)) = (site, b.medium.meter_class())
            && !site.devices.iter().any(|d| d.class == class)
        {
            errors.push(format!(
                "{path}.medium: site {:?} has no {m} meter (device class {class:?}) to budget",
                b.site.as_str()
            ));
        }
        let year_start = chrono::NaiveDate::from_ymd_opt(b.year, 1, 1);
        let converted = conversions
            .iter()
            .any(|c| c.site == b.site.as_str() && year_start.is_some_and(|y| c.valid_from <= y));
        if b.medium == Medium::Gas && (b.kwh.is_some() || b.gross.is_some()) && !converted {
            errors.push(format!(
                "{path}: a gas budget in kWh or cost needs a calorific value: no [[gas_conversions]] of site \
                 {:?} is valid from {}-01-01 (budget m3 instead, or add one)",
                b.site.as_str(),
                b.year
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeDelta, TimeZone as _};
    use chrono_tz::Europe::Berlin;

    use super::*;
    use crate::Id;
    use crate::forecast::{Hour, Slp, learn};
    use crate::tariff::Tariff;

    fn tariff(medium: Medium, ct_per_kwh: f64, ct_per_m3: f64) -> Tariff {
        Tariff {
            medium,
            ct_per_m3,
            id: Id::new("t").expect("id"),
            name: "t".into(),
            valid_from: NaiveDate::MIN,
            valid_to: None,
            sites: vec![Id::new("s").expect("id")],
            currency: "EUR".into(),
            vat_percent: 0.0,
            energy_ct_per_kwh: ct_per_kwh,
            base_eur_per_month: 0.0,
            feed_in_ct_per_kwh: 0.0,
            windows: Vec::new(),
            demand_eur_per_kw_year: 0.0,
            demand_billing: Default::default(),
            dynamic: None,
        }
    }

    fn conversion(from: &str) -> GasConversion {
        GasConversion {
            site: "s".into(),
            valid_from: from.parse().expect("date"),
            calorific_value_kwh_per_m3: 10.0,
            z_factor: 0.95,
        }
    }

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(2026, 11, d, h, 0, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    }

    /// 28 days of 2 m³ an hour before `from`, and the buckets of the month up to `from` at 2 m³ each.
    fn gas(from: DateTime<Utc>) -> (Model<chrono_tz::Tz>, Vec<Bucket>) {
        let history: Vec<Hour> = (0..28 * 24)
            .map(|k| Hour {
                start: from - TimeDelta::days(28) + TimeDelta::hours(k),
                wh: Some(2.0),
            })
            .collect();
        let model = learn(Berlin, &history, Slp::G25).expect("model");
        let start = at(1, 0);
        let measured = (0..(from - start).num_hours())
            .map(|k| Bucket {
                start: start + TimeDelta::hours(k),
                end: start + TimeDelta::hours(k + 1),
                wh: Some(2.0),
                complete: true,
                coverage: 1.0,
            })
            .collect();
        (model, measured)
    }

    #[test]
    fn gas_is_projected_in_m3_and_in_kwh_by_z_times_the_calorific_value_and_priced_per_kwh() {
        let from = at(16, 0);
        let (model, measured) = gas(from);
        let t = tariff(Medium::Gas, 12.0, 0.0);
        let schedule = Schedule::only(&t, Berlin);
        let conv = [conversion("2026-01-01")];
        let range = (at(1, 0), from, at(1, 0) + TimeDelta::days(30));
        let (o, applied) = outlook_medium(
            Medium::Gas,
            &model,
            &schedule,
            ("s", &conv),
            &measured,
            range,
            None,
        );
        assert_eq!(applied.source, "not_heating");
        assert!(o.missing.is_empty(), "{:?}", o.missing);
        let m3 = o.m3.expect("volume");
        // 30 days × 24 h × 2 m³ (November has no DST change).
        assert!((m3.wh - 1440.0).abs() < 1e-6, "{m3:?}");
        assert!((m3.measured_wh - 720.0).abs() < 1e-6, "{m3:?}");
        assert!(m3.low_wh <= m3.wh && m3.wh <= m3.high_wh, "{m3:?}");
        // 1440 m³ × 0.95 × 10 kWh/m³ = 13,680 kWh; the band scaled alike.
        let wh = o.wh.expect("energy");
        assert!((wh.wh - 13_680_000.0).abs() < 1e-3, "{wh:?}");
        assert!((wh.low_wh - m3.low_wh * 9500.0).abs() < 1e-3, "{wh:?} {m3:?}");
        assert!((wh.high_wh - m3.high_wh * 9500.0).abs() < 1e-3, "{wh:?} {m3:?}");
        // 13,680 kWh at 12 ct = 1,641.60 EUR, the band around it.
        let c = o.cost.expect("cost");
        assert_eq!(c.gross_cents, 164_160, "{c:?}");
        assert!(c.priced && c.low_gross_cents <= c.gross_cents && c.gross_cents <= c.high_gross_cents);
    }

    #[test]
    fn gas_without_a_calorific_value_has_its_m3_and_says_why_kwh_and_cost_are_missing() {
        let from = at(16, 0);
        let (model, measured) = gas(from);
        let t = tariff(Medium::Gas, 12.0, 0.0);
        let schedule = Schedule::only(&t, Berlin);
        let range = (at(1, 0), from, at(1, 0) + TimeDelta::days(30));
        let (none, _) = outlook_medium(Medium::Gas, &model, &schedule, ("s", &[]), &measured, range, None);
        assert!(
            none.m3.is_some() && none.wh.is_none() && none.cost.is_none(),
            "{none:?}"
        );
        assert_eq!(none.missing.len(), 2, "{:?}", none.missing);
        assert!(none.missing.iter().all(|m| m.contains("[[gas_conversions]]")));
        // Valid from the 10th only: the measured part before it has no kWh; the rest would.
        let late = [conversion("2026-11-10")];
        let (part, _) = outlook_medium(
            Medium::Gas,
            &model,
            &schedule,
            ("s", &late),
            &measured,
            range,
            None,
        );
        assert!(part.wh.is_none() && part.cost.is_none(), "{part:?}");
        assert_eq!(part.missing.len(), 1, "{:?}", part.missing);
        assert!(part.missing[0].contains("measured gas"), "{:?}", part.missing);
        // Another site's conversion does not count.
        assert_eq!(kwh_per_m3_at("other", &[conversion("2026-01-01")], from), None);
        assert_eq!(kwh_per_m3_at("s", &[conversion("2026-01-01")], from), Some(9.5));
    }

    #[test]
    fn water_is_priced_per_m3_and_a_medium_without_tariff_has_no_cost() {
        let from = at(16, 0);
        let (model, measured) = gas(from);
        let t = tariff(Medium::Water, 0.0, 250.0);
        let schedule = Schedule::only(&t, Berlin);
        let range = (at(1, 0), from, at(1, 0) + TimeDelta::days(30));
        let (o, _) = outlook_medium(
            Medium::Water,
            &model,
            &schedule,
            ("s", &[]),
            &measured,
            range,
            None,
        );
        assert!(o.wh.is_none() && o.missing.is_empty(), "{o:?}");
        // 1440 m³ at 2.50 EUR.
        assert_eq!(o.cost.expect("cost").gross_cents, 360_000);
        let empty = Schedule::for_medium(&[], &Id::new("s").expect("id"), Medium::Heat, Berlin);
        let (h, _) = outlook_medium(Medium::Heat, &model, &empty, ("s", &[]), &measured, range, None);
        assert!(h.wh.is_some() && h.cost.is_none(), "{h:?}");
        assert!(h.missing[0].contains("no heat tariff"), "{:?}", h.missing);
    }

    #[test]
    fn budgets_of_a_medium_are_checked_against_its_unit_meters_and_calorific_value() {
        use crate::inventory::JsonField;
        use crate::{Device, Inventory, Quantity};
        let gas_meter =
            Device::json("g", "g", [JsonField::new("/v", Quantity::GasVolume)]).class("gas_meter");
        let inv = Inventory::builder().building("s", [gas_meter]).build();
        let budget = |medium, kwh: Option<f64>, m3: Option<f64>, year| Budget {
            site: Id::new("s").expect("id"),
            year,
            medium,
            kwh,
            m3,
            gross: None,
        };
        let budgets = [
            budget(Medium::Gas, None, Some(5000.0), 2026),
            budget(Medium::Gas, Some(50_000.0), None, 2026),
            budget(Medium::Heat, Some(1.0), Some(1.0), 2026),
            budget(Medium::Water, Some(1.0), None, 2026),
            budget(Medium::Electricity, Some(1.0), None, 2026),
        ];
        let e = validate_budgets(&budgets, &inv.sites, &[conversion("2026-02-01")]);
        for want in [
            "budgets[1]: a gas budget in kWh or cost needs a calorific value",
            "budgets[2].m3: heat is budgeted in kWh",
            "budgets[2].medium: site \"s\" has no heat meter",
            "budgets[3].kwh: water is budgeted in m3",
            "budgets[3].medium: site \"s\" has no water meter",
        ] {
            assert!(e.iter().any(|e| e.starts_with(want)), "{want} missing in {e:?}");
        }
        assert_eq!(e.len(), 5, "{e:?}");
        // A conversion valid from the year's start makes the kWh budget sound.
        let ok = validate_budgets(&budgets[..2], &inv.sites, &[conversion("2025-10-01")]);
        assert!(ok.is_empty(), "{ok:?}");
    }

    #[test]
    fn an_old_budget_is_electricity_and_an_unknown_medium_is_named_in_the_error() {
        let old: Budget = toml::from_str("site = \"s\"\nyear = 2026\nkwh = 100.0").expect("an old budget");
        assert_eq!((old.medium, old.m3), (Medium::Electricity, None));
        let e = toml::from_str::<Budget>("site = \"s\"\nyear = 2026\nmedium = \"steam\"\nkwh = 1.0")
            .expect_err("no such medium")
            .to_string();
        assert!(e.contains("steam") && e.contains("electricity"), "{e}");
    }
}
