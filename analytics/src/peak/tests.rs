//! The quarter-hour average, the forecast, the warning and its close, on hand-made samples.

use std::time::Duration;

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Berlin;
use zw_model::Id;
use zw_model::alert::{AlertKind, Severity};

use super::*;
use crate::explain::Change;

fn id(s: &str) -> Id {
    Id::new(s).expect("id")
}

/// Monday 2026-01-12 07:00 Berlin (06:00 UTC), a quarter-hour start.
fn q0() -> i64 {
    Utc.with_ymd_and_hms(2026, 1, 12, 6, 0, 0)
        .single()
        .expect("time")
        .timestamp_millis()
}

const S: i64 = 1000;
const MIN: i64 = 60_000;

/// A school with a main meter and two sub-meters, 110 €/kW a year, a peak so far of 50 kW.
fn school(cfg: PeakConfig) -> PeakWatch {
    let from = NaiveDate::from_ymd_opt(2025, 1, 1).expect("date");
    let mut w = PeakWatch::of_sites(
        &cfg,
        Berlin,
        vec![(
            id("schule"),
            vec![Rate::new(110.0, from)],
            vec![id("main")],
            vec![id("heating"), id("kitchen")],
        )],
    );
    assert!(w.warm(&id("schule"), q0() - 24 * 60 * MIN, 50_000.0));
    w
}

/// Feeds the main meter `main_w(t)` every 10 s over `[from, to)`, the sub-meters a fixed share.
fn feed(w: &mut PeakWatch, from: i64, to: i64, main_w: impl Fn(i64) -> f64) -> Vec<Signal> {
    let mut out = Vec::new();
    let mut t = from;
    while t < to {
        let p = main_w(t);
        w.power(&id("schule"), &id("heating"), t, p * 0.6, &mut out);
        w.power(&id("schule"), &id("kitchen"), t, p * 0.1, &mut out);
        w.power(&id("schule"), &id("main"), t, p, &mut out);
        t += 10 * S;
    }
    out
}

#[test]
fn a_quarter_hour_below_the_peak_raises_nothing_and_is_counted_below() {
    let mut w = school(PeakConfig::default());
    let out = feed(&mut w, q0(), q0() + 16 * MIN, |_| 40_000.0);
    assert_eq!(out, Vec::new());
    let closed = w.take_closed();
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].result(), "below");
    let avg = closed[0].avg_w.expect("complete");
    assert!((avg - 40_000.0).abs() < 1.0, "{avg}");
    assert_eq!(w.peak(&id("schule")).map(|p| p.w), Some(50_000.0));
}

#[test]
fn a_surge_warns_before_the_end_names_cost_and_devices_and_closes_with_a_new_peak() {
    // The present power is the last minute's mean: all of it after the surge at 07:03.
    let mut w = school(PeakConfig {
        smoothing: Duration::from_secs(60),
        ..PeakConfig::default()
    });
    // 40 kW, then everything on at 07:02: 80 kW. Final average ≈ (2 × 40 + 13 × 80) / 15 = 74.7 kW.
    let surge = |t: i64| if t < q0() + 2 * MIN { 40_000.0 } else { 80_000.0 };
    let out = feed(&mut w, q0(), q0() + 15 * MIN, surge);
    let first = out.first().expect("a warning");
    assert_eq!(first.kind, AlertKind::Peak);
    // Not before `min_elapsed` (3 min) measured; the forecast exceeds 51 kW from then on.
    assert_eq!(first.at.timestamp_millis(), q0() + 3 * MIN);
    let Change::Raise {
        severity,
        explanation,
    } = &first.change
    else {
        panic!("a raise: {first:?}")
    };
    assert_eq!(*severity, Severity::Warning, "the range still reaches 40 kW");
    assert_eq!(explanation.unit, "kW");
    assert_eq!(explanation.expected, 50.0);
    assert_eq!(explanation.threshold, 51.0);
    // At 07:03: (2 × 40 + 1 × 80 + 12 × 80) / 15 = 74.67 kW.
    assert!((explanation.observed - 74.67).abs() < 0.01, "{explanation:?}");
    let text = &explanation.text;
    for part in [
        "quarter hour 07:00–07:15",
        "forecast to average 74.7 kW",
        "peak so far of 50.0 kW (2026-01-11 07:00)",
        "+24.7 kW would add 2,713.33 EUR net demand charge (110.00 EUR/kW a year)",
        "12 min left",
        "drawing most now: heating 48.0 kW, kitchen 8.0 kW",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }
    // Refreshed every 30 s at most, since kept.
    let raises = out
        .iter()
        .filter(|s| matches!(s.change, Change::Raise { .. }))
        .count();
    assert_eq!(raises, 1 + (12 * 60 - 10) / 30, "{out:#?}");
    // The next reading closes it: a new peak.
    let out = feed(&mut w, q0() + 15 * MIN, q0() + 15 * MIN + 1, |_| 30_000.0);
    let Some(Signal {
        change: Change::Clear { reason },
        at,
        ..
    }) = out.first()
    else {
        panic!("a clear: {out:?}")
    };
    assert_eq!(at.timestamp_millis(), q0() + 15 * MIN);
    assert!(
        reason.contains("ended at 74.7 kW, a new peak (was 50.0 kW)"),
        "{reason}"
    );
    let closed = w.take_closed();
    assert_eq!(closed[0].result(), "new_peak");
    assert_eq!(closed[0].warned_at, Some(q0() + 3 * MIN));
    let peak = w.peak(&id("schule")).expect("peak");
    assert_eq!(peak.quarter, q0());
    assert!((peak.w - 74_666.7).abs() < 1.0, "{peak:?}");
}

#[test]
fn the_quarter_hour_closes_on_tick_after_settle_and_a_gap_makes_it_incomplete() {
    let mut w = school(PeakConfig::default());
    let surge = |_| 90_000.0;
    // Readings for 5 min, then silence longer than max_gap (5 min).
    let out = feed(&mut w, q0(), q0() + 5 * MIN, surge);
    assert!(!out.is_empty(), "warned");
    let mut out = Vec::new();
    w.tick(q0() + 15 * MIN, &mut out);
    assert_eq!(out, Vec::new(), "not before settle");
    w.tick(q0() + 15 * MIN + 15 * S, &mut out);
    let Some(Change::Clear { reason }) = out.first().map(|s| &s.change) else {
        panic!("closed: {out:?}")
    };
    assert!(reason.contains("readings are missing"), "{reason}");
    assert_eq!(w.take_closed()[0].result(), "incomplete");
    assert_eq!(
        w.peak(&id("schule")).map(|p| p.w),
        Some(50_000.0),
        "a quarter hour with missing readings sets no peak"
    );
}

#[test]
fn the_forecast_waits_for_min_elapsed_and_a_margin() {
    let cfg = PeakConfig {
        margin_percent: 10.0,
        ..PeakConfig::default()
    };
    let mut w = school(cfg);
    // 54 kW all along: above the peak but within the 10 % margin.
    assert_eq!(feed(&mut w, q0(), q0() + 15 * MIN, |_| 54_000.0), Vec::new());
    // A spike in the first minutes only: by 3 min the forecast is back near 40 kW.
    let spike = |t: i64| {
        if t < q0() + 16 * MIN { 200_000.0 } else { 40_000.0 }
    };
    assert_eq!(
        feed(&mut w, q0() + 15 * MIN, q0() + 30 * MIN, spike),
        Vec::new(),
        "a 1-minute spike averages out before min_elapsed"
    );
}

#[test]
fn the_peak_so_far_is_the_newest_billing_year_and_a_new_year_starts_without() {
    let mut w = school(PeakConfig::default());
    let last_year = Utc
        .with_ymd_and_hms(2025, 12, 1, 12, 0, 0)
        .single()
        .expect("time")
        .timestamp_millis();
    assert!(w.warm(&id("schule"), last_year, 999_000.0));
    assert_eq!(
        w.peak(&id("schule")).map(|p| p.w),
        Some(50_000.0),
        "an older year's higher peak does not count"
    );
    assert!(!w.warm(&id("elsewhere"), q0(), 1.0));
    // The first quarter hour of 2027 (Berlin) is compared with no peak: nothing raised, it sets one.
    let y2027 = Utc
        .with_ymd_and_hms(2026, 12, 31, 23, 0, 0)
        .single()
        .expect("time")
        .timestamp_millis();
    assert_eq!(feed(&mut w, y2027, y2027 + 16 * MIN, |_| 20_000.0), Vec::new());
    let p = w.peak(&id("schule")).expect("peak");
    assert_eq!(p.year_start, NaiveDate::from_ymd_opt(2027, 1, 1).expect("date"));
    assert!((p.w - 20_000.0).abs() < 1.0);
}

#[test]
fn quarter_hours_follow_the_utc_grid_across_the_dst_change() {
    // 2026-03-29 01:45 UTC = 03:45 CEST, an hour after the clocks went forward.
    let t = Utc
        .with_ymd_and_hms(2026, 3, 29, 1, 52, 30)
        .single()
        .expect("time")
        .timestamp_millis();
    let q = quarter_start(t);
    assert_eq!(t - q, 7 * MIN + 30 * S);
    assert_eq!(span(Berlin, q), "03:45–04:00");
    assert_eq!(span(Berlin, quarter_start(t - 60 * MIN)), "01:45–03:00");
}

#[test]
fn a_restored_warning_clears_when_its_quarter_hour_is_over() {
    let mut w = school(PeakConfig::default());
    assert!(w.restore(&id("schule"), q0() + 5 * MIN));
    assert!(!w.restore(&id("elsewhere"), q0()));
    let mut out = Vec::new();
    w.tick(q0() + 10 * MIN, &mut out);
    assert_eq!(out, Vec::new());
    w.tick(q0() + 16 * MIN, &mut out);
    assert!(
        matches!(&out[..], [Signal { change: Change::Clear { reason }, .. }] if reason.contains("07:00–07:15 ended")),
        "{out:?}"
    );
}

#[test]
fn a_noisy_plateau_just_below_the_peak_raises_nothing_but_its_latest_sample_alone_would() {
    // 49 kW (2 % below the peak) with ±8 % noise from sample to sample: the latest sample alone says 52.9 kW
    // every other reading, which held for 12 minutes carries the forecast over 51 kW.
    let noisy = |t: i64| {
        if (t - q0()) / (10 * S) % 2 == 0 {
            49_000.0 * 1.08
        } else {
            49_000.0 * 0.92
        }
    };
    let mut w = school(PeakConfig::default());
    assert_eq!(feed(&mut w, q0(), q0() + 15 * MIN, noisy), Vec::new());
    let latest = PeakConfig {
        smoothing: Duration::ZERO,
        ..PeakConfig::default()
    };
    let mut w = school(latest);
    let out = feed(&mut w, q0(), q0() + 15 * MIN, noisy);
    assert_eq!(
        out.first().map(|s| s.at.timestamp_millis()),
        Some(q0() + 3 * MIN),
        "{out:#?}"
    );
}

#[test]
fn a_surge_still_warns_at_min_elapsed_with_the_default_smoothing() {
    // Everything on at 07:02: at 07:03 the mean of the last 2 min is 63.3 kW (the reading at 07:02 stands
    // for the 10 s before it: 50 s at 40, 70 s at 80 kW), and the forecast,
    // (2 × 40 + 1 × 80 + 12 × 63.3) / 15 = 61.3 kW, is over the margin.
    let surge = |t: i64| if t < q0() + 2 * MIN { 40_000.0 } else { 80_000.0 };
    let mut w = school(PeakConfig::default());
    let out = feed(&mut w, q0(), q0() + 15 * MIN, surge);
    let first = out.first().expect("a warning");
    assert_eq!(first.at.timestamp_millis(), q0() + 3 * MIN);
    let Change::Raise { explanation, .. } = &first.change else {
        panic!("a raise: {first:?}")
    };
    assert!((explanation.observed - 61.33).abs() < 0.01, "{explanation:?}");
}

#[test]
fn the_present_power_is_the_time_weighted_mean_of_the_window() {
    let ring: VecDeque<(i64, f64)> = [(0, 10.0), (10 * S, 20.0), (40 * S, 50.0), (60 * S, 80.0)].into();
    // Over [0, 60 s]: 20 W for 10 s, 50 W for 30 s, 80 W for 20 s.
    let mean = smoothed(&ring, 60 * S, 60 * S).expect("samples");
    assert!(
        (mean - (20.0 * 10.0 + 50.0 * 30.0 + 80.0 * 20.0) / 60.0).abs() < 1e-9,
        "{mean}"
    );
    // The window clips the oldest stretch: over [30 s, 60 s], 50 W for 10 s and 80 W for 20 s.
    let mean = smoothed(&ring, 60 * S, 30 * S).expect("samples");
    assert!((mean - 70.0).abs() < 1e-9, "{mean}");
    assert_eq!(
        smoothed(&ring, 60 * S, 0),
        Some(80.0),
        "no window: the latest sample"
    );
    assert_eq!(smoothed(&VecDeque::new(), 0, 60 * S), None);
}
