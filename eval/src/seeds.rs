//! Several seeds in one `zaehlwerk eval`: the seed list syntax and the per-seed and aggregate table.

use std::fmt::Write as _;

use super::score::{Summary, median};

/// Parses a seed list: `7`, `1..10` (inclusive, like `1..=10`), `1..=10`, `1,4,9` or a mix (`1..3,7`).
pub fn parse(spec: &str) -> Result<Vec<u64>, String> {
    let mut seeds = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{s}` in `{spec}` is not a seed (a whole number ≥ 0)"))
        };
        match part.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b.strip_prefix('=').unwrap_or(b))?);
                if b < a {
                    return Err(format!("empty range `{part}`"));
                }
                if b - a >= 10_000 {
                    return Err(format!("range `{part}` has more than 10000 seeds"));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(num(part)?),
        }
    }
    if seeds.is_empty() {
        return Err("no seed given".into());
    }
    Ok(seeds)
}

/// The per-seed table with an aggregate row: pooled precision, recall and forecast error, the median
/// of every time to detect, the worst opens per incident, and the mean of the per-seed forecast errors.
pub fn table(runs: &[Summary]) -> String {
    let ok = |b: bool| if b { "✅" } else { "❌" };
    let mut o = String::new();
    let _ = writeln!(
        o,
        "| Seed | Precision | Recall | Median TTD | Max opens | Forecast MAE (n, no forecast) | Without weather (trend) | Fault-caused watering alerts | Watering alerts with need | Quiet building-days with an alert | Targets |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        let _ = writeln!(
            o,
            "| {} | {:.3} | {:.3} | {:.1} min | {} | {:.2} d ({}, {}) | {:.2} d | {} | {}/{} | {}/{} | {} |",
            r.seed,
            r.precision,
            r.recall,
            r.ttd_min,
            r.max_opens,
            r.mae,
            r.forecast_errors.len(),
            r.forecast_missing,
            r.mae_trend,
            r.water_fault_fp,
            r.water.0,
            r.water.1,
            r.quiet.0,
            r.quiet.1,
            ok(r.targets_met)
        );
    }
    let sum = |f: fn(&Summary) -> usize| runs.iter().map(f).sum::<usize>();
    let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(sum(|r| r.energy.0), sum(|r| r.energy.1));
    let recall = ratio(sum(|r| r.incidents.0), sum(|r| r.incidents.1));
    let mut ttds: Vec<f64> = runs.iter().flat_map(|r| r.ttds.iter().copied()).collect();
    let ttd = median(&mut ttds);
    let opens = runs.iter().map(|r| r.max_opens).max().unwrap_or(0);
    let errors: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.forecast_errors.iter().copied())
        .collect();
    let pooled = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
    let mean = runs.iter().map(|r| r.mae).sum::<f64>() / runs.len().max(1) as f64;
    let worst = runs.iter().map(|r| r.mae).fold(0.0, f64::max);
    let trend_mean = runs.iter().map(|r| r.mae_trend).sum::<f64>() / runs.len().max(1) as f64;
    let trend_worst = runs.iter().map(|r| r.mae_trend).fold(0.0, f64::max);
    let trend_errors: Vec<f64> = runs
        .iter()
        .flat_map(|r| r.forecast_errors_trend.iter().copied())
        .collect();
    let trend_pooled = trend_errors.iter().sum::<f64>() / trend_errors.len().max(1) as f64;
    let fault_fp = sum(|r| r.water_fault_fp);
    let all = runs.iter().all(|r| r.targets_met);
    let _ = writeln!(
        o,
        "| **all {}** | {precision:.3} | {recall:.3} | {ttd:.1} min | {opens} | {mean:.2} d mean, {pooled:.2} d pooled, {worst:.2} d worst ({}, {}) | {trend_mean:.2} d mean, {trend_pooled:.2} d pooled, {trend_worst:.2} d worst | {fault_fp} | {}/{} ({:.3}) | {}/{} | {} |",
        runs.len(),
        errors.len(),
        sum(|r| r.forecast_missing),
        sum(|r| r.water.0),
        sum(|r| r.water.1),
        ratio(sum(|r| r.water.0), sum(|r| r.water.1)),
        sum(|r| r.quiet.0),
        sum(|r| r.quiet.1),
        ok(all)
    );
    let _ = writeln!(
        o,
        "\nTargets per seed: precision ≥ 0.95, recall ≥ 0.95, median TTD ≤ 15 min, opens ≤ 1, forecast MAE ≤ 0.5 d, no fault-caused watering alert. \"Without weather\": the same detectors without the ET0 feed (the trend forecast), scored on the same moments; not a target."
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_lists() {
        let cases: [(&str, Option<Vec<u64>>); 8] = [
            ("7", Some(vec![7])),
            ("1..3", Some(vec![1, 2, 3])),
            ("1..=3", Some(vec![1, 2, 3])),
            ("1..2, 9", Some(vec![1, 2, 9])),
            ("3..1", None),
            ("x", None),
            ("", None),
            ("0..100000", None),
        ];
        for (spec, want) in cases {
            assert_eq!(parse(spec).ok(), want, "{spec}");
        }
    }
}
