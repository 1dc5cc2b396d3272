//! What to give a tree now and what its next three days hold: the watering list's "litres" and "outlook"
//! columns, computed from the tree's status (mirrored from analytics) and the waterings logged since its
//! sensors last reported. Pure functions; the route module reads the status and the log.
//!
//! **Litres now.** Where the tree's dryness is known (measured, or inherited from reference trees), the
//! litres that refill its root zone from the present depletion to field capacity ([`Basis::SoilDeficit`]):
//! analytics' dryness scale has `1` at the critical depletion of plant-available water
//! ([`CRITICAL_DEPLETION`], analytics' default), so the deficit is
//! `dryness × CRITICAL_DEPLETION × AVAILABLE_WATER_MM` mm over the tree pit ([`PIT_AREA_M2`], as analytics
//! spreads a watering): 168 L at the critical edge. The API does not know each tree's soil profile, so the
//! available water is the built-in loam's over the root zone ([`AVAILABLE_WATER_MM`]); the figure says so.
//! Where nothing is known of the soil, the guideline ([`Basis::Guideline`]): 100 L per tree and week
//! ([`zw_model::tree::season::GUIDELINE_LITRES_PER_WEEK`]) less what was logged in the last seven days.
//! Either way litres logged after the sensors' latest reading are subtracted (they are not in the reading
//! yet), the figure is rounded up to 10 L and capped at [`MAX_DOSE_LITRES`] (Gieß den Kiez's largest dose,
//! for old trees), and a tree in good soil that does not turn critical within a day gets 0 L
//! ([`Basis::NotNeeded`]).
//!
//! **Outlook.** Over [`HORIZON_DAYS`] (forecasts are reliable only 1–3 days ahead): critical now, critical
//! in N days (the tree's `days_until_critical` when within the horizon), not within the horizon, or
//! unknown; the rain forecast over the next three days and, when the watering alert waits for it, why.

use chrono::{DateTime, Utc};
use serde::Serialize;
use zw_model::tree::season::GUIDELINE_LITRES_PER_WEEK;
use zw_model::tree::{SoilState, TreeStatus};

/// Days the outlook looks ahead.
pub const HORIZON_DAYS: f64 = 3.0;
/// The tree pit's area a watering spreads over, m² (analytics' `PIT_AREA_M2`: a 2 m × 2 m street-tree pit).
pub const PIT_AREA_M2: f64 = 4.0;
/// Plant-available water of the root zone at field capacity, mm: the built-in loam (field capacity 28 %,
/// wilting point 14 % by volume) over 60 cm of roots, `0.14 × 600 mm`.
pub const AVAILABLE_WATER_MM: f64 = 84.0;
/// Depletion of the plant-available water at which the soil turns critical (dryness 1; analytics' default
/// `critical_depletion`).
pub const CRITICAL_DEPLETION: f64 = 0.5;
/// The largest dose advised at once, L (Gieß den Kiez: 300 L for old trees).
pub const MAX_DOSE_LITRES: f64 = 300.0;

/// Where a litres figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The root zone's deficit to field capacity, from the tree's dryness.
    SoilDeficit,
    /// 100 L per tree and week less the week's waterings (nothing known of the soil).
    Guideline,
    /// Good soil, not critical within a day: nothing to give.
    NotNeeded,
}

/// The litres to give a tree now and where the figure comes from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LitresNow {
    /// Litres to give now (rounded up to 10 L).
    pub litres: f64,
    /// Where the figure comes from.
    pub basis: Basis,
    /// The figure's derivation in words (English, for the API; the dashboard words it from the fields).
    pub note: String,
    /// Litres logged since the sensors' latest reading, already subtracted.
    pub given_since_reading: f64,
}

/// The tree's next [`HORIZON_DAYS`].
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Outlook {
    /// Days looked ahead.
    pub horizon_days: f64,
    /// `critical_now`, `critical_in` (see `critical_in_days`), `not_within` (not critical within the
    /// horizon, or not drying) or `unknown` (no soil value).
    pub kind: &'static str,
    /// Days until critical, when within the horizon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub critical_in_days: Option<f64>,
    /// Rain forecast over the next three days, mm, when the weather feed forecasts rain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rain_mm: Option<f64>,
    /// Why the watering alert waits for forecast rain, if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rain_hold: Option<String>,
    /// What the days rest on: `et0`, `trend` or `mixed`; absent without a forecast.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// The latest reading of any of the tree's sensors, else the time its status was computed.
pub fn latest_reading(s: &TreeStatus) -> DateTime<Utc> {
    s.sensors.iter().filter_map(|x| x.last_seen).max().unwrap_or(s.ts)
}

fn round_up_10(l: f64) -> f64 {
    (l / 10.0).ceil() * 10.0
}

/// Litres for a tree with status `s` (none yet: nothing known), given `since_reading` litres logged after
/// its latest reading and `last_week` litres logged in the last seven days.
pub fn litres_now(s: Option<&TreeStatus>, since_reading: f64, last_week: f64) -> LitresNow {
    let dryness = s.and_then(|s| s.dryness).filter(|d| d.is_finite());
    let soon = s.and_then(|s| s.days_until_critical).is_some_and(|d| d <= 1.0);
    let state = s.map_or(SoilState::Unknown, |s| s.state);
    let out = |litres: f64, basis, note: String, given| LitresNow {
        litres: round_up_10(litres.clamp(0.0, MAX_DOSE_LITRES)),
        basis,
        note,
        given_since_reading: given,
    };
    match dryness {
        Some(_) if state == SoilState::Good && !soon => out(
            0.0,
            Basis::NotNeeded,
            "good soil, not critical within a day".into(),
            since_reading,
        ),
        Some(d) => {
            let per_dryness = CRITICAL_DEPLETION * AVAILABLE_WATER_MM * PIT_AREA_M2;
            let deficit = d.max(0.0) * per_dryness;
            let inherited = s.is_some_and(|s| !s.inherited_from.is_empty());
            out(
                deficit - since_reading,
                Basis::SoilDeficit,
                format!(
                    "refills the root zone to field capacity: dryness {d:.2} × {per_dryness:.0} L \
                     ({AVAILABLE_WATER_MM:.0} mm available water of loam over 60 cm roots, critical at \
                     {:.0} % depletion, {PIT_AREA_M2:.0} m² pit){}{}",
                    CRITICAL_DEPLETION * 100.0,
                    if inherited {
                        "; dryness inherited from reference trees"
                    } else {
                        ""
                    },
                    if since_reading > 0.0 {
                        format!(" less {since_reading:.0} L logged since the latest reading")
                    } else {
                        String::new()
                    },
                ),
                since_reading,
            )
        }
        None => out(
            GUIDELINE_LITRES_PER_WEEK - last_week,
            Basis::Guideline,
            format!(
                "no soil value: the guideline of {GUIDELINE_LITRES_PER_WEEK:.0} L per tree and week less \
                 {last_week:.0} L logged in the last 7 days"
            ),
            since_reading,
        ),
    }
}

/// The outlook of a tree with status `s`.
pub fn outlook(s: Option<&TreeStatus>) -> Outlook {
    let forecast = s.and_then(|s| s.forecast.as_ref());
    let days = s.and_then(|s| s.days_until_critical).filter(|d| d.is_finite());
    let known = s.is_some_and(|s| s.state != SoilState::Unknown);
    let (kind, critical_in_days) = match (known, days) {
        (false, _) => ("unknown", None),
        (true, _) if s.is_some_and(|s| s.state == SoilState::Critical) => ("critical_now", Some(0.0)),
        (true, Some(d)) if d <= 0.0 => ("critical_now", Some(0.0)),
        (true, Some(d)) if d <= HORIZON_DAYS => ("critical_in", Some((d * 10.0).round() / 10.0)),
        (true, _) => ("not_within", None),
    };
    Outlook {
        horizon_days: HORIZON_DAYS,
        kind,
        critical_in_days,
        rain_mm: forecast.and_then(|f| f.rain_3d_mm),
        rain_hold: forecast.and_then(|f| f.rain_hold.clone()),
        method: forecast.and_then(|f| {
            serde_json::to_value(f.method)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        }),
    }
}

#[cfg(test)]
mod tests {
    use zw_model::Id;
    use zw_model::tree::{AgeClass, Forecast, ForecastMethod, TREE_SCHEMA_VERSION, Urgency};

    use super::*;

    fn status(state: SoilState, dryness: Option<f64>, days: Option<f64>) -> TreeStatus {
        TreeStatus {
            v: TREE_SCHEMA_VERSION,
            tree: Id::new("t-1").expect("id"),
            site: Id::new("park").expect("id"),
            species: "Tilia cordata".into(),
            planted: 2023,
            lat: 51.0,
            lon: 6.0,
            state,
            dryness,
            combine: "worst".into(),
            tension_kpa: dryness.map(|d| d * 81.0),
            moisture_pct: None,
            trend_per_day: None,
            days_until_critical: days,
            forecast: None,
            urgency: Urgency {
                score: 1.0,
                rank: 1,
                age_years: 3,
                age_class: AgeClass::Baby,
                age_weight: 1.5,
                forecast_term: 0.0,
                vegetation_period: true,
            },
            young: true,
            sensor_fault: None,
            sensors: Vec::new(),
            inherited_from: Vec::new(),
            ts: Utc::now(),
        }
    }

    #[test]
    fn the_deficit_refills_the_root_zone_less_what_was_given_since_the_reading() {
        // At the critical edge: half of 84 mm over 4 m².
        let s = status(SoilState::Critical, Some(1.0), Some(0.0));
        let l = litres_now(Some(&s), 0.0, 0.0);
        assert_eq!((l.litres, l.basis), (170.0, Basis::SoilDeficit));
        assert!(l.note.contains("dryness 1.00 × 168 L"), "{}", l.note);
        // 80 L logged after the latest reading: 88 L left, rounded up.
        let l = litres_now(Some(&s), 80.0, 80.0);
        assert_eq!((l.litres, l.given_since_reading), (90.0, 80.0));
        assert!(l.note.contains("less 80 L"), "{}", l.note);
        // Moderate (dryness 0.6): 100.8 L → 110 L; far beyond critical: capped.
        let m = status(SoilState::Moderate, Some(0.6), None);
        assert_eq!(litres_now(Some(&m), 0.0, 0.0).litres, 110.0);
        let dry = status(SoilState::Critical, Some(3.0), Some(0.0));
        assert_eq!(litres_now(Some(&dry), 0.0, 0.0).litres, MAX_DOSE_LITRES);
        // More given than the deficit: nothing, never negative.
        assert_eq!(litres_now(Some(&m), 500.0, 500.0).litres, 0.0);
    }

    #[test]
    fn good_soil_needs_nothing_unless_critical_within_a_day_and_no_soil_value_falls_back_to_the_guideline() {
        let good = status(SoilState::Good, Some(0.3), Some(5.0));
        let l = litres_now(Some(&good), 0.0, 0.0);
        assert_eq!((l.litres, l.basis), (0.0, Basis::NotNeeded));
        let soon = status(SoilState::Good, Some(0.45), Some(0.8));
        assert_eq!(litres_now(Some(&soon), 0.0, 0.0).basis, Basis::SoilDeficit);
        let unknown = status(SoilState::Unknown, None, None);
        let l = litres_now(Some(&unknown), 0.0, 30.0);
        assert_eq!((l.litres, l.basis), (70.0, Basis::Guideline));
        assert!(
            l.note.contains("less 30 L logged in the last 7 days"),
            "{}",
            l.note
        );
        let none = litres_now(None, 0.0, 120.0);
        assert_eq!((none.litres, none.basis), (0.0, Basis::Guideline));
    }

    #[test]
    fn the_outlook_names_critical_days_within_three_days_and_the_rain_forecast() {
        assert_eq!(outlook(None).kind, "unknown");
        let now = status(SoilState::Critical, Some(1.1), Some(0.0));
        assert_eq!(
            (outlook(Some(&now)).kind, outlook(Some(&now)).critical_in_days),
            ("critical_now", Some(0.0))
        );
        let mut soon = status(SoilState::Moderate, Some(0.8), Some(1.44));
        soon.forecast = Some(Forecast {
            method: ForecastMethod::Et0,
            area: None,
            issued: None,
            et0_3d_mm: Some(9.0),
            rain_3d_mm: Some(12.5),
            rain_hold: Some("12.5 mm of rain forecast by tomorrow 14:00".into()),
            note: String::new(),
        });
        let o = outlook(Some(&soon));
        assert_eq!(
            (o.kind, o.critical_in_days, o.rain_mm, o.method.as_deref()),
            ("critical_in", Some(1.4), Some(12.5), Some("et0"))
        );
        assert!(o.rain_hold.is_some());
        let later = status(SoilState::Good, Some(0.2), Some(4.0));
        assert_eq!(outlook(Some(&later)).kind, "not_within");
        let steady = status(SoilState::Good, Some(0.2), None);
        assert_eq!(outlook(Some(&steady)).kind, "not_within");
    }
}
