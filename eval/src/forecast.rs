//! `zaehlwerk eval --forecast`: the month-end projection backtest on the scenario's buildings.
//!
//! The scenario (its buildings only, `--learn-weeks` + `--eval-weeks` long, incidents included) is replayed
//! minute by minute; each main meter's power, one reading a minute, gives its hourly energy. Then
//! [`zw_model::forecast::backtest::month_end`] projects every whole month on days 1, 10 and 20 from the 28
//! days before, as the API's forecast does, and the table gives the mean absolute percentage error (MAPE)
//! per day against the naive projection (the last 7 days' rate), and how often the p10–p90 band held the
//! measured month-end (≈ 80 % if the band is calibrated). Targets (issue 19): MAPE ≤ 10 % on day 10 and
//! ≤ 5 % on day 20; the buildings' monthly baselines (the day-1 projection: the whole month forecast from
//! the 28 days before) meet ASHRAE Guideline 14, NMBE within ±5 % and CV(RMSE) ≤ 15 %, over all
//! building-months (one parameter: the profile's level).
//!
//! Heating loads (issue 19): the buildings' heater plugs and their main meters (which hold the heaters)
//! are projected again with the degree-day correction ([`zw_model::forecast::heating`]) from the scenario's
//! outdoor temperature ([`zw_sim::weather::climate`]): observed daily means before the day of the
//! projection, the 7-day forecast (errors growing with lead) from it, the normal after that; the second
//! table gives the MAPE with and without it.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use zw_model::Quantity;
use zw_model::forecast::backtest::{Case, ashrae_fit, mean_on, month_end, month_end_with, monthly_baseline};
use zw_model::forecast::heating::DayTemps;
use zw_model::forecast::{Hour, Slp};
use zw_sim::scenario::{Scenario, ScenarioConfig};
use zw_sim::weather::climate;

/// MAPE targets per day of the month (percent).
const TARGETS: [(u32, f64); 2] = [(10, 10.0), (20, 5.0)];

/// Runs the backtest for `seed` and writes its table; `Ok(true)` when the targets are met.
pub fn run(args: &crate::Args, out: &mut impl Write) -> Result<bool, crate::Error> {
    let scenario = Scenario::generate(ScenarioConfig {
        seed: args.seed,
        learn_weeks: args.learn_weeks,
        eval_weeks: args.eval_weeks,
        buildings: args.buildings,
        trees: 0,
        ..ScenarioConfig::default()
    });
    let mains: Vec<(String, String)> = scenario
        .inventory
        .devices()
        .filter(|(_, d)| d.class == "main_meter")
        .map(|(s, d)| (s.id.as_str().to_string(), d.id.as_str().to_string()))
        .collect();
    let heaters: Vec<String> = scenario
        .inventory
        .devices()
        .filter(|(_, d)| d.class == "heater")
        .map(|(_, d)| d.id.as_str().to_string())
        .collect();
    // The scenario's meters report power each minute: a minute's energy is its power over 1/60 h.
    let mut per_hour: BTreeMap<String, Vec<(DateTime<Utc>, f64)>> = BTreeMap::new();
    scenario.replay(|t, batch| {
        let hour = t - chrono::TimeDelta::minutes(i64::from(t.minute()));
        for r in batch {
            let id = r.device.as_str();
            if (mains.iter().any(|(_, d)| d == id) || heaters.iter().any(|d| d == id))
                && let Some(w) = r.values.get(&Quantity::ActivePower)
            {
                let series = per_hour.entry(r.device.as_str().to_string()).or_default();
                match series.last_mut() {
                    Some((h, wh)) if *h == hour => *wh += w / 60.0,
                    _ => series.push((hour, w / 60.0)),
                }
            }
        }
    });
    writeln!(
        out,
        "### Month-end projection backtest (seed {}, {} buildings, {} weeks from {})\n",
        args.seed,
        mains.len(),
        args.learn_weeks + args.eval_weeks,
        scenario.config.start.with_timezone(&Berlin).date_naive()
    )?;
    let hours = |s: &Vec<(DateTime<Utc>, f64)>| -> Vec<Hour> {
        s.iter()
            .map(|(t, wh)| Hour {
                start: *t,
                wh: Some(*wh),
            })
            .collect()
    };
    let series: Vec<Vec<Hour>> = per_hour
        .iter()
        .filter(|(d, _)| mains.iter().any(|m| m.1 == **d))
        .map(|(_, s)| hours(s))
        .collect();
    let met = table(Berlin, &series, Slp::G25, out)?;
    let temps = SimTemps {
        town: climate::town(args.seed),
    };
    for (what, ids) in [
        ("heater plugs", heaters.clone()),
        ("main meters", mains.iter().map(|m| m.1.clone()).collect()),
    ] {
        let series: Vec<Vec<Hour>> = per_hour
            .iter()
            .filter(|(d, _)| ids.contains(d))
            .map(|(_, s)| hours(s))
            .collect();
        heating_table(what, &series, &temps, out)?;
    }
    Ok(met)
}

/// The scenario's outdoor temperature as known on a day: observed daily means of the days before it, its
/// 7-day forecast from it (UTC days: the simulated weather's own), the normal beyond.
struct SimTemps {
    town: u64,
}

impl DayTemps for SimTemps {
    fn known(&self, on: chrono::NaiveDate, day: chrono::NaiveDate) -> Option<f64> {
        if day < on {
            Some(climate::daily_mean_c(self.town, day))
        } else {
            climate::daily_forecast_c(self.town, on, day)
        }
    }

    fn normal(&self, _day: chrono::NaiveDate) -> f64 {
        climate::NORMAL_C
    }
}

/// MAPE and band coverage of the month-end projections of heating loads with and without degree days.
fn heating_table(
    what: &str,
    series: &[Vec<Hour>],
    temps: &SimTemps,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let (mut plain, mut weather): (Vec<Case>, Vec<Case>) = (Vec::new(), Vec::new());
    for hours in series {
        plain.extend(month_end(Berlin, hours, Slp::G25, &[1, 10, 20]));
        weather.extend(month_end_with(Berlin, hours, Slp::G25, &[1, 10, 20], Some(temps)));
    }
    if plain.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nHeating loads, {what} ({}): month-end projection with degree days (G20/15 from the outdoor \
         temperature: observed, 7-day forecast, normal) and without\n",
        series.len()
    )?;
    writeln!(
        out,
        "| day of month | projections | MAPE without | MAPE with degree days | in band without | in band with |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    let pct = |x: Option<f64>| x.map_or_else(|| "–".to_string(), |x| format!("{x:.2} %"));
    let inside = |c: &Case| if c.inside() { 100.0 } else { 0.0 };
    for day in [1, 10, 20] {
        writeln!(
            out,
            "| {day} | {} | {} | {} | {} | {} |",
            plain.iter().filter(|c| c.day == day).count(),
            pct(mean_on(&plain, day, Case::ape)),
            pct(mean_on(&weather, day, Case::ape)),
            pct(mean_on(&plain, day, inside)),
            pct(mean_on(&weather, day, inside)),
        )?;
    }
    Ok(())
}

/// The backtest of every main meter (`class = "main_meter"`) of `inv` in `readings` (sorted by time): an
/// hour's energy is its mean `active_power` over the hour (an hour without a reading is unknown). The
/// table, or a line saying why there is none (it needs a whole month after 28 days of data). Households
/// are projected with the H25 profile, everything else with G25.
pub fn backtest_readings(
    inv: &zw_model::Inventory,
    tz: chrono_tz::Tz,
    readings: &[zw_model::Reading],
    out: &mut impl Write,
) -> std::io::Result<bool> {
    writeln!(
        out,
        "### Energy: month-end projection backtest on the main meters\n"
    )?;
    // (household, meter) → hour → (sum of powers, readings).
    type Hours = BTreeMap<DateTime<Utc>, (f64, u32)>;
    let mut sums: BTreeMap<(bool, String), Hours> = BTreeMap::new();
    for r in readings {
        let Some((site, d)) = inv.device(r.device.as_str()) else {
            continue;
        };
        let Some(w) = r
            .values
            .get(&Quantity::ActivePower)
            .filter(|_| d.class == "main_meter")
        else {
            continue;
        };
        let household = site.kind == zw_model::inventory::SiteKind::Household;
        let hour = r.ts - chrono::TimeDelta::seconds(i64::from(r.ts.minute() * 60 + r.ts.second()));
        let e = sums
            .entry((household, d.id.to_string()))
            .or_default()
            .entry(hour)
            .or_default();
        *e = (e.0 + w, e.1 + 1);
    }
    let mut met = true;
    for household in [false, true] {
        let series: Vec<Vec<Hour>> = sums
            .iter()
            .filter(|((h, _), _)| *h == household)
            .map(|(_, hours)| contiguous(hours))
            .collect();
        if series.is_empty() {
            continue;
        }
        let slp = if household { Slp::H25 } else { Slp::G25 };
        writeln!(out, "{} main meter(s), profile {slp:?}:\n", series.len())?;
        met &= table(tz, &series, slp, out)?;
        writeln!(out)?;
    }
    if sums.is_empty() {
        writeln!(
            out,
            "No main meter with `active_power` readings: nothing to project."
        )?;
    }
    Ok(met)
}

/// Hourly mean powers as contiguous hours (gaps unknown).
fn contiguous(hours: &BTreeMap<DateTime<Utc>, (f64, u32)>) -> Vec<Hour> {
    let (Some(first), Some(last)) = (hours.keys().next(), hours.keys().next_back()) else {
        return Vec::new();
    };
    let n = (*last - *first).num_hours();
    (0..=n)
        .map(|i| {
            let start = *first + chrono::TimeDelta::hours(i);
            Hour {
                start,
                wh: hours.get(&start).map(|(sum, k)| sum / f64::from(*k)),
            }
        })
        .collect()
}

/// The MAPE and ASHRAE tables of the month-end projections of `series` (one hourly series per meter);
/// `Ok(true)` when the targets are met. No whole month: one line saying so, and `false`.
fn table<Z: chrono::TimeZone>(
    tz: Z,
    series: &[Vec<Hour>],
    slp: Slp,
    out: &mut impl Write,
) -> std::io::Result<bool> {
    let mut cases: Vec<Case> = Vec::new();
    let mut per_building = Vec::new();
    for hours in series {
        let mine = month_end(tz.clone(), hours, slp, &[1, 10, 20]);
        per_building.push(ashrae_fit(&monthly_baseline(&mine), 1));
        cases.extend(mine);
    }
    if cases.is_empty() {
        writeln!(
            out,
            "No whole month after 28 days of data: no projection to score."
        )?;
        return Ok(false);
    }
    writeln!(
        out,
        "| day of month | projections | MAPE | naive MAPE (last 7 days' rate) | in p10–p90 band | target |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    let mut met = true;
    for day in [1, 10, 20] {
        let n = cases.iter().filter(|c| c.day == day).count();
        let mape = mean_on(&cases, day, Case::ape);
        let naive = mean_on(&cases, day, Case::naive_ape);
        let inside = mean_on(&cases, day, |c| if c.inside() { 100.0 } else { 0.0 });
        let target = TARGETS.iter().find(|(d, _)| *d == day).map(|t| t.1);
        let ok = match (target, mape) {
            (Some(t), Some(m)) => m <= t,
            (Some(_), None) => false,
            (None, _) => true,
        };
        met &= ok;
        let pct = |x: Option<f64>| x.map_or_else(|| "–".to_string(), |x| format!("{x:.2} %"));
        writeln!(
            out,
            "| {day} | {n} | {} | {} | {} | {} |",
            pct(mape),
            pct(naive),
            pct(inside),
            target.map_or_else(
                || "–".to_string(),
                |t| format!("≤ {t} % {}", if ok { "met" } else { "MISSED" })
            )
        )?;
    }
    let fit = ashrae_fit(&monthly_baseline(&cases), 1);
    let meeting = per_building
        .iter()
        .flatten()
        .filter(|f| f.meets_monthly())
        .count();
    writeln!(
        out,
        "\nASHRAE Guideline 14, monthly baselines (day-1 projection of the whole month vs measured):\n"
    )?;
    writeln!(
        out,
        "| building-months | NMBE | CV(RMSE) | buildings meeting both on their own months | target |"
    )?;
    writeln!(out, "|---|---|---|---|---|")?;
    let ok = fit.is_some_and(|f| f.meets_monthly());
    met &= ok;
    match fit {
        Some(f) => writeln!(
            out,
            "| {} | {:+.2} % | {:.2} % | {meeting} of {} | NMBE ±5 %, CV(RMSE) ≤ 15 % {} |",
            f.n,
            f.nmbe,
            f.cv_rmse,
            per_building.len(),
            if ok { "met" } else { "MISSED" }
        )?,
        None => writeln!(out, "| 0 | – | – | – | MISSED (no whole month) |")?,
    }
    Ok(met)
}
