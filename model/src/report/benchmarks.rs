//! Building categories and their comparison values (Vergleichswerte) for energy per m² of floor area.
//!
//! The federal *Bekanntmachung der Regeln für Energieverbrauchswerte und der Vergleichswerte im
//! Nichtwohngebäudebestand* of 15 April 2021 (BMWi and BMI, BAnz AT 03.05.2021 B1, § 6) gives Vergleichswerte
//! for heat and electricity per building category in kWh per m² Nettogrundfläche and year. Its table is not
//! transcribed in this project's reference (`planning-and-reporting.md` § 4 says to take it from § 6), so the
//! built-in table carries only the values that reference does give, each with its source: the VDI 3807
//! Blatt 2-style means (ages GmbH data, weather-normalised) for primary schools and grammar schools, and the
//! mean of the highest federal and state authorities (on BGF, the closest documented value for an
//! administration building). Every other category has no built-in value: its comparison is missing, never
//! 0, until a town sets it from § 6 of the Bekanntmachung (`[api.report.comparison_values.<category>]`,
//! see [`ComparisonValues::with`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a building is used for, as the comparison values group buildings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BuildingCategory {
    /// Verwaltungsgebäude (town hall, offices).
    Verwaltung,
    /// Allgemeinbildende Schule (primary school, compared as a Grundschule).
    Schule,
    /// Gymnasium (grammar school).
    Gymnasium,
    /// Kindertagesstätte.
    Kita,
    /// Sporthalle (gym hall).
    Sporthalle,
    /// Hallenbad (indoor pool).
    Schwimmbad,
    /// Feuerwehrgerätehaus.
    Feuerwehr,
    /// Bauhof (depot, workshops).
    Bauhof,
    /// Bibliothek, Museum, Veranstaltungsgebäude.
    Kultur,
    /// A private household (residents; no federal comparison value for non-residential buildings applies).
    Household,
}

impl BuildingCategory {
    /// Every category, in table order.
    pub const ALL: [BuildingCategory; 10] = [
        Self::Verwaltung,
        Self::Schule,
        Self::Gymnasium,
        Self::Kita,
        Self::Sporthalle,
        Self::Schwimmbad,
        Self::Feuerwehr,
        Self::Bauhof,
        Self::Kultur,
        Self::Household,
    ];

    /// The name used in configs and the API (`verwaltung`, `schule`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::Verwaltung => "verwaltung",
            Self::Schule => "schule",
            Self::Gymnasium => "gymnasium",
            Self::Kita => "kita",
            Self::Sporthalle => "sporthalle",
            Self::Schwimmbad => "schwimmbad",
            Self::Feuerwehr => "feuerwehr",
            Self::Bauhof => "bauhof",
            Self::Kultur => "kultur",
            Self::Household => "household",
        }
    }

    /// The German label shown in the printed report.
    pub fn label_de(self) -> &'static str {
        match self {
            Self::Verwaltung => "Verwaltungsgebäude",
            Self::Schule => "Schule",
            Self::Gymnasium => "Gymnasium",
            Self::Kita => "Kindertagesstätte",
            Self::Sporthalle => "Sporthalle",
            Self::Schwimmbad => "Hallenbad",
            Self::Feuerwehr => "Feuerwehrgerätehaus",
            Self::Bauhof => "Bauhof",
            Self::Kultur => "Kultur- und Veranstaltungsgebäude",
            Self::Household => "Haushalt",
        }
    }

    /// The category named `name` (as [`BuildingCategory::name`]).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A category's comparison values, kWh per m² and year; `None` where no value is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonValue {
    /// Heat (weather-normalised), kWh/(m²·a).
    #[serde(default)]
    pub heat_kwh_m2: Option<f64>,
    /// Electricity, kWh/(m²·a).
    #[serde(default)]
    pub electricity_kwh_m2: Option<f64>,
    /// Where the values come from (shown next to them in the report).
    pub source: String,
}

impl ComparisonValue {
    /// Reports a value that is not a positive number, prefixed with `path`.
    pub fn validate(&self, path: &str) -> Vec<String> {
        let mut errors = Vec::new();
        for (field, v) in [
            ("heat_kwh_m2", self.heat_kwh_m2),
            ("electricity_kwh_m2", self.electricity_kwh_m2),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                errors.push(format!("{path}.{field}: {v} is not a positive number"));
            }
        }
        if self.source.trim().is_empty() {
            errors.push(format!("{path}.source: must name where the values come from"));
        }
        errors
    }
}

/// Source of the built-in school values.
pub const SOURCE_VDI_3807: &str =
    "VDI 3807 Blatt 2-style Mittelwerte (ages GmbH data), per planning-and-reporting.md § 4";
/// Source of the built-in administration value.
pub const SOURCE_AUTHORITIES: &str =
    "mean of highest federal and state authorities (kWh/m² BGF), per planning-and-reporting.md § 4";

/// The comparison values per category: the built-in ones, overridden by the configured ones.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonValues(BTreeMap<BuildingCategory, ComparisonValue>);

impl ComparisonValues {
    /// The built-in table (see the module documentation for what it holds and why).
    pub fn builtin() -> Self {
        let v = |heat: f64, el: f64, source: &str| ComparisonValue {
            heat_kwh_m2: Some(heat),
            electricity_kwh_m2: Some(el),
            source: source.into(),
        };
        Self(BTreeMap::from([
            (BuildingCategory::Schule, v(140.0, 9.0, SOURCE_VDI_3807)),
            (BuildingCategory::Gymnasium, v(80.0, 9.0, SOURCE_VDI_3807)),
            (BuildingCategory::Verwaltung, v(168.0, 38.0, SOURCE_AUTHORITIES)),
        ]))
    }

    /// This table with `overrides` replacing a category's values.
    pub fn with(mut self, overrides: &BTreeMap<BuildingCategory, ComparisonValue>) -> Self {
        for (c, v) in overrides {
            self.0.insert(*c, v.clone());
        }
        self
    }

    /// The values of `category`, if any are known.
    pub fn get(&self, category: BuildingCategory) -> Option<&ComparisonValue> {
        self.0.get(&category)
    }
}
