//! `zaehlwerk eval --peak`: the peak watch on the cold-Monday school ([`zw_sim::scenario::peak`]), several
//! seeds, through the full [`Analytics`] engine at simulated time.
//!
//! The truth is computed here, apart from the detector: each quarter hour's average of the main meter's
//! samples (10 s, so exact) against the highest earlier quarter hour. Scored from the second week (the
//! first sets the peak): every quarter hour that set a new peak by more than the margin and was warned
//! gives a lead time (quarter-hour end − the warning's time); one without a warning is a miss; a warning in
//! a quarter hour that set no new peak is a false warning. New peaks within the margin are listed apart:
//! the watch is not meant to warn of those. Target: no miss, no false warning, every lead time ≥ 60 s.

use std::collections::BTreeMap;
use std::io::Write;

use zw_analytics::peak::{QUARTER_MS, quarter_start};
use zw_analytics::{Analytics, Config};
use zw_model::Id;
use zw_sim::scenario::peak::PeakScenario;

/// Weeks per seed.
pub const WEEKS: u32 = 4;

/// One seed's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeakScore {
    /// Seed.
    pub seed: u64,
    /// Cold Mondays in the scored weeks.
    pub cold_mondays: usize,
    /// New peaks above the margin, warned: lead times, s.
    pub leads: Vec<f64>,
    /// New peaks above the margin without a warning.
    pub missed: usize,
    /// Warnings in quarter hours that set no new peak.
    pub false_warnings: usize,
    /// Of those, the quarter hours that ended within 5 % below the peak (the load ran at the peak's level).
    pub near_misses: usize,
    /// New peaks within the margin (not expected to be warned), and how many were.
    pub small: (usize, usize),
}

fn id(s: &str) -> Id {
    Id::new(s).unwrap_or_else(|_| unreachable!("fixed ids are valid"))
}

/// Replays one seed over `weeks` weeks and scores it.
pub fn score(seed: u64, weeks: u32, cfg: &Config) -> PeakScore {
    let s = PeakScenario::generate(seed, weeks);
    let mut a = Analytics::new(cfg, &s.inventory());
    let main = id("main");
    // Truth: quarter start → (sum, samples) of the main meter.
    let mut sums: BTreeMap<i64, (f64, u32)> = BTreeMap::new();
    let mut warned: BTreeMap<i64, i64> = BTreeMap::new();
    let mut next_tick = s.start;
    s.replay(|r| {
        if r.ts >= next_tick {
            a.tick(r.ts);
            next_tick = r.ts + chrono::TimeDelta::minutes(1);
        }
        if r.device == main
            && let Some(&w) = r.values.get(&zw_model::Quantity::ActivePower)
        {
            let e = sums.entry(quarter_start(r.ts.timestamp_millis())).or_default();
            *e = (e.0 + w, e.1 + 1);
        }
        a.observe(&r, r.ts);
        for c in a.take_closed_quarters() {
            if let Some(at) = c.warned_at {
                warned.insert(c.quarter, at);
            }
        }
    });
    a.tick(s.end() + chrono::TimeDelta::minutes(1));
    for c in a.take_closed_quarters() {
        if let Some(at) = c.warned_at {
            warned.insert(c.quarter, at);
        }
    }
    let margin = 1.0 + cfg.peak.margin_percent / 100.0;
    let scored_from = (s.start + chrono::TimeDelta::weeks(1)).timestamp_millis();
    let mut out = PeakScore {
        seed,
        cold_mondays: s.cold_mondays.iter().flatten().count(),
        ..PeakScore::default()
    };
    let mut peak: Option<f64> = None;
    for (&q, &(sum, n)) in &sums {
        let avg = sum / f64::from(n.max(1));
        let new_peak = peak.is_none_or(|p| avg > p);
        let warning = warned.get(&q);
        if q >= scored_from {
            match (peak, warning) {
                (Some(p), Some(&at)) if avg > p * margin => {
                    out.leads.push((q + QUARTER_MS - at) as f64 / 1000.0);
                }
                (Some(p), None) if avg > p * margin => out.missed += 1,
                (Some(_), w) if new_peak => {
                    out.small.0 += 1;
                    out.small.1 += usize::from(w.is_some());
                }
                (p, Some(_)) => {
                    out.false_warnings += 1;
                    out.near_misses += usize::from(p.is_some_and(|p| avg >= 0.95 * p));
                }
                _ => {}
            }
        }
        if new_peak && n >= 90 {
            peak = Some(avg);
        }
    }
    out
}

/// Scores `seeds` and writes the table; `true` when every target is met.
pub fn run(seeds: &[u64], cfg: &Config, out: &mut impl Write) -> std::io::Result<bool> {
    let started = std::time::Instant::now();
    let scores: Vec<PeakScore> = seeds.iter().map(|&s| score(s, WEEKS, cfg)).collect();
    writeln!(
        out,
        "### Peak watch, {} seeds × {WEEKS} weeks of the cold-Monday school ({:.0} s)\n",
        seeds.len(),
        started.elapsed().as_secs_f64()
    )?;
    writeln!(
        out,
        "| seed | cold Mondays | new peaks warned | median lead | shortest lead | missed | false warnings (ended within 5 % of the peak) | new peaks within the margin (warned) |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    let fmt = |v: Option<f64>| v.map_or("–".to_string(), |s| format!("{:.0} s", s));
    for s in &scores {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} ({}) | {} ({}) |",
            s.seed,
            s.cold_mondays,
            s.leads.len(),
            fmt(median(&s.leads)),
            fmt(s.leads.iter().copied().reduce(f64::min)),
            s.missed,
            s.false_warnings,
            s.near_misses,
            s.small.0,
            s.small.1
        )?;
    }
    let all: Vec<f64> = scores.iter().flat_map(|s| s.leads.iter().copied()).collect();
    let (missed, false_warnings, near) = scores.iter().fold((0, 0, 0), |(m, f, n), s| {
        (m + s.missed, f + s.false_warnings, n + s.near_misses)
    });
    let shortest = all.iter().copied().reduce(f64::min);
    writeln!(
        out,
        "| **all** | {} | {} | {} | {} | {missed} | {false_warnings} ({near}) | {} ({}) |",
        scores.iter().map(|s| s.cold_mondays).sum::<usize>(),
        all.len(),
        fmt(median(&all)),
        fmt(shortest),
        scores.iter().map(|s| s.small.0).sum::<usize>(),
        scores.iter().map(|s| s.small.1).sum::<usize>(),
    )?;
    let met = missed == 0 && false_warnings == 0 && shortest.is_none_or(|s| s >= 60.0);
    writeln!(
        out,
        "\ntargets (no miss, no false warning, every lead ≥ 60 s): {}",
        if met { "met" } else { "MISSED" }
    )?;
    Ok(met)
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| {
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_with_a_cold_monday_is_warned_ahead_with_no_false_warning() {
        let seed = (0..50)
            .find(|&s| PeakScenario::generate(s, 2).cold_mondays.iter().flatten().count() == 1)
            .expect("a seed with a cold second Monday");
        let s = score(seed, 2, &Config::default());
        assert_eq!(s.missed, 0, "{s:?}");
        assert_eq!(s.false_warnings, 0, "{s:?}");
        assert!(!s.leads.is_empty(), "{s:?}");
        assert!(s.leads.iter().all(|l| *l > 60.0 && *l < 900.0), "{s:?}");
    }
}
