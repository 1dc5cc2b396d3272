//! Dynamic prices received on the bus (issue 19), against a real mosquitto (the shipped ACL) and InfluxDB.
//!
//! The works' meter uses exactly 1 kWh per local hour on 1 December 2026. Its tariff prices the series
//! `epex-de-lu` (no CSV: bus only) plus a 10 ct markup and 19 % VAT. The `zw-prices` account publishes the
//! day's 24 hourly prices (5.5 ct + 0.25 ct per hour): `/cost` for the day must be 201 ct spot + 240 ct
//! markup = 441 ct net, 84 ct VAT, 525 ct gross. A message from the API's account (which may only read
//! prices) is refused by the broker and changes nothing; a malformed one is counted by reason. The
//! messages are not retained, so after the API restarts the price can only come from what it kept
//! (`api.prices_file`): the same 525 ct.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Europe::Berlin;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::{Value, json};
use zw_model::inventory::JsonField;
use zw_model::tariff::{Dynamic, Tariff};
use zw_model::{Device, Id, Inventory, Quantity, Role};
use zw_tests::{MqttCredentials, Role as BusRole, Stack, free_port};

use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const TOPIC: &str = "zw/v1/prices/epex-de-lu";

fn id(s: &str) -> Id {
    Id::new(s).expect("valid id")
}

fn spot(tariff_sites: &[&str]) -> Tariff {
    Tariff {
        id: id("spot"),
        name: "Dynamisch (Day-Ahead)".into(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        valid_to: None,
        sites: tariff_sites.iter().map(|s| id(s)).collect(),
        medium: Default::default(),
        ct_per_m3: 0.0,
        currency: "EUR".into(),
        vat_percent: 19.0,
        energy_ct_per_kwh: 0.0,
        base_eur_per_month: 0.0,
        feed_in_ct_per_kwh: 0.0,
        windows: Vec::new(),
        dynamic: Some(Dynamic {
            csv: None,
            series: Some(id("epex-de-lu")),
            markup_ct_per_kwh: 10.0,
            prices: None,
        }),
        demand_eur_per_kw_year: 0.0,
        demand_billing: Default::default(),
    }
}

fn day_start() -> DateTime<Utc> {
    Berlin
        .with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

/// The day's 24 hourly prices, `price(h)` ct/kWh at local hour `h`.
fn message(first: DateTime<Utc>, hours: i64, price: impl Fn(i64) -> f64) -> Value {
    let intervals: Vec<Value> = (0..hours)
        .map(|h| {
            let t = (first + TimeDelta::hours(h)).with_timezone(&Berlin);
            json!({"start": t.to_rfc3339(), "price": price(h)})
        })
        .collect();
    json!({"v": 1, "series": "epex-de-lu", "unit": "ct/kWh", "net": true, "intervals": intervals})
}

/// Publishes `payload` (not retained) as `login` and waits for the broker's PUBACK (which mosquitto sends
/// for a message its ACL drops too).
async fn publish(stack: &Stack, login: &MqttCredentials, payload: Vec<u8>) -> anyhow::Result<()> {
    let opts = zw_tests::mqtt::options_as(
        &format!("e2e-prices-{}", login.username),
        stack.mqtt_host(),
        stack.mqtt_port(),
        login,
    );
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    client.publish(TOPIC, QoS::AtLeastOnce, false, payload).await?;
    let done = async {
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await? {
                return anyhow::Ok(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .context("no PUBACK for the prices")??;
    client.disconnect().await.ok();
    Ok(())
}

/// The day's cost line of the tariff.
async fn day_cost(api: &str) -> anyhow::Result<Value> {
    let (status, body) = get(
        &format!("{api}/api/v1/sites/werk/cost?period=day&count=1&until=2026-12-01"),
        Some("tok-fm"),
    )
    .await?;
    anyhow::ensure!(status == 200, "cost: {status} {body}");
    Ok(body)
}

fn gross(cost: &Value) -> Option<i64> {
    cost["periods"][0]["gross_cents"].as_i64()
}

async fn start_api(stack: &Stack, cfg_path: &std::path::Path, api: &str) -> anyhow::Result<Zaehlwerk> {
    let z = Zaehlwerk::start("api", cfg_path, stack.state_dir())?;
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| z.log_tail())?;
    Ok(z)
}

/// Waits until the API's metrics hold `line` exactly.
async fn counter_reaches(api: &str, line: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(20), line, || async {
        metrics(api).await?.lines().any(|l| l == line).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_from_the_bus_price_the_day_to_the_cent_and_survive_a_restart() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");
    let mut cfg = serving(&stack, api_port);
    let meter = Device::json(
        "werk-main",
        "meters/werk-main",
        [JsonField::new("/e", Quantity::EnergyImport)],
    )
    .class("main_meter");
    let mut inventory = Inventory::builder().building("werk", [meter]).build();
    inventory.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    inventory.tariffs = vec![spot(&["werk"])];
    cfg.inventory = inventory;
    cfg.api.prices_file = Some(stack.state_dir().join("prices.json"));
    let errors = cfg.validate();
    anyhow::ensure!(errors.is_empty(), "{errors:?}");

    // 1 kWh per hour: 250 Wh per quarter-hour from the day before to the day after.
    let from = day_start() - TimeDelta::days(1);
    let lines: Vec<String> = (0..=4 * 72)
        .map(|k| {
            let t = from + TimeDelta::minutes(15 * k);
            format!(
                "readings,device=werk-main,site=werk energy_import={} {}",
                250.0 * k as f64,
                t.timestamp_millis()
            )
        })
        .collect();
    zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &lines.join("\n")).await?;

    let cfg_path = write(&stack, &cfg)?;
    let first = start_api(&stack, &cfg_path, &api).await?;
    let before = day_cost(&api).await?;
    assert_ne!(
        gross(&before),
        Some(525),
        "priced before any price arrived: {before}"
    );

    let prices = stack.mqtt_credentials(BusRole::Prices);
    let day = message(day_start(), 24, |h| 5.5 + 0.25 * h as f64);
    publish(&stack, &prices, serde_json::to_vec(&day)?).await?;
    let cost = eventually(Duration::from_secs(20), "the day priced", || async {
        let c = day_cost(&api).await.ok()?;
        (gross(&c) == Some(525)).then_some(c)
    })
    .await;
    let cost = match cost {
        Ok(c) => c,
        Err(e) => anyhow::bail!("{e}: {}\n{}", day_cost(&api).await?, first.log_tail()),
    };
    let line = &cost["periods"][0]["tariffs"][0];
    assert_eq!(line["id"], "spot", "{cost}");
    assert_eq!(line["energy_net_cents"].as_i64(), Some(441), "{cost}");
    assert_eq!(line["vat_cents"].as_i64(), Some(84), "{cost}");

    // The API's account may read prices, not publish them: the broker drops its message. A malformed
    // message from the prices account is counted. A last valid message (the next day) shows both were
    // handled before it.
    let api_login = stack.mqtt_credentials(BusRole::Api);
    let forged = message(day_start(), 24, |_| 99.0);
    publish(&stack, &api_login, serde_json::to_vec(&forged)?).await?;
    publish(&stack, &prices, b"{\"v\":1,\"series\":".to_vec()).await?;
    let next = message(day_start() + TimeDelta::days(1), 24, |_| 1.0);
    publish(&stack, &prices, serde_json::to_vec(&next)?).await?;
    counter_reaches(&api, "zw_api_prices_merged_total 2").await?;
    counter_reaches(&api, "zw_api_prices_rejected_total{reason=\"malformed\"} 1").await?;
    assert_eq!(
        gross(&day_cost(&api).await?),
        Some(525),
        "the forged prices applied"
    );

    // Restart: the messages were not retained, so the prices come from api.prices_file (once it holds
    // both days).
    let file = cfg.api.prices_file.clone().context("prices file")?;
    eventually(Duration::from_secs(20), "both days kept", || async {
        let v: Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
        (v["series"][0]["prices"].as_array()?.len() == 48).then_some(())
    })
    .await?;
    first.stop(Duration::from_secs(15)).await?;
    let second = start_api(&stack, &cfg_path, &api).await?;
    let after = day_cost(&api).await?;
    assert_eq!(gross(&after), Some(525), "{after}\n{}", second.log_tail());
    second.stop(Duration::from_secs(15)).await?;
    Ok(())
}
