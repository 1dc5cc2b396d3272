use chrono::{NaiveDate, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::counter::{Bucket, consumption, local_day_edges};

fn cfg() -> CounterConfig {
    CounterConfig::default()
}

/// Per bucket: the exact rule's answer and what the counter component computes from the raw readings of
/// `[start − max_gap, end + max_gap)`. Whenever the rule answers, both agree and the bucket is complete.
fn both(readings: &[Point], edges: &[DateTime<Utc>]) -> Vec<(Option<f64>, Bucket)> {
    let cfg = cfg();
    edges
        .windows(2)
        .map(|w| {
            let (s, e) = (w[0], w[1]);
            let near: Vec<Point> = readings
                .iter()
                .copied()
                .filter(|r| r.0 >= s - cfg.max_gap && r.0 < e + cfg.max_gap)
                .collect();
            let exact = exact_energy(
                (s, &Around::of(readings, s)),
                (e, &Around::of(readings, e)),
                Steps::of(&near).as_ref(),
                &cfg,
            );
            let bucket = consumption(&near, &[s, e], &cfg)[0];
            if let Some(x) = exact {
                let wh = bucket.wh.unwrap_or(f64::NAN);
                assert!(
                    (x - wh).abs() <= 1e-6 * x.max(1.0),
                    "exact {x} vs counter {bucket:?}"
                );
                assert!(
                    bucket.complete,
                    "exact {x} but the counter says incomplete: {bucket:?}"
                );
            }
            (exact, bucket)
        })
        .collect()
}

fn berlin_days(first: NaiveDate, last: NaiveDate) -> Vec<DateTime<Utc>> {
    local_day_edges(&chrono_tz::Europe::Berlin, first, last)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// Readings every `step` from the first to the last edge, `wh_per_bucket` in each bucket whatever its
/// length (so a 23-hour DST day holds as much as a 25-hour one), starting `offset` after each edge.
fn per_bucket(edges: &[DateTime<Utc>], step: TimeDelta, offset: TimeDelta, wh_per_bucket: f64) -> Vec<Point> {
    let mut out = Vec::new();
    for (k, w) in edges.windows(2).enumerate() {
        let span = (w[1] - w[0]).num_milliseconds() as f64;
        let mut t = w[0] + offset;
        while t < w[1] {
            let share = (t - w[0]).num_milliseconds() as f64 / span;
            out.push((t, wh_per_bucket * (k as f64 + share)));
            t += step;
        }
    }
    out
}

#[test]
fn dst_days_of_23_and_25_hours_at_15_minutes() {
    // 2026-03-29 has 23 hours in Berlin, 2026-10-25 has 25.
    for (first, last) in [
        (d(2026, 3, 27), d(2026, 3, 31)),
        (d(2026, 10, 23), d(2026, 10, 27)),
    ] {
        let edges = berlin_days(first, last);
        let mut readings = per_bucket(&edges, TimeDelta::minutes(15), TimeDelta::zero(), 100_000.0);
        readings.push((edges[edges.len() - 1], 100_000.0 * (edges.len() - 1) as f64));
        let inner = &edges[1..edges.len() - 1];
        for (exact, b) in both(&readings, inner) {
            assert_eq!(exact, Some(100_000.0), "{b:?}");
        }
    }
}

#[test]
fn one_second_readings_off_the_edges_are_interpolated() {
    // Readings at hh:mm:ss.4 every second, a load of 3.6 kW: 1 Wh per second, edges on whole hours.
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().expect("t0");
    let readings: Vec<Point> = (0..4 * 3600)
        .map(|k| (t0 + TimeDelta::milliseconds(1000 * k + 400), 5_000.0 + k as f64))
        .collect();
    let edges: Vec<_> = (1..4).map(|h| t0 + TimeDelta::hours(h)).collect();
    for (exact, _) in both(&readings, &edges) {
        let x = exact.expect("plain readings are exact");
        assert!((x - 3600.0).abs() < 1e-6, "{x}");
    }
}

#[test]
fn what_the_rule_leaves_to_the_raw_readings() {
    let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().expect("t0");
    let h = |x: f64| t0 + TimeDelta::seconds((x * 3600.0) as i64);
    let edges = [h(1.0), h(5.0), h(9.0)];
    let quarter = |from: f64, to: f64| {
        let n = ((to - from) * 4.0) as i64;
        (0..=n).map(move |k| from + k as f64 / 4.0)
    };
    // (case, readings as (hour, Wh), expected exact per bucket, expected complete per bucket)
    type Case = (&'static str, Vec<(f64, f64)>, [Option<f64>; 2], [bool; 2]);
    let cases: Vec<Case> = vec![
        (
            "plain",
            quarter(0.0, 10.0).map(|x| (x, 100.0 * x)).collect(),
            [Some(400.0), Some(400.0)],
            [true, true],
        ),
        (
            "a 2-hour gap inside the first bucket",
            quarter(0.0, 10.0)
                .filter(|x| !(2.0 < *x && *x < 4.0))
                .map(|x| (x, 100.0 * x))
                .collect(),
            [None, Some(400.0)],
            [false, true],
        ),
        (
            "a gap across the middle edge",
            quarter(0.0, 10.0)
                .filter(|x| !(4.5 < *x && *x < 5.5))
                .map(|x| (x, 100.0 * x))
                .collect(),
            [None, None],
            [false, false],
        ),
        (
            "a reset inside the second bucket",
            quarter(0.0, 10.0)
                .map(|x| (x, if x < 7.0 { 100.0 * x } else { 100.0 * (x - 7.0) }))
                .collect(),
            [Some(400.0), None],
            [true, false],
        ),
        (
            "jitter inside the first bucket",
            quarter(0.0, 10.0)
                .map(|x| (x, if x == 1.25 { 99.5 } else { 100.0 * x }))
                .collect(),
            [None, Some(400.0)],
            [true, true],
        ),
    ];
    for (case, points, want, complete) in cases {
        let readings: Vec<Point> = points.into_iter().map(|(x, v)| (h(x), v)).collect();
        let got = both(&readings, &edges);
        let exact: Vec<_> = got.iter().map(|g| g.0).collect();
        let comp: Vec<_> = got.iter().map(|g| g.1.complete).collect();
        assert_eq!(exact, want, "{case}");
        assert_eq!(comp, complete, "{case}: {got:?}");
    }
}

#[test]
fn an_edge_on_a_reading_needs_no_neighbour() {
    let t = |m: i64| Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().expect("t") + TimeDelta::minutes(m);
    let a = Around {
        before: None,
        at_or_after: Some((t(0), 10.0)),
    };
    assert_eq!(a.value(t(0), &cfg()), Some(10.0));
    let gap = Around {
        before: Some((t(-10), 5.0)),
        at_or_after: Some((t(10), 10.0)),
    };
    assert_eq!(gap.value(t(0), &cfg()), None, "20 minutes apart is a gap");
    let down = Around {
        before: Some((t(-5), 11.0)),
        at_or_after: Some((t(5), 10.0)),
    };
    assert_eq!(down.value(t(0), &cfg()), None, "a decrease has no value");
}

proptest! {
    /// Random cadences (1 s to 20 min), loads, resets and edges: the rule agrees with the counter component
    /// whenever it answers, and it answers whenever the readings around the bucket are plain.
    #[test]
    fn the_rule_agrees_with_the_counter_component(
        steps in prop::collection::vec((1i64..1200, 0.0f64..2000.0, 0u8..40), 2..120),
        cuts in prop::collection::vec(0.0f64..1.0, 1..5),
    ) {
        let t0 = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().expect("t0");
        let (mut t, mut v) = (t0, 1000.0);
        let mut readings = vec![(t, v)];
        for (dt, dwh, reset) in steps {
            t += TimeDelta::seconds(dt);
            v = if reset == 0 { dwh } else { v + dwh * dt as f64 / 1200.0 };
            readings.push((t, v));
        }
        let span = (t - t0).num_seconds() as f64;
        let mut edges: Vec<_> = cuts.iter().map(|c| t0 + TimeDelta::seconds((c * span) as i64)).collect();
        edges.sort();
        edges.dedup();
        prop_assume!(edges.len() >= 2);
        let cfg = cfg();
        for ((exact, _), w) in both(&readings, &edges).into_iter().zip(edges.windows(2)) {
            let near: Vec<Point> = readings.iter().copied()
                .filter(|r| r.0 >= w[0] - cfg.max_gap && r.0 < w[1] + cfg.max_gap).collect();
            let plain = Steps::of(&near).is_some_and(|s| s.plain(&cfg));
            let valued = Around::of(&readings, w[0]).value(w[0], &cfg).is_some()
                && Around::of(&readings, w[1]).value(w[1], &cfg).is_some();
            prop_assert_eq!(exact.is_some(), plain && valued);
        }
    }
}
