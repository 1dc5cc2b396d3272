//! The Modbus poller against the simulator over real sockets and a real mosquitto: several meters behind
//! one connection, one of them dead, one answering with exceptions, one over RTU-over-TCP framing.
//! Readiness and results are polled for with deadlines, never slept for.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use rumqttc::QoS;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use zw_model::inventory::fixtures::building_with_meters;
use zw_model::status::{DeviceStatus, ErrorKind, HealthState};
use zw_model::{Inventory, Reading};
use zw_sim::{FaultConfig, FaultKind, Framing, MeterConfig, MeterModel};

fn meter(unit_id: u8, profile: MeterModel, faults: Vec<FaultConfig>) -> MeterConfig {
    MeterConfig {
        unit_id,
        profile,
        faults,
        ..MeterConfig::sdm630(unit_id)
    }
}

fn bus(stack: &zw_tests::Stack) -> Result<zw_bus::Bus> {
    let login = stack.mqtt_credentials(zw_tests::Role::Gateway);
    Ok(zw_bus::Bus {
        config: zw_bus::Config {
            port: stack.mqtt_port(),
            username: Some(login.username),
            password: Some(login.password.into()),
            ..zw_bus::Config::default()
        },
        metrics: zw_bus::Metrics::register(&prometheus::Registry::new())?,
    })
}

/// Everything published under `zw/v1/`, as (topic, payload).
async fn subscribe(port: u16) -> Result<mpsc::UnboundedReceiver<(String, Vec<u8>)>> {
    let sub =
        zw_tests::mqtt::subscribe("127.0.0.1", port, "test-capture", &["zw/v1/#"], QoS::AtMostOnce).await?;
    Ok(sub.messages)
}

fn inventory(devices: &[(&str, String, u8, &str)], interval: Duration) -> Result<Inventory> {
    let inv = Inventory::builder()
        .site(building_with_meters("site", devices, interval))
        .build();
    anyhow::ensure!(inv.validate().is_empty(), "{:?}", inv.validate());
    Ok(inv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_meter_on_a_shared_connection_neither_delays_the_others_nor_hides_its_state() -> Result<()> {
    let stack = zw_tests::Stack::builder().mosquitto().start().await?;
    let bus = bus(&stack)?;
    let rtu_port = zw_tests::free_port();
    let rtu_addr: SocketAddr = format!("127.0.0.1:{rtu_port}").parse()?;
    let sim_cfg = zw_sim::Config {
        modbus_listen: "127.0.0.1:0".parse()?,
        meters: vec![
            meter(1, MeterModel::Sdm630, vec![]),
            meter(2, MeterModel::Sdm120, vec![]),
            meter(3, MeterModel::Sdm72dmV2, vec![]),
            meter(4, MeterModel::JanitzaB23, vec![]),
            meter(
                5,
                MeterModel::Sdm630,
                vec![FaultConfig::always(FaultKind::NoAnswer)],
            ),
            meter(
                6,
                MeterModel::Sdm630,
                vec![FaultConfig {
                    code: 2,
                    ..FaultConfig::always(FaultKind::Exception)
                }],
            ),
            MeterConfig {
                listen: Some(rtu_addr),
                framing: Framing::Rtu,
                ..meter(1, MeterModel::Sdm630, vec![])
            },
        ],
        plugs: vec![],
        soil_sensors: vec![],
        update_interval: Duration::from_millis(100),
        ..zw_sim::Config::default()
    };
    let stop = CancellationToken::new();
    let sim = zw_sim::start(sim_cfg, &bus, stop.clone()).await?;
    let tcp = format!("tcp://{}", sim.modbus_addr);
    let devices = [
        ("m-sdm630", tcp.clone(), 1, "sdm630"),
        ("m-sdm120", sim.modbus_addr.to_string(), 2, "sdm120"),
        ("m-sdm72", tcp.clone(), 3, "sdm72dm-v2"),
        ("m-b23", tcp.clone(), 4, "janitza-b23"),
        ("m-dead", tcp.clone(), 5, "sdm630"),
        ("m-refuses", tcp.clone(), 6, "sdm630"),
        ("m-rtu", format!("rtutcp://{rtu_addr}"), 1, "sdm630"),
    ];
    let inv = Arc::new(inventory(&devices, Duration::from_millis(200))?);
    let mut rx = subscribe(stack.mqtt_port()).await?;
    let mut cfg = zw_gateway::Config {
        request_timeout: Duration::from_millis(300),
        ..zw_gateway::Config::default()
    };
    cfg.modbus.probe_timeout = Duration::from_millis(50);
    // Six meters 200 ms apart leave few 50 ms gaps: let probes in sooner and more often than the defaults,
    // so the dead meter is declared offline within the test's window.
    cfg.modbus.probe_max_wait = Duration::from_millis(500);
    cfg.modbus.failing_share = 0.25;
    let registry = prometheus::Registry::new();
    let metrics = zw_gateway::Metrics::register(&registry)?;
    let gw = {
        let (bus, stop) = (bus.clone(), stop.clone());
        tokio::spawn(async move { zw_gateway::run(cfg, inv.into(), &bus, metrics, stop).await })
    };

    // Collect for 3 s of polling after the first reading.
    let (mut readings, mut status): (HashMap<String, Vec<Reading>>, HashMap<String, DeviceStatus>) =
        Default::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut window_end = None;
    while window_end.is_none_or(|end| tokio::time::Instant::now() < end) {
        let Ok(Some((topic, payload))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            bail!(
                "timed out; readings {:?}, status {:?}",
                readings.keys(),
                status.keys()
            );
        };
        if let Some(id) = zw_model::topic::parse_device_status(&topic) {
            status.insert(
                id.to_string(),
                DeviceStatus::from_json(&payload).map_err(anyhow::Error::msg)?,
            );
        } else if topic.starts_with("zw/v1/readings/") {
            let r: Reading = serde_json::from_slice(&payload)?;
            window_end.get_or_insert(tokio::time::Instant::now() + Duration::from_secs(3));
            readings.entry(r.device.to_string()).or_default().push(r);
        }
    }
    // Healthy meters kept their 200 ms rhythm (≈ 15 polls in 3 s) while the dead one timed out beside them.
    for id in ["m-sdm630", "m-sdm120", "m-sdm72", "m-b23", "m-rtu"] {
        let n = readings.get(id).map_or(0, Vec::len);
        assert!(n >= 12, "{id}: only {n} readings in 3 s");
        assert_eq!(
            status.get(id).map(|s| s.state),
            Some(HealthState::Online),
            "{id}: {:?}",
            status.get(id)
        );
    }
    assert!(!readings.contains_key("m-dead") && !readings.contains_key("m-refuses"));
    // Timeout and exception are told apart.
    let dead = status.get("m-dead").context("no status for the dead meter")?;
    assert_eq!(dead.state, HealthState::Offline, "{dead:?}");
    assert_eq!(dead.last_error.as_ref().map(|e| e.kind), Some(ErrorKind::Timeout));
    let refuses = status
        .get("m-refuses")
        .context("no status for the refusing meter")?;
    assert_eq!(
        refuses.last_error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Exception),
        "{refuses:?}"
    );
    assert!(
        refuses
            .last_error
            .as_ref()
            .is_some_and(|e| e.message.contains("illegal_data_address"))
    );
    // Same values as an independent read (the images change every 100 ms, so compare loosely: frequency).
    for r in readings.values().flatten() {
        if let Some(f) = r.values.get(&zw_model::Quantity::Frequency) {
            assert!((49.9..50.1).contains(f), "{r:?}");
        }
    }
    let text = prometheus::TextEncoder::new().encode_to_string(&registry.gather())?;
    for line in [
        "zw_gateway_modbus_requests_total{result=\"timeout\"}",
        "zw_gateway_modbus_exceptions_total{code=\"illegal_data_address\"}",
        "zw_gateway_modbus_probes_total{result=\"failed\"}",
        "zw_gateway_modbus_devices{state=\"offline\"} 2",
        "zw_gateway_modbus_devices{state=\"online\"} 5",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    // The dead unit's timeouts left the shared Modbus TCP connection open (the stream stays in sync; only
    // RTU links re-open after a timeout).
    assert!(
        !text.contains("zw_gateway_modbus_disconnects_total{reason=\"timeout\"}"),
        "a timeout on Modbus TCP re-opened the connection:\n{text}"
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), gw).await???;
    sim.join().await?;
    Ok(())
}

/// RTU on a serial port, through a pseudo-terminal pair: the simulator's SDM630 image answers on the master
/// side, the gateway's transport opens the slave side by path, as it would `/dev/ttyUSB0`.
#[tokio::test]
async fn rtu_over_a_serial_port() -> Result<()> {
    use tokio_modbus::client::Reader as _;
    use tokio_modbus::prelude::SlaveContext as _;
    use tokio_serial::SerialPort as _;
    let (master, slave) = tokio_serial::SerialStream::pair()?;
    let path = slave.name().context("pty has no name")?;
    drop(slave);
    let mut image = MeterModel::Sdm630.new_image();
    image.set_f32(0x0048, 12345.678);
    let service =
        zw_sim::modbus::ImageService::new(HashMap::from([(3, Arc::new(std::sync::RwLock::new(image)))]));
    let server = tokio::spawn(tokio_modbus::server::rtu::Server::new(master).serve_forever(service));

    let endpoint = zw_model::inventory::ModbusEndpoint::parse(&format!("rtu://{path}?baud=19200&parity=N"))
        .map_err(anyhow::Error::msg)?;
    let mut ctx = zw_gateway::modbus::transport::connect(&endpoint, Duration::from_secs(2))
        .await
        .map_err(anyhow::Error::msg)?;
    ctx.set_slave(tokio_modbus::Slave(3));
    let regs = tokio::time::timeout(Duration::from_secs(5), ctx.read_input_registers(0x0048, 2)).await???;
    assert_eq!(regs, [0x4640, 0xE6B6]);
    // A unit nobody answers for: the simulated bus gateway reports it with exception 0x0B.
    ctx.set_slave(tokio_modbus::Slave(9));
    let answer = tokio::time::timeout(Duration::from_secs(5), ctx.read_input_registers(0x0048, 2)).await??;
    assert_eq!(answer, Err(tokio_modbus::ExceptionCode::GatewayTargetDevice));
    server.abort();
    Ok(())
}

/// A dead unit on a shared RS-485 line takes only a bounded share of bus time. The line is simulated at
/// 9600 8N1 behind an RTU-over-TCP server (every frame takes its real time, one frame at a time; one SDM630
/// poll of 76 registers ≈ 180 ms), and the line itself measures each unit's bus time, independent of the
/// gateway's own accounting. Three live meters use about half of the line; the fourth never answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_unit_on_a_shared_rtu_bus_takes_a_bounded_share_of_bus_time() -> Result<()> {
    use zw_sim::faults::Faults;
    use zw_sim::modbus::line::{LineService, LineSettings, RtuLine};
    let stack = zw_tests::Stack::builder().mosquitto().start().await?;
    let bus = bus(&stack)?;
    let now = chrono::Utc::now();
    let mut units = HashMap::new();
    for unit in 1..=4u8 {
        let mut meter = zw_sim::sdm630::Sdm630::new(u64::from(unit));
        meter.step(now);
        let mut image = MeterModel::Sdm630.new_image();
        MeterModel::Sdm630.write_image(&meter, &mut image);
        let faults = if unit == 4 {
            vec![FaultConfig::always(FaultKind::NoAnswer)]
        } else {
            vec![]
        };
        units.insert(
            unit,
            (
                Arc::new(std::sync::RwLock::new(image)),
                Faults::new(u64::from(unit), faults),
            ),
        );
    }
    let line = RtuLine::new(LineSettings::n81(9600));
    let service = LineService::new(
        zw_sim::modbus::ImageService::with_faults(units),
        Arc::clone(&line),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let server = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let on_connected = move |stream: tokio::net::TcpStream, _peer: SocketAddr| {
                let (svc, _kill) = service.for_connection();
                async move { Ok(Some((svc, stream))) }
            };
            tokio_modbus::server::rtu_over_tcp::Server::new(listener)
                .serve_until(&on_connected, |_| {}, stop.cancelled_owned())
                .await
        })
    };
    let ep = format!("rtutcp://{addr}");
    let devices: Vec<(&str, String, u8, &str)> = vec![
        ("b-1", ep.clone(), 1, "sdm630"),
        ("b-2", ep.clone(), 2, "sdm630"),
        ("b-3", ep.clone(), 3, "sdm630"),
        ("b-dead", ep.clone(), 4, "sdm630"),
    ];
    let inv = Arc::new(inventory(&devices, Duration::from_secs(1))?);
    let mut rx = subscribe(stack.mqtt_port()).await?;
    let mut cfg = zw_gateway::Config {
        request_timeout: Duration::from_millis(500),
        ..zw_gateway::Config::default()
    };
    cfg.modbus.probe_timeout = Duration::from_millis(100);
    cfg.modbus.probe_max_wait = Duration::from_secs(1);
    cfg.modbus.failing_share = 0.05;
    let metrics = zw_gateway::Metrics::register(&prometheus::Registry::new())?;
    let gw = {
        let (bus, stop) = (bus.clone(), stop.clone());
        tokio::spawn(async move { zw_gateway::run(cfg, inv.into(), &bus, metrics, stop).await })
    };

    // Wait until the dead unit is reported offline (its first poll and first probes are behind it), then
    // measure the line over a window of readings.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let Ok(Some((topic, payload))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            bail!("the dead unit was never reported offline");
        };
        if zw_model::topic::parse_device_status(&topic).is_some_and(|id| id.as_str() == "b-dead")
            && DeviceStatus::from_json(&payload)
                .map_err(anyhow::Error::msg)?
                .state
                == HealthState::Offline
        {
            break;
        }
    }
    let (t0, before) = (tokio::time::Instant::now(), line.usage());
    let mut readings: HashMap<String, usize> = HashMap::new();
    let window_end = t0 + Duration::from_secs(8);
    while let Ok(Some((topic, payload))) = tokio::time::timeout_at(window_end, rx.recv()).await {
        if topic.starts_with("zw/v1/readings/") {
            let r: Reading = serde_json::from_slice(&payload)?;
            *readings.entry(r.device.to_string()).or_default() += 1;
        }
    }
    let (window, after) = (t0.elapsed(), line.usage());
    let share = |u: u8| {
        let d = after.get(&u).copied().unwrap_or_default() - before.get(&u).copied().unwrap_or_default();
        d.as_secs_f64() / window.as_secs_f64()
    };
    // Live units keep their 1 s rhythm on the half-busy line, each poll taking its ≈ 180 ms of bus time.
    for (u, id) in [(1, "b-1"), (2, "b-2"), (3, "b-3")] {
        let n = readings.get(id).copied().unwrap_or(0);
        assert!(n >= 7, "{id}: only {n} readings in {window:?}");
        assert!(share(u) > 0.12, "{id}: bus share {:.3}", share(u));
    }
    // The dead unit: probes paid from a 5 % budget, plus at most one probe timeout in the window.
    let dead = share(4);
    eprintln!(
        "bus shares over {window:?}: live {:.3} {:.3} {:.3}, dead {dead:.3}",
        share(1),
        share(2),
        share(3)
    );
    let bound = 0.05 + 0.1 / window.as_secs_f64();
    assert!(
        dead <= bound,
        "dead unit took {dead:.3} of the bus (bound {bound:.3})"
    );
    assert!(dead > 0.0, "the dead unit was never probed in the window");
    assert!(!readings.contains_key("b-dead"));
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), gw).await???;
    let _ = server.await;
    Ok(())
}
