//! Every shipped meter profile end to end: simulated SDM630, SDM120, SDM72D-M v2 and Janitza B23 behind one
//! Modbus TCP connection (plus a dead meter and an exception-answering one beside them, and an SDM630 over
//! RTU-over-TCP framing) → `zaehlwerk all` → mosquitto → ingest → InfluxDB. Stored values must equal what
//! an independent tokio-modbus client reads at the vendors' addresses (typed in here from the datasheets,
//! not taken from the profile files), converted kWh → Wh. Device health is retained on the bus.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context as _;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio_modbus::client::{Context, Reader as _};
use tokio_modbus::prelude::{Slave, SlaveContext as _};
use zw_config::Config;
use zw_model::Inventory;
use zw_model::inventory::fixtures::building_with_meters;
use zw_model::status::{DeviceStatus, ErrorKind, HealthState};
use zw_sim::{FaultConfig, FaultKind, Framing, MeterConfig, MeterModel};
use zw_tests::{Stack, free_port};

use crate::fixture::WAIT;
use crate::support::config::{connected, write};
use crate::support::{Zaehlwerk, eventually, get};

fn config(stack: &Stack, api: u16, modbus: u16, rtu: u16) -> Config {
    let mut cfg = connected(stack);
    cfg.api.listen = ([127, 0, 0, 1], api).into();
    cfg.ingest.batch_interval = Duration::from_millis(200);
    cfg.gateway.request_timeout = Duration::from_millis(300);
    cfg.gateway.modbus.probe_timeout = Duration::from_millis(50);
    let sim = &mut cfg.sim;
    sim.modbus_listen = ([127, 0, 0, 1], modbus).into();
    // Values stay put after the first steps, so an independent read sees what the gateway saw.
    sim.update_interval = Duration::from_secs(3600);
    sim.plugs = Vec::new();
    sim.soil_sensors = Vec::new();
    let meter = |unit_id, profile| MeterConfig {
        profile,
        ..MeterConfig::sdm630(unit_id)
    };
    let faulty = |unit_id, fault| MeterConfig {
        faults: vec![fault],
        ..MeterConfig::sdm630(unit_id)
    };
    sim.meters = vec![
        meter(1, MeterModel::Sdm630),
        meter(2, MeterModel::Sdm120),
        meter(3, MeterModel::Sdm72dmV2),
        meter(4, MeterModel::JanitzaB23),
        faulty(5, FaultConfig::always(FaultKind::NoAnswer)),
        faulty(
            6,
            FaultConfig {
                code: 6,
                ..FaultConfig::always(FaultKind::Exception)
            },
        ),
        MeterConfig {
            listen: Some(([127, 0, 0, 1], rtu).into()),
            framing: Framing::Rtu,
            ..MeterConfig::sdm630(7)
        },
    ];
    let tcp = format!("tcp://127.0.0.1:{modbus}");
    let meters = [
        ("mb-sdm630", tcp.clone(), 1, "sdm630"),
        ("mb-sdm120", format!("127.0.0.1:{modbus}"), 2, "sdm120"),
        ("mb-sdm72", tcp.clone(), 3, "sdm72dm-v2"),
        ("mb-b23", tcp.clone(), 4, "janitza-b23"),
        ("mb-dead", tcp.clone(), 5, "sdm630"),
        ("mb-busy", tcp, 6, "sdm630"),
        ("mb-rtu", format!("rtutcp://127.0.0.1:{rtu}"), 7, "sdm630"),
    ];
    let werkhof = building_with_meters("werkhof", &meters, Duration::from_millis(500));
    cfg.inventory = Inventory::builder().site(werkhof).build();
    cfg
}

/// (function code, address) of import, export and voltage L1 per profile, from the vendors' tables.
fn datasheet(profile: &str) -> (u8, [u16; 3]) {
    match profile {
        "janitza-b23" => (3, [0x4A7C, 0x4A84, 0x4A38]),
        _ => (4, [0x0048, 0x004A, 0x0000]),
    }
}

async fn read_f32(ctx: &mut Context, fc: u8, addr: u16) -> anyhow::Result<f64> {
    let regs = if fc == 3 {
        ctx.read_holding_registers(addr, 2).await??
    } else {
        ctx.read_input_registers(addr, 2).await??
    };
    Ok(f64::from(f32::from_bits(
        (u32::from(regs[0]) << 16) | u32::from(regs[1]),
    )))
}

/// Retained device statuses, read by a fresh subscriber.
async fn statuses(port: u16) -> anyhow::Result<HashMap<String, DeviceStatus>> {
    let (client, mut events) =
        AsyncClient::new(zw_tests::mqtt::options("e2e-status", "127.0.0.1", port), 100);
    client
        .subscribe(zw_model::topic::DEVICE_STATUS_FILTER, QoS::AtMostOnce)
        .await?;
    let mut out = HashMap::new();
    // Retained messages arrive right after the SUBACK; stop once the stream goes quiet.
    while let Ok(Ok(ev)) = tokio::time::timeout(Duration::from_millis(500), events.poll()).await {
        if let Event::Incoming(Packet::Publish(p)) = ev {
            let s = DeviceStatus::from_json(&p.payload).map_err(anyhow::Error::msg)?;
            out.insert(s.device.to_string(), s);
        }
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_profile_reaches_influxdb_with_the_meters_values() -> anyhow::Result<()> {
    let stack = Stack::builder().mosquitto().influxd().start().await?;
    let (api_port, modbus_port, rtu_port) = (free_port(), free_port(), free_port());
    let cfg_path = write(&stack, &config(&stack, api_port, modbus_port, rtu_port))?;
    let sim = Zaehlwerk::start("sim", &cfg_path, stack.state_dir())?;
    let all = Zaehlwerk::start("all", &cfg_path, stack.state_dir())?;
    let api = format!("http://127.0.0.1:{api_port}");
    eventually(WAIT, "/readyz", || async {
        (get(&format!("{api}/readyz"), None).await.ok()?.0 == 200).then_some(())
    })
    .await
    .with_context(|| format!("sim:\n{}\nall:\n{}", sim.log_tail(), all.log_tail()))?;

    let influx = crate::support::influx(&stack)?;
    let tcp = format!("127.0.0.1:{modbus_port}").parse()?;
    let mut ctx = tokio_modbus::client::tcp::connect(tcp).await?;
    let rtu_stream = tokio::net::TcpStream::connect(("127.0.0.1", rtu_port)).await?;
    let mut rtu = tokio_modbus::client::rtu::attach_slave(rtu_stream, Slave(7));
    let cases = [
        ("mb-sdm630", 1, "sdm630"),
        ("mb-sdm120", 2, "sdm120"),
        ("mb-sdm72", 3, "sdm72dm-v2"),
        ("mb-b23", 4, "janitza-b23"),
        ("mb-rtu", 7, "sdm630"),
    ];
    for (device, unit, profile) in cases {
        let (fc, [import, export, voltage]) = datasheet(profile);
        let c = if device == "mb-rtu" { &mut rtu } else { &mut ctx };
        c.set_slave(Slave(unit));
        let want = [
            read_f32(c, fc, import).await? * 1000.0,
            read_f32(c, fc, export).await? * 1000.0,
            read_f32(c, fc, voltage).await?,
        ];
        assert!(
            want[0] > 0.0 && (200.0..260.0).contains(&want[2]),
            "{device}: {want:?}"
        );
        let rows = eventually(WAIT, &format!("{device} in InfluxDB"), || async {
            let series = influx
                .query(
                    "SELECT energy_import, energy_export, voltage_l1 FROM readings WHERE device = $d",
                    &[("d", device)],
                )
                .await
                .ok()?;
            let rows: Vec<[f64; 3]> = series
                .first()?
                .values
                .iter()
                .filter_map(|r| Some([r.get(1)?.as_f64()?, r.get(2)?.as_f64()?, r.get(3)?.as_f64()?]))
                .collect();
            (!rows.is_empty()).then_some(rows)
        })
        .await
        .with_context(|| all.log_tail())?;
        // InfluxDB 1.x's float parser is not always correctly rounded (229.24732971191406 comes back as
        // 229.2473297119141): equal to 1e-12, relative.
        let same = |r: &[f64; 3]| r.iter().zip(want).all(|(a, b)| (a - b).abs() <= 1e-12 * b.abs());
        assert!(
            rows.iter().all(same),
            "{device}: stored {rows:?}, meter says {want:?}"
        );
    }

    // The B23 has no total-power register: the profile derives it from the phases of the same poll.
    let sums = influx
        .query(
            "SELECT active_power, active_power_l1, active_power_l2, active_power_l3 FROM readings WHERE device = $d",
            &[("d", "mb-b23")],
        )
        .await?;
    let rows = &sums.first().context("mb-b23 rows")?.values;
    assert!(!rows.is_empty());
    for r in rows {
        let v: Vec<f64> = (1..=4).filter_map(|i| r.get(i)?.as_f64()).collect();
        assert_eq!(
            v.len(),
            4,
            "every B23 point has the total and three phases: {r:?}"
        );
        assert!(
            (v[0] - (v[1] + v[2] + v[3])).abs() <= 1e-9 * v[0].abs().max(1.0),
            "{v:?}"
        );
    }

    // Health: retained on the bus, timeout and exception told apart.
    let status = eventually(WAIT, "device statuses", || async {
        let s = statuses(stack.mqtt_port()).await.ok()?;
        let offline = |id: &str| s.get(id).is_some_and(|x| x.state == HealthState::Offline);
        (offline("mb-dead") && offline("mb-busy") && s.len() == 7).then_some(s)
    })
    .await
    .with_context(|| all.log_tail())?;
    for (device, ..) in cases {
        assert_eq!(status[device].state, HealthState::Online, "{:?}", status[device]);
        assert!(status[device].last_success.is_some());
    }
    assert_eq!(
        status["mb-dead"].last_error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Timeout)
    );
    assert_eq!(
        status["mb-busy"].last_error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Exception)
    );

    let metrics = reqwest::get(format!("{api}/metrics")).await?.text().await?;
    for m in [
        "zw_gateway_modbus_exceptions_total{code=\"server_device_busy\"}",
        "zw_gateway_modbus_requests_total{result=\"timeout\"}",
    ] {
        assert!(metrics.contains(m), "missing {m}");
    }
    all.stop(Duration::from_secs(15)).await?;
    sim.stop(Duration::from_secs(15)).await
}
