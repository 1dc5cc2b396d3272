//! Wireless M-Bus end to end: golden telegrams of `meters/tests/fixtures` published as a receiver would
//! (hex, and JSON `{"telegram": …}`) on `wmbus/{receiver}/telegram` of the real broker reach InfluxDB through
//! the real gateway and ingest with the fixture's expected values in canonical units; an encrypted one
//! decodes with the right key; a wrong key gives no values and counts; a second receiver's copy is a counted
//! duplicate; a meter not in the inventory shows in the unknown-meters metric.

use std::time::Duration;

use anyhow::Context as _;
use rumqttc::QoS;
use zw_model::counter::gas::GasConversion;
use zw_model::{Device, Inventory};
use zw_tests::{Stack, free_port, influx_query};

use crate::support::config::{admin, serving, write};
use crate::support::{Zaehlwerk, eventually, get, metrics};

const WAIT: Duration = Duration::from_secs(40);
const FIXTURES: &str = include_str!("../../meters/tests/fixtures/mbus_telegrams.json");
const ELSTER_KEY: &str = "0102030405060708090A0B0C0D0E0F11";
/// Not the Engelmann WaterStar's key (that is BEDB81B5…).
const WRONG_KEY: &str = "00112233445566778899AABBCCDDEEFF";

fn fixture(name: &str) -> anyhow::Result<serde_json::Value> {
    let all: serde_json::Value = serde_json::from_str(FIXTURES)?;
    all["telegrams"]
        .as_array()
        .context("telegrams")?
        .iter()
        .find(|t| t["name"] == name)
        .cloned()
        .with_context(|| format!("fixture {name}"))
}

/// Keys are never serialized: put them into the rendered config after the meter's id, as an operator's file
/// has them.
fn with_key(toml: &str, meter_id: &str, key: &str) -> String {
    toml.lines()
        .map(|l| {
            let t = l.trim_start();
            if t == format!("id = \"{meter_id}\"") {
                format!("{l}\nkey = \"{key}\"")
            } else if l.contains(&format!("id = \"{meter_id}\"")) {
                l.replace(
                    &format!("id = \"{meter_id}\""),
                    &format!("id = \"{meter_id}\", key = \"{key}\""),
                )
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn series(stack: &Stack, device: &str) -> anyhow::Result<serde_json::Value> {
    let q = format!("SELECT * FROM readings WHERE device = '{device}'");
    let answer = influx_query(&stack.influx_url(), stack.influx_db(), &q).await?;
    Ok(answer.pointer("/results/0/series/0").cloned().unwrap_or_default())
}

/// The first row's value of `field` in an InfluxDB series.
fn field(series: &serde_json::Value, name: &str) -> Option<f64> {
    let col = series["columns"].as_array()?.iter().position(|c| c == name)?;
    series["values"][0][col].as_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wmbus_telegrams_reach_influxdb_wrong_keys_and_unknown_meters_are_counted() -> anyhow::Result<()> {
    let heat = fixture("engelmann_sensostar_heat_wireless")?;
    let gas = fixture("elster_gas_mode5_oms_example")?;
    let water = fixture("engelmann_waterstar_m_mode5")?;
    let unknown = fixture("sensus_iperl_water_t1")?;
    assert_eq!(gas["key"], ELSTER_KEY);
    assert_ne!(water["key"], WRONG_KEY);

    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    cfg.inventory = Inventory::builder()
        .building(
            "schule",
            [
                Device::wmbus("heat-1", "EFE", "21750444", None),
                Device::wmbus("gas-1", "ELS", "12345678", None),
                Device::wmbus("water-1", "DWZ", "20096221", None),
            ],
        )
        .build();
    cfg.inventory.users.push(admin());
    let path = write(&stack, &cfg)?;
    let toml = std::fs::read_to_string(&path)?;
    assert!(!toml.contains("key ="), "no key is ever serialized");
    let toml = with_key(&with_key(&toml, "12345678", ELSTER_KEY), "20096221", WRONG_KEY);
    std::fs::write(&path, toml)?;

    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| all.log_tail())?;

    let sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-wmbus-rx",
        &["wmbus/#"],
        QoS::AtLeastOnce,
    )
    .await?;
    let mqtt = sub.client;
    let hex = |t: &serde_json::Value| t["hex"].as_str().unwrap_or_default().to_owned();
    let messages = [
        hex(&heat),
        format!(r#"{{"telegram":"{}","rssi":-71}}"#, hex(&gas)),
        hex(&water),
        hex(&unknown),
    ];
    // Publish until the gateway (subscribing asynchronously) has passed the heat and gas meters through.
    let (heat_row, gas_row) = eventually(WAIT, "heat and gas readings in InfluxDB", || {
        let (mqtt, messages, stack) = (mqtt.clone(), messages.clone(), &stack);
        async move {
            for m in messages {
                mqtt.publish("wmbus/rx1/telegram", QoS::AtLeastOnce, false, m)
                    .await
                    .ok()?;
            }
            let h = series(stack, "heat-1").await.ok()?;
            let g = series(stack, "gas-1").await.ok()?;
            (!h.is_null() && !g.is_null()).then_some((h, g))
        }
    })
    .await
    .with_context(|| all.log_tail())?;

    let e = &heat["expect"];
    let kwh = e["total_energy_kwh"].as_f64().context("kWh")?;
    assert_eq!(field(&heat_row, "heat_energy"), Some(kwh * 1000.0), "{heat_row}");
    assert_eq!(
        field(&heat_row, "volume"),
        e["total_volume_m3"].as_f64(),
        "{heat_row}"
    );
    assert_eq!(
        field(&heat_row, "volume_flow"),
        e["volume_flow_m3h"].as_f64(),
        "{heat_row}"
    );
    assert_eq!(
        field(&heat_row, "flow_temperature"),
        e["flow_temperature_c"].as_f64(),
        "{heat_row}"
    );
    assert_eq!(
        field(&heat_row, "return_temperature"),
        e["return_temperature_c"].as_f64(),
        "{heat_row}"
    );
    assert_eq!(
        field(&gas_row, "gas_volume"),
        gas["expect"]["total_volume_m3"].as_f64(),
        "{gas_row}"
    );

    // A second receiver hears the heat meter's telegram too: a duplicate, counted, not a second reading.
    mqtt.publish(
        "wmbus/rx2/telegram",
        QoS::AtLeastOnce,
        false,
        format!(r#"{{"telegram":"{}"}}"#, hex(&heat).to_lowercase()),
    )
    .await?;
    let text = eventually(
        WAIT,
        "wrong key, duplicate and unknown meter in the metrics",
        || async {
            let text = metrics(&api).await?;
            let has = |s: &str| text.lines().any(|l| l.starts_with(s) && !l.ends_with(" 0"));
            (has(r#"zw_gateway_wmbus_telegrams_total{outcome="wrong_key"}"#)
                && has(r#"zw_gateway_wmbus_telegrams_total{outcome="duplicate"}"#)
                && text.contains(r#"id="33225544""#))
            .then_some(text)
        },
    )
    .await
    .with_context(|| all.log_tail())?;
    let listed = text
        .lines()
        .find(|l| {
            l.starts_with("zw_gateway_wmbus_unknown_meter_telegrams{") && l.contains(r#"id="33225544""#)
        })
        .context("the unknown meter's series")?;
    assert!(
        listed.contains(r#"manufacturer="SEN""#)
            && listed.contains(r#"medium="water""#)
            && listed.contains(r#"device_type="07""#),
        "{listed}"
    );
    assert!(text.contains("zw_gateway_wmbus_unknown_meters 1"), "{text}");
    // The wrong key produced no values, and the key never reached the log.
    assert!(
        series(&stack, "water-1").await?.is_null(),
        "no values with a wrong key"
    );
    let log = std::fs::read_to_string(&all.log)?;
    assert_eq!(log.matches("wrong key").count(), 1, "logged once: {log}");
    assert!(!log.contains(WRONG_KEY) && !log.contains(ELSTER_KEY), "{log}");
    all.stop(Duration::from_secs(10)).await?;
    Ok(())
}

/// One local hour two hours from now (Europe/Berlin, `gateway.wmbus.timezone`'s default): `"H-H+1"`.
fn later_hours() -> String {
    use chrono::Timelike as _;
    let h = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Berlin)
        .hour();
    let from = (h + 2) % 24;
    format!("{from}-{}", from + 1)
}

/// The simulator's wireless M-Bus receiver (heat meter as hex, water meter as JSON, a gas meter) through the
/// broker, gateway and ingest to the API's live values, and the gas meter's m³ of today to kWh with the town
/// hall's `[[gas_conversions]]` (E = V × Z × Hₛ).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_heat_and_water_meters_reach_the_api() -> anyhow::Result<()> {
    use zw_sim::wmbus::{Medium, WmbusMeterConfig};
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let api_port = free_port();
    let mut cfg = serving(&stack, api_port);
    let meter = |medium, id: &str| WmbusMeterConfig {
        receiver: "rx-e2e".into(),
        medium,
        manufacturer: "ZWS".into(),
        id: id.into(),
        interval: Duration::from_secs(1),
    };
    cfg.sim = zw_sim::Config {
        modbus_listen: ([127, 0, 0, 1], 0).into(),
        meters: Vec::new(),
        plugs: Vec::new(),
        soil_sensors: Vec::new(),
        wmbus_meters: vec![
            meter(Medium::Heat, "20260001"),
            meter(Medium::Water, "20260003"),
            meter(Medium::Gas, "20260002"),
        ],
        ..zw_sim::Config::default()
    };
    cfg.inventory = Inventory::builder()
        .building(
            "schule",
            [
                Device::wmbus("heat-1", "ZWS", "20260001", None),
                Device::wmbus("water-1", "ZWS", "20260003", None),
            ],
        )
        .building(
            "rathaus",
            [
                Device::wmbus("gas-1", "ZWS", "20260002", None).class("gas_meter"),
                // Two meters the simulator does not have: one expected at all hours, one only in an hour
                // two hours ahead (local time), so its silence now is expected.
                Device::wmbus("silent-1", "ZWS", "20269998", None),
                Device::wmbus("later-1", "ZWS", "20269999", None).send_hours(&later_hours()),
            ],
        )
        .build();
    cfg.gateway.wmbus.stale_after = Duration::from_secs(5);
    let (hs, z) = (11.2, 0.9674);
    cfg.inventory.gas_conversions = vec![GasConversion {
        site: "rathaus".into(),
        valid_from: chrono::NaiveDate::from_ymd_opt(2020, 1, 1).context("date")?,
        calorific_value_kwh_per_m3: hs,
        z_factor: z,
    }];
    cfg.inventory.users.push(admin());
    let path = write(&stack, &cfg)?;
    let sim = Zaehlwerk::start("sim", &path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    for (device, q) in [
        ("heat-1", "heat_energy"),
        ("heat-1", "flow_temperature"),
        ("heat-1", "heat_power"),
        ("water-1", "volume"),
        ("gas-1", "gas_volume"),
    ] {
        let url = format!("{api}/api/v1/devices/{device}/live");
        let v = eventually(WAIT, &format!("{device} {q}"), || {
            let url = url.clone();
            async move {
                let (s, body) = get(&url, Some("tok-admin")).await.ok()?;
                (s == 200).then(|| body["values"][q]["value"].as_f64()).flatten()
            }
        })
        .await
        .with_context(|| format!("all:\n{}\nsim:\n{}", all.log_tail(), sim.log_tail()))?;
        assert!(v > 0.0, "{device} {q} = {v}");
    }
    // The gas of today, once the meter has counted a few litres: m³ and their kWh through the conversion,
    // for the device and for the town hall.
    for path in ["devices/gas-1", "sites/rathaus"] {
        let url = format!("{api}/api/v1/{path}/energy?period=day&count=1&medium=gas");
        let today = eventually(WAIT, &format!("{path}: gas of today"), || {
            let url = url.clone();
            async move {
                let (s, body) = get(&url, Some("tok-admin")).await.ok()?;
                let today = body["periods"][0].clone();
                (s == 200 && today["m3"].as_f64()? > 0.0).then_some(today)
            }
        })
        .await
        .with_context(|| format!("all:\n{}\nsim:\n{}", all.log_tail(), sim.log_tail()))?;
        let m3 = today["m3"].as_f64().context("m3")?;
        let wh = today["wh"].as_f64().with_context(|| format!("no kWh: {today}"))?;
        let want = m3 * z * hs * 1000.0;
        assert!(
            (wh - want).abs() < 1e-6 * want,
            "{path}: {wh} Wh from {m3} m³, not {want}"
        );
    }
    // The freshness alarm: the silent meter is offline as stale, the one outside its send hours is not, the
    // meters that send are online.
    let url = format!("{api}/api/v1/devices");
    let list = eventually(WAIT, "silent-1 stale", || async {
        let (s, body) = get(&url, Some("tok-admin")).await.ok()?;
        let of = |d: &str| {
            body.as_array()?
                .iter()
                .find(|x| x["id"] == d)
                .map(|x| x["health"].clone())
        };
        let silent = of("silent-1")?;
        (s == 200 && silent["state"] == "offline").then_some(body)
    })
    .await
    .with_context(|| all.log_tail())?;
    let health = |d: &str| {
        list.as_array()
            .and_then(|l| l.iter().find(|x| x["id"] == d))
            .map(|x| x["health"].clone())
            .unwrap_or_default()
    };
    let silent = health("silent-1");
    let reason = silent["last_error"]["message"].as_str().unwrap_or_default();
    assert!(reason.starts_with("stale: no reading"), "{silent}");
    assert_eq!(silent["last_error"]["kind"], "timeout", "{silent}");
    assert_eq!(health("later-1")["state"], "unknown", "{list}");
    for d in ["heat-1", "water-1", "gas-1"] {
        assert_eq!(health(d)["state"], "online", "{d}: {list}");
    }
    // The school has no gas meter: its gas is unknown, never 0.
    let url = format!("{api}/api/v1/sites/schule/energy?period=day&count=1&medium=gas");
    let (s, body) = get(&url, Some("tok-admin")).await?;
    assert_eq!(s, 200, "{body}");
    assert!(body["periods"][0]["m3"].is_null(), "{body}");
    all.stop(Duration::from_secs(10)).await?;
    sim.stop(Duration::from_secs(10)).await?;
    Ok(())
}
