//! Settings of the municipal energy report (`[api.report]`): the temperature CSV its degree days come from,
//! the reference degree days heating is normalised to, the usage hours that split day from night and
//! weekend, comparison values per building category on top of the built-in ones
//! ([`zw_model::report::benchmarks`]), and the CO₂ emission factors per medium (none built in,
//! [`zw_model::report::emissions`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zw_model::report::{
    BuildingCategory, ComparisonValue, ComparisonValues, EmissionFactors, Temperatures, UsageHours,
};

/// The long-term Gradtagzahl G20/15 heating is normalised to when none is configured, K·d: the value for
/// Germany's reference location Potsdam given with issue 19 (not in the project's reference; set the
/// long-term mean of your own station, e.g. from the DWD's `hdd_3807` monthly Gradtage).
pub const DEFAULT_REFERENCE_DEGREE_DAYS: f64 = 3883.0;

/// `[api.report]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Daily mean outdoor temperatures: `date,temp_c` lines or the DWD's daily station file
    /// (`produkt_klima_tag_*.txt`); absent: heating is not weather-corrected. Read when the config is
    /// checked and on every report.
    pub temperature_csv: Option<PathBuf>,
    /// Long-term reference Gradtagzahl G20/15 of the town, K·d; default 3883 (Potsdam); > 0.
    pub reference_degree_days: f64,
    /// Share of heat and gas that heats rooms and follows the weather (the rest, hot water, is not
    /// corrected); 0 to 1, default 1.
    pub heating_share: f64,
    /// Usage hours of the buildings (default Monday to Friday, 07:00 to 18:00); the energy outside them is
    /// the report's night-and-weekend share.
    pub usage_hours: UsageHours,
    /// Comparison values per category (`[api.report.comparison_values.kita]`, with `heat_kwh_m2`,
    /// `electricity_kwh_m2` and `source`), replacing the built-in ones of that category.
    pub comparison_values: BTreeMap<BuildingCategory, ComparisonValue>,
    /// Savings candidates listed of each kind; default 5, 1 to 100.
    pub candidates: usize,
    /// CO₂ emission factors per medium (`[[api.report.emission_factors.electricity]]` with `valid_from`,
    /// `g_per_kwh` (water: `g_per_m3`) and `source`); default none: the report's CO₂ is unknown.
    pub emission_factors: EmissionFactors,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            temperature_csv: None,
            reference_degree_days: DEFAULT_REFERENCE_DEGREE_DAYS,
            heating_share: 1.0,
            usage_hours: UsageHours::default(),
            comparison_values: BTreeMap::new(),
            candidates: 5,
            emission_factors: EmissionFactors::default(),
        }
    }
}

impl ReportConfig {
    /// Reports every invalid setting, prefixed with `api.report.`: a reference that is not positive, a
    /// heating share outside 0–1, usage hours that end before they start, a comparison value that is not
    /// positive or has no source, a candidate count outside 1–100, every bad emission factor
    /// ([`EmissionFactors::validate`]), and a temperature CSV that cannot be read or parsed (with its line).
    pub fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(self.reference_degree_days.is_finite() && self.reference_degree_days > 0.0) {
            errors.push(format!(
                "api.report.reference_degree_days: {} must be a positive number of K·d",
                self.reference_degree_days
            ));
        }
        if !(0.0..=1.0).contains(&self.heating_share) {
            errors.push(format!(
                "api.report.heating_share: {} must be between 0 and 1",
                self.heating_share
            ));
        }
        errors.extend(self.usage_hours.validate("api.report.usage_hours"));
        for (c, v) in &self.comparison_values {
            errors.extend(v.validate(&format!("api.report.comparison_values.{}", c.name())));
        }
        if !(1..=100).contains(&self.candidates) {
            errors.push("api.report.candidates: must be 1 to 100".into());
        }
        errors.extend(self.emission_factors.validate("api.report.emission_factors"));
        if self.temperature_csv.is_some()
            && let Err(e) = self.temperatures()
        {
            errors.push(format!("api.report.temperature_csv: {e}"));
        }
        errors
    }

    /// The temperatures of `temperature_csv` (none when it is not set), or why they cannot be read.
    pub fn temperatures(&self) -> Result<Temperatures, String> {
        let Some(path) = &self.temperature_csv else {
            return Ok(Temperatures::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Temperatures::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The built-in comparison values with the configured ones laid over them.
    pub fn comparison_values(&self) -> ComparisonValues {
        ComparisonValues::builtin().with(&self.comparison_values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let cfg = ReportConfig {
            temperature_csv: Some("/nonexistent/temps.csv".into()),
            reference_degree_days: 0.0,
            heating_share: 1.5,
            usage_hours: UsageHours {
                to: UsageHours::default().from,
                ..UsageHours::default()
            },
            comparison_values: BTreeMap::from([(
                BuildingCategory::Kita,
                ComparisonValue {
                    heat_kwh_m2: Some(-1.0),
                    electricity_kwh_m2: None,
                    source: " ".into(),
                },
            )]),
            candidates: 0,
            emission_factors: EmissionFactors {
                gas: vec![zw_model::report::EmissionFactor {
                    valid_from: chrono::NaiveDate::from_ymd_opt(2020, 11, 1).expect("date"),
                    g_per_kwh: None,
                    g_per_m3: None,
                    source: "GEG 2020 Anlage 9".into(),
                }],
                ..EmissionFactors::default()
            },
        };
        let errors = cfg.validate();
        for path in [
            "api.report.reference_degree_days",
            "api.report.heating_share",
            "api.report.usage_hours.to",
            "api.report.comparison_values.kita.heat_kwh_m2",
            "api.report.comparison_values.kita.source",
            "api.report.candidates",
            "api.report.temperature_csv: /nonexistent/temps.csv",
            "api.report.emission_factors.gas[0].g_per_kwh: missing",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(path)),
                "{path} missing in {errors:?}"
            );
        }
        assert_eq!(errors.len(), 8, "{errors:?}");
        assert!(ReportConfig::default().validate().is_empty());
    }

    #[test]
    fn it_reads_from_toml_with_usage_hours_and_comparison_values() {
        let cfg: ReportConfig = toml::from_str(
            "reference_degree_days = 3500\n\
             [usage_hours]\ndays = [\"Mon\", \"Sat\"]\nfrom = \"08:00:00\"\nto = \"12:30:00\"\n\
             [comparison_values.kita]\nheat_kwh_m2 = 100\nsource = \"§ 6\"\n",
        )
        .expect("parses");
        assert_eq!(cfg.reference_degree_days, 3500.0);
        assert_eq!(cfg.usage_hours.days, [chrono::Weekday::Mon, chrono::Weekday::Sat]);
        let values = cfg.comparison_values();
        let kita = values.get(BuildingCategory::Kita).expect("kita");
        assert_eq!((kita.heat_kwh_m2, kita.electricity_kwh_m2), (Some(100.0), None));
        assert!(
            values.get(BuildingCategory::Schule).is_some(),
            "the built-in ones stay"
        );
    }
}
