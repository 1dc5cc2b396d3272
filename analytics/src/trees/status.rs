//! Evaluating trees: per-sensor views, the combined state and forecast, urgency and rank, watering alerts.

use chrono::Datelike;
use zw_model::Id;
use zw_model::alert::{AlertKind, Explanation, Severity, Subject};
use zw_model::tree::{
    AgeClass, Forecast, ForecastMethod, SensorFault, SensorStatus, SoilState, TREE_SCHEMA_VERSION,
    TreeStatus, Urgency,
};

use crate::calendar::{Local, in_season};
use crate::condition::Transition;
use crate::config::{Combine, TreesConfig};
use crate::explain::{self, Change, Signal, round};
use crate::trees::Trees;
use crate::trees::combine::{Input, combine};
use crate::trees::scale::Scale;
use crate::trees::sensor::{Et0Input, View};
use crate::trees::watering::WETTING_MM;
use crate::trees::weather::Unavailable;

const DAY_MS: f64 = 86_400_000.0;
/// Rain due up to this long after the forecast critical time still holds a watering alert: the forecast's
/// error at a day ahead is a few tenths of a day.
const RAIN_MARGIN_DAYS: f64 = 0.5;
/// Rain forecast this long ago that the sensors have not seen yet still holds (timing errors of NWP rain
/// are hours; water reaches a 60–90 cm sensor hours after it fell).
const RAIN_GRACE_MS: i64 = 6 * 3_600_000;

pub(crate) fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn signal(kind: AlertKind, site: &Id, subject: Subject, now: i64, change: Change) -> Signal {
    Signal {
        kind,
        site: site.clone(),
        subject,
        at: explain::utc(now),
        change,
    }
}

/// Evaluates every tree at `now`, updates watering alerts, ranks by urgency.
pub(crate) fn evaluate(t: &mut Trees, now: i64, local: Local, out: &mut Vec<Signal>) -> Vec<TreeStatus> {
    let cfg = &t.cfg;
    let date = local.date();
    let season = in_season(date, cfg.vegetation_from, cfg.vegetation_to);
    let (min_span, horizon) = (cfg.trend_min_span.as_secs_f64() / 86_400.0, cfg.horizon_days);
    let mut statuses = Vec::with_capacity(t.trees.len());
    for tr in &mut t.trees {
        let mut sensors = Vec::with_capacity(tr.sensors.len());
        let mut inputs = Vec::new();
        let mut driver: Option<((f64, f64), usize)> = None;
        let et0 = Et0Input {
            area: tr.area.as_ref().and_then(|a| t.areas.get(a)),
            configured: tr.area.is_some(),
            max_age: ms(cfg.weather.max_forecast_age),
            memory_days: cfg.weather.drying_memory.as_secs_f64() / 86_400.0,
        };
        let mut views: Vec<View> = Vec::with_capacity(tr.sensors.len());
        // Depths with too few of the tree's roots do not decide it while a trusted depth with enough does;
        // the mean weighs the depths by their roots when every sensor has a depth.
        let rooted = |k: usize| tr.root_share[k].is_none_or(|r| r >= cfg.min_root_share);
        let any_rooted = tr
            .sensors
            .iter()
            .enumerate()
            .any(|(k, &i)| rooted(k) && t.sensors[i].trusted());
        let weighted = tr.root_share.iter().all(Option::is_some);
        for (k, &i) in tr.sensors.iter().enumerate() {
            let s = &t.sensors[i];
            let v = s.view(now, min_span, horizon, et0, &mut t.scratch);
            let scale = s.scale.unwrap_or(tr.vwc);
            let tension = matches!(scale, Scale::Tension { .. });
            let counts = rooted(k) || !any_rooted;
            if let (true, true, Some(mut input)) = (v.trusted, counts, Input::of(scale, &v)) {
                if weighted {
                    input.weight = tr.root_share[k].unwrap_or(1.0);
                }
                inputs.push(input);
                // The sensor that drives the alert: the earliest own forecast, then the driest.
                let key = (v.days.unwrap_or(f64::INFINITY), -v.dryness.unwrap_or(0.0));
                if driver.is_none_or(|(best, _)| key < best) {
                    driver = Some((key, sensors.len()));
                }
            }
            let in_unit = |change: f64, val: f64| scale.from_fit_space(scale.fit_space(val) + change) - val;
            let per_day = v.slope.zip(v.value).map(|(sl, val)| round(in_unit(sl, val)));
            let per_mm = v
                .per_mm
                .zip(v.value)
                .map(|(k, val)| (in_unit(k, val) * 1e3).round() / 1e3);
            sensors.push(SensorStatus {
                device: s.device.clone(),
                depth_cm: s.depth_cm,
                root_share: tr.root_share[k].map(|r| (r * 1e3).round() / 1e3),
                moisture_pct: v.value.filter(|_| !tension).map(round),
                tension_kpa: v.value.filter(|_| tension).map(round),
                dryness: v.dryness.map(round),
                state: if v.trusted {
                    v.dryness.map_or(SoilState::Unknown, SoilState::from_dryness)
                } else {
                    SoilState::Unknown
                },
                trend_per_day: per_day,
                days_until_critical: v.days.map(round),
                forecast_method: v.method,
                drying_per_mm: per_mm,
                fault: s.fault().map(|f| f.0),
                last_seen: (s.last_ts != i64::MIN).then(|| explain::utc(s.last_ts)),
            });
            if v.trusted {
                views.push(v);
            }
        }
        let c = combine(&inputs, cfg.combine, horizon);
        let mut forecast = basis(&views, tr.area.as_ref(), et0, now);
        // Rain forecast before the tree turns critical: a watering alert not yet open waits for it (the
        // sensors see whether it came; if it did not, or was too little, the alert opens then, at the
        // latest when the tree is critical). "Before" allows for the forecast's own error
        // (RAIN_MARGIN_DAYS), and rain forecast for the last RAIN_GRACE_MS still counts: rain is often
        // hours late, and the deeper sensors see it hours after it fell.
        let held = c
            .filter(|c| c.dryness < 1.0 && !tr.water.is_active())
            .and_then(|c| c.days)
            .zip(et0.area)
            .and_then(|(days, area)| {
                let until = now + ((days.max(0.0) + RAIN_MARGIN_DAYS) * DAY_MS) as i64;
                area.rain(now - RAIN_GRACE_MS, until, et0.max_age)
            })
            .filter(|(mm, _)| *mm >= WETTING_MM);
        if let (Some((mm, end)), Some(f)) = (held, forecast.as_mut()) {
            f.rain_hold = Some(format!(
                "{mm:.0} mm of rain forecast by {}, before the soil turns critical: the watering alert waits for it",
                explain::utc(end).format("%Y-%m-%d %H:%M UTC")
            ));
        }
        let age = date.year() - i32::from(tr.tree.planted);
        let age_class = AgeClass::of(age);
        let age_weight = cfg.age_weights[match age_class {
            AgeClass::Baby => 0,
            AgeClass::Junior => 1,
            AgeClass::Senior => 2,
        }];
        let forecast_term = c
            .and_then(|c| c.days)
            .map_or(0.0, |d| (1.0 - d / horizon).max(0.0));
        let season_factor = if season { 1.0 } else { cfg.dormant_factor };
        let score = c.map_or(0.0, |c| age_weight * season_factor * (c.dryness + forecast_term));
        let pick = |tension: bool| {
            let vals = sensors
                .iter()
                .filter(|s| s.state != SoilState::Unknown)
                .filter_map(|s| if tension { s.tension_kpa } else { s.moisture_pct });
            let vals: Vec<f64> = vals.collect();
            if vals.is_empty() {
                return None;
            }
            Some(round(match (cfg.combine, tension) {
                (Combine::Mean, _) => vals.iter().sum::<f64>() / vals.len() as f64,
                (Combine::Worst, true) => vals.iter().copied().fold(f64::MIN, f64::max),
                (Combine::Worst, false) => vals.iter().copied().fold(f64::MAX, f64::min),
            }))
        };
        let status = TreeStatus {
            v: TREE_SCHEMA_VERSION,
            tree: tr.tree.id.clone(),
            site: tr.tree.site.clone(),
            species: tr.tree.species.clone(),
            planted: tr.tree.planted,
            lat: tr.tree.lat,
            lon: tr.tree.lon,
            state: c.map_or(SoilState::Unknown, |c| SoilState::from_dryness(c.dryness)),
            dryness: c.map(|c| round(c.dryness)),
            combine: match cfg.combine {
                Combine::Worst => "worst".into(),
                Combine::Mean => "mean".into(),
            },
            tension_kpa: pick(true),
            moisture_pct: pick(false),
            trend_per_day: c.and_then(|c| c.trend_per_day).map(round),
            days_until_critical: c.and_then(|c| c.days).map(round),
            forecast,
            urgency: Urgency {
                score: round(score),
                rank: 0,
                age_years: age,
                age_class,
                age_weight,
                forecast_term: round(forecast_term),
                vegetation_period: season,
            },
            young: age <= cfg.young_years,
            sensor_fault: sensors.iter().find_map(|s| {
                s.fault.map(|kind| SensorFault {
                    device: s.device.clone(),
                    kind,
                    since: s.last_seen.unwrap_or_default(),
                })
            }),
            sensors,
            inherited_from: Vec::new(),
            ts: explain::utc(now),
        };
        // Watering alert: critical or forecast critical soon, in season, from trusted sensors only.
        let within = cfg.alert_within_days;
        let above = season
            && held.is_none()
            && c.is_some_and(|c| c.dryness >= 1.0 || c.days.is_some_and(|d| d <= within));
        let below = !season || c.is_some_and(|c| c.dryness < 0.9 && c.days.is_none_or(|d| d > within + 0.5));
        let hold = ms(cfg.alert_hold);
        let subject = Subject {
            device: None,
            tree: Some(tr.tree.id.clone()),
        };
        let site = &tr.tree.site;
        match tr.water.update(now, above, below, hold, hold) {
            Transition::Opened { since } => {
                tr.refresh = now;
                out.push(signal(
                    AlertKind::TreeWater,
                    site,
                    subject,
                    now,
                    water(&status, driver, since, now, cfg),
                ));
            }
            Transition::Closed => {
                let reason = if season {
                    "the soil is wet enough again"
                } else {
                    "the vegetation period ended"
                };
                out.push(signal(
                    AlertKind::TreeWater,
                    site,
                    subject,
                    now,
                    Change::Clear {
                        reason: reason.into(),
                    },
                ));
            }
            Transition::None => {
                if let Some(since) = tr
                    .water
                    .since()
                    .filter(|_| tr.water.is_active() && now - tr.refresh >= 3_600_000)
                {
                    tr.refresh = now;
                    out.push(signal(
                        AlertKind::TreeWater,
                        site,
                        subject,
                        now,
                        water(&status, driver, since, now, cfg),
                    ));
                }
            }
        }
        statuses.push(status);
    }
    super::inherit::inherit(&t.trees, &mut statuses, cfg);
    rank(&mut statuses);
    statuses
}

/// What the tree's forecast rests on: ET0 when every trusted sensor with a forecast used it, trend when
/// none did (with the reason), mixed otherwise. `None` when no sensor forecasts.
fn basis(views: &[View], area: Option<&Id>, et0: Et0Input<'_>, now: i64) -> Option<Forecast> {
    let methods = views.iter().filter_map(|v| v.method);
    let (n_et0, n) = methods.fold((0, 0), |a, m| {
        (a.0 + usize::from(m == ForecastMethod::Et0), a.1 + 1)
    });
    if n == 0 {
        return None;
    }
    let issued = views.iter().find_map(|v| v.issued);
    // The ET0 expected over the next three days (rhythm-free: the sum of the hours).
    let mut hourly = Vec::new();
    let et0_3d = et0
        .area
        .filter(|_| n_et0 > 0)
        .and_then(|a| {
            a.hourly(now, et0.max_age, 72, &crate::trees::trend::UNIFORM, &mut hourly)
                .ok()
        })
        .map(|_| round(hourly.iter().sum::<f64>()));
    let why = views
        .iter()
        .filter(|v| v.method == Some(ForecastMethod::Trend))
        .find_map(|v| v.why_trend)
        .unwrap_or(Unavailable::NotLearned);
    let when = |t: i64| explain::utc(t).format("%Y-%m-%d %H:%M UTC").to_string();
    let area_name = area.map_or_else(String::new, |a| a.to_string());
    let (method, note) = if n_et0 == n {
        let note = format!(
            "from the ET0 forecast of {area_name} issued {}, times each sensor's drying per mm of ET0",
            issued.map(when).unwrap_or_default()
        );
        (ForecastMethod::Et0, note)
    } else if n_et0 == 0 {
        (
            ForecastMethod::Trend,
            format!("from the drying trend: {}", why.text()),
        )
    } else {
        let note = format!(
            "{n_et0} of {n} sensors from the ET0 forecast of {area_name}, the others from their trend: {}",
            why.text()
        );
        (ForecastMethod::Mixed, note)
    };
    let rain_3d = et0
        .area
        .and_then(|a| a.rain(now, now + 3 * DAY_MS as i64, et0.max_age))
        .map(|(mm, _)| round(mm));
    Some(Forecast {
        method,
        area: area.cloned(),
        issued: issued.map(explain::utc),
        et0_3d_mm: et0_3d,
        rain_3d_mm: rain_3d,
        rain_hold: None,
        note,
    })
}

/// Ranks by score (desc), then days until critical (asc), then tree id.
fn rank(statuses: &mut [TreeStatus]) {
    let mut order: Vec<usize> = (0..statuses.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&statuses[a], &statuses[b]);
        y.urgency
            .score
            .total_cmp(&x.urgency.score)
            .then(
                x.days_until_critical
                    .unwrap_or(f64::MAX)
                    .total_cmp(&y.days_until_critical.unwrap_or(f64::MAX)),
            )
            .then(x.tree.cmp(&y.tree))
    });
    for (r, i) in order.into_iter().enumerate() {
        statuses[i].urgency.rank = u32::try_from(r + 1).unwrap_or(u32::MAX);
    }
}

fn water(
    st: &TreeStatus,
    driver: Option<((f64, f64), usize)>,
    since: i64,
    now: i64,
    cfg: &TreesConfig,
) -> Change {
    let s = driver.and_then(|(_, i)| st.sensors.get(i));
    let (observed, unit, expected, threshold, baseline) = match s {
        Some(s) if s.tension_kpa.is_some() => (
            s.tension_kpa.unwrap_or(0.0),
            "kPa",
            cfg.moderate_kpa,
            cfg.critical_kpa,
            format!(
                "tension bands: moderate above {} kPa, critical above {} kPa",
                cfg.moderate_kpa, cfg.critical_kpa
            ),
        ),
        Some(s) => {
            let p = cfg
                .soil_of(st.tree.as_str())
                .map(|p| {
                    (
                        p.field_capacity_pct
                            - p.moderate_depletion * (p.field_capacity_pct - p.wilting_point_pct),
                        p.critical_pct(),
                    )
                })
                .unwrap_or((0.0, 0.0));
            (
                s.moisture_pct.unwrap_or(0.0),
                "%",
                round(p.0),
                round(p.1),
                format!(
                    "soil profile {}: moderate below {:.1} %, critical below {:.1} % VWC",
                    cfg.tree_soil.get(st.tree.as_str()).unwrap_or(&cfg.default_soil),
                    p.0,
                    p.1
                ),
            )
        }
        None => (st.dryness.unwrap_or(0.0), "", 0.5, 1.0, "dryness scale".into()),
    };
    let at = s
        .map(|s| {
            format!(
                " at {}{}",
                s.device,
                s.depth_cm.map(|d| format!(" ({d} cm)")).unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let when = match st.days_until_critical {
        Some(d) if d <= 0.0 => "critical now".to_string(),
        Some(d) => format!("critical in {d:.1} days"),
        None => "critical".to_string(),
    };
    let young = if st.young {
        format!(", young tree (planted {})", st.planted)
    } else {
        String::new()
    };
    let state = match st.state {
        SoilState::Good => "good",
        SoilState::Moderate => "moderate",
        SoilState::Critical => "critical",
        SoilState::Unknown => "unknown",
    };
    let basis = match st.forecast.as_ref().map(|f| f.method) {
        Some(ForecastMethod::Et0) => " (forecast from ET0)",
        Some(ForecastMethod::Mixed) => " (forecast partly from ET0)",
        Some(ForecastMethod::Trend) => " (forecast from the trend, no usable ET0 forecast)",
        None => "",
    };
    let text = format!(
        "{state} soil: {observed} {unit}{at}, {when}{basis}{young}, for {}",
        explain::duration(now - since)
    );
    let severity = if st.state == SoilState::Critical {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let explanation = Explanation {
        observed,
        expected,
        threshold,
        unit: unit.into(),
        baseline,
        since: explain::utc(since),
        text,
    };
    Change::Raise {
        severity,
        explanation,
    }
}
