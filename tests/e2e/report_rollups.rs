//! The energy report from the rollups equals the readings path (issue 19): a building with two main
//! meters over local 2025 (and the edges of 2024), one with a gap, a meter swap, a day without readings and
//! both DST changes, the other installed in May. The rollups answer most stretches, the readings path the
//! rest; the report must be the same with the rollups as without them.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{TimeDelta, TimeZone as _, Timelike, Utc};
use serde_json::Value;
use zw_model::{Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::report::{medium, meter, text};
use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get};

/// Relative difference of two JSON documents' numbers at most 1e-9, everything else equal; the first
/// difference's path otherwise.
fn same(a: &Value, b: &Value, path: &str) -> Result<(), String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (x, y))| same(x, y, &format!("{path}[{i}]"))),
        (Value::Object(x), Value::Object(y)) if x.len() == y.len() => x
            .iter()
            .try_for_each(|(k, v)| same(v, y.get(k).unwrap_or(&Value::Null), &format!("{path}.{k}"))),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

/// 5-minute counter lines of one device over `[from, to)` drawing `w(t)` watts, except where `skip(t)`;
/// `reset` at a time sets the counter back to 0 there (a meter swap).
fn irregular(
    (device, site): (&str, &str),
    (from, to): (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
    w: impl Fn(chrono::DateTime<Utc>) -> f64,
    skip: impl Fn(chrono::DateTime<Utc>) -> bool,
    reset: Option<chrono::DateTime<Utc>>,
) -> Vec<String> {
    let (mut t, mut v, mut out) = (from, 5_000.0, Vec::new());
    while t < to {
        if reset.is_some_and(|r| r <= t && t < r + TimeDelta::minutes(5)) {
            v = 0.0;
        }
        if !skip(t) {
            out.push(format!(
                "readings,device={device},site={site} energy_import={v:.3} {}",
                t.timestamp_millis()
            ));
        }
        v += w(t) / 12.0;
        t += TimeDelta::minutes(5);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_from_the_rollups_equals_the_readings_path() -> anyhow::Result<()> {
    // A building with two main meters over local 2025 (and the edges of 2024): the first with a 2-hour gap
    // in the usage hours, a meter swap (reset) one evening, a day without readings and both DST changes;
    // the second installed in May. The rollups answer most stretches, the readings path the rest: the
    // report must be the same with the rollups as without them (an empty watermark).
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let mut inv = Inventory::builder()
        .building(
            "werk",
            [
                meter("werk-a", Quantity::EnergyImport, "main_meter"),
                meter("werk-b", Quantity::EnergyImport, "main_meter"),
            ],
        )
        .build();
    inv.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    cfg.inventory = inv;
    cfg.api.tariff.price_per_kwh = 0.3;
    cfg.retention.raw = Duration::ZERO;
    cfg.retention.rollups = Duration::ZERO;
    // The readings path (the comparison) of a debug build reads a year of 5-minute readings slowly.
    cfg.api.request_timeout = Duration::from_secs(110);
    cfg.api.query_timeout = Duration::from_secs(100);
    let cfg_path = write(&stack, &cfg)?;
    let utc = |y, m, d, h| Utc.with_ymd_and_hms(y, m, d, h, 0, 0).single().expect("time");
    let span = (utc(2023, 12, 30, 0), utc(2026, 1, 2, 0));
    // A daily swing around 3 kW, so the hours outside use are not a plain share.
    let swing = |t: chrono::DateTime<Utc>| {
        3_000.0 + 2_000.0 * (f64::from(t.hour()) / 24.0 * std::f64::consts::TAU).sin()
    };
    let gap = (utc(2025, 3, 12, 9), utc(2025, 3, 12, 11));
    let day_off = (utc(2025, 9, 19, 22), utc(2025, 9, 20, 22));
    let mut all = irregular(
        ("werk-a", "werk"),
        span,
        swing,
        |t| (gap.0 <= t && t < gap.1) || (day_off.0 <= t && t < day_off.1),
        Some(utc(2025, 6, 3, 19)),
    );
    all.extend(irregular(
        ("werk-b", "werk"),
        (utc(2025, 5, 15, 8), span.1),
        |_| 500.0,
        |_| false,
        None,
    ));
    for chunk in all.chunks(20_000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args([
            "rollup",
            "--since",
            "2023-12-30",
            "--until",
            "2026-01-02",
            "--config",
        ])
        .arg(&cfg_path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "rollup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let zw = Zaehlwerk::start("api", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| zw.log_tail())?;
    let report = || async {
        let (status, _, body) = text(&format!("{api}/api/v1/report?year=2025"), "tok-fm", "*/*").await?;
        anyhow::ensure!(status == 200, "{status} {body}\n{}", zw.log_tail());
        Ok::<Value, anyhow::Error>(serde_json::from_str(&body)?)
    };
    // How many stretches the report's last request took from the rollups and from the readings (its log).
    let tally = || -> anyhow::Result<(u64, u64)> {
        let log = zw.log_tail();
        let line = log
            .lines()
            .rfind(|l| l.contains("Energy report measured"))
            .context("no report log line")?;
        let n = |k: &str| -> anyhow::Result<u64> {
            let v = line.split(k).nth(1).context("field")?;
            Ok(v.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()?)
        };
        Ok((n("from_rollups=")?, n("from_readings=")?))
    };
    let rolled = report().await?;
    let (from_rollups, from_readings) = tally()?;
    // Two meters, about 1,250 stretches each (2025 split at the usage hours, the tariff's days, 2024): the
    // rollups answer the most; the readings the days around the gap, the reset and the day without
    // readings, and the second meter's months before its first reading.
    assert!(
        from_rollups > 1_500 && from_readings < from_rollups,
        "rollups {from_rollups}, readings {from_readings}"
    );
    // The usage-hour edges came from the roller's edge rows (two meters, two times a day, both years).
    let q = "SELECT count(before_wh) FROM rollups.rollup_edge WHERE quantity = 'energy_import'";
    let n = zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), q).await?;
    let n = n["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0);
    assert!(n > 2 * 2 * 365, "{n} edge rows");
    let el = medium(&rolled["buildings"][0], "electricity")?;
    // The gap and the day without readings leave the year incomplete, yet measured; 2024 is complete.
    assert_eq!(el["complete"], false, "{el}");
    assert!(el["value"].as_f64().is_some_and(|v| v > 24_000.0), "{el}");
    assert!(
        el["outside_usage_share"].as_f64().is_some_and(|s| s > 0.5),
        "{el}"
    );
    assert!(el["cost"]["gross_cents"].as_i64().is_some(), "{el}");
    // The watermark overwritten with an empty one: the rollups cover nothing any more.
    let empty: Vec<String> = ["werk-a", "werk-b"]
        .map(|d| {
            format!("rollup_state,device={d},quantity=energy_import,site=werk from_ms=0i,through_ms=0i 0")
        })
        .to_vec();
    let db = (stack.influx_db(), zw_model::counter::rollup::RETENTION_POLICY);
    zw_tests::influx_write_rp(&stack.influx_url(), db, "ms", &empty.join("\n")).await?;
    let raw = report().await?;
    assert_eq!(
        tally()?.0,
        0,
        "without a watermark nothing comes from the rollups"
    );
    same(&rolled, &raw, "report").map_err(|e| anyhow::anyhow!("rollups vs readings: {e}"))?;
    Ok(())
}
