use chrono::{NaiveDate, TimeZone as _};
use chrono_tz::Europe::Berlin;

use super::*;
use crate::counter::local_day_edges;
use crate::counter::rollup::{quarter_edges, summarize};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 12, 6, 0, 0).single().expect("time")
}

fn min(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

/// Counter readings every `every` seconds over `[from, to)` of a load of `w(t)` watts (held per reading).
fn counter(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    every: i64,
    w: impl Fn(DateTime<Utc>) -> f64,
) -> Vec<Point> {
    let mut out = Vec::new();
    let (mut t, mut wh) = (from, 1_000_000.0);
    while t <= to {
        out.push((t, wh));
        wh += w(t) * every as f64 / 3600.0;
        t += TimeDelta::seconds(every);
    }
    out
}

/// 30 kW, 80 kW from 07:00 to 07:20, 30 kW again.
fn monday(t: DateTime<Utc>) -> f64 {
    if t >= t0() + min(60) && t < t0() + min(80) {
        80_000.0
    } else {
        30_000.0
    }
}

#[test]
fn counter_readings_give_each_quarter_its_average_at_the_exact_edges() {
    let cfg = CounterConfig::default();
    // Readings every 70 s: never on a quarter edge, so every edge is interpolated.
    let points = counter(t0() - min(30), t0() + min(150), 70, monday);
    let q = from_counter(&points, (t0(), t0() + min(120)), &cfg);
    assert_eq!(q.len(), 8);
    // Independently: the counter interpolated linearly between the readings around each edge.
    let v = |t: DateTime<Utc>| {
        let i = points.iter().position(|p| p.0 >= t).expect("a reading after");
        let ((ta, va), (tb, vb)) = (points[i - 1], points[i]);
        va + (vb - va) * (t - ta).num_milliseconds() as f64 / (tb - ta).num_milliseconds() as f64
    };
    for q in &q {
        let expected = v(q.start + min(15)) - v(q.start);
        assert!(
            (q.wh.expect("known") - expected).abs() < 1e-6,
            "{q:?}: {expected}"
        );
    }
    let kw: Vec<f64> = q
        .iter()
        .map(|q| (q.avg_w().expect("known") / 100.0).round() / 10.0)
        .collect();
    assert_eq!(kw[..4], [30.0, 30.0, 30.0, 30.0]);
    // 07:00–07:15 at 80 kW but for the first step (up to 70 s spread over the change), 07:15–07:30 five
    // minutes at 80 kW, ten at 30 kW.
    assert!((kw[4] - 80.0).abs() < 4.0, "{kw:?}");
    assert!((kw[5] - (80.0 * 5.0 + 30.0 * 10.0) / 15.0).abs() < 4.0, "{kw:?}");
    assert_eq!(top(&q, 1)[0].start, t0() + min(60));
}

#[test]
fn a_gap_leaves_its_quarters_missing_not_zero() {
    let cfg = CounterConfig::default();
    let mut points = counter(t0(), t0() + min(90), 60, |_| 20_000.0);
    // Nothing from 06:31 to 06:52 (21 minutes): 06:30–06:45 and 06:45–07:00 are missing.
    points.retain(|p| p.0 <= t0() + min(31) || p.0 >= t0() + min(52));
    let q = from_counter(&points, (t0(), t0() + min(90)), &cfg);
    let known: Vec<bool> = q.iter().map(|q| q.wh.is_some()).collect();
    assert_eq!(known, [true, true, false, false, true, true]);
    assert!(q.iter().filter_map(|q| q.wh).all(|wh| (wh - 5000.0).abs() < 1e-6));
    // Before and after all readings: missing too.
    let q = from_counter(&points, (t0() - min(30), t0()), &cfg);
    assert!(q.iter().all(|q| q.wh.is_none()));
}

#[test]
fn dst_change_days_have_92_and_100_quarter_hours_each_of_15_minutes() {
    let cfg = CounterConfig::default();
    for (date, n) in [
        (NaiveDate::from_ymd_opt(2026, 3, 29), 92),
        (NaiveDate::from_ymd_opt(2026, 10, 25), 100),
    ] {
        let date = date.expect("date");
        let e = local_day_edges(&Berlin, date, date);
        let points = counter(e[0] - min(15), e[1] + min(15), 30, |_| 12_000.0);
        let q = from_counter(&points, (e[0], e[1]), &cfg);
        assert_eq!(q.len(), n, "{date}");
        assert!(q.windows(2).all(|w| w[1].start - w[0].start == min(15)));
        assert!(
            q.iter()
                .all(|q| (q.avg_w().expect("known") - 12_000.0).abs() < 1e-6),
            "{date}: every quarter hour at 12 kW"
        );
    }
}

#[test]
fn power_samples_give_the_same_averages_as_the_counter_of_the_same_load() {
    let cfg = CounterConfig::default();
    let (from, to) = (t0(), t0() + min(120));
    let power: Vec<Point> = (0..=720)
        .map(|k| {
            let t = from + TimeDelta::seconds(10 * k);
            (t, monday(t))
        })
        .collect();
    let by_power = from_power(&power, (from, to), min(1), 0.9);
    let by_counter = from_counter(&counter(from, to, 10, monday), (from, to), &cfg);
    for (p, c) in by_power.iter().zip(&by_counter) {
        let (p, c) = (p.avg_w().expect("power"), c.avg_w().expect("counter"));
        assert!((p - c).abs() < 1e-6, "{p} W by power, {c} W by counter");
    }
    // Samples every 10 s but none for 3 minutes of a quarter: 80 % covered, below 90 %: missing.
    let sparse: Vec<Point> = power
        .iter()
        .filter(|p| p.0 < from + min(5) || p.0 >= from + min(8))
        .copied()
        .collect();
    let q = from_power(&sparse, (from, to), min(1), 0.9);
    assert_eq!(q[0].wh, None);
    assert_eq!(q[1].avg_w(), Some(30_000.0));
    assert_eq!(
        from_power(&sparse, (from, to), min(1), 0.75)[0].avg_w(),
        Some(30_000.0)
    );
}

#[test]
fn a_reset_loses_only_its_quarter_and_a_rollover_is_counted() {
    let cfg = CounterConfig::default();
    let mut points = counter(t0(), t0() + min(60), 60, |_| 40_000.0);
    // The meter reboots at 06:20 and counts from 0.
    let base = points[20].1;
    for p in &mut points[20..] {
        p.1 -= base;
    }
    let q = from_counter(&points, (t0(), t0() + min(60)), &cfg);
    let known: Vec<Option<f64>> = q.iter().map(|q| q.avg_w().map(f64::round)).collect();
    assert_eq!(known, [Some(40_000.0), None, Some(40_000.0), Some(40_000.0)]);
    // Summarized per quarter (the rollups), the same quarter is missing and the others equal.
    let rows: BTreeMap<_, _> = summarize(&points, &quarter_edges(t0(), t0() + min(61)))
        .into_iter()
        .map(|(s, _, r)| (s, r))
        .collect();
    let rolled = from_rollups(&rows, &[], (t0(), t0() + min(60)), &cfg);
    assert_eq!(
        rolled.iter().map(|q| q.wh.is_some()).collect::<Vec<_>>(),
        [true, false, true, true]
    );
    for (a, b) in q.iter().zip(&rolled) {
        if let (Some(a), Some(b)) = (a.wh, b.wh) {
            assert!((a - b).abs() < 1e-6);
        }
    }
    // A 6-digit kWh register rolling over at 06:20 is counted through.
    let roll = CounterConfig {
        rollover_wh: Some(1e9),
        ..cfg.clone()
    };
    let mut points = counter(t0(), t0() + min(30), 60, |_| 40_000.0);
    for (k, p) in points.iter_mut().enumerate() {
        p.1 = (999_990_000.0 + 40_000.0 * k as f64 / 60.0) % 1e9;
    }
    let q = from_counter(&points, (t0(), t0() + min(30)), &roll);
    assert_eq!(
        q.iter().map(|q| q.avg_w().map(f64::round)).collect::<Vec<_>>(),
        [Some(40_000.0); 2]
    );
}

#[test]
fn rollups_give_the_same_quarters_as_the_readings() {
    let cfg = CounterConfig::default();
    let points = counter(t0() - min(30), t0() + min(150), 70, monday);
    let rows: BTreeMap<_, _> = summarize(&points, &quarter_edges(t0() - min(30), t0() + min(151)))
        .into_iter()
        .map(|(s, _, r)| (s, r))
        .collect();
    let a = from_counter(&points, (t0(), t0() + min(120)), &cfg);
    let b = from_rollups(&rows, &[], (t0(), t0() + min(120)), &cfg);
    // Rows up to 07:00, raw readings after: the same again.
    let cut = t0() + min(60);
    let early: BTreeMap<_, _> = rows.range(..cut).map(|(k, v)| (*k, *v)).collect();
    let late: Vec<Point> = points.iter().filter(|p| p.0 >= cut).copied().collect();
    let c = from_rollups(&early, &late, (t0(), t0() + min(120)), &cfg);
    assert_eq!(a.len(), b.len());
    assert_eq!(a.len(), c.len());
    for (a, b) in a.iter().zip(&b).chain(a.iter().zip(&c)) {
        let (a, b) = (a.wh.expect("known"), b.wh.expect("known"));
        assert!((a - b).abs() < 1e-6, "{a} != {b}");
    }
}

#[test]
fn devices_add_up_and_a_missing_one_makes_the_quarter_missing() {
    let s = |m: i64| t0() + min(m);
    let a = vec![
        QuarterHour {
            start: s(0),
            wh: Some(100.0),
        },
        QuarterHour {
            start: s(15),
            wh: Some(50.0),
        },
    ];
    let b = vec![
        QuarterHour {
            start: s(0),
            wh: Some(20.0),
        },
        QuarterHour {
            start: s(15),
            wh: None,
        },
    ];
    let total = sum(&[a, b]);
    assert_eq!(total[0].wh, Some(120.0));
    assert_eq!(total[1].wh, None);
    let ranked = top(
        &[
            QuarterHour {
                start: s(0),
                wh: Some(10.0),
            },
            QuarterHour {
                start: s(15),
                wh: None,
            },
            QuarterHour {
                start: s(30),
                wh: Some(30.0),
            },
            QuarterHour {
                start: s(45),
                wh: Some(10.0),
            },
        ],
        2,
    );
    assert_eq!(ranked.iter().map(|q| q.start).collect::<Vec<_>>(), [s(30), s(0)]);
}

#[test]
fn the_running_quarter_is_its_average_so_far() {
    let cfg = CounterConfig::default();
    let points = counter(t0(), t0() + min(70), 30, monday);
    // At 07:06:10 the latest reading is 07:06:00: six minutes at 80 kW.
    let r = running(&points, t0() + min(66) + TimeDelta::seconds(10), &cfg).expect("running");
    assert_eq!(r.start, t0() + min(60));
    assert_eq!(r.elapsed_s, 360.0);
    assert!((r.avg_w - 80_000.0).abs() < 1e-6, "{r:?}");
    // No reading yet in the quarter holding now.
    assert_eq!(running(&points, t0() + min(80), &cfg), None);
}
