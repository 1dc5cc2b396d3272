//! The walking skeleton end to end: simulator → gateway → broker → ingest → InfluxDB, and the API shows the
//! live values of the meter, the plug and the soil sensor, equal to what the simulator served.

use anyhow::Context as _;
use rumqttc::QoS;
use tokio::sync::mpsc;
use tokio_modbus::client::Reader as _;
use zw_tests::Stack;

use crate::fixture::{System, WAIT};
use crate::support::{eventually, get};

/// Captures every device payload the simulator publishes, as an independent MQTT subscriber.
async fn capture(stack: &Stack) -> mpsc::UnboundedReceiver<(String, Vec<u8>)> {
    let filters = ["tele/+/SENSOR", "v3/+/devices/+/up"];
    let sub = zw_tests::mqtt::subscribe(
        stack.mqtt_host(),
        stack.mqtt_port(),
        "e2e-capture",
        &filters,
        QoS::AtMostOnce,
    )
    .await
    .expect("subscribe");
    sub.messages
}

fn num(v: &serde_json::Value) -> f64 {
    match v {
        serde_json::Value::String(s) => s.parse().unwrap_or(f64::NAN),
        other => other.as_f64().unwrap_or(f64::NAN),
    }
}

/// Canonical values the gateway must derive from a captured device payload.
fn expected_from(topic: &str, payload: &serde_json::Value) -> Vec<(&'static str, f64)> {
    if topic.starts_with("tele/") {
        let e = &payload["ENERGY"];
        vec![
            ("energy_import", num(&e["Total"]) * 1000.0),
            ("active_power", num(&e["Power"])),
            ("voltage_l1", num(&e["Voltage"])),
        ]
    } else {
        let d = &payload["uplink_message"]["decoded_payload"];
        vec![
            ("soil_moisture", num(&d["water_SOIL"])),
            ("soil_temperature", num(&d["temp_SOIL"])),
            ("battery_voltage", num(&d["Bat"])),
        ]
    }
}

fn matches(live: &serde_json::Value, want: &[(&str, f64)]) -> bool {
    want.iter().all(|(q, v)| {
        live["values"][q]["value"]
            .as_f64()
            .is_some_and(|x| (x - v).abs() < 1e-9)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_flows_from_simulated_devices_to_api_and_influxdb() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    // Subscribe before the simulator starts, so no payload is missed.
    let mut captured = capture(&stack).await;
    let sys = System::start(stack).await?;
    let (stack, api, modbus_port) = (&sys.stack, sys.api.clone(), sys.modbus_port);

    // The meter: read the import register ourselves, as an independent Modbus client.
    let addr = format!("127.0.0.1:{modbus_port}").parse()?;
    let mut modbus = tokio_modbus::client::tcp::connect_slave(addr, tokio_modbus::Slave(1)).await?;
    let regs = modbus.read_input_registers(0x0048, 2).await??;
    let kwh = f32::from_bits((u32::from(regs[0]) << 16) | u32::from(regs[1]));
    let want_wh = f64::from(kwh) * 1000.0;
    assert!(want_wh > 0.0);
    let live_url = format!("{api}/api/v1/devices/rathaus-main/live");
    let meter = eventually(WAIT, "meter live values", || async {
        let (s, body) = get(&live_url, Some("tok-fm")).await.ok()?;
        (s == 200 && body["values"]["energy_import"]["value"].is_number()).then_some(body)
    })
    .await
    .with_context(|| sys.all.log_tail())?;
    assert_eq!(
        meter["values"]["energy_import"]["value"].as_f64(),
        Some(want_wh),
        "{meter}"
    );
    assert_eq!(meter["values"]["energy_import"]["unit"], "Wh");
    for q in [
        "voltage_l1",
        "current_l1",
        "active_power",
        "frequency",
        "energy_export",
        "power_factor",
    ] {
        assert!(meter["values"][q]["value"].is_number(), "{q} missing: {meter}");
    }
    assert!(
        meter["age_seconds"]
            .as_f64()
            .is_some_and(|a| (0.0..5.0).contains(&a)),
        "{meter}"
    );

    // The plug and the soil sensor: the API must show exactly what one of the captured payloads said.
    let mut seen: Vec<(String, serde_json::Value)> = Vec::new();
    for (device, token, topic_prefix) in [("hh-1-plug", "tok-res1", "tele/"), ("soil-1", "tok-parks", "v3/")]
    {
        let url = format!("{api}/api/v1/devices/{device}/live");
        eventually(
            WAIT,
            &format!("{device} live values equal to a captured payload"),
            || {
                while let Ok((topic, payload)) = captured.try_recv() {
                    if let Ok(v) = serde_json::from_slice(&payload) {
                        seen.push((topic, v));
                    }
                }
                let (url, seen) = (url.clone(), seen.clone());
                async move {
                    let (s, live) = get(&url, Some(token)).await.ok()?;
                    (s == 200
                        && seen.iter().any(|(t, p)| {
                            t.starts_with(topic_prefix) && matches(&live, &expected_from(t, p))
                        }))
                    .then_some(())
                }
            },
        )
        .await
        .with_context(|| sys.all.log_tail())?;
    }

    // Scope: another household's resident gets 404, the same as for an unknown device.
    assert_eq!(
        get(&format!("{api}/api/v1/devices/hh-1-plug/live"), Some("tok-res2"))
            .await?
            .0,
        404
    );
    assert_eq!(
        get(
            &format!("{api}/api/v1/devices/rathaus-main/live"),
            Some("tok-res1")
        )
        .await?
        .0,
        404
    );
    let (_, list) = get(&format!("{api}/api/v1/devices"), Some("tok-res2")).await?;
    assert_eq!(list, serde_json::json!([]));

    // InfluxDB holds the meter's import energy as the same quantity in Wh (bind parameter, not string-built).
    let influx = crate::support::influx(stack)?;
    let stored = eventually(WAIT, "meter points in InfluxDB", || async {
        let series = influx
            .query(
                "SELECT energy_import FROM readings WHERE device = $device",
                &[("device", "rathaus-main")],
            )
            .await
            .ok()?;
        let values: Vec<f64> = series
            .first()?
            .values
            .iter()
            .filter_map(|row| row.get(1)?.as_f64())
            .collect();
        (!values.is_empty()).then_some(values)
    })
    .await?;
    assert!(stored.iter().all(|v| *v == want_wh), "{stored:?} != {want_wh}");
    eventually(WAIT, "soil points in InfluxDB", || async {
        let soil = influx
            .query(
                "SELECT count(soil_moisture) FROM readings WHERE device = $d",
                &[("d", "soil-1")],
            )
            .await
            .ok()?;
        soil.first()
            .and_then(|s| s.values.first()?.get(1)?.as_u64())
            .filter(|n| *n > 0)
    })
    .await?;

    // Metrics pass promtool's lint.
    let metrics = reqwest::get(format!("{api}/metrics")).await?.text().await?;
    assert!(metrics.contains("zw_ingest_points_written_total"), "{metrics}");
    promtool_check(&metrics)?;

    // Ordered, clean shutdown.
    sys.stop().await
}

fn promtool_check(metrics: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("promtool not found: run deploy/setup.sh (Debian package prometheus)")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(metrics.as_bytes())?;
    let out = child.wait_with_output()?;
    anyhow::ensure!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
