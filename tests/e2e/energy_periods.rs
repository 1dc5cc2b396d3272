//! Energy per period over long spans (issue 19): three years of 15-minute `energy_import` readings of exactly
//! 100 kWh per local day for the town hall's main meter, written straight to InfluxDB, then the reports a
//! facility manager asks for: every day, week, month and year exact and complete, January included, the
//! comparison with the previous periods and with the previous year, and a day with a 2-hour gap incomplete.

use anyhow::Context as _;
use chrono::{NaiveDate, TimeDelta, Utc};
use serde_json::Value;
use zw_tests::Stack;

use crate::fixture::System;
use crate::support::get;

const WH_PER_DAY: f64 = 100_000.0;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Line protocol for `rathaus-main`: a reading every 15 minutes from local midnight of `first` to local
/// midnight after `last`, growing by exactly [`WH_PER_DAY`] per local day (23-, 24- or 25-hour), except
/// strictly inside `hole`.
fn year_of_readings(
    first: NaiveDate,
    last: NaiveDate,
    hole: (chrono::DateTime<Utc>, chrono::DateTime<Utc>),
) -> Vec<String> {
    let edges = zw_model::counter::local_day_edges(&chrono_tz::Europe::Berlin, first, last);
    let mut lines = Vec::new();
    for (day, w) in edges.windows(2).enumerate() {
        let n = (w[1] - w[0]).num_minutes() / 15;
        for i in 0..n {
            let t = w[0] + TimeDelta::minutes(15 * i);
            if hole.0 < t && t < hole.1 {
                continue;
            }
            let v = WH_PER_DAY * day as f64 + WH_PER_DAY * i as f64 / n as f64;
            lines.push(line(t, v));
        }
    }
    let days = edges.len() - 1;
    lines.push(line(edges[days], WH_PER_DAY * days as f64));
    lines
}

fn line(t: chrono::DateTime<Utc>, v: f64) -> String {
    format!(
        "readings,device=rathaus-main,site=rathaus energy_import={v} {}",
        t.timestamp_millis()
    )
}

/// The report for `query`, asked as the facility manager.
async fn report(sys: &System, query: &str) -> anyhow::Result<Value> {
    let url = format!("{}/api/v1/devices/rathaus-main/energy?{query}", sys.api);
    let (status, body) = get(&url, Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{query}: {status} {body}");
    Ok(body)
}

/// Every entry of `list` is complete, not running, and has the expected energy.
fn assert_periods(query: &str, list: &Value, expected: &[(NaiveDate, f64)]) -> anyhow::Result<()> {
    let list = list.as_array().context("a list of periods")?;
    let got: Vec<(String, Option<f64>, bool)> = list
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap_or("").to_string(),
                p["wh"].as_f64(),
                p["complete"] == true,
            )
        })
        .collect();
    assert_eq!(got.len(), expected.len(), "{query}: {got:?}");
    for ((start, wh, complete), (want_start, want_wh)) in got.iter().zip(expected) {
        assert_eq!(start, &want_start.to_string(), "{query}: {got:?}");
        let wh = wh.with_context(|| format!("{query}: {start} has no energy"))?;
        assert!(
            (wh - want_wh).abs() < 1e-6,
            "{query}: {start} has {wh} Wh, not {want_wh}"
        );
        assert!(complete, "{query}: {start} is incomplete");
    }
    Ok(())
}

/// `count` consecutive periods from `first` (`step` moves to the next start), each of `days(start, next)` days.
fn expected(first: NaiveDate, count: usize, step: impl Fn(NaiveDate) -> NaiveDate) -> Vec<(NaiveDate, f64)> {
    let mut out = Vec::new();
    let mut d = first;
    for _ in 0..count {
        let next = step(d);
        out.push((d, WH_PER_DAY * (next - d).num_days() as f64));
        d = next;
    }
    out
}

fn next_month(d: NaiveDate) -> NaiveDate {
    d.checked_add_months(chrono::Months::new(1)).expect("month")
}

fn ratio(r: &Value) -> Option<f64> {
    r["change_ratio"].as_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_over_years_are_exact_and_complete() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    let tz = chrono_tz::Europe::Berlin;
    let local = |d: NaiveDate, h: u32| {
        use chrono::TimeZone as _;
        tz.from_local_datetime(&d.and_hms_opt(h, 0, 0).expect("time"))
            .earliest()
            .expect("local time")
            .with_timezone(&Utc)
    };
    // A 2-hour gap on 2025-12-10 between the readings of 10:00 and 12:00.
    let hole = (local(date(2025, 12, 10), 10), local(date(2025, 12, 10), 12));
    let lines = year_of_readings(date(2023, 1, 1), date(2025, 12, 31), hole);
    for chunk in lines.chunks(20_000) {
        zw_tests::influx_write(
            &sys.stack.influx_url(),
            sys.stack.influx_db(),
            "ms",
            &chunk.join("\n"),
        )
        .await?;
    }

    // The five requests, at a fixed date.
    let q = "period=day&count=5&until=2025-12-02";
    let r = report(&sys, q).await?;
    assert_periods(
        q,
        &r["periods"],
        &expected(date(2025, 11, 28), 5, |d| d + TimeDelta::days(1)),
    )?;
    assert_periods(
        q,
        &r["previous"],
        &expected(date(2025, 11, 23), 5, |d| d + TimeDelta::days(1)),
    )?;
    assert_eq!(ratio(&r), Some(0.0), "{q}");

    let q = "period=month&count=1&until=2025-11-15";
    let r = report(&sys, q).await?;
    assert_periods(q, &r["periods"], &[(date(2025, 11, 1), 30.0 * WH_PER_DAY)])?;
    assert_periods(q, &r["previous"], &[(date(2025, 10, 1), 31.0 * WH_PER_DAY)])?;
    assert_eq!(r["total"]["complete"], true, "{q}");
    let change = ratio(&r).context("month against month")?;
    assert!((change - (30.0 / 31.0 - 1.0)).abs() < 1e-12, "{q}: {change}");

    let q = "period=week&count=8&until=2025-11-30";
    let r = report(&sys, q).await?;
    let weekly = |d: NaiveDate| d + TimeDelta::days(7);
    assert_periods(q, &r["periods"], &expected(date(2025, 10, 6), 8, weekly))?;
    assert_periods(q, &r["previous"], &expected(date(2025, 8, 11), 8, weekly))?;

    let q = "period=month&count=12&until=2025-11-15";
    let r = report(&sys, q).await?;
    assert_periods(q, &r["periods"], &expected(date(2024, 12, 1), 12, next_month))?;
    assert_periods(q, &r["previous"], &expected(date(2023, 12, 1), 12, next_month))?;
    // 365 days against 366 (February 2024).
    let change = ratio(&r).context("twelve months against twelve")?;
    assert!((change - (365.0 / 366.0 - 1.0)).abs() < 1e-12, "{q}: {change}");

    let q = "period=day&count=120&until=2025-11-30";
    let r = report(&sys, q).await?;
    assert_periods(
        q,
        &r["periods"],
        &expected(date(2025, 8, 3), 120, |d| d + TimeDelta::days(1)),
    )?;
    assert_periods(
        q,
        &r["previous"],
        &expected(date(2025, 4, 5), 120, |d| d + TimeDelta::days(1)),
    )?;

    // A year, against the year before (2024 is a leap year).
    let q = "period=year&until=2024-06-01";
    let r = report(&sys, q).await?;
    assert_eq!(r["period"], "year", "{q}");
    assert_periods(q, &r["periods"], &[(date(2024, 1, 1), 366.0 * WH_PER_DAY)])?;
    assert_periods(q, &r["previous"], &[(date(2023, 1, 1), 365.0 * WH_PER_DAY)])?;
    let change = ratio(&r).context("year against year")?;
    assert!((change - (366.0 / 365.0 - 1.0)).abs() < 1e-12, "{q}: {change}");

    // The same periods a year earlier: November 2025 against November 2024; days go back 52 weeks.
    let q = "period=month&count=1&until=2025-11-15&compare=previous_year";
    let r = report(&sys, q).await?;
    assert_eq!(r["compare"], "previous_year", "{q}");
    assert_periods(q, &r["periods"], &[(date(2025, 11, 1), 30.0 * WH_PER_DAY)])?;
    assert_periods(q, &r["previous"], &[(date(2024, 11, 1), 30.0 * WH_PER_DAY)])?;
    assert_eq!(ratio(&r), Some(0.0), "{q}");
    let q = "period=day&count=2&until=2025-03-31&compare=previous_year";
    let r = report(&sys, q).await?;
    // The 23-hour day of the spring change holds its 100 kWh too.
    assert_periods(
        q,
        &r["periods"],
        &expected(date(2025, 3, 30), 2, |d| d + TimeDelta::days(1)),
    )?;
    assert_periods(
        q,
        &r["previous"],
        &expected(date(2024, 3, 31), 2, |d| d + TimeDelta::days(1)),
    )?;

    // The day with the 2-hour gap: incomplete; its energy is what the counter grew (a lower bound in
    // general, here all of it); the days around it are exact and complete. No ratio against an incomplete
    // period, and the year 2025 is incomplete too.
    let q = "period=day&count=3&until=2025-12-11";
    let r = report(&sys, q).await?;
    let days = r["periods"].as_array().context("periods")?;
    let gap_day = &days[1];
    assert_eq!(gap_day["start"], "2025-12-10", "{q}: {r}");
    assert_eq!(gap_day["complete"], false, "{q}: {r}");
    let wh = gap_day["wh"].as_f64().context("the gap day's energy")?;
    assert!((wh - WH_PER_DAY).abs() < 1e-6, "{q}: {wh}");
    assert_periods(
        q,
        &Value::Array(vec![days[0].clone(), days[2].clone()]),
        &[(date(2025, 12, 9), WH_PER_DAY), (date(2025, 12, 11), WH_PER_DAY)],
    )?;
    assert_eq!(r["total"]["complete"], false, "{q}");
    assert!(r["change_ratio"].is_null(), "{q}");
    let q = "period=year&until=2025-03-01";
    let r = report(&sys, q).await?;
    assert_eq!(r["periods"][0]["complete"], false, "{q}: {r}");
    assert!(r["change_ratio"].is_null(), "{q}");
    sys.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minute_readings_between_the_edges_are_interpolated_across_dst() -> anyhow::Result<()> {
    let sys = System::start(Stack::builder().mosquitto().influxd().start().await?).await?;
    // A plug drawing 3.6 kW (1 Wh per second) from 2025-03-28 to 2025-04-01, read every minute at :30, so
    // every local midnight falls between two readings; on 2025-04-01 at noon it reboots and counts from 0.
    let t0 = chrono::DateTime::parse_from_rfc3339("2025-03-27T23:00:30Z")?.with_timezone(&Utc);
    let reboot = chrono::DateTime::parse_from_rfc3339("2025-04-01T10:00:00Z")?.with_timezone(&Utc);
    let mut lines = Vec::new();
    for m in 0..(5 * 24 * 60) {
        let t = t0 + TimeDelta::minutes(m);
        let v = if t < reboot {
            (t - t0).num_seconds()
        } else {
            (t - reboot).num_seconds()
        };
        lines.push(format!(
            "readings,device=hh-1-plug,site=hh-1 energy_import={v} {}",
            t.timestamp_millis()
        ));
    }
    zw_tests::influx_write(
        &sys.stack.influx_url(),
        sys.stack.influx_db(),
        "ms",
        &lines.join("\n"),
    )
    .await?;
    let url = format!(
        "{}/api/v1/devices/hh-1-plug/energy?period=day&count=3&until=2025-04-01",
        sys.api
    );
    let (status, r) = get(&url, Some("tok-res1")).await?;
    anyhow::ensure!(status == 200, "{status} {r}");
    // Saturday 24 h, Sunday 23 h (spring change), Monday 24 h: exact to the interpolated readings. Friday
    // has no data, Saturday's first 30 seconds are missing.
    let q = "day&count=3&until=2025-04-01";
    let previous = r["previous"].as_array().context("previous")?;
    assert!(previous[0]["wh"].is_null(), "{r}");
    assert_eq!(previous[1]["complete"], false, "{r}");
    assert_periods(
        q,
        &Value::Array(previous[2..].to_vec()),
        &[(date(2025, 3, 29), 86_400.0)],
    )?;
    let days = r["periods"].as_array().context("periods")?;
    assert_periods(
        q,
        &Value::Array(days[..2].to_vec()),
        &[(date(2025, 3, 30), 82_800.0), (date(2025, 3, 31), 86_400.0)],
    )?;
    // The reboot day: the counter component says how much is known, and that it is incomplete.
    assert_eq!(days[2]["start"], "2025-04-01", "{r}");
    assert_eq!(days[2]["complete"], false, "{r}");
    let wh = days[2]["wh"].as_f64().context("reboot day")?;
    assert!(
        (wh - (86_400.0 - 60.0)).abs() < 1e-6,
        "only the minute of the reboot is unknown: {r}"
    );
    sys.stop().await
}
