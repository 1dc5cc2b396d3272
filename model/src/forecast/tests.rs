//! Forecast models: learned profiles, the standard-profile start, projections and their band.

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use proptest::prelude::*;

use super::*;

fn local(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .earliest()
        .expect("local time")
        .with_timezone(&Utc)
}

/// `days` days of hourly history ending at `end`, each hour's energy from `f(local time)`.
fn history(end: DateTime<Utc>, days: i64, f: impl Fn(DateTime<chrono_tz::Tz>) -> Option<f64>) -> Vec<Hour> {
    let start = end - TimeDelta::days(days);
    (0..days * 24)
        .map(|i| {
            let t = start + TimeDelta::hours(i);
            Hour {
                start: t,
                wh: f(t.with_timezone(&Berlin)),
            }
        })
        .collect()
}

#[test]
fn a_flat_history_projects_the_month_end_exactly_with_a_tight_band() {
    let now = local(2026, 11, 20, 0);
    let h = history(now, 28, |_| Some(100_000.0 / 24.0));
    let m = learn(Berlin, &h, Slp::G25).expect("a model");
    assert!(matches!(m.method(), Method::HourOfWeek { days: 28 }));
    // 19 days measured, 11 to come.
    let p = m.project(1_900_000.0, now, local(2026, 12, 1, 0));
    assert!((p.wh - 3_000_000.0).abs() < 1e-6, "{p:?}");
    assert!(p.high_wh - p.low_wh < 1e-6, "{p:?}");
}

#[test]
fn weekday_and_weekend_are_learned_apart() {
    let now = local(2026, 11, 23, 0); // Monday
    let h = history(now, 28, |t| {
        Some(if t.weekday().number_from_monday() >= 6 {
            500.0
        } else {
            2000.0
        })
    });
    let m = learn(Berlin, &h, Slp::G25).expect("a model");
    assert_eq!(m.expected(local(2026, 11, 28, 12)), 500.0);
    assert_eq!(m.expected(local(2026, 11, 24, 12)), 2000.0);
    // One odd day (a holiday) does not carry: the highest and lowest sample per hour are dropped.
    let h = history(now, 28, |t| Some(if t.day() == 11 { 0.0 } else { 1000.0 }));
    let m = learn(Berlin, &h, Slp::G25).expect("a model");
    assert_eq!(m.expected(local(2026, 11, 25, 12)), 1000.0);
}

#[test]
fn under_two_weeks_the_standard_profile_is_scaled_to_what_was_measured() {
    let now = local(2026, 11, 20, 0);
    let h = history(now, 5, |t| {
        Some(if (7..21).contains(&t.hour()) {
            4000.0
        } else {
            1000.0
        })
    });
    let m = learn(Berlin, &h, Slp::G25).expect("a model");
    assert!(matches!(
        m.method(),
        Method::StandardProfile {
            profile: Slp::G25,
            days: 5
        }
    ));
    // Over the measured hours it reproduces the measured total.
    let fitted: f64 = h.iter().map(|x| m.expected(x.start)).sum();
    let measured: f64 = h.iter().filter_map(|x| x.wh).sum();
    assert!((fitted / measured - 1.0).abs() < 1e-9);
    // A young model's band is at least ±25 %.
    let (lo, hi) = m.band();
    assert!(lo <= -YOUNG_BAND && hi >= YOUNG_BAND);
    // Shape: G25 uses more at noon on a weekday than at 3 in the morning.
    assert!(m.expected(local(2026, 11, 24, 12)) > m.expected(local(2026, 11, 24, 3)));
}

#[test]
fn no_known_hour_gives_no_model() {
    let h = history(local(2026, 11, 20, 0), 3, |_| None);
    assert!(learn(Berlin, &h, Slp::H25).is_none());
}

#[test]
fn tomorrow_has_23_hours_on_the_spring_change() {
    let h = history(local(2026, 3, 28, 0), 28, |_| Some(1000.0));
    let m = learn(Berlin, &h, Slp::H25).expect("a model");
    let hours = m.hours(local(2026, 3, 29, 0), local(2026, 3, 30, 0));
    assert_eq!(hours.len(), 23);
}

proptest! {
    /// The band always contains the projection, and the projection is the measured part plus the rest.
    #[test]
    fn the_band_contains_the_projection(noise in proptest::collection::vec(0.5f64..1.5, 28), measured in 0.0f64..1e7) {
        let now = local(2026, 11, 20, 0);
        let h = history(now, 28, |t| Some(1000.0 * noise[(t.ordinal() % 28) as usize]));
        let m = learn(Berlin, &h, Slp::G25).expect("a model");
        let p = m.project(measured, now, local(2026, 12, 1, 0));
        prop_assert!(p.low_wh <= p.wh + 1e-6 && p.wh <= p.high_wh + 1e-6, "{:?}", p);
        prop_assert!(p.low_wh >= measured - 1e-6);
        prop_assert!((p.wh - measured - p.remaining_wh).abs() < 1e-6);
    }
}
