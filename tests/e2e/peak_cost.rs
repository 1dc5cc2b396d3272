//! The demand charge against a real InfluxDB (issue 24).
//!
//! A school's main meter and two sub-meters (heating, kitchen) report counters every 5 minutes, off the
//! quarter-hour grid (at :02, :07, …), through January and February of last year: a base load with jitter,
//! the heating on weekday mornings, the kitchen at noon, and two cold mornings where everything runs at
//! once. The school's tariff charges 120 €/kW a year (19 % VAT). The year's peak, its time, the top 10
//! quarter hours with the sub-meters' share, and the demand charge of the year and of January and
//! February (each at the peak so far at its end, prorated by days) must equal what this test computes from
//! the readings it wrote, to the cent.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, TimeZone as _, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use serde_json::Value;
use zw_model::inventory::JsonField;
use zw_model::tariff::{DemandBilling, Tariff};
use zw_model::{Device, Id, Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get};

const DEVICES: [&str; 3] = ["schule-main", "schule-heizung", "schule-kueche"];

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn meter(device: &str, class: &str) -> Device {
    Device::json(
        device,
        &format!("meters/{device}"),
        [JsonField::new("/e", Quantity::EnergyImport)],
    )
    .class(class)
}

fn rlm(year: i32) -> Tariff {
    Tariff {
        medium: Default::default(),
        ct_per_m3: 0.0,
        id: id("stadtwerke-rlm"),
        name: "Stadtwerke RLM".into(),
        valid_from: NaiveDate::from_ymd_opt(year, 1, 1).expect("date"),
        valid_to: None,
        sites: vec![id("schule")],
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: 21.5,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        dynamic: None,
        demand_eur_per_kw_year: 120.0,
        demand_billing: DemandBilling::default(),
    }
}

/// The sub-meters' power (W) from reading time `t` to the next: heating, kitchen.
fn loads(t: DateTime<Utc>, k: i64) -> [f64; 2] {
    let weekday = t.weekday().number_from_monday() <= 5;
    let h = t.hour();
    let mut heating = if weekday && (5..7).contains(&h) {
        30_000.0
    } else {
        2_000.0
    };
    let mut kitchen = if (10..12).contains(&h) {
        10_000.0 + (k % 7) as f64 * 500.0
    } else {
        500.0
    };
    // Two cold mornings: everything at once from 06:00 UTC for 25 minutes.
    let cold = [(1, 12), (2, 9)].contains(&(t.month(), t.day())) && h == 6 && t.minute() < 25;
    if cold {
        heating += 25_000.0;
        kitchen += if t.month() == 1 { 20_000.0 } else { 35_000.0 };
    }
    [heating, kitchen]
}

/// The readings written: per device (time, Wh), every 5 minutes at :02, :07, … from `from` to `to`.
fn readings(from: DateTime<Utc>, to: DateTime<Utc>) -> [Vec<(DateTime<Utc>, f64)>; 3] {
    let mut out: [Vec<(DateTime<Utc>, f64)>; 3] = Default::default();
    let mut wh = [5_000_000.0, 1_000_000.0, 300_000.0];
    let (mut t, mut k) = (from, 0i64);
    while t <= to {
        for (d, v) in wh.iter().enumerate() {
            out[d].push((t, *v));
        }
        let [heating, kitchen] = loads(t, k);
        let base = 20_000.0 + ((k * 7919) % 1000) as f64;
        let step = 5.0 / 60.0;
        wh[0] += (base + heating + kitchen) * step;
        wh[1] += heating * step;
        wh[2] += kitchen * step;
        t += TimeDelta::minutes(5);
        k += 1;
    }
    out
}

/// The counter at `t`, linearly between the readings around it (none outside them).
fn value(r: &[(DateTime<Utc>, f64)], t: DateTime<Utc>) -> Option<f64> {
    let i = r.partition_point(|p| p.0 < t);
    let (tb, vb) = *r.get(i)?;
    if tb == t {
        return Some(vb);
    }
    let (ta, va) = *r.get(i.checked_sub(1)?)?;
    Some(va + (vb - va) * (t - ta).num_seconds() as f64 / (tb - ta).num_seconds() as f64)
}

/// Energy of the quarter hour from `q`, Wh.
fn quarter(r: &[(DateTime<Utc>, f64)], q: DateTime<Utc>) -> Option<f64> {
    Some(value(r, q + TimeDelta::minutes(15))? - value(r, q)?)
}

async fn ask(api: &str, path: &str) -> anyhow::Result<Value> {
    let (status, body) = get(&format!("{api}{path}"), Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{path}: {status} {body}");
    Ok(body)
}

fn local(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(y, m, d, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peak_its_top_quarters_and_the_demand_charge_to_the_cent() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let year = Utc::now().with_timezone(&Berlin).year() - 1;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let mut inventory = Inventory::builder()
        .building(
            "schule",
            [
                meter(DEVICES[0], "main_meter"),
                meter(DEVICES[1], "heat_pump"),
                meter(DEVICES[2], "plug"),
            ],
        )
        .build();
    inventory.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    inventory.tariffs = vec![rlm(year)];
    cfg.inventory = inventory;
    let errors = cfg.validate();
    anyhow::ensure!(errors.is_empty(), "{errors:?}");

    let (from, to) = (local(year, 1, 1), local(year, 3, 1));
    let first = from - TimeDelta::minutes(58);
    let written = readings(first, to + TimeDelta::minutes(7));
    let lines: Vec<String> = DEVICES
        .iter()
        .zip(&written)
        .flat_map(|(d, r)| {
            r.iter().map(move |(t, wh)| {
                format!(
                    "readings,device={d},site=schule energy_import={wh} {}",
                    t.timestamp_millis()
                )
            })
        })
        .collect();
    for chunk in lines.chunks(20_000) {
        zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &chunk.join("\n")).await?;
    }

    // By hand: every quarter hour of January and February from the main meter's readings.
    let mut quarters: Vec<(DateTime<Utc>, f64)> = Vec::new();
    let mut q = from;
    while q < to {
        quarters.push((
            q,
            quarter(&written[0], q).context("a quarter inside the readings")?,
        ));
        q += TimeDelta::minutes(15);
    }
    let mut ranked = quarters.clone();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let peak_of = |until: DateTime<Utc>| {
        quarters
            .iter()
            .filter(|q| q.0 < until)
            .map(|q| q.1 * 4.0)
            .fold(0.0, f64::max)
            .round() as i64
    };
    let (peak_jan, peak_feb) = (peak_of(local(year, 2, 1)), peak_of(to));
    assert!(peak_feb > peak_jan, "February's cold Monday sets the year's peak");

    let cfg_path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    let r = ask(&api, &format!("/api/v1/sites/schule/peak?year={year}")).await?;
    assert_eq!(r["start"], format!("{year}-01-01"), "{r}");
    assert_eq!(r["quarters_known"].as_u64(), Some(quarters.len() as u64), "{r}");
    assert_eq!(r["complete"], false, "March to December have no readings: {r}");
    let peak = &r["peak"];
    assert_eq!(
        peak["start"].as_str(),
        Some(
            ranked[0]
                .0
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_str()
        ),
        "{r}"
    );
    let kw = peak["kw"].as_f64().context("peak kW")?;
    assert!(
        (kw * 1000.0 - ranked[0].1 * 4.0).abs() < 1e-3,
        "{kw} kW, by hand {} W",
        ranked[0].1 * 4.0
    );
    let top = r["top"].as_array().context("top")?;
    assert_eq!(top.len(), 10, "{r}");
    for (k, (t, wh)) in ranked.iter().take(10).enumerate() {
        let start: DateTime<Utc> = top[k]["start"].as_str().context("start")?.parse()?;
        assert_eq!(start, *t, "top {k}: {r}");
        assert!(
            (top[k]["wh"].as_f64().context("wh")? - wh).abs() < 1e-3,
            "top {k}: {r}"
        );
        // What ran: the kitchen and the heating, each as its own readings say, highest first.
        let devices = top[k]["devices"].as_array().context("devices")?;
        assert_eq!(devices.len(), 2, "{r}");
        let mut by_hand: Vec<(&str, f64)> = (1..3)
            .map(|d| (DEVICES[d], quarter(&written[d], *t).expect("inside")))
            .collect();
        by_hand.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (dev, (name, wh)) in devices.iter().zip(&by_hand) {
            assert_eq!(dev["device"], *name, "top {k}: {r}");
            assert!(
                (dev["wh"].as_f64().context("device wh")? - wh).abs() < 1e-3,
                "top {k}: {r}"
            );
        }
    }
    // The whole (past) billing year: peak × 120 €/kW = 12 ct per W; VAT 19 % on the rounded net.
    let net = peak_feb * 12;
    let vat = (net as f64 * 0.19).round() as i64;
    for key in ["cost_so_far", "cost_year"] {
        assert_eq!(r[key]["net_cents"].as_i64(), Some(net), "{key}: {r}");
        assert_eq!(r[key]["gross_cents"].as_i64(), Some(net + vat), "{key}: {r}");
    }
    assert_eq!(r["demand_eur_per_kw_year"].as_f64(), Some(120.0), "{r}");

    // January and February: each at the peak so far at its end, 31 and 28 of 365 days.
    let c = ask(
        &api,
        &format!("/api/v1/sites/schule/cost?period=month&count=2&until={year}-02-10"),
    )
    .await?;
    let expected = |w: i64, days: i64| ((w * 1200 * days) as f64 / 100.0 / 365.0).round() as i64;
    for (k, (w, days)) in [(peak_jan, 31), (peak_feb, 28)].into_iter().enumerate() {
        let p = &c["periods"][k];
        assert_eq!(
            p["demand_net_cents"].as_i64(),
            Some(expected(w, days)),
            "month {k}: {c}"
        );
        let line = &p["tariffs"][0];
        assert_eq!(line["demand_net_cents"], p["demand_net_cents"], "{c}");
        let parts = line["energy_net_cents"].as_i64().context("energy")?
            + line["demand_net_cents"].as_i64().context("demand")?;
        assert_eq!(line["net_cents"].as_i64(), Some(parts), "{c}");
        assert_eq!(p["complete"], true, "{c}");
    }
    // The energy report's cost is the same bill's gross.
    let e = ask(
        &api,
        &format!("/api/v1/sites/schule/energy?period=month&count=2&until={year}-02-10"),
    )
    .await?;
    for k in 0..2 {
        let gross = c["periods"][k]["gross_cents"].as_i64().context("gross")?;
        assert_eq!(
            e["periods"][k]["cost"].as_f64(),
            Some(gross as f64 / 100.0),
            "{e}"
        );
    }
    // Rolled up (`zaehlwerk rollup`), the same year is answered from the quarter rows: the same quarter
    // hours, even once the readings of ten January days are gone (rollups outlive raw readings).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zaehlwerk"))
        .args(["rollup", "--since", &format!("{}-12-31", year - 1), "--config"])
        .arg(&cfg_path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "zaehlwerk rollup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delete = format!(
        "DELETE FROM readings WHERE time > '{}' AND time < '{}'",
        local(year, 1, 15).to_rfc3339(),
        local(year, 1, 25).to_rfc3339()
    );
    zw_tests::influx_query(&stack.influx_url(), stack.influx_db(), &delete).await?;
    let rolled = ask(&api, &format!("/api/v1/sites/schule/peak?year={year}")).await?;
    assert_eq!(rolled["quarters_known"], r["quarters_known"], "{rolled}");
    assert_eq!(rolled["peak"]["start"], r["peak"]["start"], "{rolled}");
    assert_eq!(rolled["cost_year"], r["cost_year"], "{rolled}");
    for k in 0..10 {
        let (a, b) = (&rolled["top"][k], &r["top"][k]);
        assert_eq!(a["start"], b["start"], "top {k}: {rolled}");
        let (x, y) = (a["wh"].as_f64().context("wh")?, b["wh"].as_f64().context("wh")?);
        assert!(
            (x - y).abs() < 1e-6,
            "top {k}: {x} from the rollups, {y} from the readings"
        );
    }
    // A device's own peak is not billed.
    let d = ask(&api, &format!("/api/v1/devices/schule-kueche/peak?year={year}")).await?;
    assert_eq!(d["cost_year"], Value::Null, "{d}");
    let kitchen = quarters
        .iter()
        .filter_map(|(q, _)| quarter(&written[2], *q))
        .fold(0.0, f64::max);
    let kw = d["peak"]["kw"].as_f64().context("device peak")?;
    assert!(
        (kw * 1000.0 - kitchen * 4.0).abs() < 1e-3,
        "{kw} kW, by hand {} W: {d}",
        kitchen * 4.0
    );
    // Bad input is a 400 with a clear message.
    let (status, body) = get(
        &format!("{api}/api/v1/sites/schule/peak?year=12345"),
        Some("tok-fm"),
    )
    .await?;
    assert_eq!(status, 400, "{body}");
    drop(all);
    Ok(())
}
