use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::counter::{Around, CounterConfig, consumption, exact_energy};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).single().expect("t0")
}

/// Rollups of `readings` over `[t0, end)` as a store would hold them: every quarter and every "day" (here
/// two hours, so a short series spans many), with the quarter rows given only where [`quarter_spans`]
/// says, the way the API reads them.
fn rolled(readings: &[Point], end: DateTime<Utc>, edges: &[DateTime<Utc>]) -> Rollups {
    let day_edges: Vec<_> = (0..)
        .map(|k| t0() + TimeDelta::hours(2 * k))
        .take_while(|d| *d <= end)
        .collect();
    let quarters = summarize(readings, &quarter_edges(t0(), end));
    let quarters_read = quarter_spans(edges, &day_edges, CounterConfig::default().max_gap, (t0(), end));
    Rollups {
        covered: Some((t0(), end)),
        days: summarize(readings, &day_edges)
            .into_iter()
            .map(|(s, _, x)| (s, x))
            .collect(),
        day_edges,
        quarters: quarters.into_iter().map(|(s, _, x)| (s, x)).collect(),
        quarters_read,
    }
}

#[test]
fn concatenated_summaries_are_the_summary_of_all_readings() {
    let t = |m: i64| t0() + TimeDelta::minutes(m);
    // Steady, then a 40-minute gap, then a reset.
    let mut readings: Vec<Point> = (0..30).map(|m| (t(m), 10.0 * m as f64)).collect();
    readings.extend((70..100).map(|m| (t(m), 10.0 * m as f64)));
    readings.extend((100..130).map(|m| (t(m), (m - 100) as f64)));
    let parts = summarize(&readings, &quarter_edges(t(0), t(130)));
    let joined = parts.iter().map(|p| p.2).reduce(Summary::then).expect("readings");
    assert_eq!(Some(joined), Summary::of(&readings));
    let steps = joined.steps.expect("steps");
    assert_eq!(steps.longest, TimeDelta::minutes(41));
    assert_eq!(steps.smallest_wh, -990.0);
}

#[test]
fn fields_round_trip() {
    let t = |s: i64| t0() + TimeDelta::seconds(s);
    for readings in [vec![(t(0), 5.0)], vec![(t(0), 5.0), (t(2), 6.5), (t(4), 6.0)]] {
        let s = Summary::of(&readings).expect("readings");
        let stored: Vec<Option<f64>> = s.fields().iter().map(|v| Some(*v)).collect();
        assert_eq!(Summary::from_fields(&stored), Some(s));
    }
    assert_eq!(Summary::from_fields(&[Some(0.0), None]), None);
}

#[test]
fn a_stretch_needing_rows_not_given_or_not_covered_is_unknown() {
    let t = |m: i64| t0() + TimeDelta::minutes(m);
    let readings: Vec<Point> = (0..600).map(|m| (t(m), m as f64)).collect();
    let r = rolled(&readings, t(600), &[t(60), t(540)]);
    assert!(r.stretch(t(45), t(555)).is_some(), "edges given, days between");
    assert_eq!(
        r.stretch(t(45), t(300)),
        None,
        "t(300) is not near an edge that was read"
    );
    assert_eq!(r.stretch(t(45), t(601)), None, "beyond the watermark");
    let empty = rolled(&[], t(600), &[t(60), t(540)]);
    assert_eq!(empty.stretch(t(45), t(555)), Some(None), "covered, no readings");
}

proptest! {
    /// Random cadences (1 s to 20 min), loads, resets and gaps, periods on quarter hours: the energy the
    /// exact rule gives from the rollups is the one it gives from the readings, which is the counter
    /// component's (tested in `exact`); where it gives none, neither does the rule on the readings.
    #[test]
    fn rollups_answer_exactly_what_the_readings_answer(
        steps in prop::collection::vec((1i64..1200, 0.0f64..2000.0, 0u8..40, 0u8..30), 2..400),
        cuts in prop::collection::vec(0.0f64..1.0, 2..6),
    ) {
        let cfg = CounterConfig::default();
        let (mut t, mut v) = (t0() + TimeDelta::seconds(7), 1000.0);
        let mut readings = vec![(t, v)];
        for (dt, dwh, reset, gap) in steps {
            // One step in 30 is a gap of up to 3 hours.
            t += TimeDelta::seconds(if gap == 0 { dt * 9 } else { dt });
            v = if reset == 0 { dwh } else { v + dwh * dt as f64 / 1200.0 };
            readings.push((t, v));
        }
        let end = quarter_floor(t) + QUARTER;
        let quarters = (end - t0()).num_minutes() / 15;
        let mut edges: Vec<_> = cuts.iter()
            .map(|c| t0() + QUARTER * ((c * quarters as f64) as i32))
            .filter(|e| *e - cfg.max_gap >= t0() && *e + cfg.max_gap <= end)
            .collect();
        edges.sort();
        edges.dedup();
        prop_assume!(edges.len() >= 2);
        let r = rolled(&readings, end, &edges);
        for w in edges.windows(2) {
            let (s, e) = (w[0], w[1]);
            let near: Vec<Point> = readings.iter().copied()
                .filter(|p| p.0 >= s - cfg.max_gap && p.0 < e + cfg.max_gap).collect();
            let stretch = r.stretch(s - cfg.max_gap, e + cfg.max_gap);
            prop_assert!(stretch.is_some(), "every row needed was given");
            let from_rollups = stretch.flatten().and_then(|x| x.steps);
            prop_assert_eq!(from_rollups, Steps::of(&near));
            let (a, b) = (Around::of(&readings, s), Around::of(&readings, e));
            let exact = exact_energy((s, &a), (e, &b), from_rollups.as_ref(), &cfg);
            let raw = exact_energy((s, &a), (e, &b), Steps::of(&near).as_ref(), &cfg);
            prop_assert_eq!(exact, raw);
            if let Some(x) = exact {
                let bucket = consumption(&near, &[s, e], &cfg)[0];
                prop_assert!(bucket.complete);
                prop_assert!((x - bucket.wh.unwrap_or(f64::NAN)).abs() <= 1e-6 * x.max(1.0));
            }
        }
    }
}

#[test]
fn an_edge_row_holds_the_readings_next_to_the_edge_within_the_day() {
    let t = |m: i64| t0() + TimeDelta::minutes(m);
    // Readings every 10 minutes up to 06:50, none from 07:00 to 07:20, then every 10 minutes again.
    let mut readings: Vec<Point> = (0..42).map(|k| (t(10 * k), k as f64)).collect();
    readings.extend((45..60).map(|k| (t(10 * k), k as f64)));
    let quarters: BTreeMap<_, _> = summarize(&readings, &quarter_edges(t(0), t(600)))
        .into_iter()
        .map(|(s, _, x)| (s, x))
        .collect();
    assert_eq!(
        edge_of(&quarters, t(420)),
        (Some((t(410), 41.0)), Some((t(450), 45.0)))
    );
    assert_eq!(edge_of(&quarters, t(0)), (None, Some((t(0), 0.0))));
    assert_eq!(edge_of(&quarters, t(600)), (Some((t(590), 59.0)), None));
    assert_eq!(
        at_tag(chrono::NaiveTime::from_hms_opt(7, 0, 0).expect("07:00")),
        "07:00"
    );
}
