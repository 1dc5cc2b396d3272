//! CO₂ emission factors per medium (`[api.report.emission_factors]`) and the emissions of a year.
//!
//! No factor is built in: a medium without a configured factor has unknown CO₂ (the report says so), never a
//! guessed default. Each factor has a `valid_from` date and a `source`; the one in force on 1 January of the
//! report year applies to the whole year (a factor changed during a year counts from the next report year).
//! Electricity, heat and gas are per kWh (gas on the kWh of the DVGW conversion), water per m³.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Medium;

/// One emission factor of a medium from a date on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmissionFactor {
    /// First local date it applies to (a TOML date `2020-11-01` or a string).
    #[serde(deserialize_with = "crate::tariff::dates::one")]
    pub valid_from: NaiveDate,
    /// Grams of CO₂ (equivalent) per kWh: electricity, heat, gas; > 0.
    #[serde(default)]
    pub g_per_kwh: Option<f64>,
    /// Grams of CO₂ (equivalent) per m³: water only; > 0.
    #[serde(default)]
    pub g_per_m3: Option<f64>,
    /// Where the value comes from (e.g. `GEG 2020 Anlage 9`); shown with every figure; not blank.
    pub source: String,
}

impl EmissionFactor {
    /// Grams per unit of the medium's basis (kWh, or m³ for water).
    pub fn grams(&self) -> Option<f64> {
        self.g_per_kwh.or(self.g_per_m3)
    }
}

/// The factors of every medium, each list in any order (`[[api.report.emission_factors.electricity]]` …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EmissionFactors {
    /// Electricity, g/kWh.
    pub electricity: Vec<EmissionFactor>,
    /// Heat (district heating), g/kWh.
    pub heat: Vec<EmissionFactor>,
    /// Natural gas, g/kWh (on the kWh of the DVGW conversion).
    pub gas: Vec<EmissionFactor>,
    /// Water, g/m³.
    pub water: Vec<EmissionFactor>,
}

impl EmissionFactors {
    /// The factors of `m`.
    pub fn of(&self, m: Medium) -> &[EmissionFactor] {
        match m {
            Medium::Electricity => &self.electricity,
            Medium::Heat => &self.heat,
            Medium::Gas => &self.gas,
            Medium::Water => &self.water,
        }
    }

    /// The factor of `m` in force on `date` (the latest `valid_from` not after it).
    pub fn at(&self, m: Medium, date: NaiveDate) -> Option<&EmissionFactor> {
        self.of(m)
            .iter()
            .filter(|f| f.valid_from <= date)
            .max_by_key(|f| f.valid_from)
    }

    /// Every problem, prefixed with `path` (`api.report.emission_factors`): a factor that is not a
    /// positive number, one in the wrong unit for its medium (water per m³, the others per kWh) or in both
    /// or neither, a blank source, two factors of one medium from the same date.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        for m in Medium::ALL {
            let list = self.of(m);
            for (i, f) in list.iter().enumerate() {
                let p = format!("{path}.{}[{i}]", m.name());
                let (want, other) = if m == Medium::Water {
                    (("g_per_m3", f.g_per_m3), ("g_per_kwh", f.g_per_kwh))
                } else {
                    (("g_per_kwh", f.g_per_kwh), ("g_per_m3", f.g_per_m3))
                };
                match want.1 {
                    None => errors.push(format!(
                        "{p}.{}: missing ({} is per {})",
                        want.0,
                        m.name(),
                        &want.0[6..]
                    )),
                    Some(g) if !(g.is_finite() && g > 0.0) => {
                        errors.push(format!("{p}.{}: {g} must be a positive number of grams", want.0));
                    }
                    Some(_) => {}
                }
                if other.1.is_some() {
                    errors.push(format!(
                        "{p}.{}: not for {} (per {})",
                        other.0,
                        m.name(),
                        &want.0[6..]
                    ));
                }
                if f.source.trim().is_empty() {
                    errors.push(format!("{p}.source: must name where the factor comes from"));
                }
                if list[..i].iter().any(|o| o.valid_from == f.valid_from) {
                    errors.push(format!(
                        "{p}.valid_from: a second {} factor from {}",
                        m.name(),
                        f.valid_from
                    ));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn the_factor_in_force_and_every_problem() {
        let f: EmissionFactors = toml::from_str(
            "[[electricity]]\nvalid_from = 2020-11-01\ng_per_kwh = 560\nsource = \"GEG 2020 Anlage 9\"\n\
             [[electricity]]\nvalid_from = \"2025-01-01\"\ng_per_kwh = 400\nsource = \"later\"\n",
        )
        .expect("parses");
        assert!(f.validate("x").is_empty());
        assert_eq!(
            f.at(Medium::Electricity, date(2024, 1, 1))
                .and_then(|f| f.grams()),
            Some(560.0)
        );
        assert_eq!(
            f.at(Medium::Electricity, date(2025, 1, 1))
                .and_then(|f| f.grams()),
            Some(400.0)
        );
        assert!(f.at(Medium::Electricity, date(2020, 1, 1)).is_none());
        assert!(f.at(Medium::Gas, date(2025, 1, 1)).is_none(), "nothing built in");
        let bad = EmissionFactors {
            gas: vec![EmissionFactor {
                valid_from: date(2020, 1, 1),
                g_per_kwh: Some(-1.0),
                g_per_m3: Some(3.0),
                source: " ".into(),
            }],
            water: vec![
                EmissionFactor {
                    valid_from: date(2020, 1, 1),
                    g_per_kwh: None,
                    g_per_m3: None,
                    source: "x".into(),
                },
                EmissionFactor {
                    valid_from: date(2020, 1, 1),
                    g_per_kwh: None,
                    g_per_m3: Some(0.3),
                    source: "x".into(),
                },
            ],
            ..EmissionFactors::default()
        };
        let e = bad.validate("f");
        for want in [
            "f.gas[0].g_per_kwh: -1 must be",
            "f.gas[0].g_per_m3: not for gas",
            "f.gas[0].source",
            "f.water[0].g_per_m3: missing",
            "f.water[1].valid_from: a second water factor",
        ] {
            assert!(e.iter().any(|x| x.starts_with(want)), "{want} missing in {e:?}");
        }
        assert_eq!(e.len(), 5, "{e:?}");
    }
}
