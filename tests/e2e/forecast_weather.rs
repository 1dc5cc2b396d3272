//! A heat meter's forecast follows the temperature feed (issue 19), against a real InfluxDB and mosquitto.
//!
//! The works' heat meter uses 1 kWh per hour plus 500 Wh per kelvin-day (G20/15) of its local day, for
//! 30 days up to now, on daily means of 4 to 12 °C (a five-day cycle, so the weekly profile cannot take it
//! up). Without any weather the forecast says `source: none`. The harness then publishes the weather feed
//! (retained, as a feed would) with those days observed and a mild forecast (10 °C for a week), then a cold
//! one (−5 °C): the month-end projection rises by about 500 Wh × 15 K·d for each forecast day left in the
//! month, and the answer names the temperatures used.

use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use rumqttc::{AsyncClient, QoS};
use serde_json::{Value, json};
use zw_model::inventory::JsonField;
use zw_model::{Device, Inventory, Quantity, Role};
use zw_tests::{Stack, free_port};

use crate::support::config::{serving, user, write};
use crate::support::{Zaehlwerk, eventually, get};

/// Wh per kelvin-day beyond the 1 kWh per hour.
const WH_PER_KD: f64 = 500.0;

fn temp(day: NaiveDate) -> f64 {
    4.0 + 2.0 * day.to_epoch_days().rem_euclid(5) as f64
}

fn kd(c: f64) -> f64 {
    if c < 15.0 { 20.0 - c } else { 0.0 }
}

/// The weather message issued `now`: the history's days observed, a week forecast at `forecast_c`.
fn weather(now: DateTime<Utc>, days: &[NaiveDate], forecast_c: f64) -> Value {
    let today = now.with_timezone(&Berlin).date_naive();
    let observed: Vec<Value> = days
        .iter()
        .filter(|d| **d < today)
        .map(|d| json!({"day": d.to_string(), "c": temp(*d)}))
        .collect();
    let forecast: Vec<Value> = (0..7)
        .map(|k| json!({"day": (today + TimeDelta::days(k)).to_string(), "c": forecast_c}))
        .collect();
    json!({"v": 1, "area": "town", "issued": now, "source": "e2e",
        "temperature": {"observed": observed, "forecast": forecast}})
}

async fn publish(stack: &Stack, msg: &Value) -> anyhow::Result<()> {
    let opts = zw_tests::mqtt::options("e2e-weather", stack.mqtt_host(), stack.mqtt_port());
    let (client, mut eventloop) = AsyncClient::new(opts, 10);
    client
        .publish(
            "zw/v1/weather/town",
            QoS::AtLeastOnce,
            true,
            serde_json::to_vec(msg)?,
        )
        .await?;
    let done = async {
        loop {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = eventloop.poll().await? {
                return anyhow::Ok(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), done)
        .await
        .context("no PUBACK for the weather")??;
    client.disconnect().await.ok();
    Ok(())
}

async fn forecast(api: &str) -> anyhow::Result<Value> {
    let (status, body) = get(
        &format!("{api}/api/v1/devices/werk-heat/forecast"),
        Some("tok-fm"),
    )
    .await?;
    anyhow::ensure!(status == 200, "{status} {body}");
    Ok(body)
}

/// Forecast days (local days from today, 7 of them) inside `[from, until)`, in days.
fn covered(from: DateTime<Utc>, until: DateTime<Utc>) -> f64 {
    let today = from.with_timezone(&Berlin).date_naive();
    // The edges of the local days `today` to `today + 6`, both included.
    let edges = zw_model::counter::local_day_edges(&Berlin, today, today + TimeDelta::days(6));
    edges
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0].max(from), w[1].min(until));
            (b - a).num_seconds().max(0) as f64 / 86_400.0
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_forecast_raises_a_heat_meters_month_end() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let now = Utc::now();
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let heat = Device::json(
        "werk-heat",
        "meters/werk-heat",
        [JsonField::new("/e", Quantity::HeatEnergy)],
    )
    .class("heat_meter");
    let mut inventory = Inventory::builder().building("werk", [heat]).build();
    inventory.users = vec![user("fm", Role::FacilityManager, &["*"], "tok-fm")];
    cfg.inventory = inventory;
    let errors = cfg.validate();
    anyhow::ensure!(errors.is_empty(), "{errors:?}");

    // 30 local days up to now, quarter-hour counter readings.
    let today = now.with_timezone(&Berlin).date_naive();
    let first = today - TimeDelta::days(30);
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= today).collect();
    let edges = zw_model::counter::local_day_edges(&Berlin, first, today);
    let (mut lines, mut total) = (Vec::new(), 0.0);
    for (day, w) in days.iter().zip(edges.windows(2)) {
        let n = (w[1] - w[0]).num_minutes() / 15;
        let per_quarter = (24_000.0 + WH_PER_KD * kd(temp(*day))) / n as f64;
        for i in 0..n {
            let t = w[0] + TimeDelta::minutes(15 * i);
            if t > now {
                break;
            }
            lines.push(format!(
                "readings,device=werk-heat,site=werk heat_energy={total} {}",
                t.timestamp_millis()
            ));
            total += per_quarter;
        }
    }
    zw_tests::influx_write(&stack.influx_url(), stack.influx_db(), "ms", &lines.join("\n")).await?;

    let cfg_path = write(&stack, &cfg)?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(Duration::from_secs(30), "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    // No temperature known: forecast as before, and says so.
    let plain = forecast(&api).await?;
    assert_eq!(plain["weather"]["source"], "none", "{plain}");
    assert_eq!(plain["weather"]["degree_days_used"], Value::Null, "{plain}");

    let month_wh = |v: &Value| v["month"]["wh"].as_f64().unwrap_or(f64::NAN);
    publish(&stack, &weather(now, &days, 10.0)).await?;
    let mild = eventually(Duration::from_secs(30), "the mild forecast applied", || async {
        let v = forecast(&api).await.ok()?;
        v["weather"]["source"].as_str()?.contains("forecast").then_some(v)
    })
    .await
    .with_context(|| all.log_tail())?;
    publish(&stack, &weather(now, &days, -5.0)).await?;
    let mild_kd = mild["weather"]["degree_days_used"]
        .as_f64()
        .context("degree days")?;
    let cold = eventually(Duration::from_secs(30), "the cold forecast applied", || async {
        let v = forecast(&api).await.ok()?;
        (v["weather"]["degree_days_used"].as_f64()? > mild_kd + 1e-6).then_some(v)
    })
    .await
    .with_context(|| all.log_tail())?;

    // The forecast days left in the month, each 15 K·d colder: 500 Wh per K·d (fitted within a third).
    let from: DateTime<Utc> = mild["from"].as_str().context("from")?.parse()?;
    let until: DateTime<Utc> = mild["month"]["until"].as_str().context("until")?.parse()?;
    let want = WH_PER_KD * 15.0 * covered(from, until);
    assert!(want > 0.0, "{mild}");
    let diff = month_wh(&cold) - month_wh(&mild);
    assert!(
        (diff - want).abs() <= want / 3.0 + 1000.0,
        "month-end rose by {diff} Wh, want {want}: mild {mild} cold {cold}"
    );
    let kd_diff = cold["weather"]["degree_days_used"].as_f64().context("kd")? - mild_kd;
    assert!((kd_diff - 15.0 * covered(from, until)).abs() < 0.5, "{kd_diff}");
    let per_kd = cold["weather"]["wh_per_kd"].as_f64().context("wh_per_kd")?;
    assert!((per_kd - WH_PER_KD).abs() < WH_PER_KD / 3.0, "{cold}");
    assert!(
        cold["weather"]["source"]
            .as_str()
            .is_some_and(|s| s.starts_with("forecast")),
        "{cold}"
    );
    assert_eq!(from.minute(), 0, "{mild}");
    Ok(())
}
