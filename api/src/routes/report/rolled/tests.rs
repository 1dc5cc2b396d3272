use chrono::TimeZone as _;
use chrono_tz::Europe::Berlin;
use zw_model::counter::consumption;
use zw_model::counter::rollup::summarize;
use zw_model::report::UsageHours;

use super::*;

/// The windows InfluxDB's `GROUP BY time(1d, offset) tz(…)` gives over `readings`: from local `at` on each
/// day of `days` to the same time the next day, with the first and the last reading in each.
fn windows_at(readings: &[Point], days: &[NaiveDate], at: NaiveTime) -> Vec<Window> {
    let starts: Vec<DateTime<Utc>> = days
        .iter()
        .filter_map(|d| Berlin.from_local_datetime(&d.and_time(at)).earliest())
        .map(|t| t.with_timezone(&Utc))
        .collect();
    starts
        .windows(2)
        .map(|w| {
            let inside: Vec<Point> = readings
                .iter()
                .filter(|p| w[0] <= p.0 && p.0 < w[1])
                .copied()
                .collect();
            (w[0], inside.first().copied(), inside.last().copied())
        })
        .collect()
}

#[test]
fn the_rollups_answer_what_the_readings_give_and_leave_the_rest() {
    let day = |m, d| NaiveDate::from_ymd_opt(2025, m, d).expect("date");
    let (d0, d1) = (day(3, 24), day(4, 8));
    let usage = UsageHours::default();
    let (edges, _) = usage.split(&Berlin, d0, d1);
    let dates: Vec<NaiveDate> = day(3, 22).iter_days().take_while(|d| *d <= day(4, 10)).collect();
    let day_edges = local_day_edges(&Berlin, day(3, 22), day(4, 9));
    let (lo, hi) = (day_edges[0], day_edges[day_edges.len() - 1]);
    let utc = |m, d, h, min| {
        Utc.with_ymd_and_hms(2025, m, d, h, min, 0)
            .single()
            .expect("time")
    };
    // Readings every 4 minutes, 1 to 3 kW over the day; a 40-minute gap in the usage hours of 26 March, a
    // reset on the evening of 2 April; the spring DST change on 30 March.
    let gap = (utc(3, 26, 10, 0), utc(3, 26, 10, 40));
    let reset = utc(4, 2, 19, 0);
    let (mut readings, mut t, mut v) = (Vec::new(), lo, 100.0);
    while t < hi {
        if t == reset {
            v = 0.0;
        }
        if !(gap.0 <= t && t < gap.1) {
            readings.push((t, v));
        }
        v += (2_000.0 + 1_000.0 * (f64::from(t.hour()) / 4.0).sin()) / 15.0;
        t += TimeDelta::minutes(4);
    }
    let days: BTreeMap<DateTime<Utc>, Summary> = summarize(&readings, &day_edges)
        .into_iter()
        .map(|(a, _, s)| (a, s))
        .collect();
    let cfg = CounterConfig::default();
    let rolled = Rolled {
        covered: (lo, hi),
        tz: Berlin,
        day_edges: &day_edges,
        days: &days,
        gap: cfg.max_gap,
    };
    let (from, to) = (
        windows_at(&readings, &dates, usage.from),
        windows_at(&readings, &dates, usage.to),
    );
    let arounds = |r: &Rolled| -> Vec<Option<Around>> {
        edges
            .iter()
            .map(|&e| match e.with_timezone(&Berlin).time() {
                t if t == usage.from => r.at_window(&from, e),
                t if t == usage.to => r.at_window(&to, e),
                _ => r.at_midnight(e),
            })
            .collect()
    };
    let around = arounds(&rolled);
    assert!(around.iter().all(Option::is_some), "every edge has its readings");
    let got = answer(&rolled, &edges, &around, hi, &cfg);
    let mut left = Vec::new();
    for (k, w) in edges.windows(2).enumerate() {
        let (s, e) = (w[0], w[1]);
        let near: Vec<Point> = readings
            .iter()
            .filter(|p| s - cfg.max_gap <= p.0 && p.0 < e + cfg.max_gap)
            .copied()
            .collect();
        let want = consumption(&near, &[s, e], &cfg)[0];
        match got[k] {
            Some(b) => {
                let wh = want.wh.expect("known");
                assert!(want.complete, "stretch {s}..{e} is answered, so it is complete");
                assert!(
                    (b.wh.expect("wh") - wh).abs() <= 1e-9 * wh,
                    "{s}..{e}: {b:?} vs {want:?}"
                );
            }
            None => left.push(s.with_timezone(&Berlin).date_naive()),
        }
    }
    // Only the stretches of the days around the gap and the reset are left to the readings path.
    left.dedup();
    assert_eq!(
        left,
        [
            day(3, 25),
            day(3, 26),
            day(3, 27),
            day(4, 1),
            day(4, 2),
            day(4, 3)
        ]
    );
    // Nothing after `now`, nothing outside what the rollups cover.
    assert!(
        answer(&rolled, &edges, &around, edges[3], &cfg)[3..]
            .iter()
            .all(Option::is_none)
    );
    let narrow = Rolled {
        covered: (lo, edges[edges.len() - 4]),
        ..rolled
    };
    let n = edges.len() - 1;
    let got = answer(&narrow, &edges, &arounds(&narrow), hi, &cfg);
    assert!(got[n - 3..].iter().all(Option::is_none), "{:?}", &got[n - 3..]);
    assert!(got[..n - 6].iter().filter(|b| b.is_some()).count() > 20);
}

#[test]
fn a_window_not_starting_at_the_edge_answers_nothing() {
    let utc = |d, h| Utc.with_ymd_and_hms(2025, 6, d, h, 0, 0).single().expect("time");
    let days = BTreeMap::new();
    let day_edges = [utc(1, 22), utc(2, 22), utc(3, 22)];
    let rolled = Rolled {
        covered: (utc(1, 0), utc(4, 0)),
        tz: Berlin,
        day_edges: &day_edges,
        days: &days,
        gap: TimeDelta::minutes(15),
    };
    let p = |d, h| Some((utc(d, h), 1.0));
    // Windows an hour off the edge (as a zone change mishandled would give): no readings claimed.
    let off = [(utc(1, 6), p(1, 6), p(2, 5)), (utc(2, 6), p(2, 6), p(3, 5))];
    assert_eq!(rolled.at_window(&off, utc(2, 5)), None);
    let shifted = [(utc(1, 6), p(1, 6), p(2, 4)), (utc(2, 5), p(2, 5), p(3, 4))];
    assert_eq!(
        rolled.at_window(&shifted, utc(2, 5)),
        None,
        "the window before starts an hour late"
    );
    // Aligned: the last reading of the window before and the first of the window at the edge, within the gap.
    let aligned = [(utc(1, 5), p(1, 5), p(2, 4)), (utc(2, 5), p(2, 5), p(3, 4))];
    assert_eq!(
        rolled.at_window(&aligned, utc(2, 5)),
        Some(Around {
            before: None,
            at_or_after: Some((utc(2, 5), 1.0)),
        })
    );
}

/// The edge rows the roller writes at local `at` for `readings`: per local day of `day_edges`, from its
/// quarter rows ([`zw_model::counter::rollup::edge_of`]).
fn edge_rows(
    readings: &[Point],
    day_edges: &[DateTime<Utc>],
    at: NaiveTime,
) -> BTreeMap<DateTime<Utc>, Ends> {
    use zw_model::counter::rollup::{edge_of, quarter_edges};
    let mut out = BTreeMap::new();
    for d in day_edges.windows(2) {
        let quarters: BTreeMap<_, _> = summarize(readings, &quarter_edges(d[0], d[1]))
            .into_iter()
            .map(|(s, _, x)| (s, x))
            .collect();
        let date = d[0].with_timezone(&Berlin).date_naive();
        let Some(t) = Berlin.from_local_datetime(&date.and_time(at)).single() else {
            continue;
        };
        let t = t.with_timezone(&Utc);
        let row = edge_of(&quarters, t);
        if row.0.is_some() || row.1.is_some() {
            out.insert(t, row);
        }
    }
    out
}

#[test]
fn edge_rows_give_the_readings_the_windows_give() {
    let day = |m, d| NaiveDate::from_ymd_opt(2025, m, d).expect("date");
    let dates: Vec<NaiveDate> = day(3, 22).iter_days().take_while(|d| *d <= day(4, 10)).collect();
    let day_edges = local_day_edges(&Berlin, day(3, 22), day(4, 9));
    let (lo, hi) = (day_edges[0], day_edges[day_edges.len() - 1]);
    let utc = |m, d, h| Utc.with_ymd_and_hms(2025, m, d, h, 0, 0).single().expect("time");
    // Readings every 20 minutes across the spring DST change, none on 27 March, none from 05:00 to 09:00
    // on 2 April, none from 16:00 on 4 April to 20:00 on 5 April.
    let holes = [
        (utc(3, 26, 23), utc(3, 27, 23)),
        (utc(4, 2, 3), utc(4, 2, 7)),
        (utc(4, 4, 14), utc(4, 5, 18)),
    ];
    let readings: Vec<Point> = (0..)
        .map(|k| (lo + TimeDelta::minutes(20 * k), k as f64))
        .take_while(|p| p.0 < hi)
        .filter(|p| !holes.iter().any(|(a, b)| *a <= p.0 && p.0 < *b))
        .collect();
    let days: BTreeMap<DateTime<Utc>, Summary> = summarize(&readings, &day_edges)
        .into_iter()
        .map(|(a, _, s)| (a, s))
        .collect();
    let usage = UsageHours::default();
    // A short gap (the readings within it only) and one longer than a night (the neighbouring days' rows).
    for gap in [TimeDelta::minutes(45), TimeDelta::hours(14)] {
        let rolled = Rolled {
            covered: (lo, hi),
            tz: Berlin,
            day_edges: &day_edges,
            days: &days,
            gap,
        };
        let mut answered = 0;
        for at in [usage.from, usage.to] {
            let windows = windows_at(&readings, &dates, at);
            let edges = edge_rows(&readings, &day_edges, at);
            for d in &dates[2..dates.len() - 2] {
                let e = Berlin
                    .from_local_datetime(&d.and_time(at))
                    .single()
                    .expect("edge")
                    .with_timezone(&Utc);
                let (by_window, by_edge) = (rolled.at_window(&windows, e), rolled.at_edge(&edges, e));
                assert!(by_edge.is_some(), "{e} with gap {gap}");
                assert_eq!(by_edge, by_window, "{e} with gap {gap}");
                answered += 1;
            }
        }
        assert!(answered > 25);
    }
}
