//! Forecasts, budgets and cost of heat and gas against a real InfluxDB and mosquitto (issue 19).
//!
//! The town hall has a gas meter (m³, with a `[[gas_conversions]]` entry: Hₛ 11 kWh/m³, Z 0.95) and a heat
//! meter (Wh), the school a gas meter without a conversion; 40 days of 15-minute counter readings up to
//! now are written straight to InfluxDB. Then:
//! - the gas meter's forecast is in m³ and in kWh (× 10.45, measured and forecast alike) and in € under the
//!   gas tariff, each within its band; the school's has its m³ but no kWh and no cost, and says why;
//! - the town hall's heat budget (100 kWh for the year) is reported exceeded by the year-end forecast, and
//!   analytics raises a `budget` alert on the bus naming the heat meter, with the excess;
//! - `/energy?medium=gas` carries per day the same gross and net cost as `/cost?medium=gas`.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use chrono_tz::Europe::Berlin;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::Value;
use zw_model::counter::gas::GasConversion;
use zw_model::inventory::JsonField;
use zw_model::report::Medium;
use zw_model::tariff::{Budget, Tariff};
use zw_model::{Device, Id, Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::support::config::{serving, user, write};
use crate::support::history::{counter_lines, write as write_history};
use crate::support::{Zaehlwerk, eventually, get};

/// Z × Hₛ of the town hall's gas, kWh/m³.
const KWH_PER_M3: f64 = 0.95 * 11.0;

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn meter(device: &str, q: Quantity, class: &str) -> Device {
    Device::json(device, &format!("meters/{device}"), [JsonField::new("/v", q)]).class(class)
}

/// A tariff of `medium` at `ct` per kWh, 19 % VAT, for both sites.
fn tariff(medium: Medium, ct: f64) -> Tariff {
    Tariff {
        medium,
        ct_per_m3: 0.0,
        id: id(&format!("stadtwerke-{}", medium.name())),
        name: format!("Stadtwerke {}", medium.name()),
        valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
        valid_to: None,
        sites: vec![id("rathaus"), id("schule")],
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: ct,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
        dynamic: None,
    }
}

async fn ask(api: &str, path: &str) -> anyhow::Result<Value> {
    let (status, body) = get(&format!("{api}{path}"), Some("tok-fm")).await?;
    anyhow::ensure!(status == 200, "{path}: {status} {body}");
    Ok(body)
}

fn num(v: &Value, key: &str) -> anyhow::Result<f64> {
    v[key].as_f64().with_context(|| format!("{key} in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_and_heat_are_forecast_budgeted_and_priced() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let now = Utc::now();
    let year = now.with_timezone(&Berlin).year();
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let mut inventory = Inventory::builder()
        .building(
            "rathaus",
            [
                meter("gas-1", Quantity::GasVolume, "gas_meter"),
                meter("heat-1", Quantity::HeatEnergy, "heat_meter"),
            ],
        )
        .building("schule", [meter("gas-2", Quantity::GasVolume, "gas_meter")])
        .build();
    inventory.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    inventory.tariffs = vec![tariff(Medium::Gas, 12.0), tariff(Medium::Heat, 10.0)];
    inventory.gas_conversions = vec![GasConversion {
        site: "rathaus".into(),
        valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).expect("date"),
        calorific_value_kwh_per_m3: 11.0,
        z_factor: 0.95,
    }];
    inventory.budgets = vec![Budget {
        site: id("rathaus"),
        year,
        medium: Medium::Heat,
        kwh: Some(100.0),
        m3: None,
        gross: None,
    }];
    cfg.inventory = inventory;
    cfg.analytics.alerts.restore_wait = Duration::from_secs(1);
    cfg.analytics.alerts.restore_quiet = Duration::from_millis(300);

    // 40 days up to now: about 50 m³ of gas and 500 kWh of heat a day.
    let span = (now - TimeDelta::days(40), now);
    let mut lines = counter_lines(("rathaus", "gas-1", "gas_volume"), span, 12_345.0, 50.0);
    lines.extend(counter_lines(
        ("schule", "gas-2", "gas_volume"),
        span,
        4_321.0,
        30.0,
    ));
    lines.extend(counter_lines(
        ("rathaus", "heat-1", "heat_energy"),
        span,
        9.0e7,
        500_000.0,
    ));
    write_history(&stack, &lines).await?;

    let cfg_path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // The gas meter's own medium: m³, kWh by Z × Hₛ, € under the gas tariff, each within its band.
    let r = ask(&api, "/api/v1/devices/gas-1/forecast").await?;
    assert_eq!(r["medium"], "gas", "{r}");
    assert_eq!(r["missing"].as_array().map(Vec::len), Some(0), "{r}");
    assert_eq!(
        r["weather"]["source"], "none",
        "gas heats, but no temperature is known: {r}"
    );
    for horizon in ["today", "month", "year"] {
        let h = &r[horizon];
        let (m3, lo, hi) = (num(h, "m3")?, num(h, "low_m3")?, num(h, "high_m3")?);
        assert!(
            lo <= m3 && m3 <= hi && m3 > 0.0,
            "{horizon} m³ {lo}..{m3}..{hi}: {r}"
        );
        assert!(num(h, "remaining_m3")? > 0.0, "{horizon}: {r}");
        let (wh, low_wh, high_wh) = (num(h, "wh")?, num(h, "low_wh")?, num(h, "high_wh")?);
        for (e, v) in [(wh, m3), (low_wh, lo), (high_wh, hi)] {
            assert!(
                (e / (v * KWH_PER_M3 * 1000.0) - 1.0).abs() < 1e-9,
                "{horizon}: {e} Wh for {v} m³: {r}"
            );
        }
        let (gross, glo, ghi) = (
            num(h, "gross_cents")?,
            num(h, "low_gross_cents")?,
            num(h, "high_gross_cents")?,
        );
        // 12 ct per kWh plus 19 % VAT.
        let want = wh / 1000.0 * 12.0 * 1.19;
        assert!(
            (gross - want).abs() <= 2.0_f64.max(want * 1e-4),
            "{horizon}: {gross} ct, want {want}: {r}"
        );
        assert!(
            glo <= gross && gross <= ghi,
            "{horizon} € {glo}..{gross}..{ghi}: {r}"
        );
    }
    let tomorrow = r["tomorrow"].as_array().context("tomorrow")?;
    let day_m3: f64 = tomorrow.iter().filter_map(|h| h["m3"].as_f64()).sum();
    let day_wh: f64 = tomorrow.iter().filter_map(|h| h["wh"].as_f64()).sum();
    assert!((20.0..80.0).contains(&day_m3), "tomorrow {day_m3} m³: {r}");
    assert!(
        (day_wh / (day_m3 * KWH_PER_M3 * 1000.0) - 1.0).abs() < 1e-9,
        "{r}"
    );
    // The site's gas is its one meter's.
    let s = ask(&api, "/api/v1/sites/rathaus/forecast?medium=gas").await?;
    assert_eq!(s["month"]["m3"], r["month"]["m3"], "{s}");
    // A device is forecast in its own medium only.
    let (status, body) = get(
        &format!("{api}/api/v1/devices/gas-1/forecast?medium=water"),
        Some("tok-fm"),
    )
    .await?;
    assert_eq!(status, 400, "{body}");

    // Without a calorific value: the m³ are forecast, the kWh and the cost are missing and say why.
    let r = ask(&api, "/api/v1/sites/schule/forecast?medium=gas").await?;
    let m = &r["month"];
    assert!(num(m, "m3")? > 0.0, "{r}");
    for unknown in ["wh", "low_wh", "measured_wh", "gross_cents"] {
        assert!(m[unknown].is_null(), "{unknown}: {r}");
    }
    let missing = r["missing"].as_array().context("missing")?;
    assert!(
        missing
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains("[[gas_conversions]]"))),
        "{r}"
    );

    // The heat budget: exceeded by what the year-end forecast says.
    let r = ask(&api, "/api/v1/sites/rathaus/forecast?medium=heat").await?;
    assert_eq!(r["medium"], "heat", "{r}");
    let b = &r["budget"];
    assert_eq!(
        (&b["medium"], &b["exceeded"]),
        (&Value::from("heat"), &Value::from(true)),
        "{r}"
    );
    let year_kwh = num(&r["year"], "wh")? / 1000.0;
    let by = num(b, "exceeded_by_kwh")?;
    assert!((by - (year_kwh - 100.0)).abs() < 1e-6 && by > 0.0, "{r}");
    assert!(r["year"]["m3"].is_null(), "heat has no m³: {r}");
    // The electricity forecast has no heat budget (and the site no electricity meter to forecast).
    let (status, body) = get(&format!("{api}/api/v1/sites/rathaus/forecast"), Some("tok-fm")).await?;
    assert!(status == 404 || body["budget"].is_null(), "{status} {body}");

    // Analytics raises the heat budget's alert on the bus, on the heat meter, with the excess.
    let alert = heat_budget_alert(&stack).await.with_context(|| all.log_tail())?;
    assert_eq!(alert["severity"], "critical", "{alert}");
    let e = &alert["explanation"];
    assert_eq!(
        (&e["unit"], e["expected"].as_f64()),
        (&Value::from("kWh"), Some(100.0)),
        "{alert}"
    );
    let observed = num(e, "observed")?;
    assert!(
        (observed / year_kwh - 1.0).abs() < 0.02,
        "analytics {observed} kWh, API {year_kwh} kWh: {alert}"
    );
    let text = e["text"].as_str().context("text")?;
    assert!(
        text.contains(&format!("above the {year} heat budget of 100 kWh")),
        "{alert}"
    );

    // /energy?medium=gas prices each day as /cost?medium=gas does, gross and net.
    let q = "period=day&count=7&medium=gas";
    let energy = ask(&api, &format!("/api/v1/sites/rathaus/energy?{q}")).await?;
    let cost = ask(&api, &format!("/api/v1/sites/rathaus/cost?{q}")).await?;
    let (ep, cp) = (
        energy["periods"].as_array().context("periods")?,
        cost["periods"].as_array().context("periods")?,
    );
    assert_eq!(ep.len(), cp.len(), "{energy} {cost}");
    let mut compared = 0;
    for (e, c) in ep.iter().zip(cp).filter(|(e, _)| e["ongoing"] == false) {
        assert_eq!(e["start"], c["start"], "{e} {c}");
        let cents = |v: &Value| v.as_f64().map(|x| (x * 100.0).round() as i64);
        assert_eq!(cents(&e["cost"]), c["gross_cents"].as_i64(), "{e} {c}");
        assert_eq!(cents(&e["net_cost"]), c["net_cents"].as_i64(), "{e} {c}");
        assert!(c["gross_cents"].as_i64().is_some_and(|g| g > 0), "{c}");
        let versions: Vec<&Value> = e["tariffs"]
            .as_array()
            .context("tariffs")?
            .iter()
            .map(|t| &t["id"])
            .collect();
        assert_eq!(versions, [&Value::from("stadtwerke-gas")], "{e}");
        compared += 1;
    }
    assert_eq!(compared, 6, "{energy}");

    all.stop(Duration::from_secs(15)).await
}

/// The town hall's heat budget alert as analytics publishes it (retained on `zw/v1/alerts/{id}`), within
/// 60 s.
async fn heat_budget_alert(stack: &Stack) -> anyhow::Result<Value> {
    let opts = zw_tests::mqtt::options("e2e-heat-budget", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut eventloop) = AsyncClient::new(opts, 100);
    client
        .subscribe(zw_model::topic::ALERTS_FILTER, QoS::AtLeastOnce)
        .await?;
    let wait = async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await? {
                let v: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                if v["kind"] == "budget"
                    && v["site"] == "rathaus"
                    && v["subject"]["device"] == "heat-1"
                    && v["state"] != "resolved"
                {
                    return anyhow::Ok(v);
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .context("no heat budget alert for rathaus on the bus within 60 s")?
}
