//! Cost and forecasts against a real InfluxDB (issue 19).
//!
//! The town hall's main meter uses exactly 1 kWh per hour through March and April 2026 (15-minute
//! `energy_import` readings written straight to InfluxDB). Its time-of-use tariff (HT Monday to Friday
//! 06:00–22:00, NT otherwise, a Grundpreis, 19 % VAT) changes price on 16 March, and the clocks go forward
//! on 29 March: March's cost must be the two tariff versions' lines to the cent. The school's meter uses
//! exactly 100 kWh per local day for the last 40 days up to now: its month-end forecast must be 100 kWh ×
//! the days of the month within a tight band, and its yearly budget reported as exceeded by as much as the
//! projection says; analytics raises a `budget` alert for it on the bus, by as much as its own year-end
//! forecast (from the hourly counter values) says.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone as _, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::Value;
use zw_model::inventory::JsonField;
use zw_model::tariff::{Budget, Day, Tariff, Window};
use zw_model::{Device, Id, Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn meter(device: &str) -> Device {
    Device::json(
        device,
        &format!("meters/{device}"),
        [JsonField::new("/e", Quantity::EnergyImport)],
    )
    .class("main_meter")
}

/// HT 06:00–22:00 on weekdays at `ht` ct, NT at `nt` ct, 10 €/month, from `from` to `to`.
fn ht_nt(from: NaiveDate, to: Option<NaiveDate>, (ht, nt): (f64, f64)) -> Tariff {
    Tariff {
        medium: Default::default(),
        ct_per_m3: 0.0,
        id: id("stadtwerke-ht-nt"),
        name: "Stadtwerke HT/NT".into(),
        valid_from: from,
        valid_to: to,
        sites: vec![id("rathaus")],
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: nt,
        base_eur_per_month: 10.0,
        feed_in_ct_per_kwh: 0.0,
        windows: vec![Window {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            from: "06:00".into(),
            to: "22:00".into(),
            ct_per_kwh: ht,
            holidays: None,
        }],
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
        dynamic: None,
    }
}

fn line(device: &str, site: &str, t: DateTime<Utc>, wh: f64) -> String {
    format!(
        "readings,device={device},site={site} energy_import={wh} {}",
        t.timestamp_millis()
    )
}

async fn write_lines(stack: &Stack, lines: &[String]) -> anyhow::Result<()> {
    for chunk in lines.chunks(20_000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }
    Ok(())
}

async fn ask(api: &str, path: &str) -> anyhow::Result<Value> {
    let (status, body) = get(&format!("{api}{path}"), Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{path}: {status} {body}");
    Ok(body)
}

/// March 2026's energy cost per tariff version in cents (unrounded), computed hour by local hour here.
fn march_by_hand() -> (f64, f64) {
    let (mut before, mut after) = (0.0, 0.0);
    let mut t = Berlin
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    let end = Berlin
        .with_ymd_and_hms(2026, 4, 1, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    while t < end {
        let l = t.with_timezone(&Berlin);
        let ht = l.weekday().number_from_monday() <= 5 && (6..22).contains(&l.hour());
        if l.day() < 16 {
            before += if ht { 40.0 } else { 20.0 };
        } else {
            after += if ht { 44.0 } else { 22.0 };
        }
        t += TimeDelta::hours(1);
    }
    (before, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_to_the_cent_and_forecasts_within_their_band() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let now = Utc::now();
    let year = now.with_timezone(&Berlin).year();
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let mut inventory = Inventory::builder()
        .building("rathaus", [meter("rathaus-main")])
        .building("schule", [meter("schule-main")])
        .build();
    inventory.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    inventory.tariffs = vec![
        ht_nt(date(2026, 1, 1), Some(date(2026, 3, 16)), (40.0, 20.0)),
        ht_nt(date(2026, 3, 16), None, (44.0, 22.0)),
    ];
    inventory.budgets = vec![Budget {
        site: id("schule"),
        year,
        medium: Default::default(),
        kwh: Some(1000.0),
        m3: None,
        gross: None,
    }];
    cfg.inventory = inventory;
    cfg.analytics.alerts.restore_wait = Duration::from_secs(1);
    cfg.analytics.alerts.restore_quiet = Duration::from_millis(300);
    let errors = cfg.validate();
    anyhow::ensure!(errors.is_empty(), "{errors:?}");

    // 1 kWh per hour: 250 Wh per quarter-hour on the UTC grid, so every local hour gets 1 kWh across DST.
    let start = Berlin
        .with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    let end = Berlin
        .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc);
    let quarters = (end - start).num_minutes() / 15;
    let lines: Vec<String> = (0..=quarters)
        .map(|k| {
            line(
                "rathaus-main",
                "rathaus",
                start + TimeDelta::minutes(15 * k),
                250.0 * k as f64,
            )
        })
        .collect();
    write_lines(&stack, &lines).await?;

    // 100 kWh per local day for 40 days, up to the last quarter-hour before now.
    let first = now.with_timezone(&Berlin).date_naive() - TimeDelta::days(40);
    let edges = zw_model::counter::local_day_edges(&Berlin, first, now.with_timezone(&Berlin).date_naive());
    let mut lines = Vec::new();
    for (day, w) in edges.windows(2).enumerate() {
        let n = (w[1] - w[0]).num_minutes() / 15;
        for i in 0..n {
            let t = w[0] + TimeDelta::minutes(15 * i);
            if t <= now {
                lines.push(line(
                    "schule-main",
                    "schule",
                    t,
                    100_000.0 * (day as f64 + i as f64 / n as f64),
                ));
            }
        }
    }
    write_lines(&stack, &lines).await?;

    let cfg_path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // March: two tariff versions, the spring change on the 29th (743 hours).
    let r = ask(
        &api,
        "/api/v1/sites/rathaus/cost?period=month&count=1&until=2026-03-20",
    )
    .await?;
    assert_eq!(r["interval_minutes"], 60, "{r}");
    let march = &r["periods"][0];
    assert_eq!(march["start"], "2026-03-01", "{r}");
    assert_eq!(march["complete"], true, "{r}");
    assert_eq!(march["import_wh"].as_f64(), Some(743_000.0), "{r}");
    let (before, after) = march_by_hand();
    let lines = march["tariffs"].as_array().context("tariff lines")?;
    assert_eq!(lines.len(), 2, "{r}");
    assert_eq!(lines[0]["valid_from"], "2026-01-01", "{r}");
    assert_eq!(lines[1]["valid_from"], "2026-03-16", "{r}");
    assert_eq!(
        lines[0]["energy_net_cents"].as_i64(),
        Some(before.round() as i64),
        "{r}"
    );
    assert_eq!(
        lines[1]["energy_net_cents"].as_i64(),
        Some(after.round() as i64),
        "{r}"
    );
    // Grundpreis 10 € × 15/31 and × 16/31; VAT 19 % of each line's rounded net.
    assert_eq!(lines[0]["base_net_cents"].as_i64(), Some(484), "{r}");
    assert_eq!(lines[1]["base_net_cents"].as_i64(), Some(516), "{r}");
    let mut gross = 0;
    for l in lines {
        let net = l["net_cents"].as_i64().context("net")?;
        let vat = l["vat_cents"].as_i64().context("vat")?;
        assert_eq!(vat, (net as f64 * 0.19).round() as i64, "{l}");
        assert_eq!(l["gross_cents"].as_i64(), Some(net + vat), "{l}");
        gross += net + vat;
    }
    assert_eq!(march["gross_cents"].as_i64(), Some(gross), "{r}");
    // 104.00 € + 4.84 € and 126.50 € + 5.16 € net, with VAT.
    assert_eq!(gross, 12_952 + 15_668, "{r}");

    // The energy report prices the same periods the same way: March's cost is the bill's gross, under
    // the same two tariff versions (one price per site), for the site and for its main meter.
    for subject in ["sites/rathaus", "devices/rathaus-main"] {
        let e = ask(
            &api,
            &format!("/api/v1/{subject}/energy?period=month&count=1&until=2026-03-20"),
        )
        .await?;
        let m = &e["periods"][0];
        assert_eq!(m["wh"].as_f64(), Some(743_000.0), "{e}");
        assert_eq!(
            m["cost"].as_f64().map(|c| (c * 100.0).round() as i64),
            Some(gross),
            "{subject}: {e}"
        );
        let versions: Vec<&str> = m["tariffs"]
            .as_array()
            .context("tariffs")?
            .iter()
            .filter_map(|t| t["valid_from"].as_str())
            .collect();
        assert_eq!(versions, ["2026-01-01", "2026-03-16"], "{e}");
        // February before the first reading: no energy, no cost.
        assert!(e["previous"][0]["cost"].is_null(), "{e}");
    }

    // February, before the first reading: the energy and what depends on it are unknown, not 0; the
    // Grundpreis (10 € a month) is known all the same.
    let r = ask(
        &api,
        "/api/v1/sites/rathaus/cost?period=month&count=1&until=2026-02-10",
    )
    .await?;
    let february = &r["periods"][0];
    assert_eq!(february["complete"], false, "{r}");
    for unknown in [
        "import_wh",
        "energy_net_cents",
        "net_cents",
        "vat_cents",
        "gross_cents",
    ] {
        assert!(february[unknown].is_null(), "{unknown}: {r}");
    }
    assert_eq!(february["base_net_cents"].as_i64(), Some(1000), "{r}");

    // April under the second version only, a past period whose cost the price change did not touch.
    let r = ask(
        &api,
        "/api/v1/sites/rathaus/cost?period=month&count=1&until=2026-04-10",
    )
    .await?;
    let april = &r["periods"][0];
    assert_eq!(april["tariffs"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(april["import_wh"].as_f64(), Some(720_000.0), "{r}");

    // The school's forecast: month-end 100 kWh × days of the month within ±0.5 %, a band under 1 %.
    let r = ask(&api, "/api/v1/sites/schule/forecast").await?;
    assert_eq!(r["method"]["kind"], "hour_of_week", "{r}");
    let today = now.with_timezone(&Berlin).date_naive();
    let month_days = zw_model::counter::local_day_edges(
        &Berlin,
        today.with_day(1).context("first")?,
        today
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .and_then(|d| d.pred_opt())
            .context("last")?,
    )
    .len() as f64
        - 1.0;
    let want = 100_000.0 * month_days;
    let m = &r["month"];
    let (wh, lo, hi) = (
        m["wh"].as_f64().context("wh")?,
        m["low_wh"].as_f64().context("low")?,
        m["high_wh"].as_f64().context("high")?,
    );
    assert!(
        (wh / want - 1.0).abs() < 0.005,
        "month-end {wh} Wh, want {want}: {r}"
    );
    assert!(
        lo <= wh && wh <= hi && (hi - lo) / want < 0.01,
        "band {lo}..{hi}: {r}"
    );
    let tomorrow = r["tomorrow"].as_array().context("tomorrow")?;
    assert!((23..=25).contains(&tomorrow.len()), "{r}");
    let day_sum: f64 = tomorrow.iter().filter_map(|h| h["wh"].as_f64()).sum();
    assert!(
        (day_sum / 100_000.0 - 1.0).abs() < 0.05,
        "tomorrow {day_sum} Wh: {r}"
    );
    let b = &r["budget"];
    assert_eq!(b["exceeded"], true, "{r}");
    let by = b["exceeded_by_kwh"].as_f64().context("exceeded_by_kwh")?;
    let year_kwh = r["year"]["wh"].as_f64().context("year")? / 1000.0;
    assert!((by - (year_kwh - 1000.0)).abs() < 1e-6 && by > 0.0, "{r}");

    // Analytics forecasts the same year end and raises a budget alert on the bus (retained), critical:
    // even the band's lower end is far above 1,000 kWh.
    let alert = budget_alert(&stack).await.with_context(|| all.log_tail())?;
    assert_eq!(alert["kind"], "budget", "{alert}");
    assert_eq!(alert["severity"], "critical", "{alert}");
    let e = &alert["explanation"];
    assert_eq!(e["unit"], "kWh", "{alert}");
    assert_eq!(e["expected"].as_f64(), Some(1000.0), "{alert}");
    let observed = e["observed"].as_f64().context("observed")?;
    assert!(
        (observed / year_kwh - 1.0).abs() < 0.01,
        "analytics {observed} kWh, API {year_kwh} kWh: {alert}"
    );
    assert!(
        e["text"].as_str().is_some_and(|t| t.contains("above the")),
        "{alert}"
    );

    all.stop(Duration::from_secs(15)).await
}

/// The school's budget alert as analytics publishes it (retained on `zw/v1/alerts/{id}`), within 60 s.
async fn budget_alert(stack: &Stack) -> anyhow::Result<Value> {
    let opts = zw_tests::mqtt::options("e2e-budget", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    client
        .subscribe(zw_model::topic::ALERTS_FILTER, QoS::AtLeastOnce)
        .await?;
    let wait = async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await? {
                let v: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                if v["kind"] == "budget" && v["site"] == "schule" && v["state"] != "resolved" {
                    return anyhow::Ok(v);
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .context("no budget alert for schule on the bus within 60 s")?
}
