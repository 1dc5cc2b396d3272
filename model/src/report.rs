//! The municipal energy report (Energiebericht): per building and year, and for the whole town, the
//! consumption per medium, its cost, kWh per m² of floor area against the comparison value of the building's
//! category ([`benchmarks`]), heating weather-corrected with degree days ([`temperatures`]), the change
//! against the previous year, and the top savings candidates: the buildings furthest above their comparison
//! value and those using the largest share outside their usage hours ([`usage`]).
//!
//! CO₂ per medium, building and town comes from the configured emission factors ([`emissions`]; none built
//! in: without a factor CO₂ is unknown and the report says why), cost per medium from the site's tariffs of
//! that medium (none: the cost is null with the reason, never 0).
//!
//! A medium ([`Medium`]) is a parameter, not a special case: whatever a building's counters measure is
//! reported the same way; only whether it follows the weather and which comparison value applies differ.
//! Pure and synchronous: the caller measures (exact counter deltas, with their completeness) and passes the
//! figures in. A missing figure stays missing: no comparison of an incomplete year against an annual value,
//! no change against an unknown or incomplete year, no weather correction without a whole year of
//! temperatures.
//!
//! Weather correction (VDI 3807, Bekanntmachung § 3.2): `E_norm = E · G_ref / G` applied to the heating
//! share of a weather-dependent medium, `G` the year's Gradtagzahl G20/15 and `G_ref` the long-term reference
//! ([`crate::forecast::degree_days::weather_scaled`]).

pub mod benchmarks;
pub mod emissions;
pub mod temperatures;
pub mod usage;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use benchmarks::{BuildingCategory, ComparisonValue, ComparisonValues};
pub use emissions::{EmissionFactor, EmissionFactors};
pub use temperatures::{MissingDays, TemperatureError, Temperatures};
pub use usage::UsageHours;

use crate::Quantity;
use crate::forecast::degree_days::weather_scaled;

/// What is consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Medium {
    /// Electricity (`energy_import`), kWh.
    #[default]
    Electricity,
    /// Heat from a heat meter (`heat_energy`), kWh.
    Heat,
    /// Gas volume (`gas_volume`), m³ at operating conditions.
    Gas,
    /// Water volume (`volume` of a water meter), m³.
    Water,
}

impl Medium {
    /// Every medium, in report order.
    pub const ALL: [Medium; 4] = [Self::Electricity, Self::Heat, Self::Gas, Self::Water];

    /// Name in the API and CSV.
    pub fn name(self) -> &'static str {
        match self {
            Self::Electricity => "electricity",
            Self::Heat => "heat",
            Self::Gas => "gas",
            Self::Water => "water",
        }
    }

    /// German label for the printed report.
    pub fn label_de(self) -> &'static str {
        match self {
            Self::Electricity => "Strom",
            Self::Heat => "Wärme",
            Self::Gas => "Gas",
            Self::Water => "Wasser",
        }
    }

    /// The counter it is read from.
    pub fn quantity(self) -> Quantity {
        match self {
            Self::Electricity => Quantity::EnergyImport,
            Self::Heat => Quantity::HeatEnergy,
            Self::Gas => Quantity::GasVolume,
            Self::Water => Quantity::Volume,
        }
    }

    /// The unit of its report figures.
    pub fn unit(self) -> &'static str {
        match self {
            Self::Electricity | Self::Heat => "kWh",
            Self::Gas | Self::Water => "m³",
        }
    }

    /// Counter units per report unit (1000 Wh per kWh; m³ stay m³): divide a counter delta by it.
    pub fn counter_units(self) -> f64 {
        match self {
            Self::Electricity | Self::Heat => 1e3,
            Self::Gas | Self::Water => 1.0,
        }
    }

    /// The device class of its meters; `None` for electricity, measured by every other device.
    pub fn meter_class(self) -> Option<&'static str> {
        match self {
            Self::Electricity => None,
            Self::Heat => Some("heat_meter"),
            Self::Gas => Some("gas_meter"),
            Self::Water => Some("water_meter"),
        }
    }

    /// Whether its consumption follows the weather (and is corrected with degree days).
    pub fn weather_dependent(self) -> bool {
        matches!(self, Self::Heat | Self::Gas)
    }

    /// Its comparison value per m², if one applies (gas in m³ has none: its kWh need the calorific value).
    pub fn comparison(self, v: &ComparisonValue) -> Option<f64> {
        match self {
            Self::Electricity => v.electricity_kwh_m2,
            Self::Heat => v.heat_kwh_m2,
            Self::Gas | Self::Water => None,
        }
    }
}

/// A measured amount in the medium's unit and whether it is complete (no gap, reset or missing data).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measured {
    /// The amount; `None` when unknown.
    pub value: Option<f64>,
    /// No gap, reset or missing data; when false `value` is a lower bound.
    pub complete: bool,
}

/// A cost in cents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cost {
    /// Net, cents.
    pub net_cents: i64,
    /// Gross (with VAT), cents.
    pub gross_cents: i64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Every interval had a known energy and a price.
    pub complete: bool,
}

/// What was measured of one medium at one building.
#[derive(Debug, Clone, PartialEq)]
pub struct MediumInput {
    /// The medium.
    pub medium: Medium,
    /// The report year.
    pub year: Measured,
    /// The year before.
    pub previous_year: Measured,
    /// Of `year`, the amount outside the usage hours; `None` when unknown.
    pub outside_usage: Option<f64>,
    /// The cost of `year`; `None` when no tariff prices the medium.
    pub cost: Option<Cost>,
    /// Why `cost` is `None` (e.g. no tariff of the medium).
    pub cost_note: Option<String>,
    /// Of `year`, the kWh of gas after the DVGW conversion (`None` when unknown; unused by other media,
    /// whose `year` already is kWh or m³).
    pub gas_kwh: Option<f64>,
    /// The emission factor in force for the year; `None`: CO₂ unknown.
    pub emission_factor: Option<EmissionFactor>,
}

impl MediumInput {
    /// What the emission factor multiplies: kWh (gas after the DVGW conversion) or m³ of water.
    fn co2_basis(&self) -> Option<f64> {
        match self.medium {
            Medium::Gas => self.gas_kwh,
            _ => self.year.value,
        }
    }
}

/// What is known of one building.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingInput {
    /// Site id.
    pub id: String,
    /// Site name.
    pub name: String,
    /// Its category, if set.
    pub category: Option<BuildingCategory>,
    /// Its floor area (NGF), m², if set.
    pub floor_area_m2: Option<f64>,
    /// One entry per medium its meters measure.
    pub media: Vec<MediumInput>,
}

/// The weather of the report year and its reference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Climate {
    /// Gradtagzahl G20/15 of the report year, K·d; `None` without a whole year of temperatures.
    pub degree_days: Option<f64>,
    /// The same for the year before.
    pub previous_degree_days: Option<f64>,
    /// The long-term reference Gradtagzahl the heating is normalised to, K·d.
    pub reference_degree_days: f64,
    /// Share (0–1) of a weather-dependent medium that heats; the rest (hot water) is not corrected.
    pub heating_share: f64,
}

/// One medium of one building (or of the town) in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MediumReport {
    /// The medium.
    pub medium: Medium,
    /// `kWh` or `m³`.
    pub unit: &'static str,
    /// Consumption in the report year; null when unknown.
    pub value: Option<f64>,
    /// No gap, reset or missing data in the year.
    pub complete: bool,
    /// Consumption in the year before; null when unknown.
    pub previous_value: Option<f64>,
    /// The year before is complete.
    pub previous_complete: bool,
    /// `value / previous_value − 1` when both years are complete; else null.
    pub change_ratio: Option<f64>,
    /// Weather-corrected consumption (weather-dependent media with the year's degree days); else null.
    pub normalised_value: Option<f64>,
    /// Weather-corrected consumption of the year before.
    pub previous_normalised_value: Option<f64>,
    /// Change of the weather-corrected consumption, when both years are complete.
    pub normalised_change_ratio: Option<f64>,
    /// `value / floor area` (kWh/m²; energy media only).
    pub per_m2: Option<f64>,
    /// What is compared with the comparison value: the weather-corrected kWh/m² of a weather-dependent
    /// medium, else `per_m2`; null for an incomplete year.
    pub compared_per_m2: Option<f64>,
    /// The category's comparison value, kWh/m²; null when none is known.
    pub comparison_per_m2: Option<f64>,
    /// Where the comparison value comes from.
    pub comparison_source: Option<String>,
    /// `compared_per_m2 / comparison_per_m2 − 1` (0.25: 25 % above); null when either is unknown.
    pub above_comparison: Option<f64>,
    /// Share of `value` used outside the usage hours (nights, weekends); null when unknown.
    pub outside_usage_share: Option<f64>,
    /// Cost of the year; null when no tariff prices the medium.
    pub cost: Option<Cost>,
    /// Why `cost` is null.
    pub cost_note: Option<String>,
    /// CO₂ of the year, kg: the consumption (gas: its kWh) × the emission factor; null when either is
    /// unknown (`co2_note` says which); a lower bound when the year is not `complete`.
    pub co2_kg: Option<f64>,
    /// The emission factor used, g per kWh (per m³ for water).
    pub co2_g_per_unit: Option<f64>,
    /// Where the factor comes from.
    pub co2_source: Option<String>,
    /// Why `co2_kg` is null.
    pub co2_note: Option<String>,
}

/// One building in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildingReport {
    /// Site id.
    pub id: String,
    /// Site name.
    pub name: String,
    /// Category; null when not set.
    pub category: Option<BuildingCategory>,
    /// Floor area, m²; null when not set.
    pub floor_area_m2: Option<f64>,
    /// One entry per medium measured.
    pub media: Vec<MediumReport>,
    /// CO₂ of all media, kg; null when none is known.
    pub co2_kg: Option<f64>,
    /// Every medium's CO₂ is known and its year complete (else `co2_kg` is a lower bound).
    pub co2_complete: bool,
}

/// Why a building is a savings candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CandidateKind {
    /// Furthest above its category's comparison value.
    AboveComparison,
    /// Largest share outside its usage hours.
    OutsideUsage,
}

/// A building worth a closer look.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    /// Why.
    pub kind: CandidateKind,
    /// Site id.
    pub site: String,
    /// Site name.
    pub name: String,
    /// The medium.
    pub medium: Medium,
    /// `above_comparison` or `outside_usage_share` of that medium.
    pub ratio: f64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    /// Report year.
    pub year: i32,
    /// The weather used for the correction.
    pub climate: Climate,
    /// The buildings, in inventory order.
    pub buildings: Vec<BuildingReport>,
    /// Town totals per medium (kWh/m² over the buildings with a floor area and a value).
    pub town: Vec<MediumReport>,
    /// The town's CO₂ of all media, kg; null when none is known.
    pub town_co2_kg: Option<f64>,
    /// Every building's CO₂ is complete.
    pub town_co2_complete: bool,
    /// Top savings candidates: furthest above the comparison value first, then the largest share outside
    /// usage hours.
    pub candidates: Vec<Candidate>,
}

/// `a / b − 1` when both are known, complete and `b > 0`.
fn change(a: Measured, b: Measured) -> Option<f64> {
    match (a.complete && b.complete, a.value, b.value) {
        (true, Some(a), Some(b)) if b > 0.0 => Some(a / b - 1.0),
        _ => None,
    }
}

fn normalised(m: Medium, v: Option<f64>, g: Option<f64>, c: &Climate) -> Option<f64> {
    if !m.weather_dependent() {
        return None;
    }
    let (v, g) = (v?, g?);
    (g > 0.0).then(|| weather_scaled(v, c.heating_share, g, c.reference_degree_days))
}

/// One medium of one building.
fn medium(
    i: &MediumInput,
    area: Option<f64>,
    value: Option<&ComparisonValue>,
    climate: &Climate,
) -> MediumReport {
    let m = i.medium;
    let energy = m.unit() == "kWh";
    let norm = normalised(m, i.year.value, climate.degree_days, climate);
    let prev_norm = normalised(m, i.previous_year.value, climate.previous_degree_days, climate);
    let normalised_change_ratio = change(
        Measured {
            value: norm,
            complete: i.year.complete,
        },
        Measured {
            value: prev_norm,
            complete: i.previous_year.complete,
        },
    );
    let area = area.filter(|a| energy && *a > 0.0);
    let per_m2 = i.year.value.zip(area).map(|(v, a)| v / a);
    let basis = if m.weather_dependent() { norm } else { i.year.value };
    let compared_per_m2 = basis.zip(area).filter(|_| i.year.complete).map(|(v, a)| v / a);
    let comparison_per_m2 = value.and_then(|v| m.comparison(v));
    let co2 = co2_of(i);
    let co2_note = co2.as_ref().err().cloned();
    let co2 = co2.ok();
    MediumReport {
        medium: m,
        unit: m.unit(),
        value: i.year.value,
        complete: i.year.complete,
        previous_value: i.previous_year.value,
        previous_complete: i.previous_year.complete,
        change_ratio: change(i.year, i.previous_year),
        normalised_value: norm,
        previous_normalised_value: prev_norm,
        normalised_change_ratio,
        per_m2,
        compared_per_m2,
        comparison_per_m2,
        comparison_source: comparison_per_m2.and(value).map(|v| v.source.clone()),
        above_comparison: compared_per_m2.zip(comparison_per_m2).map(|(a, b)| a / b - 1.0),
        outside_usage_share: i
            .outside_usage
            .zip(i.year.value)
            .filter(|(_, v)| *v > 0.0)
            .map(|(o, v)| o / v),
        cost: i.cost.clone(),
        cost_note: i.cost.is_none().then(|| i.cost_note.clone()).flatten(),
        co2_kg: co2.map(|(kg, _)| kg),
        co2_g_per_unit: i.emission_factor.as_ref().and_then(|f| f.grams()),
        co2_source: i.emission_factor.as_ref().map(|f| f.source.clone()),
        co2_note,
    }
}

/// CO₂ kg of a medium and the factor's grams, or why it is unknown.
fn co2_of(i: &MediumInput) -> Result<(f64, f64), String> {
    let m = i.medium.name();
    let Some(g) = i.emission_factor.as_ref().and_then(|f| f.grams()) else {
        return Err(format!(
            "CO₂ unknown: no emission factor for {m} in [api.report.emission_factors]"
        ));
    };
    match i.co2_basis() {
        Some(v) => Ok((v * g / 1000.0, g)),
        None if i.medium == Medium::Gas && i.year.value.is_some() => {
            Err("CO₂ unknown: the gas kWh are unknown (no [[gas_conversions]] for all of the year)".into())
        }
        None => Err(format!("CO₂ unknown: the {m} consumption is unknown")),
    }
}

/// One building's report.
pub fn building(i: &BuildingInput, climate: &Climate, values: &ComparisonValues) -> BuildingReport {
    let value = i.category.and_then(|c| values.get(c));
    BuildingReport {
        id: i.id.clone(),
        name: i.name.clone(),
        category: i.category,
        floor_area_m2: i.floor_area_m2,
        media: i
            .media
            .iter()
            .map(|m| medium(m, i.floor_area_m2, value, climate))
            .collect(),
        co2_kg: None,
        co2_complete: false,
    }
    .with_co2_total()
}

impl BuildingReport {
    fn with_co2_total(mut self) -> Self {
        (self.co2_kg, self.co2_complete) = co2_total(&self.media);
        self
    }
}

/// Sum of the known CO₂ of `media`, and whether all are known and complete.
fn co2_total(media: &[MediumReport]) -> (Option<f64>, bool) {
    let known: Vec<f64> = media.iter().filter_map(|m| m.co2_kg).collect();
    (
        (!known.is_empty()).then(|| known.iter().sum()),
        !media.is_empty() && media.iter().all(|m| m.co2_kg.is_some() && m.complete),
    )
}

/// Sum of the known values; unknown when none is; complete when all are known and complete.
fn sum(items: &[Measured]) -> Measured {
    let known: Vec<f64> = items.iter().filter_map(|m| m.value).collect();
    Measured {
        value: (!known.is_empty()).then(|| known.iter().sum()),
        complete: !items.is_empty() && items.iter().all(|m| m.complete && m.value.is_some()),
    }
}

/// The town's total of one medium over `buildings`.
fn town_medium(m: Medium, buildings: &[(&BuildingInput, &MediumInput)], climate: &Climate) -> MediumReport {
    let year = sum(&buildings.iter().map(|(_, i)| i.year).collect::<Vec<_>>());
    let prev = sum(&buildings.iter().map(|(_, i)| i.previous_year).collect::<Vec<_>>());
    let with_area: Vec<(f64, f64)> = buildings
        .iter()
        .filter_map(|(b, i)| i.year.value.zip(b.floor_area_m2))
        .collect();
    let area: f64 = with_area.iter().map(|(_, a)| a).sum();
    let outside: Option<f64> = buildings.iter().map(|(_, i)| i.outside_usage).sum();
    let costs: Vec<&Cost> = buildings.iter().filter_map(|(_, i)| i.cost.as_ref()).collect();
    let cost = costs.first().map(|c| Cost {
        net_cents: costs.iter().map(|c| c.net_cents).sum(),
        gross_cents: costs.iter().map(|c| c.gross_cents).sum(),
        currency: c.currency.clone(),
        complete: costs.len() == buildings.len()
            && costs.iter().all(|x| x.complete && x.currency == c.currency),
    });
    let gas_kwh: Option<f64> = buildings
        .iter()
        .filter_map(|(_, i)| i.gas_kwh)
        .reduce(|a, b| a + b);
    let input = MediumInput {
        medium: m,
        year,
        previous_year: prev,
        outside_usage: outside,
        cost,
        cost_note: buildings.iter().find_map(|(_, i)| i.cost_note.clone()),
        gas_kwh,
        emission_factor: buildings.iter().find_map(|(_, i)| i.emission_factor.clone()),
    };
    let mut r = medium(&input, None, None, climate);
    if m.unit() == "kWh" && area > 0.0 {
        r.per_m2 = Some(with_area.iter().map(|(v, _)| v).sum::<f64>() / area);
    }
    r
}

/// The report of `year` for `buildings`, with at most `top` candidates of each kind.
pub fn report(
    year: i32,
    buildings: &[BuildingInput],
    climate: Climate,
    values: &ComparisonValues,
    top: usize,
) -> Report {
    let reports: Vec<BuildingReport> = buildings.iter().map(|b| building(b, &climate, values)).collect();
    let town = Medium::ALL
        .into_iter()
        .filter_map(|m| {
            let of: Vec<(&BuildingInput, &MediumInput)> = buildings
                .iter()
                .flat_map(|b| b.media.iter().filter(|i| i.medium == m).map(move |i| (b, i)))
                .collect();
            (!of.is_empty()).then(|| town_medium(m, &of, &climate))
        })
        .collect();
    let mut candidates = Vec::new();
    for (kind, pick) in [
        (
            CandidateKind::AboveComparison,
            (|r: &MediumReport| r.above_comparison.filter(|a| *a > 0.0)) as fn(&MediumReport) -> Option<f64>,
        ),
        (CandidateKind::OutsideUsage, |r: &MediumReport| {
            r.outside_usage_share.filter(|s| *s > 0.0)
        }),
    ] {
        let mut found: Vec<Candidate> = reports
            .iter()
            .flat_map(|b| {
                b.media.iter().filter_map(move |r| {
                    pick(r).map(|ratio| Candidate {
                        kind,
                        site: b.id.clone(),
                        name: b.name.clone(),
                        medium: r.medium,
                        ratio,
                    })
                })
            })
            .collect();
        found.sort_by(|a, b| b.ratio.total_cmp(&a.ratio).then_with(|| a.site.cmp(&b.site)));
        found.truncate(top);
        candidates.extend(found);
    }
    let all: Vec<&BuildingReport> = reports.iter().filter(|b| !b.media.is_empty()).collect();
    let known: Vec<f64> = all.iter().filter_map(|b| b.co2_kg).collect();
    Report {
        year,
        climate,
        town_co2_kg: (!known.is_empty()).then(|| known.iter().sum()),
        town_co2_complete: !all.is_empty() && all.iter().all(|b| b.co2_complete),
        buildings: reports,
        town,
        candidates,
    }
}
