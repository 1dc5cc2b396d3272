//! Tree detector: states, forecasts, and faults that must never ask for water.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use zw_model::inventory::{Device, DeviceSource, Site};
use zw_model::tree::{FaultKind, SoilState};
use zw_model::{SiteKind, Tree};

use super::*;
use crate::calendar::LocalClock;
use crate::explain::Change;

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

fn inventory() -> Inventory {
    inventory_of("dl-trs21")
}

fn inventory_of(model: &str) -> Inventory {
    let dev = Device {
        id: id("soil-1"),
        name: String::new(),
        class: "soil_sensor".into(),
        source: DeviceSource::Ttn {
            topic: "v3/a@ttn/devices/soil-1/up".into(),
            model: model.into(),
        },
    };
    Inventory {
        sites: vec![Site {
            id: id("park"),
            name: String::new(),
            kind: SiteKind::Park,
            category: None,
            floor_area_m2: None,
            devices: vec![dev],
        }],
        trees: vec![Tree {
            id: id("t-1"),
            site: id("park"),
            species: "Tilia cordata".into(),
            planted: 2022,
            lat: 51.2,
            lon: 6.6,
            sensors: vec![id("soil-1")],
            district: None,
        }],
        ..Default::default()
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

/// Runs `hours` of readings every 20 min with tension `f(hour)` (None: no reading); returns the last
/// status and every signal.
fn run(hours: i64, f: impl Fn(f64) -> Option<f64>) -> (Option<TreeStatus>, Vec<Signal>) {
    let mut trees = Trees::new(&TreesConfig::default(), &inventory());
    let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
    let (mut last, mut out) = (None, Vec::new());
    for k in 0..hours * 3 {
        let t = t0() + TimeDelta::minutes(20 * k);
        if let Some(v) = f(k as f64 / 3.0) {
            let values = BTreeMap::from([(Quantity::SoilWaterTension, v), (Quantity::BatteryVoltage, 3.6)]);
            trees.observe(&Reading::new(id("park"), id("soil-1"), t, values));
        }
        let ms = t.timestamp_millis();
        if let Some(s) = trees.tick(ms, clock.local(ms), &mut out).pop() {
            last = Some(s);
        }
    }
    (last, out)
}

fn waterings(out: &[Signal]) -> usize {
    out.iter()
        .filter(|s| s.kind == AlertKind::TreeWater && matches!(s.change, Change::Raise { .. }))
        .count()
}

#[test]
fn drying_tree_is_forecast_and_alerted() {
    // ln-linear drying from 20 kPa: ×1.4 per day, critical (81 kPa) after ~4.2 days.
    let (st, out) = run(5 * 24, |h| Some(20.0 * 1.4f64.powf(h / 24.0)));
    let st = st.expect("status");
    assert_eq!(st.state, SoilState::Critical);
    assert!(st.young && st.urgency.rank == 1, "{st:?}");
    assert!(waterings(&out) >= 1, "{out:?}");
    let (mid, _) = run(2 * 24, |h| Some(20.0 * 1.4f64.powf(h / 24.0)));
    let days = mid
        .and_then(|s| s.days_until_critical)
        .expect("forecast after two days");
    assert!((days - 2.16).abs() < 0.3, "forecast {days}");
}

#[test]
fn a_low_battery_is_judged_by_the_sensor_models_chemistry() {
    // (model, battery voltage, low?): an LSE01's lithium cell is low at 3.1 V, a DL-TRS21's two alkaline
    // cells are fresh at 3.1 V and low at 2.3 V; a model without a table entry uses battery_low_v.
    let cases = [
        ("lse01", 3.1, true),
        ("lse01", 3.6, false),
        ("dl-trs21", 3.1, false),
        ("dl-trs21", 2.3, true),
        ("other", 3.2, true),
        ("other", 3.5, false),
    ];
    for (model, volts, low) in cases {
        let mut trees = Trees::new(&TreesConfig::default(), &inventory_of(model));
        let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
        let (mut last, mut out) = (None, Vec::new());
        for k in 0..6 {
            let t = t0() + TimeDelta::minutes(20 * k);
            let values = BTreeMap::from([
                (Quantity::SoilWaterTension, 20.0),
                (Quantity::BatteryVoltage, volts),
            ]);
            trees.observe(&Reading::new(id("park"), id("soil-1"), t, values));
            let ms = t.timestamp_millis();
            last = trees.tick(ms, clock.local(ms), &mut out).pop().or(last);
        }
        let fault = last.expect("status").sensor_fault.map(|f| f.kind);
        assert_eq!(
            fault == Some(FaultKind::LowBattery),
            low,
            "{model} at {volts} V: {fault:?}"
        );
        assert_eq!(
            out.iter().any(|s| s.kind == AlertKind::SensorFault),
            low,
            "{model} at {volts} V: {out:?}"
        );
    }
}

#[test]
fn fault_table_never_asks_for_water() {
    // (name, tension per hour, expected fault)
    type Case = (&'static str, fn(f64) -> Option<f64>, FaultKind);
    let cases: [Case; 4] = [
        ("stuck at a dry value", |_| Some(95.0), FaultKind::Stuck),
        ("silent", |h| (h < 10.0).then_some(20.0), FaultKind::Gap),
        (
            "impossible values",
            |h| Some(if h > 10.0 { -5.0 } else { 20.0 }),
            FaultKind::Impossible,
        ),
        (
            "jump to bone dry",
            |h| Some(if h > 10.0 { 239.0 } else { 15.0 + h / 10.0 }),
            FaultKind::Impossible,
        ),
    ];
    for (name, f, fault) in cases {
        let (st, out) = run(48, f);
        let st = st.expect("status");
        assert_eq!(
            st.sensor_fault.as_ref().map(|f| f.kind),
            Some(fault),
            "{name}: {st:?}"
        );
        assert!(
            out.iter().any(|s| s.kind == AlertKind::SensorFault),
            "{name}: no maintenance alert"
        );
        // The stuck case starts as a plausible dry reading; once stuck, it no longer counts.
        assert_eq!(st.state, SoilState::Unknown, "{name}");
        if name != "stuck at a dry value" {
            assert_eq!(waterings(&out), 0, "{name}: {out:?}");
        }
    }
}

#[test]
fn a_jump_to_the_range_limit_stays_implausible_however_long_it_lasts() {
    // Seed 112: a tension sensor of a drying tree (50 kPa) jumps to its limit and repeats it; the time
    // since the last good value must not make the plateau plausible (it did after about a day).
    let jump = |h: f64| {
        Some(if (10.0..82.0).contains(&h) {
            239.0
        } else {
            50.0 + h / 10.0
        })
    };
    let (st, out) = run(80, jump);
    let st = st.expect("status");
    assert_eq!(
        st.sensor_fault.as_ref().map(|f| f.kind),
        Some(FaultKind::Impossible),
        "{st:?}"
    );
    assert_eq!(waterings(&out), 0, "{out:?}");
    // When the jump ends the sensor reads plausibly again and counts.
    let (st, _) = run(90, jump);
    let st = st.expect("status");
    assert_eq!(st.sensor_fault, None, "{st:?}");
    assert_ne!(st.state, SoilState::Unknown, "{st:?}");
}

#[test]
fn rain_resets_the_trend() {
    let (st, _) = run(4 * 24, |h| {
        Some(if h < 60.0 {
            20.0 * 1.5f64.powf(h / 24.0)
        } else {
            12.0 + 0.1 * h.sin()
        })
    });
    let st = st.expect("status");
    assert_eq!(st.state, SoilState::Good);
    assert!(st.sensors[0].tension_kpa.is_some_and(|t| t < 15.0), "{st:?}");
}

#[test]
fn a_shower_on_wet_soil_restarts_the_segment_and_the_usual_rate_stands_in() {
    // ln-linear drying ×1.4 per day from 10 kPa; after 2.5 days a shower brings it back to 10 kPa over
    // three hours (19.3 → 10 kPa: small in kPa, a lot of water). Without the restart, pairs across the
    // shower would make the trend flat and the forecast late.
    let dry = |h: f64| 10.0 * 1.4f64.powf(h / 24.0);
    let f = |h: f64| {
        Some(if h < 60.0 {
            dry(h)
        } else if h < 63.0 {
            dry(60.0) - (dry(60.0) - 10.0) * (h - 60.0) / 3.0
        } else {
            dry(h - 63.0)
        })
    };
    // 12 h after the shower: the segment is too short to fit, the usual rate (ln 1.4 per day) stands in.
    // 10 → 81 kPa at ×1.4 per day takes ln(8.1)/ln(1.4) = 6.2 days, 0.5 of them gone.
    let (st, _) = run(75, f);
    let days = st
        .and_then(|s| s.days_until_critical)
        .expect("forecast from the usual rate");
    assert!((days - 5.7).abs() < 0.4, "forecast {days}");
    // Two days after: the segment's own trend (the same rate) gives the same answer.
    let (st, _) = run(63 + 48, f);
    let days = st.and_then(|s| s.days_until_critical).expect("forecast");
    assert!((days - 4.2).abs() < 0.4, "forecast {days}");
}

#[test]
fn after_corrupt_values_a_sensor_forecasts_nothing_for_a_trend_window() {
    // Drying ×1.4 per day from 20 kPa with two hours of garbage (300 kPa, rejected) at hour 30.
    let f = |h: f64| {
        Some(if (30.0..32.0).contains(&h) {
            300.0
        } else {
            20.0 * 1.4f64.powf(h / 24.0)
        })
    };
    let (st, out) = run(48, f);
    let st = st.expect("status");
    assert!(out.iter().any(|s| s.kind == AlertKind::SensorFault));
    assert_eq!(st.sensor_fault, None, "the values are plausible again: {st:?}");
    assert_eq!(st.state, SoilState::Moderate);
    assert_eq!(st.days_until_critical, None, "on probation: {st:?}");
    // A trend window (4 days) after the last garbage the forecast is back (slower drying, ×1.1 per day).
    let g = |h: f64| {
        Some(if (30.0..32.0).contains(&h) {
            300.0
        } else {
            20.0 * 1.1f64.powf(h / 24.0)
        })
    };
    let (st, _) = run(32 + 4 * 24 + 1, g);
    assert!(st.and_then(|s| s.days_until_critical).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Whatever a broken sensor sends (values outside the plausible range), it never raises a watering
    /// alert: such values are rejected and the sensor is distrusted.
    #[test]
    fn implausible_values_never_raise_watering_alerts(vals in proptest::collection::vec(prop_oneof![-500.0f64..-0.01, 300.01f64..5000.0], 20..60)) {
        let (_, out) = run(vals.len() as i64, |h| vals.get(h as usize).copied());
        prop_assert_eq!(waterings(&out), 0);
    }
}

/// Runs four days of a tension sensor drying by `k` (ln kPa) per mm of ET0 at 2 mm/day, with hourly ET0
/// observations for `area` (when `Some`) and, at the start of day 4, a forecast of `forecast_mm` per day
/// issued `forecast_age` hours before the end. Returns the last status.
fn run_weather(area: Option<&str>, forecast_mm: f64, forecast_age: i64) -> TreeStatus {
    let mut cfg = TreesConfig::default();
    cfg.weather.default_area = Some("town".into());
    let mut trees = Trees::new(&cfg, &inventory());
    let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
    let (k, past_mm) = (0.05, 2.0);
    let hours = 4 * 24;
    let mut last = None;
    let mut out = Vec::new();
    for m in 0..hours * 3 {
        let t = t0() + TimeDelta::minutes(20 * m);
        if m % 3 == 0 && m > 0 {
            let mk = |from: DateTime<Utc>, hours: i64, mm: f64| zw_model::weather::Et0 {
                from,
                to: from + TimeDelta::hours(hours),
                mm,
            };
            let issued = t0() + TimeDelta::hours(hours - forecast_age);
            let forecast = if t == issued {
                (0..6 * 24)
                    .map(|j| mk(issued + TimeDelta::hours(j), 1, forecast_mm / 24.0))
                    .collect()
            } else {
                Vec::new()
            };
            if let Some(a) = area {
                trees.weather(&Weather {
                    v: 1,
                    area: id(a),
                    issued: t,
                    source: None,
                    observed: vec![mk(t - TimeDelta::hours(1), 1, past_mm / 24.0)],
                    forecast,
                    rain_forecast: Vec::new(),
                    rain_observed: Vec::new(),
                    temperature: None,
                });
            }
        }
        let cum = past_mm * (m as f64 / 3.0) / 24.0;
        let v = 20.0 * (k * cum).exp();
        let values = BTreeMap::from([(Quantity::SoilWaterTension, v), (Quantity::BatteryVoltage, 3.6)]);
        trees.observe(&Reading::new(id("park"), id("soil-1"), t, values));
        let ms = t.timestamp_millis();
        if let Some(s) = trees.tick(ms, clock.local(ms), &mut out).pop() {
            last = Some(s);
        }
    }
    last.expect("a status")
}

#[test]
fn the_et0_forecast_sees_a_warm_spell_the_trend_cannot() {
    use zw_model::tree::ForecastMethod;
    // After 4 days at 2 mm/day the tension is 20·e^0.4 ≈ 29.8 kPa; 81 kPa needs ln(81/29.8)/0.05 ≈ 20 mm
    // more: 10 days at the past rate, 4 days at a forecast 5 mm/day, 20 days at 1 mm/day.
    let need = (81.0f64 / (20.0 * 0.4f64.exp())).ln() / 0.05;
    let cases = [
        (
            Some("town"),
            5.0,
            10,
            ForecastMethod::Et0,
            Some(need / 5.0),
            "ET0 forecast of town",
        ),
        (Some("town"), 1.0, 10, ForecastMethod::Trend, None, ""),
        (
            Some("town"),
            3.0,
            10,
            ForecastMethod::Et0,
            Some(need / 3.0),
            "ET0 forecast of town",
        ),
        (Some("town"), 5.0, 48, ForecastMethod::Trend, None, "stale"),
        (
            Some("elsewhere"),
            5.0,
            10,
            ForecastMethod::Trend,
            None,
            "no ET0 forecast received",
        ),
        (
            None,
            5.0,
            10,
            ForecastMethod::Trend,
            None,
            "no ET0 forecast received",
        ),
    ];
    for (area, mm, age, method, days, note) in cases {
        let st = run_weather(area, mm, age);
        let f = st.forecast.clone().expect("a forecast basis");
        let what = format!(
            "{area:?} {mm} mm/day issued {age} h before: {f:?} {:?}",
            st.days_until_critical
        );
        if mm == 1.0 {
            // Slower than the trend, beyond the horizon: the ET0 forecast says no crossing within 10 days.
            assert_eq!(f.method, ForecastMethod::Et0, "{what}");
            assert_eq!(st.days_until_critical, None, "{what}");
            continue;
        }
        assert_eq!(f.method, method, "{what}");
        assert!(f.note.contains(note), "{what}");
        match days {
            Some(d) => {
                let got = st.days_until_critical.expect(&what);
                assert!((got - d).abs() < 0.1, "{what}: want {d}");
                let per_mm = st.sensors[0].drying_per_mm.expect(&what);
                // d(kPa)/d(mm) = k · kPa at the current value.
                assert!(
                    (per_mm - 0.05 * st.tension_kpa.unwrap_or(0.0)).abs() < 0.1,
                    "{what}"
                );
            }
            // The trend: about 10 days at the past 2 mm/day, at the horizon.
            None => assert!(st.days_until_critical.is_none_or(|d| d > 9.0), "{what}"),
        }
    }
}

/// A tree drying by ×1.4 kPa per day from 20 kPa (critical after about 4.2 days), in weather area
/// `town`, that was told at hour 60 of `rain_mm` of rain forecast over hours 88–91, which never comes.
/// Returns the hour every status said the alert waits for rain, and the hour the watering alert opened.
fn run_rain(rain_mm: f64) -> (Vec<i64>, Option<i64>) {
    let mut cfg = TreesConfig::default();
    cfg.weather.default_area = Some("town".into());
    let mut trees = Trees::new(&cfg, &inventory());
    let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
    let (mut held, mut opened, mut out) = (Vec::new(), None, Vec::new());
    let at = |h: i64| t0() + TimeDelta::hours(h);
    for k in 0..5 * 24 * 3 {
        let t = t0() + TimeDelta::minutes(20 * k);
        if t == at(60) {
            let rain = (88..92)
                .map(|h| zw_model::weather::Et0 {
                    from: at(h),
                    to: at(h + 1),
                    mm: rain_mm / 4.0,
                })
                .collect();
            trees.weather(&Weather {
                v: 1,
                area: id("town"),
                issued: t,
                source: None,
                observed: Vec::new(),
                forecast: Vec::new(),
                rain_forecast: rain,
                rain_observed: Vec::new(),
                temperature: None,
            });
        }
        let v = 20.0 * 1.4f64.powf(k as f64 / 72.0);
        let values = BTreeMap::from([(Quantity::SoilWaterTension, v), (Quantity::BatteryVoltage, 3.6)]);
        trees.observe(&Reading::new(id("park"), id("soil-1"), t, values));
        let ms = t.timestamp_millis();
        let before = waterings(&out);
        if let Some(s) = trees.tick(ms, clock.local(ms), &mut out).pop()
            && s.forecast.as_ref().is_some_and(|f| f.rain_hold.is_some())
        {
            held.push(k / 3);
        }
        if waterings(&out) > before {
            opened.get_or_insert(k / 3);
        }
    }
    (held, opened)
}

#[test]
fn forecast_rain_before_critical_holds_the_watering_alert_until_it_is_due() {
    let (held, opened) = run_rain(0.0);
    let without = opened.expect("the alert opens without rain");
    assert!(held.is_empty() && without < 88, "{held:?} {without}");
    // A shower below the wetting threshold changes nothing.
    assert_eq!(run_rain(3.0), (Vec::new(), Some(without)));
    // 15 mm before the tree turns critical: the alert waits, says so, and opens once the rain is due
    // (with six hours' grace for late rain) and did not come.
    let (held, opened) = run_rain(15.0);
    let opened = opened.expect("opens when the rain did not come");
    assert!(held.first().is_some_and(|&h| h <= without), "{held:?}");
    assert!(held.iter().all(|&h| h < 98), "{held:?}");
    assert!(opened >= 97, "opened at hour {opened}, held {held:?}");
}

#[test]
fn a_tree_without_a_sensor_inherits_from_its_like_nearby_and_is_never_alerted() {
    let mut inv = inventory();
    let base = inv.trees[0].clone();
    let like = |id_: &str, species: &str, lat: f64| Tree {
        id: id(id_),
        species: species.into(),
        lat,
        sensors: Vec::new(),
        ..base.clone()
    };
    inv.trees.push(like("t-near", "Tilia cordata", 51.201));
    inv.trees.push(like("t-oak", "Quercus robur", 51.201));
    inv.trees.push(like("t-far", "Tilia cordata", 51.3));
    let mut trees = Trees::new(&TreesConfig::default(), &inv);
    let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
    let (mut last, mut out) = (Vec::new(), Vec::new());
    for k in 0..5 * 24 * 3 {
        let t = t0() + TimeDelta::minutes(20 * k);
        let v = 20.0 * 1.4f64.powf(k as f64 / 72.0);
        let values = BTreeMap::from([(Quantity::SoilWaterTension, v), (Quantity::BatteryVoltage, 3.6)]);
        trees.observe(&Reading::new(id("park"), id("soil-1"), t, values));
        let ms = t.timestamp_millis();
        let st = trees.tick(ms, clock.local(ms), &mut out);
        if !st.is_empty() {
            last = st;
        }
    }
    let of = |t: &str| last.iter().find(|s| s.tree.as_str() == t).expect("status");
    let (measured, near) = (of("t-1"), of("t-near"));
    assert_eq!(near.inherited_from, [id("t-1")]);
    assert_eq!((near.dryness, near.state), (measured.dryness, measured.state));
    assert!(near.urgency.score > 0.0, "{near:?}");
    for other in ["t-oak", "t-far"] {
        let s = of(other);
        assert!(
            s.inherited_from.is_empty() && s.state == SoilState::Unknown,
            "{s:?}"
        );
    }
    let alerted = |t: &str| {
        out.iter().any(|s| {
            s.kind == AlertKind::TreeWater && s.subject.tree.as_ref().is_some_and(|x| x.as_str() == t)
        })
    };
    assert!(alerted("t-1") && !alerted("t-near"));
}

/// A multi-depth probe (one LSE01-like device, VWC at 10, 30 and 60 cm): each depth is a sensor of the
/// tree with its own depth and root share; a stuck depth is the probe's one maintenance alert (naming the
/// depth) and its values no longer count; the tip below the root zone of a flat-rooted spruce does not
/// decide the tree, while an oak's deep roots make it count.
#[test]
fn a_multi_depth_probe_is_a_sensor_per_depth_weighted_by_roots() {
    let status = |species: &str, deep_pct: f64, stuck_mid: bool| {
        let mut inv = inventory_of("lse01");
        inv.trees[0].species = species.into();
        let mut cfg = TreesConfig::default();
        cfg.sensor_depths_cm.insert("soil-1".into(), vec![10, 30, 120]);
        let mut trees = Trees::new(&cfg, &inv);
        let mut clock = LocalClock::new(chrono_tz::Europe::Berlin);
        let (mut last, mut out) = (None, Vec::new());
        for k in 0..(3 * 24 * 3) {
            let t = t0() + TimeDelta::minutes(20 * k);
            let noise = if k % 2 == 0 { 0.05 } else { -0.05 };
            let mid = if stuck_mid { 24.0 } else { 24.0 + noise };
            let values = BTreeMap::from([
                (Quantity::SoilMoisture, 25.0 + noise),
                (Quantity::SoilMoisture2, mid),
                (Quantity::SoilMoisture3, deep_pct + noise),
                (Quantity::BatteryVoltage, 3.6),
            ]);
            trees.observe(&Reading::new(id("park"), id("soil-1"), t, values));
            let ms = t.timestamp_millis();
            if let Some(s) = trees.tick(ms, clock.local(ms), &mut out).pop() {
                last = Some(s);
            }
        }
        (last.expect("status"), out)
    };
    // Loam: critical below 21 % VWC. The tip at 120 cm reads 18 %.
    let (spruce, out) = status("Picea abies", 18.0, false);
    let depths: Vec<(Option<u16>, &str)> = spruce
        .sensors
        .iter()
        .map(|s| (s.depth_cm, s.device.as_str()))
        .collect();
    assert_eq!(
        depths,
        [(Some(10), "soil-1"), (Some(30), "soil-1"), (Some(120), "soil-1")]
    );
    let share = |st: &TreeStatus, k: usize| st.sensors[k].root_share.unwrap_or(f64::NAN);
    assert!(share(&spruce, 2) < 0.05 && share(&spruce, 0) > 0.6, "{spruce:?}");
    assert_eq!(spruce.sensors[2].state, SoilState::Critical);
    assert_ne!(spruce.state, SoilState::Critical, "{spruce:?}");
    assert_eq!(waterings(&out), 0);
    let (oak, out) = status("Quercus robur", 18.0, false);
    assert!(share(&oak, 2) > 0.05, "{oak:?}");
    assert_eq!(oak.state, SoilState::Critical);
    assert!(waterings(&out) >= 1);
    // A stuck middle depth: one maintenance alert for the device, naming 30 cm; the others still count.
    let (st, out) = status("Tilia cordata", 24.0, true);
    let faults: Vec<&Signal> = out
        .iter()
        .filter(|s| s.kind == AlertKind::SensorFault && matches!(s.change, Change::Raise { .. }))
        .collect();
    assert!(!faults.is_empty());
    assert!(
        faults
            .iter()
            .all(|s| s.subject.device.as_ref().map(Id::as_str) == Some("soil-1"))
    );
    let Change::Raise { explanation, .. } = &faults[0].change else {
        unreachable!()
    };
    assert!(
        explanation.text.contains("soil-1 (30 cm)"),
        "{}",
        explanation.text
    );
    assert_eq!(st.sensors[1].fault, Some(FaultKind::Stuck));
    assert!(st.sensors[0].fault.is_none() && st.dryness.is_some(), "{st:?}");
}
