//! Energy from rollups (issue 19): four months of 1-minute `energy_import` readings of the town hall's main
//! meter (1 kW steady, a counter reset in February, a 3-hour gap in March, the spring DST change), written
//! straight to InfluxDB. The month report and the town ranking are read from the raw readings, then
//! `zaehlwerk rollup --since` builds the rollups and both answer the same figures, complete where the
//! readings are; deleting raw readings between a month's edges then leaves its figure unchanged, which shows
//! the rollups answered it (the week holding the first reading too, incomplete from the rollups as from the
//! readings); rolling up again recomputes them from the readings as they are now.

use std::process::Command;

use anyhow::Context as _;
use chrono::{NaiveDate, TimeDelta, TimeZone as _, Utc};
use serde_json::Value;
use zw_tests::Stack;

use crate::fixture::System;
use crate::support::get;

/// Wh per minute at 1 kW.
const WH_PER_MIN: f64 = 1000.0 / 60.0;

fn local(d: (i32, u32, u32), h: u32) -> chrono::DateTime<Utc> {
    let d = NaiveDate::from_ymd_opt(d.0, d.1, d.2).expect("date");
    chrono_tz::Europe::Berlin
        .from_local_datetime(&d.and_hms_opt(h, 0, 0).expect("time"))
        .earliest()
        .expect("local time")
        .with_timezone(&Utc)
}

/// 1-minute readings from local 2026-01-01 to 2026-05-01: the counter is reset to 0 at local 2026-02-10
/// 12:00, and nothing is read strictly between 2026-03-05 09:00 and 12:00.
fn readings() -> Vec<String> {
    let (first, end) = (local((2026, 1, 1), 0), local((2026, 5, 1), 0));
    let (reset, hole) = (
        local((2026, 2, 10), 12),
        (local((2026, 3, 5), 9), local((2026, 3, 5), 12)),
    );
    let mut out = Vec::new();
    let mut t = first;
    let mut v = 5_000.0;
    while t <= end {
        if t == reset {
            v = 0.0;
        }
        if !(hole.0 < t && t < hole.1) {
            out.push(format!(
                "readings,device=rathaus-main,site=rathaus energy_import={v} {}",
                t.timestamp_millis()
            ));
        }
        v += WH_PER_MIN;
        t += TimeDelta::minutes(1);
    }
    out
}

/// (start, wh, complete) of every month of the report and the rathaus entry of the ranking.
async fn figures(sys: &System) -> anyhow::Result<(Vec<(String, Option<f64>, bool)>, Value)> {
    let url = format!(
        "{}/api/v1/devices/rathaus-main/energy?period=month&count=4&until=2026-04-15",
        sys.api
    );
    let (status, body) = get(&url, Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    let mut months: Vec<(String, Option<f64>, bool)> = body["periods"]
        .as_array()
        .context("periods")?
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap_or("").to_string(),
                p["wh"].as_f64(),
                p["complete"] == true,
            )
        })
        .collect();
    // The week holding the first reading (Monday 2025-12-29 to 2026-01-05): answered from the rollups too.
    let url = format!(
        "{}/api/v1/devices/rathaus-main/energy?period=week&count=1&until=2026-01-02",
        sys.api
    );
    let (status, body) = get(&url, Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    let week = &body["periods"][0];
    months.push((
        week["start"].as_str().unwrap_or("").to_string(),
        week["wh"].as_f64(),
        week["complete"] == true,
    ));
    let url = format!("{}/api/v1/ranking?period=month&until=2026-01-15", sys.api);
    let (status, body) = get(&url, Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    let rathaus = body["sites"]
        .as_array()
        .context("sites")?
        .iter()
        .find(|s| s["site"] == "rathaus")
        .cloned()
        .context("rathaus in the ranking")?;
    Ok((months, rathaus))
}

fn rollup(sys: &System) -> anyhow::Result<()> {
    let out = Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["rollup", "--since", "2025-12-31", "--config"])
        .arg(sys.stack.state_dir().join("zaehlwerk.toml"))
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "zaehlwerk rollup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_figures_from_rollups_equal_the_raw_figures() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    let (url, db) = (sys.stack.influx_url(), sys.stack.influx_db().to_string());
    for chunk in readings().chunks(20_000) {
        zw_tests::influx_write(&url, &db, "ms", &chunk.join("\n")).await?;
    }

    let raw = figures(&sys).await?;
    let wh = |days: f64| days * 24.0 * 60.0 * WH_PER_MIN;
    let (months, rathaus) = &raw;
    let want = [
        ("2026-01-01", Some(wh(31.0)), true),
        ("2026-02-01", None, false),
        ("2026-03-01", None, false),
        ("2026-04-01", Some(wh(30.0)), true),
    ];
    for ((start, got, complete), (want_start, want_wh, want_complete)) in months.iter().zip(want) {
        assert_eq!(start, want_start);
        assert_eq!(*complete, want_complete, "{start}: {months:?}");
        if let Some(w) = want_wh {
            let g = got.with_context(|| format!("{start} has no energy"))?;
            assert!((g - w).abs() < 1e-3, "{start}: {g} Wh, not {w}");
        }
    }
    // The first week from the first reading on: 4 days, incomplete.
    let week = &months[4];
    assert_eq!((week.0.as_str(), week.2), ("2025-12-29", false), "{months:?}");
    assert!(week.1.is_some_and(|w| (w - wh(4.0)).abs() < 1e-3), "{months:?}");
    assert!(
        months[1].1.is_some_and(|w| w > 0.0),
        "February is a lower bound: {months:?}"
    );
    assert_eq!(rathaus["complete"], true, "{rathaus}");

    rollup(&sys)?;
    let rolled = figures(&sys).await?;
    assert_eq!(rolled, raw, "the rollups answer what the readings answer");

    // January's figure no longer depends on the readings between its edges: from the rollups.
    let delete = format!(
        "DELETE FROM readings WHERE time > '{}' AND time < '{}'",
        local((2026, 1, 10), 0).to_rfc3339(),
        local((2026, 1, 20), 0).to_rfc3339()
    );
    zw_tests::influx_query(&url, &db, &delete).await?;
    let after = figures(&sys).await?;
    assert_eq!(after.0[0], raw.0[0], "January from the rollups");
    assert_eq!(after.1, raw.1, "the ranking from the rollups");

    // Rolling the same span again without those readings keeps the rollups: they outlive the raw data they
    // summarise (retention keeps rollups longer than readings), so a recomputation over a span whose
    // readings are gone must not erase what it cannot recompute.
    rollup(&sys)?;
    let again = figures(&sys).await?;
    assert_eq!(again.0[0], raw.0[0], "January still from the rollups: {again:?}");
    sys.stop().await
}
