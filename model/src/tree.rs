//! Tree status: how thirsty a tree is, how fast it dries, and how urgent it is compared with the others.
//!
//! Analytics publishes one [`TreeStatus`] per tree, retained on `zw/v1/trees/{tree}` ([`crate::topic::tree`]),
//! whenever it re-evaluates the tree (at least hourly). The parks department's list and map are built from
//! these: sort by `urgency.rank`, colour by `state`, show `days_until_critical`.
//!
//! Soil dryness is compared across sensor types on one scale, [`TreeStatus::dryness`]: `0` wet (tension 0 kPa
//! or field capacity), `0.5` the good/moderate boundary (33 kPa, or the soil profile's moderate depletion),
//! `1.0` the moderate/critical boundary (81 kPa, or the profile's critical depletion). Values above 1 are
//! beyond critical. Sensors whose values cannot be trusted ([`SensorStatus::fault`]) are listed but do not
//! count: a broken sensor never makes a tree look thirsty.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Id;

pub mod dryness;
pub mod inherit;
pub mod root;
pub mod season;

/// Schema version of [`TreeStatus`].
pub const TREE_SCHEMA_VERSION: u32 = 1;

/// Soil water state, in the bands of Berlin's QTrees/Baumblick (tension 0–33 good, 33–81 moderate, above 81
/// critical) or the equivalent depletion bands of the tree's soil profile for VWC sensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoilState {
    /// Enough water.
    Good,
    /// Drying; water soon.
    Moderate,
    /// Water now.
    Critical,
    /// No trustworthy sensor value (no sensor, all faulty, or no data yet).
    Unknown,
}

impl SoilState {
    /// The state of a dryness value on the common scale (0.5 and 1.0 are the band edges).
    pub fn from_dryness(dryness: f64) -> SoilState {
        if !dryness.is_finite() {
            SoilState::Unknown
        } else if dryness >= 1.0 {
            SoilState::Critical
        } else if dryness >= 0.5 {
            SoilState::Moderate
        } else {
            SoilState::Good
        }
    }
}

/// Gieß den Kiez age classes: baby ≤ 4 years, junior ≤ 10, senior older.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgeClass {
    /// Planted at most 4 years ago.
    Baby,
    /// 5 to 10 years.
    Junior,
    /// Older than 10 years.
    Senior,
}

impl AgeClass {
    /// The class of a tree `age_years` old.
    pub fn of(age_years: i32) -> AgeClass {
        match age_years {
            ..=4 => AgeClass::Baby,
            5..=10 => AgeClass::Junior,
            _ => AgeClass::Senior,
        }
    }
}

/// Why a sensor's values are not trusted (or, for a low battery, soon will not be).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The same value for longer than plausible.
    Stuck,
    /// No reading for too long.
    Gap,
    /// Battery voltage below the replacement level (values still count).
    LowBattery,
    /// Values outside what soil can show, or a drying step faster than physics allows.
    Impossible,
}

/// A sensor fault and since when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorFault {
    /// The faulty sensor.
    pub device: Id,
    /// What is wrong.
    pub kind: FaultKind,
    /// Since when.
    pub since: DateTime<Utc>,
}

/// One sensor's view of the soil at the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorStatus {
    /// The sensor device.
    pub device: Id,
    /// Installation depth, if configured (for a multi-depth probe, the depth of this entry: a probe is
    /// listed once per depth, under the same device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_cm: Option<u16>,
    /// Share of the tree's roots in the soil layer this depth stands for ([`root`]), when the tree's
    /// sensors have depths; a depth with less than `trees.min_root_share` does not decide the tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_share: Option<f64>,
    /// Latest volumetric water content, %, for VWC sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moisture_pct: Option<f64>,
    /// Latest soil water tension, kPa, for tension sensors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tension_kpa: Option<f64>,
    /// Dryness on the common scale (see the module docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dryness: Option<f64>,
    /// State of this sensor's value.
    pub state: SoilState,
    /// Drying trend in the sensor's own unit per day (kPa/day rising, or %/day falling when drying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend_per_day: Option<f64>,
    /// Forecast days until this sensor reaches critical; `0` when already critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_until_critical: Option<f64>,
    /// What this sensor's forecast rests on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_method: Option<ForecastMethod>,
    /// Drying per mm of reference evapotranspiration (ET0), in the sensor's own unit at its current value
    /// (kPa/mm rising, or %/mm falling): the learned tree-and-soil coefficient the ET0 forecast is scaled
    /// by. Absent until learned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drying_per_mm: Option<f64>,
    /// Why the sensor is not trusted, if it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
    /// Time of its latest reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
}

/// What a days-until-critical forecast rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForecastMethod {
    /// The ET0 forecast of the tree's weather area times the drying per mm of ET0 learned at the sensor.
    Et0,
    /// The drying trend of the last days, extrapolated (no usable weather input).
    Trend,
    /// Some sensors of the tree by ET0, others by trend.
    Mixed,
}

/// The basis of a tree's forecast, so a parks department can see whether the weather was taken into account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forecast {
    /// How the forecast was made.
    pub method: ForecastMethod,
    /// The weather area of the tree's park, if one is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<Id>,
    /// Issue time of the ET0 forecast used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued: Option<DateTime<Utc>>,
    /// Forecast ET0 over the next three days, mm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub et0_3d_mm: Option<f64>,
    /// Rain forecast over the next three days, mm (when the area's feed forecasts rain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rain_3d_mm: Option<f64>,
    /// Why the watering alert waits, when rain forecast before the tree turns critical would make watering
    /// unnecessary (in words: how much rain, by when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rain_hold: Option<String>,
    /// In words, including why the trend was used when it was.
    pub note: String,
}

/// How urgent a tree is, with the inputs of the score so a ranking can be explained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Urgency {
    /// Higher is more urgent; `(dryness + forecast term) × age weight × season factor`.
    pub score: f64,
    /// 1 = the most urgent tree of all trees analytics watches.
    pub rank: u32,
    /// Years since planting.
    pub age_years: i32,
    /// Age class.
    pub age_class: AgeClass,
    /// Weight of the age class in the score (young trees first).
    pub age_weight: f64,
    /// The forecast term: `max(0, 1 − days_until_critical / horizon)`.
    pub forecast_term: f64,
    /// Whether the vegetation period (1 March – 1 November by default) is on; outside it trees are dormant
    /// and urgency is scaled down and no watering alerts are raised.
    pub vegetation_period: bool,
}

/// The status of one tree, published retained on `zw/v1/trees/{tree}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeStatus {
    /// Schema version, [`TREE_SCHEMA_VERSION`].
    pub v: u32,
    /// The tree.
    pub tree: Id,
    /// Its park site.
    pub site: Id,
    /// Botanical name.
    pub species: String,
    /// Year of planting.
    pub planted: u16,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// Combined soil state of the trusted sensors.
    pub state: SoilState,
    /// Combined dryness (see the module docs); absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dryness: Option<f64>,
    /// How depths were combined: `worst` (the driest trusted sensor) or `mean`.
    pub combine: String,
    /// Combined tension of the trusted tension sensors, kPa.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tension_kpa: Option<f64>,
    /// Combined VWC of the trusted moisture sensors, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moisture_pct: Option<f64>,
    /// Change of the combined dryness per day (positive = drying).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend_per_day: Option<f64>,
    /// Forecast days until critical; `0` when critical now; absent when no trend is known or it is not drying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_until_critical: Option<f64>,
    /// What the forecast rests on (ET0 forecast or trend, and why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
    /// Urgency and its inputs.
    pub urgency: Urgency,
    /// Planted within the last 10 years.
    pub young: bool,
    /// The first sensor fault at this tree, if any (details per sensor in `sensors`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_fault: Option<SensorFault>,
    /// Every sensor at the tree.
    pub sensors: Vec<SensorStatus>,
    /// For a tree without a sensor of its own: the reference trees (same soil, species and age class,
    /// nearby) whose mean `dryness`, `state` and `days_until_critical` it shows, an estimate rather than a
    /// measurement. Empty for a tree measured itself, or one with no reference tree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherited_from: Vec<Id>,
    /// When this status was computed.
    pub ts: DateTime<Utc>,
}

impl TreeStatus {
    /// The wire form.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain structs of strings, numbers and timestamps cannot fail to serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a retained tree status.
    pub fn from_json(bytes: &[u8]) -> Result<TreeStatus, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dryness_maps_to_bands() {
        let cases = [
            (0.0, SoilState::Good),
            (0.49, SoilState::Good),
            (0.5, SoilState::Moderate),
            (0.99, SoilState::Moderate),
            (1.0, SoilState::Critical),
            (3.0, SoilState::Critical),
            (f64::NAN, SoilState::Unknown),
        ];
        for (d, s) in cases {
            assert_eq!(SoilState::from_dryness(d), s, "{d}");
        }
    }

    #[test]
    fn age_classes_follow_giess_den_kiez() {
        let cases = [
            (0, AgeClass::Baby),
            (4, AgeClass::Baby),
            (5, AgeClass::Junior),
            (10, AgeClass::Junior),
        ];
        for (age, class) in cases {
            assert_eq!(AgeClass::of(age), class, "{age}");
        }
        assert_eq!(AgeClass::of(11), AgeClass::Senior);
    }
}
