//! Settings of the tree detector (`[analytics.trees]`): bands, soil profiles, trend, urgency, faults.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{MonthDay, check, within};

pub use zw_model::tree::dryness::{Combine, SoilProfile};

/// Sensor fault rules (`[analytics.trees.faults]`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// The exact same value for this long is a stuck sensor.
    #[serde(with = "humantime_serde")]
    pub stuck_after: Duration,
    /// No reading for this long is a gap.
    #[serde(with = "humantime_serde")]
    pub gap_after: Duration,
    /// Battery voltage below this asks for a replacement (values still count), for sensors of a model not in
    /// [`FaultConfig::battery_low_v_by_model`].
    pub battery_low_v: f64,
    /// The low-battery voltage per sensor model, since chemistries differ: `lse01` 3.3 V (one Li-SOCl2
    /// cell, 3.6 V and flat until nearly empty), `dl-trs21` 2.4 V (two C alkaline cells, 3.0–3.2 V fresh,
    /// 1.2 V per cell near the end). Entries given extend these built-in ones or override them by name.
    #[serde(deserialize_with = "extend_builtin_batteries")]
    pub battery_low_v_by_model: BTreeMap<String, f64>,
    /// The model of each soil sensor's battery, by device id, naming an entry of `battery_low_v_by_model`:
    /// what the sensor is, whatever it is read through (a generic `json` source has no model). A sensor not
    /// listed: its `ttn` source's model, else `battery_low_v`.
    pub sensor_battery: BTreeMap<String, String>,
    /// Plausible VWC range, %; outside is impossible.
    pub vwc_min_pct: f64,
    /// Upper end of the plausible VWC range, %.
    pub vwc_max_pct: f64,
    /// Highest plausible tension, kPa.
    pub tension_max_kpa: f64,
    /// Upper reading limit of the tension sensors, kPa (Watermark: 239). A sensor resting at its limit
    /// means "at least this dry", not stuck.
    pub tension_limit_kpa: f64,
    /// Soil dries slowly: a rise of the dryness (common scale) by more than this between two readings less
    /// than an hour apart is impossible and marks the sensor faulty until it reads plausibly again.
    pub max_drying_step: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            stuck_after: Duration::from_secs(12 * 3600),
            gap_after: Duration::from_secs(3 * 3600),
            battery_low_v: 3.3,
            battery_low_v_by_model: builtin_batteries(),
            sensor_battery: BTreeMap::new(),
            vwc_min_pct: 1.0,
            vwc_max_pct: 70.0,
            tension_max_kpa: 300.0,
            tension_limit_kpa: 239.0,
            max_drying_step: 0.3,
        }
    }
}

fn builtin_batteries() -> BTreeMap<String, f64> {
    BTreeMap::from([("lse01".to_owned(), 3.3), ("dl-trs21".to_owned(), 2.4)])
}

fn extend_builtin_batteries<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, f64>, D::Error> {
    let mut all = builtin_batteries();
    all.extend(BTreeMap::<String, f64>::deserialize(d)?);
    Ok(all)
}

impl FaultConfig {
    /// The low-battery voltage of a sensor of `model` (`None`: not a model with a known battery).
    pub fn battery_low_v_for(&self, model: Option<&str>) -> f64 {
        model
            .and_then(|m| self.battery_low_v_by_model.get(m))
            .copied()
            .unwrap_or(self.battery_low_v)
    }

    /// The low-battery voltage of soil sensor `sensor` read through a `ttn` source of `ttn_model` (`None`:
    /// another source): its configured battery model (`sensor_battery`) first.
    pub fn battery_low_v_of(&self, sensor: &str, ttn_model: Option<&str>) -> f64 {
        self.battery_low_v_for(self.sensor_battery.get(sensor).map(String::as_str).or(ttn_model))
    }
}

/// The weather input of the tree forecast (`[analytics.trees.weather]`): which area's reference
/// evapotranspiration (ET0, `zw/v1/weather/{area}`) each park uses, and when it is too old to use. A park
/// without an area, or whose area has no fresh forecast, is forecast from its drying trend as before; the
/// tree status says which and why.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeatherConfig {
    /// Weather area of parks not listed in `site_area` (unset: those parks use the trend only); for
    /// buildings, the area after the one named like the building.
    pub default_area: Option<String>,
    /// Weather area per site id: a park's ET0 and rain, a building's temperatures for its heating forecast
    /// and budget (a building not listed takes the area named like it, then `default_area`, then the only
    /// area of the feed).
    pub site_area: BTreeMap<String, String>,
    /// An ET0 forecast issued longer ago than this is stale: the trend is used until a newer one comes.
    /// NWP forecasts are issued several times a day (DWD ICON every 3 h, MOSMIX hourly), so 36 h means
    /// a whole day of missed updates.
    #[serde(with = "humantime_serde")]
    pub max_forecast_age: Duration,
    /// Messages issued longer ago than this are rejected (`reason="timestamp"`).
    #[serde(with = "humantime_serde")]
    pub max_message_age: Duration,
    /// Memory of a sensor's drying per mm of ET0: the time constant its day-on-day pairs are weighted
    /// with. Unlike the drying rate, the drying per mm is a property of tree, soil and depth, not of the
    /// weather, so it can remember more than the last few days.
    #[serde(with = "humantime_serde")]
    pub drying_memory: Duration,
}

impl Default for WeatherConfig {
    fn default() -> Self {
        Self {
            default_area: None,
            site_area: BTreeMap::new(),
            max_forecast_age: Duration::from_secs(36 * 3600),
            max_message_age: Duration::from_secs(7 * 86_400),
            drying_memory: Duration::from_secs(7 * 86_400),
        }
    }
}

impl WeatherConfig {
    /// The weather area of park `site`, if any.
    pub fn area_of(&self, site: &str) -> Option<&str> {
        self.site_area
            .get(site)
            .or(self.default_area.as_ref())
            .map(String::as_str)
    }

    fn validate(&self, e: &mut Vec<String>) {
        let areas = self.default_area.iter().map(|a| ("default_area".to_string(), a));
        let sites = self.site_area.iter().map(|(s, a)| (format!("site_area.{s}"), a));
        for (path, area) in areas.chain(sites) {
            if zw_model::Id::new(area.clone()).is_err() {
                e.push(format!(
                    "analytics.trees.weather.{path}: {area:?} must be a valid id (a-z 0-9 - _, 1-64)"
                ));
            }
        }
        let hours = |d: Duration| d.as_secs_f64() / 3600.0;
        check(
            e,
            within(hours(self.max_forecast_age), 1.0, 10.0 * 24.0),
            "trees.weather.max_forecast_age",
            "between 1h and 10 days",
        );
        check(
            e,
            within(hours(self.max_message_age), 1.0, 31.0 * 24.0),
            "trees.weather.max_message_age",
            "between 1h and 31 days",
        );
        check(
            e,
            within(hours(self.drying_memory), 24.0, 60.0 * 24.0),
            "trees.weather.drying_memory",
            "between 1 day and 60 days",
        );
    }
}

/// Trees and their soil sensors.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TreesConfig {
    /// Tension where `moderate` starts, kPa (QTrees: 33).
    pub moderate_kpa: f64,
    /// Tension where `critical` starts, kPa (QTrees: 81).
    pub critical_kpa: f64,
    /// Soil profile of trees not listed in `tree_soil`.
    pub default_soil: String,
    /// Soil profile per tree id.
    pub tree_soil: BTreeMap<String, String>,
    /// Installation depth per sensor device id, cm (shown in the status, and weighing the depths of a
    /// tree by its roots).
    pub sensor_depth_cm: BTreeMap<String, u16>,
    /// Multi-depth probes: per probe device id, the depth in cm of each depth it reports, from the top
    /// (`soil_moisture` is the first, `soil_moisture_2` the second, up to four): `{ "probe-1" = [10, 30,
    /// 60] }`. Each depth is a sensor of its own (trend, forecast, faults); one maintenance alert per probe.
    pub sensor_depths_cm: BTreeMap<String, Vec<u16>>,
    /// A depth whose soil layer holds less than this share of the tree's roots (its species' root
    /// profile, [`zw_model::tree::root`]) does not decide the tree when a depth with more does: a probe's
    /// tip below the root zone may dry without the tree suffering. `0`: every depth counts.
    pub min_root_share: f64,
    /// How several sensors (depths) of a tree are combined.
    pub combine: Combine,
    /// History the drying trend is fitted over (robust Theil–Sen regression of hourly means).
    #[serde(with = "humantime_serde")]
    pub trend_window: Duration,
    /// History needed before a trend (and so a forecast) is given.
    #[serde(with = "humantime_serde")]
    pub trend_min_span: Duration,
    /// A wetting by more than this within six hours is rain or watering: the trend restarts after it.
    /// Measured on the dryness scale linear in ln(kPa) or VWC, so showers on wet soil count too.
    pub wetting_step: f64,
    /// Forecasts further ahead than this many days are not given.
    pub horizon_days: f64,
    /// A watering alert opens when the tree is critical, or forecast critical within this many days.
    pub alert_within_days: f64,
    /// How long that must hold before the alert opens (and the reverse before it resolves).
    #[serde(with = "humantime_serde")]
    pub alert_hold: Duration,
    /// Young trees (planted at most this many years ago) come first.
    pub young_years: i32,
    /// Urgency weight per age class: baby (≤ 4 years), junior (≤ 10), senior.
    pub age_weights: [f64; 3],
    /// First day of the vegetation period.
    pub vegetation_from: MonthDay,
    /// First day after the vegetation period.
    pub vegetation_to: MonthDay,
    /// Urgency factor outside the vegetation period (no watering alerts then).
    pub dormant_factor: f64,
    /// How often every tree is re-evaluated and its status published.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Soil profiles by name: the built-in textures (`sand`, `loamy_sand`, `sandy_loam`, `loam`,
    /// `silt_loam`, `clay_loam`, `clay`), extended by the profiles given or overridden by name; giving one
    /// keeps all the others.
    #[serde(deserialize_with = "extend_builtin_profiles")]
    pub soil_profiles: BTreeMap<String, SoilProfile>,
    /// Sensor fault rules.
    pub faults: FaultConfig,
    /// The ET0 weather input of the forecast.
    pub weather: WeatherConfig,
}

use zw_model::tree::dryness::builtin_profiles;

fn extend_builtin_profiles<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, SoilProfile>, D::Error> {
    let mut all = builtin_profiles();
    all.extend(BTreeMap::<String, SoilProfile>::deserialize(d)?);
    Ok(all)
}

impl Default for TreesConfig {
    fn default() -> Self {
        Self {
            moderate_kpa: 33.0,
            critical_kpa: 81.0,
            default_soil: "loam".into(),
            tree_soil: BTreeMap::new(),
            sensor_depth_cm: BTreeMap::new(),
            sensor_depths_cm: BTreeMap::new(),
            min_root_share: 0.05,
            combine: Combine::Worst,
            trend_window: Duration::from_secs(4 * 86_400),
            trend_min_span: Duration::from_secs(86_400),
            wetting_step: 0.1,
            horizon_days: 10.0,
            alert_within_days: 1.0,
            alert_hold: Duration::from_secs(3600),
            young_years: 10,
            age_weights: [1.5, 1.25, 1.0],
            vegetation_from: MonthDay { month: 3, day: 1 },
            vegetation_to: MonthDay { month: 11, day: 1 },
            dormant_factor: 0.2,
            interval: Duration::from_secs(900),
            soil_profiles: builtin_profiles(),
            faults: FaultConfig::default(),
            weather: WeatherConfig::default(),
        }
    }
}

impl TreesConfig {
    pub(crate) fn validate(&self, e: &mut Vec<String>) {
        let bands = within(self.moderate_kpa, 0.0, 1e4) && within(self.critical_kpa, 0.0, 1e4);
        check(
            e,
            bands && self.moderate_kpa < self.critical_kpa,
            "trees.moderate_kpa",
            "positive and below critical_kpa",
        );
        if !self.soil_profiles.contains_key(&self.default_soil) {
            e.push(format!(
                "analytics.trees.default_soil: unknown soil profile {:?}",
                self.default_soil
            ));
        }
        for (tree, soil) in &self.tree_soil {
            if !self.soil_profiles.contains_key(soil) {
                e.push(format!(
                    "analytics.trees.tree_soil.{tree}: unknown soil profile {soil:?}"
                ));
            }
        }
        for (name, p) in &self.soil_profiles {
            let ok = within(p.wilting_point_pct, 0.0, 100.0)
                && within(p.field_capacity_pct, 0.0, 100.0)
                && p.wilting_point_pct < p.field_capacity_pct
                && within(p.moderate_depletion, 0.0, 1.0)
                && within(p.critical_depletion, 0.0, 1.0)
                && p.moderate_depletion < p.critical_depletion;
            let what = "wilting point < field capacity (0–100 %) and 0 <= moderate < critical depletion <= 1";
            check(e, ok, &format!("trees.soil_profiles.{name}"), what);
        }
        check(
            e,
            self.trend_min_span <= self.trend_window,
            "trees.trend_min_span",
            "at most trend_window",
        );
        check(
            e,
            self.trend_min_span >= Duration::from_secs(3 * 3600),
            "trees.trend_min_span",
            "at least 3h",
        );
        check(
            e,
            within(self.wetting_step, 0.0, 10.0),
            "trees.wetting_step",
            "between 0 and 10",
        );
        check(
            e,
            within(self.horizon_days, 0.5, 60.0),
            "trees.horizon_days",
            "between 0.5 and 60",
        );
        check(
            e,
            within(self.alert_within_days, 0.0, self.horizon_days),
            "trees.alert_within_days",
            "between 0 and horizon_days",
        );
        check(
            e,
            self.age_weights.iter().all(|w| within(*w, 0.0, 100.0)),
            "trees.age_weights",
            "non-negative",
        );
        check(
            e,
            self.vegetation_from < self.vegetation_to,
            "trees.vegetation_from",
            "before vegetation_to",
        );
        check(
            e,
            within(self.dormant_factor, 0.0, 1.0),
            "trees.dormant_factor",
            "between 0 and 1",
        );
        check(
            e,
            self.interval >= Duration::from_secs(1),
            "trees.interval",
            "at least 1s",
        );
        for (probe, depths) in &self.sensor_depths_cm {
            let ok = (2..=zw_model::Quantity::SOIL_MOISTURE_BY_DEPTH.len()).contains(&depths.len())
                && depths.iter().all(|d| (1..=500).contains(d))
                && depths.windows(2).all(|w| w[0] < w[1]);
            let what = "2 to 4 depths in cm (1–500), from the top, each deeper than the one before";
            check(e, ok, &format!("trees.sensor_depths_cm.{probe}"), what);
            if self.sensor_depth_cm.contains_key(probe) {
                e.push(format!(
                    "analytics.trees.sensor_depth_cm.{probe}: a multi-depth probe's depths are given in \
                     sensor_depths_cm only"
                ));
            }
        }
        check(
            e,
            within(self.min_root_share, 0.0, 0.5),
            "trees.min_root_share",
            "between 0 and 0.5",
        );
        self.weather.validate(e);
        let f = &self.faults;
        check(
            e,
            f.gap_after >= Duration::from_secs(60),
            "trees.faults.gap_after",
            "at least 1m",
        );
        check(
            e,
            f.stuck_after >= Duration::from_secs(3600),
            "trees.faults.stuck_after",
            "at least 1h",
        );
        check(
            e,
            within(f.battery_low_v, 0.0, 20.0),
            "trees.faults.battery_low_v",
            "between 0 and 20",
        );
        for (sensor, model) in &f.sensor_battery {
            if !f.battery_low_v_by_model.contains_key(model) {
                let known: Vec<&str> = f.battery_low_v_by_model.keys().map(String::as_str).collect();
                e.push(format!(
                    "analytics.trees.faults.sensor_battery.{sensor}: unknown battery model {model:?}; known: {} \
                     (add it to battery_low_v_by_model)",
                    known.join(", ")
                ));
            }
        }
        for (model, v) in &f.battery_low_v_by_model {
            check(
                e,
                within(*v, 0.0, 20.0),
                &format!("trees.faults.battery_low_v_by_model.{model}"),
                "between 0 and 20",
            );
        }
        check(
            e,
            within(f.vwc_min_pct, 0.0, 100.0) && f.vwc_min_pct < f.vwc_max_pct,
            "trees.faults.vwc_min_pct",
            "below vwc_max_pct",
        );
        check(
            e,
            within(f.tension_max_kpa, 1.0, 1e4),
            "trees.faults.tension_max_kpa",
            "positive",
        );
        check(
            e,
            within(f.max_drying_step, 0.01, 10.0),
            "trees.faults.max_drying_step",
            "between 0.01 and 10",
        );
    }

    /// The part of these settings a reader of soil readings judges trees by (the API's season report and
    /// soil chart), [`zw_model::tree::dryness::SoilRules`].
    pub fn soil_rules(&self) -> zw_model::tree::dryness::SoilRules {
        zw_model::tree::dryness::SoilRules {
            moderate_kpa: self.moderate_kpa,
            critical_kpa: self.critical_kpa,
            default_soil: self.default_soil.clone(),
            tree_soil: self.tree_soil.clone(),
            soil_profiles: self.soil_profiles.clone(),
            sensor_depth_cm: self.sensor_depth_cm.clone(),
            sensor_depths_cm: self.sensor_depths_cm.clone(),
            min_root_share: self.min_root_share,
            combine: self.combine,
            default_area: self.weather.default_area.clone(),
            site_area: self.weather.site_area.clone(),
        }
    }

    /// The soil profile of `tree` (its own, else the default; `None` only for an invalid config).
    pub fn soil_of(&self, tree: &str) -> Option<&SoilProfile> {
        let name = self.tree_soil.get(tree).unwrap_or(&self.default_soil);
        self.soil_profiles.get(name)
    }
}
