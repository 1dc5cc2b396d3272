//! `zaehlwerk eval --external <dir>`: labelled data from outside the simulator, replayed through the same
//! detectors at full speed and scored against its labels.
//!
//! A dataset directory holds `inventory.toml` (a Zählwerk config: its `[[sites]]`, `[[trees]]` and
//! `[analytics]`; the binary loads it), `readings.csv` or `readings.csv.gz` (the import format),
//! `labels.csv`, and optionally `weather.csv` and `weather_forecast.csv`; `--inventory`, `--readings`,
//! `--weather`, `--weather-forecast` and `--labels` name the files one by one instead (formats: `load`).
//!
//! The replay walks the minutes from the first reading to the last: each minute's weather messages (those
//! issued by then), then its readings in time order, then the detectors' tick, exactly as the seeded replay
//! feeds them. With `--out <dir>` it writes `report.md`, `alerts.csv` (`opened,closed,kind,subject,explanation`,
//! RFC 4180, `closed` empty while open) and `tree_forecasts.csv` (`ts,tree,days_until_critical`, one row per
//! tree evaluation, empty when there is no forecast), so an outside scorer can score them.
//!
//! - `load`: the CSV files, every problem with its file and line.
//! - `score`: the alerts and forecasts against the labels.

pub mod load;
pub mod score;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use zw_analytics::{Analytics, Event};
use zw_model::{Id, Inventory};

use crate::score::Occurrence;

/// The files of an external dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Files {
    /// The Zählwerk config holding the inventory and `[analytics]`.
    pub inventory: PathBuf,
    /// Readings in the import format (`.gz`: gzip).
    pub readings: PathBuf,
    /// Labels; absent: nothing is scored, the CSVs are still written.
    pub labels: Option<PathBuf>,
    /// Daily observed weather.
    pub weather: Option<PathBuf>,
    /// Weather forecasts.
    pub weather_forecast: Option<PathBuf>,
    /// Where the report and the CSVs go.
    pub out: Option<PathBuf>,
}

impl Files {
    /// The files `args` names, `None` when it asks for no external evaluation. Errors name what is missing.
    pub fn of(args: &crate::Args) -> Option<Result<Files, String>> {
        let dir = args.external.as_deref();
        if dir.is_none() && args.readings.is_none() {
            return None;
        }
        let pick = |flag: &Option<PathBuf>, names: &[&str]| -> Option<PathBuf> {
            flag.clone().or_else(|| {
                let dir = dir?;
                names.iter().map(|n| dir.join(n)).find(|p| p.exists())
            })
        };
        let need = |p: Option<PathBuf>, what: &str| {
            p.ok_or_else(|| match dir {
                Some(d) => format!("{} has no {what} (or give --{what})", d.display()),
                None => format!("--readings needs --{what} (or --external <dir>)"),
            })
        };
        Some((|| {
            Ok(Files {
                inventory: need(pick(&args.inventory, &["inventory.toml"]), "inventory")?,
                readings: need(
                    pick(&args.readings, &["readings.csv", "readings.csv.gz"]),
                    "readings",
                )?,
                labels: pick(&args.labels, &["labels.csv"]),
                weather: pick(&args.weather, &["weather.csv"]),
                weather_forecast: pick(&args.weather_forecast, &["weather_forecast.csv"]),
                out: args.out.clone(),
            })
        })())
    }
}

/// What the replay saw, before scoring.
#[derive(Debug, Default)]
pub struct Replay {
    /// Every alert from opening to resolution.
    pub alerts: Vec<Occurrence>,
    /// Every tree evaluation: time, tree, days until critical.
    pub forecasts: Vec<(DateTime<Utc>, Id, Option<f64>)>,
    /// Readings replayed.
    pub readings: usize,
    /// First and last reading.
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Weather messages the detectors took, and those naming an area no park uses.
    pub weather: (usize, usize),
    /// Wall time, s.
    pub seconds: f64,
}

/// Replays `readings` (sorted by time) and `weather` through fresh detectors.
pub fn replay(
    cfg: &zw_analytics::Config,
    inv: &Inventory,
    readings: &[zw_model::Reading],
    mut weather: Vec<zw_model::weather::Weather>,
) -> Replay {
    let started = Instant::now();
    let mut out = Replay {
        readings: readings.len(),
        ..Replay::default()
    };
    let (Some(first), Some(last)) = (readings.first(), readings.last()) else {
        return out;
    };
    out.span = Some((first.ts, last.ts));
    weather.sort_by_key(|w| w.issued);
    let mut analytics = Analytics::new(cfg, inv);
    let mut open: HashMap<String, usize> = HashMap::new();
    let minute = TimeDelta::minutes(1);
    let mut t = first.ts.duration_trunc(minute).unwrap_or(first.ts);
    let (mut next_reading, mut next_weather) = (0, 0);
    while t <= last.ts + minute {
        let mut events = Vec::new();
        while let Some(w) = weather.get(next_weather).filter(|w| w.issued <= t) {
            if analytics.weather(w) {
                out.weather.0 += 1;
            } else {
                out.weather.1 += 1;
            }
            next_weather += 1;
        }
        while let Some(r) = readings.get(next_reading).filter(|r| r.ts <= t) {
            events.extend(analytics.observe(r, t));
            next_reading += 1;
        }
        events.extend(analytics.tick(t));
        for e in events {
            match e {
                Event::Alert(a) => crate::replay::track(&mut open, &mut out.alerts, &a),
                Event::Tree(st) => out.forecasts.push((t, st.tree, st.days_until_critical)),
                Event::AlertRemoved(_) | Event::Notice(_) => {}
            }
        }
        t += minute;
    }
    out.seconds = started.elapsed().as_secs_f64();
    out
}

/// Writes `alerts.csv` to `path`.
pub fn write_alerts(path: &Path, alerts: &[Occurrence]) -> Result<(), crate::Error> {
    let mut w = csv::Writer::from_path(path).map_err(csv_error)?;
    w.write_record(["opened", "closed", "kind", "subject", "explanation"])
        .map_err(csv_error)?;
    let ts = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for a in alerts {
        let closed = a.resolved_at.map(ts).unwrap_or_default();
        w.write_record([
            ts(a.opened_at).as_str(),
            &closed,
            a.kind.name(),
            score::subject(a),
            &a.text,
        ])
        .map_err(csv_error)?;
    }
    w.flush()?;
    Ok(())
}

/// Writes `tree_forecasts.csv` to `path`.
pub fn write_forecasts(
    path: &Path,
    forecasts: &[(DateTime<Utc>, Id, Option<f64>)],
) -> Result<(), crate::Error> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(w, "ts,tree,days_until_critical")?;
    for (t, tree, f) in forecasts {
        let f = f.map(|f| format!("{f:.3}")).unwrap_or_default();
        writeln!(
            w,
            "{},{tree},{f}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )?;
    }
    w.flush()?;
    Ok(())
}

fn csv_error(e: csv::Error) -> crate::Error {
    crate::Error::Output(std::io::Error::other(e))
}

/// Loads, replays and scores the external dataset `files` with `cfg` and `inv` (from `files.inventory`),
/// writes the report to `out` (and with the CSVs to `files.out`); `Ok(true)` when every target is met.
pub fn run(
    files: &Files,
    cfg: &zw_analytics::Config,
    inv: &Inventory,
    learn_weeks: u32,
    verbose: bool,
    out: &mut impl Write,
) -> Result<bool, crate::Error> {
    let tz = cfg.tz();
    let readings = load::readings(&files.readings)?;
    let mut weather = Vec::new();
    if let Some(p) = &files.weather {
        weather.extend(load::weather(p, tz)?);
    }
    if let Some(p) = &files.weather_forecast {
        weather.extend(load::forecasts(p, tz)?);
    }
    let labels = match &files.labels {
        Some(p) => load::labels(p)?,
        None => Vec::new(),
    };
    let unknown_devices = unknown_devices(&readings, inv);
    let r = replay(cfg, inv, &readings, weather);
    let learn_until = r.span.map_or(DateTime::<Utc>::MIN_UTC, |(a, _)| {
        a + TimeDelta::weeks(i64::from(learn_weeks))
    });
    let scored = score::score(
        &labels,
        &r.alerts,
        &r.forecasts,
        inv,
        learn_until,
        cfg.trees.alert_within_days,
    );
    let mut md = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        md,
        "### Analytics evaluation on external data ({})\n",
        files.readings.display()
    );
    let _ = writeln!(
        md,
        "Replayed {} readings{} and {} weather messages ({} for no park's area) through all detectors in {:.1} s; {} alerts, {} tree evaluations; {} labels, energy scored from {} ({} weeks of learning).\n",
        r.readings,
        r.span
            .map(|(a, b)| format!(" from {a} to {b}"))
            .unwrap_or_default(),
        r.weather.0 + r.weather.1,
        r.weather.1,
        r.seconds,
        r.alerts.len(),
        r.forecasts.len(),
        labels.len(),
        learn_until,
        learn_weeks
    );
    if !unknown_devices.is_empty() {
        let _ = writeln!(
            md,
            "Readings of devices not in the inventory (ignored by the detectors): {}\n",
            unknown_devices.join(", ")
        );
    }
    md.push_str(&scored.markdown(&r.alerts, verbose));
    let mut energy = Vec::new();
    crate::forecast::backtest_readings(inv, tz, &readings, &mut energy)?;
    md.push('\n');
    md.push_str(&String::from_utf8_lossy(&energy));
    write!(out, "{md}")?;
    if let Some(dir) = &files.out {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.md"), &md)?;
        write_alerts(&dir.join("alerts.csv"), &r.alerts)?;
        write_forecasts(&dir.join("tree_forecasts.csv"), &r.forecasts)?;
    }
    Ok(scored.targets_met())
}

/// `site/device` of readings whose device the inventory does not have there.
fn unknown_devices(readings: &[zw_model::Reading], inv: &Inventory) -> Vec<String> {
    let known = zw_model::inventory::KnownDevices::of(inv);
    let mut out: Vec<String> = readings
        .iter()
        .filter(|r| !known.contains(r.site.as_str(), r.device.as_str()))
        .map(|r| format!("{}/{}", r.site, r.device))
        .collect();
    out.sort();
    out.dedup();
    out
}
