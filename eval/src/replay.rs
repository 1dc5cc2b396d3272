//! Replaying one scenario through fresh detectors at full speed and recording what they said.
//!
//! The detectors get the scenario's weather feed (observed and forecast ET0) in the minute it is issued,
//! never earlier. A second set of tree detectors without it replays the same soil readings, so the report
//! shows the forecast error with and without the weather on the same moments. A third run over the
//! counterfactual park, where every sensor works, tells which watering alerts a sensor fault caused.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use zw_analytics::{Analytics, Event};
use zw_model::alert::{Alert, AlertKind, AlertState};
use zw_sim::scenario::Scenario;

use crate::score::{Occurrence, Report};

/// The analytics config for a scenario: `base` with the scenario's soil profiles and sensor depths.
fn analytics_config(scenario: &Scenario, mut base: zw_analytics::Config) -> zw_analytics::Config {
    for (name, (fc, wp)) in &scenario.soils {
        let p = base.trees.soil_profiles.entry(name.clone()).or_insert_with(|| {
            zw_analytics::config::SoilProfile {
                field_capacity_pct: *fc,
                wilting_point_pct: *wp,
                moderate_depletion: 0.25,
                critical_depletion: 0.5,
            }
        });
        (p.field_capacity_pct, p.wilting_point_pct) = (*fc, *wp);
    }
    base.trees.tree_soil.extend(scenario.tree_soil.clone());
    base.trees.sensor_depth_cm.extend(scenario.sensor_depth.clone());
    // Every simulated park lies in the scenario's one weather area, unless the config says otherwise.
    if base.trees.weather.default_area.is_none() && base.trees.weather.site_area.is_empty() {
        base.trees.weather.default_area = Some(zw_sim::scenario::weather::area().to_string());
    }
    base
}

/// The same config without the weather feed: the trend forecast, for comparison.
fn without_weather(cfg: &zw_analytics::Config) -> zw_analytics::Config {
    let mut c = cfg.clone();
    c.trees.weather.default_area = None;
    c.trees.weather.site_area.clear();
    c
}

/// Whether a reading carries a soil quantity (what the tree detectors read).
fn is_soil(r: &zw_model::Reading) -> bool {
    use zw_model::Quantity;
    [
        Quantity::SoilMoisture,
        Quantity::SoilWaterTension,
        Quantity::BatteryVoltage,
    ]
    .iter()
    .any(|q| r.values.contains_key(q))
}

/// Replays `scenario` through fresh detectors and scores what they said.
pub fn evaluate(scenario: &Scenario, base: zw_analytics::Config) -> Report {
    let cfg = analytics_config(scenario, base);
    let mut analytics = Analytics::new(&cfg, &scenario.inventory);
    let mut trend_only = Analytics::new(&without_weather(&cfg), &scenario.inventory);
    let mut report = Report::new(scenario, &cfg);
    let mut readings = 0u64;
    let started = Instant::now();
    let mut open: HashMap<String, usize> = HashMap::new();
    // ZW_EVAL_TRACE=<part of an alert id> prints that alert's every change to stderr.
    let trace = std::env::var("ZW_EVAL_TRACE").ok();
    let mut record = |events: Vec<Event>, now: DateTime<Utc>, report: &mut Report| {
        for e in events {
            match e {
                Event::Alert(a) => {
                    if trace
                        .as_ref()
                        .is_some_and(|t| a.id.to_string().contains(t.as_str()))
                    {
                        eprintln!("{now} {} {:?} {}", a.id, a.state, a.explanation.text);
                    }
                    track(&mut open, &mut report.alerts, &a);
                }
                Event::Tree(status) => report.tree_status(scenario, &status, now),
                Event::AlertRemoved(_) => {}
                Event::Notice(n) => report.notice(&n, now),
            }
        }
    };
    scenario.replay(|t, batch| {
        if let Some(w) = scenario.weather(t) {
            analytics.weather(&w);
        }
        for r in batch {
            readings += 1;
            let events = analytics.observe(r, t);
            if !events.is_empty() {
                record(events, t, &mut report);
            }
            if is_soil(r) {
                trend_only.observe(r, t);
            }
        }
        record(analytics.tick(t), t, &mut report);
        for e in trend_only.tick(t) {
            if let Event::Tree(status) = e {
                report.trend_status(scenario, &status, t);
            }
        }
    });
    report.readings = readings;
    report.seconds = started.elapsed().as_secs_f64();
    // Without sensor faults the counterfactual park is the park itself: nothing to replay.
    if !scenario.faults.is_empty() {
        report.counterfactual_water = watering_without_faults(scenario, &cfg);
    }
    report.finish(scenario);
    report
}

/// The watering alerts (tree, opened, resolved) the detectors raise on the counterfactual park where every
/// sensor works ([`Scenario::trees_without_faults`]): a watering alert the real run raised that is here
/// too was not caused by a sensor fault.
fn watering_without_faults(
    scenario: &Scenario,
    cfg: &zw_analytics::Config,
) -> Vec<(zw_model::Id, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let cf = scenario.trees_without_faults();
    let mut analytics = Analytics::new(cfg, &cf.inventory);
    let mut out: Vec<(zw_model::Id, DateTime<Utc>, Option<DateTime<Utc>>)> = Vec::new();
    let mut record = |events: Vec<Event>| {
        for e in events {
            let Event::Alert(a) = e else { continue };
            let Some(tree) = a.subject.tree.clone().filter(|_| a.kind == AlertKind::TreeWater) else {
                continue;
            };
            let open = out.iter().rposition(|o| o.0 == tree && o.2.is_none());
            match (a.state, open) {
                (AlertState::Resolved, Some(i)) => out[i].2 = a.resolved_at,
                (AlertState::Resolved, None) | (_, Some(_)) => {}
                (_, None) => out.push((tree, a.opened_at, None)),
            }
        }
    };
    cf.replay(|t, batch| {
        if let Some(w) = cf.weather(t) {
            analytics.weather(&w);
        }
        for r in batch {
            record(analytics.observe(r, t));
        }
        record(analytics.tick(t));
    });
    out
}

/// Follows one alert change: an opening adds an [`Occurrence`] (once per alert id until it resolves), a
/// resolution closes it. `open` maps the alert ids open now to their index in `alerts`.
pub(crate) fn track(open: &mut HashMap<String, usize>, alerts: &mut Vec<Occurrence>, a: &Alert) {
    let key = a.id.to_string();
    match a.state {
        AlertState::Resolved => {
            if let Some(i) = open.remove(&key) {
                alerts[i].resolved_at = a.resolved_at;
            }
        }
        _ if !open.contains_key(&key) => {
            open.insert(key, alerts.len());
            alerts.push(Occurrence {
                kind: a.kind,
                site: a.site.clone(),
                device: a.subject.device.clone(),
                tree: a.subject.tree.clone(),
                opened_at: a.opened_at,
                resolved_at: None,
                text: a.explanation.text.clone(),
            });
        }
        _ => {}
    }
}

/// Kinds scored as energy alerts.
pub(crate) fn is_energy(kind: AlertKind) -> bool {
    matches!(
        kind,
        AlertKind::HighConsumption | AlertKind::Baseload | AlertKind::LeftOn
    )
}
