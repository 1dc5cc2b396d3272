use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 10, 0, 0)
        .single()
        .expect("valid")
}

fn at(min: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(min)
}

/// Points at the given minutes after `t0`.
fn series(points: &[(i64, f64)]) -> Vec<(DateTime<Utc>, f64)> {
    points.iter().map(|&(m, v)| (at(m), v)).collect()
}

fn one_bucket(points: &[(i64, f64)], from: i64, to: i64) -> Bucket {
    consumption(&series(points), &[at(from), at(to)], &CounterConfig::default())[0]
}

fn cfg_rollover() -> CounterConfig {
    CounterConfig {
        rollover_wh: Some(1_000_000.0),
        ..CounterConfig::default()
    }
}

#[test]
fn table_of_counter_histories() {
    // (name, points (minute, Wh), bucket from..to, expected wh, complete)
    type Case<'a> = (&'a str, &'a [(i64, f64)], (i64, i64), Option<f64>, bool);
    let cases: &[Case<'_>] = &[
        (
            "steady",
            &[(0, 1000.0), (5, 1010.0), (10, 1020.0)],
            (0, 10),
            Some(20.0),
            true,
        ),
        (
            "half a bucket of data",
            &[(0, 1000.0), (5, 1010.0)],
            (0, 10),
            Some(10.0),
            false,
        ),
        (
            "spread linearly",
            &[(0, 1000.0), (10, 1020.0)],
            (0, 5),
            Some(10.0),
            true,
        ),
        (
            "no data is unknown, not 0",
            &[(0, 1000.0), (5, 1010.0)],
            (20, 30),
            None,
            false,
        ),
        (
            "flat is a measured 0",
            &[(0, 1000.0), (10, 1000.0)],
            (0, 10),
            Some(0.0),
            true,
        ),
        // A reboot resets the counter: the minutes up to the reset are unknown, the rest counts.
        (
            "reset",
            &[(0, 1000.0), (5, 1010.0), (6, 3.0), (10, 13.0)],
            (0, 10),
            Some(20.0),
            false,
        ),
        // "Unavailable" recorded as 0, then back: the +1010 kWh of phantom energy other tools show.
        (
            "glitch to zero",
            &[(0, 1000.0), (5, 0.0), (10, 1020.0)],
            (0, 10),
            Some(20.0),
            true,
        ),
        // A meter swapped for one with a higher reading: a jump, never consumption.
        (
            "swap up",
            &[(0, 1000.0), (5, 1010.0), (6, 9e9), (10, 9e9 + 5.0)],
            (0, 10),
            Some(15.0),
            false,
        ),
        (
            "jitter down and up",
            &[(0, 1000.0), (5, 999.5), (10, 1001.0)],
            (0, 10),
            Some(1.0),
            true,
        ),
        (
            "duplicates: first wins",
            &[(0, 1000.0), (5, 1010.0), (5, 5000.0), (10, 1020.0)],
            (0, 10),
            Some(20.0),
            true,
        ),
        (
            "out of order input",
            &[(10, 1020.0), (0, 1000.0), (5, 1010.0)],
            (0, 10),
            Some(20.0),
            true,
        ),
        (
            "a trailing dip is unknown",
            &[(0, 1000.0), (5, 1010.0), (10, 2.0)],
            (0, 10),
            Some(10.0),
            false,
        ),
        (
            "negative and NaN ignored",
            &[(0, 1000.0), (3, -5.0), (4, f64::NAN), (10, 1020.0)],
            (0, 10),
            Some(20.0),
            true,
        ),
        // A 60 min gap (> 15 min max_gap) counts in a bucket containing it, not in one it straddles.
        (
            "gap inside",
            &[(0, 1000.0), (60, 1600.0)],
            (-10, 70),
            Some(600.0),
            false,
        ),
        (
            "gap wholly inside: its total counts, the bucket is incomplete",
            &[(0, 1000.0), (60, 1600.0)],
            (0, 60),
            Some(600.0),
            false,
        ),
        (
            "gap straddled",
            &[(0, 1000.0), (60, 1600.0)],
            (0, 30),
            None,
            false,
        ),
    ];
    for (name, points, (from, to), wh, complete) in cases {
        let b = one_bucket(points, *from, *to);
        match (b.wh, wh) {
            (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{name}: {a} != {e}"),
            (a, e) => assert_eq!(a, *e, "{name}"),
        }
        assert_eq!(b.complete, *complete, "{name}: {b:?}");
    }
}

#[test]
fn rollover_at_the_configured_modulus() {
    let points = series(&[(0, 999_990.0), (5, 5.0), (10, 20.0)]);
    let b = consumption(&points, &[at(0), at(10)], &cfg_rollover());
    assert_eq!((b[0].wh, b[0].complete), (Some(30.0), true));
    // Without a modulus the same history is a reset.
    let b = consumption(&points, &[at(0), at(10)], &CounterConfig::default());
    assert_eq!((b[0].wh, b[0].complete), (Some(15.0), false));
}

#[test]
fn streaming_notes() {
    let mut t = CounterTracker::new(CounterConfig::default());
    let notes: Vec<Note> = [
        (0, 100.0),
        (5, 110.0),
        (5, 110.0),
        (4, 120.0),
        (10, 1.0),
        (15, 3.0),
    ]
    .iter()
    .map(|&(m, v)| t.observe(at(m), v).note)
    .collect();
    use Note::*;
    assert_eq!(notes, [Baseline, Counted, Duplicate, OutOfOrder, Dip, Reset]);
    let step = t.observe(at(20), 4.0);
    assert_eq!(step.intervals().map(|i| i.wh).collect::<Vec<_>>(), [Some(1.0)]);
}

#[test]
fn local_days_follow_dst_in_berlin() {
    let berlin = chrono_tz::Europe::Berlin;
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).expect("date");
    // 1 kW constant, a reading every 5 minutes from 27 to 31 March.
    let start = Utc
        .with_ymd_and_hms(2026, 3, 27, 0, 0, 0)
        .single()
        .expect("valid");
    let points: Vec<_> = (0..5 * 24 * 12)
        .map(|i| {
            (
                start + TimeDelta::minutes(5 * i),
                1_000_000.0 + 1000.0 / 12.0 * i as f64,
            )
        })
        .collect();
    let days = daily(&points, berlin, day(28), day(30), &CounterConfig::default());
    let got: Vec<_> = days
        .iter()
        .map(|d| (d.date, d.bucket.wh.map(f64::round), d.bucket.complete))
        .collect();
    assert_eq!(
        got,
        [
            (day(28), Some(24_000.0), true),
            (day(29), Some(23_000.0), true),
            (day(30), Some(24_000.0), true)
        ]
    );
    let oct = local_day_edges(
        &berlin,
        NaiveDate::from_ymd_opt(2026, 10, 25).expect("date"),
        NaiveDate::from_ymd_opt(2026, 10, 25).expect("date"),
    );
    assert_eq!(oct[1] - oct[0], TimeDelta::hours(25));
}

#[test]
fn config_validation_lists_every_problem() {
    let bad = CounterConfig {
        max_gap: TimeDelta::zero(),
        max_power_w: f64::NAN,
        jitter_wh: -1.0,
        rollover_wh: Some(0.0),
    };
    assert_eq!(bad.validate().len(), 4);
    assert!(CounterConfig::default().validate().is_empty());
}

/// A true history: minutes between readings (1–20) and Wh consumed in each step.
fn history() -> impl Strategy<Value = Vec<(i64, f64)>> {
    prop::collection::vec((1i64..20, 0.0f64..500.0), 2..60)
}

fn realise(h: &[(i64, f64)], start_wh: f64) -> Vec<(DateTime<Utc>, f64)> {
    let (mut m, mut v) = (0, start_wh);
    let mut out = vec![(at(0), v)];
    for &(dm, dwh) in h {
        m += dm;
        v += dwh;
        out.push((at(m), v));
    }
    out
}

proptest! {
    #[test]
    fn never_negative_whatever_the_values(points in prop::collection::vec((0i64..600, -10.0f64..1e7), 0..80)) {
        let p = series(&points);
        let edges = uniform_edges(at(0), at(600), TimeDelta::minutes(37));
        for b in consumption(&p, &edges, &CounterConfig::default()) {
            prop_assert!(b.wh.is_none_or(|w| w >= 0.0), "{b:?}");
            prop_assert!((0.0..=1.0 + 1e-12).contains(&b.coverage));
        }
    }

    #[test]
    fn complete_buckets_add_up(h in history(), split in 0.0f64..1.0) {
        let p = realise(&h, 5000.0);
        let end = p.last().map_or(at(0), |x| x.0);
        let cut = at(0) + (end - at(0)) * (split * 1000.0) as i32 / 1000;
        let cfg = CounterConfig { max_gap: TimeDelta::hours(1), ..CounterConfig::default() };
        let whole = consumption(&p, &[at(0), end], &cfg)[0];
        let parts = consumption(&p, &[at(0), cut, end], &cfg);
        prop_assert!(whole.complete);
        prop_assert!((whole.wh.unwrap_or(-1.0) - (p[p.len() - 1].1 - 5000.0)).abs() < 1e-6);
        if parts.iter().all(|b| b.complete) {
            let sum: f64 = parts.iter().filter_map(|b| b.wh).sum();
            prop_assert!((sum - whole.wh.unwrap_or(0.0)).abs() < 1e-6, "{sum} vs {whole:?}");
        }
    }

    #[test]
    fn an_injected_reset_or_glitch_never_adds(h in history(), at_idx in 1usize..60, glitch in any::<bool>(), offset in 0.0f64..100.0) {
        let truth = realise(&h, 50_000.0);
        let true_total = truth[truth.len() - 1].1 - truth[0].1;
        let k = at_idx.min(truth.len() - 1);
        let mut seen = truth.clone();
        if glitch {
            seen[k].1 = 0.0;
        } else {
            // From k on, the device counts from (near) zero again.
            let base = truth[k].1;
            for p in &mut seen[k..] { p.1 = p.1 - base + offset; }
        }
        let end = truth[truth.len() - 1].0 + TimeDelta::seconds(1);
        let b = consumption(&seen, &[at(0), end], &CounterConfig::default())[0];
        prop_assert!(b.wh.unwrap_or(0.0) <= true_total + 1e-6, "{b:?} > {true_total}");
    }
}
