//! Simulated meters and sensors speaking the real wire formats (Modbus TCP SDM630, Tasmota, The Things Stack).
//!
//! The simulator stands in for the field devices at the very start of the data flow, so the gateway and
//! everything behind it can run without hardware:
//!
//! * [`modbus`]: Modbus meters ([`modbus::meters`]: Eastron SDM630, SDM120, SDM72D-M v2, Janitza B23)
//!   served over Modbus TCP or RTU over TCP from per-unit register images, with the real addresses,
//!   float32 "ABCD" encoding and the models' request limits; scripted faults ([`modbus::faults`]);
//!   thousands of meters on many listeners for load tests ([`modbus::fleet`]).
//! * [`tasmota`]: Tasmota plugs publishing `tele/<topic>/LWT|STATE|SENSOR` over the MQTT bus.
//! * [`shelly`]: Shelly Gen2/Gen3 plugs and Pro 3EMs publishing their statuses under `<prefix>/…`.
//! * [`wmbus`]: a wireless M-Bus receiver publishing simulated heat, water and gas meters' telegrams as hex.
//! * [`mbus_tcp`]: wired M-Bus meters behind a simulated M-Bus/Ethernet gateway (REQ_UD2/RSP_UD over TCP).
//! * [`sml_tcp`]: SML meters pushing files over TCP, as an optical head behind ser2net.
//! * [`lorawan`]: Dragino LSE01 and Decentlab DL-TRS21 soil sensors whose uplinks are published as The
//!   Things Stack v3 does.
//! * [`weather`]: the simulated weather and its ET0 feed (observed and forecast), published for the demo.
//! * [`prices`]: a simulated day-ahead price series for a dynamic tariff, published for the demo.
//! * [`mqtt`]: what the MQTT devices share: their broker connection and faults on demand.
//! * [`scenario`]: labelled scenarios for evaluating analytics: weeks of buildings, plugs and park trees at
//!   an accelerated clock, with the incidents and sensor faults they contain and the trees' true soil state.
//! * [`config`] (`[sim]`), [`curves`] (seeded randomness and load curves), [`time`] (Berlin time, the
//!   simulated past's span) and `past` (the devices' history handed to a backfill).
//!
//! Guarantees: every value is a pure function of the seed, the simulated time and the previous state
//! ([`curves`]), so runs are reproducible; energy counters never decrease; [`start`] binds the Modbus listener
//! before it returns and needs no broker unless plugs or soil sensors are configured; everything stops when the
//! shutdown token is cancelled, and [`SimHandle::join`] waits for it.

pub mod config;
pub mod curves;
pub mod lorawan;
pub mod mbus_tcp;
pub mod modbus;
pub mod mqtt;
mod past;
pub mod prices;
pub mod scenario;
pub mod shelly;
pub mod sml_tcp;
pub mod surge;
pub mod tasmota;
pub mod time;
pub mod weather;
pub mod wmbus;

use std::io;
use std::net::SocketAddr;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use config::{Config, PlugConfig, SoilConfig};
use curves::{hash_str, mix};
pub use modbus::faults::{FaultConfig, FaultKind};
pub use modbus::fleet::{FleetConfig, Framing, MeterConfig};
pub use modbus::meters::MeterModel;
/// Paths kept for callers from before the simulator had folders (gateway tests use them).
pub use modbus::{faults, sdm630};
pub use past::{HistorySample, Past, PastPublish};

/// Why the simulator could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The config is invalid; one entry per problem.
    #[error("invalid simulator config: {}", .0.join("; "))]
    Config(Vec<String>),
    /// The Modbus listener could not be bound (the message names the address).
    #[error("cannot bind the Modbus listener: {0}")]
    Bind(io::Error),
    /// The Modbus server stopped accepting connections.
    #[error("Modbus server failed: {0}")]
    Serve(io::Error),
    /// A simulator task panicked.
    #[error("simulator task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The running simulator.
#[derive(Debug)]
pub struct SimHandle {
    /// The address the Modbus server actually listens on (the real port when 0 was configured).
    pub modbus_addr: SocketAddr,
    /// Every Modbus listener's actual address: `modbus_addr` first, then the other meters' and the fleets'
    /// listeners in config order.
    pub listeners: Vec<SocketAddr>,
    /// The simulated M-Bus gateways' actual addresses, in `mbus_buses` order.
    pub mbus_addrs: Vec<SocketAddr>,
    /// The simulated SML meters' actual addresses, in `sml_meters` order.
    pub sml_addrs: Vec<SocketAddr>,
    tasks: JoinSet<Result<(), SimError>>,
    /// Child of the caller's shutdown token: cancelled by the caller, or by `join` when a task fails.
    stop: CancellationToken,
}

impl SimHandle {
    /// Waits until every simulator task has stopped. If one fails, the others are stopped too and the first
    /// error is returned.
    pub async fn join(mut self) -> Result<(), SimError> {
        let mut first = None;
        while let Some(done) = self.tasks.join_next().await {
            if let Err(e) = done.map_err(SimError::from).and_then(|r| r) {
                self.stop.cancel();
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// Validates `cfg`, binds the Modbus listener, spawns the server, the meter updater and the MQTT publishers,
/// and returns at once. The broker is only contacted when plugs or soil sensors are configured.
pub async fn start(
    cfg: Config,
    bus: &zw_bus::Bus,
    shutdown: CancellationToken,
) -> Result<SimHandle, SimError> {
    start_with_history(cfg, bus, shutdown, &mut |_| {}).await
}

/// [`start`], first stepping the meters and soil sensors through [`Config::history`] and handing every step
/// (register images, uplinks) to `on_history`, in time order per device, before anything is served.
pub async fn start_with_history(
    cfg: Config,
    bus: &zw_bus::Bus,
    shutdown: CancellationToken,
    on_history: &mut (dyn FnMut(Past<'_>) + Send),
) -> Result<SimHandle, SimError> {
    let problems = cfg.validate();
    if !problems.is_empty() {
        return Err(SimError::Config(problems));
    }
    let mut problems = Vec::new();
    let plans = modbus::fleet::plan(cfg.modbus(), &mut problems);
    let history = time::History::new(cfg.history, cfg.history_step, chrono::Utc::now());
    let (bound, live) = modbus::bind(plans, history, &mut |s| on_history(Past::Meter(s))).await?;
    let listeners = bound
        .iter()
        .map(|b| b.listener.local_addr())
        .collect::<io::Result<Vec<SocketAddr>>>()
        .map_err(SimError::Bind)?;
    let modbus_addr = listeners[0];

    let stop = shutdown.child_token();
    let mut tasks = JoinSet::new();
    for b in bound {
        tasks.spawn(modbus::serve(b, stop.clone()));
    }
    let meters = live.len();
    tasks.spawn(modbus::update_meters(live, cfg.update_interval, stop.clone()));
    let bus = bus.clone();
    // Each simulated MQTT device gets its own seed, derived from the run's seed and its name.
    let device_seed = |name: String| mix(cfg.seed, hash_str(&name));
    for plug in &cfg.plugs {
        let seed = device_seed(format!("tasmota/{}", plug.topic));
        let device = past::plug(plug, seed, history, on_history);
        let run = tasmota::run_plug(
            plug.clone(),
            device,
            cfg.mqtt_faults.clone(),
            bus.clone(),
            stop.clone(),
        );
        spawn_device(&mut tasks, run);
    }
    for shelly in &cfg.shellies {
        let seed = device_seed(format!("shelly/{}", shelly.prefix));
        let device = past::shelly(shelly, seed, history, on_history);
        let run = shelly::run_shelly(
            shelly.clone(),
            device,
            cfg.mqtt_faults.clone(),
            bus.clone(),
            stop.clone(),
        );
        spawn_device(&mut tasks, run);
    }
    if let Some(w) = &cfg.weather {
        let run = weather::run(w.clone(), cfg.seed, bus.clone(), stop.clone());
        spawn_device(&mut tasks, run);
    }
    if let Some(p) = &cfg.prices {
        let run = prices::run(p.clone(), cfg.seed, bus.clone(), stop.clone());
        spawn_device(&mut tasks, run);
    }
    if !cfg.wmbus_meters.is_empty() {
        let run = wmbus::run(cfg.wmbus_meters.clone(), bus.clone(), stop.clone());
        spawn_device(&mut tasks, run);
    }
    let mut mbus_addrs = Vec::new();
    for b in &cfg.mbus_buses {
        let (listener, meters) = mbus_tcp::bind(b).await.map_err(SimError::Bind)?;
        mbus_addrs.push(listener.local_addr().map_err(SimError::Bind)?);
        spawn_device(
            &mut tasks,
            mbus_tcp::serve(listener, meters.clone(), stop.clone()),
        );
        spawn_device(
            &mut tasks,
            mbus_tcp::update(meters, b.update_interval, stop.clone()),
        );
    }
    let mut sml_addrs = Vec::new();
    for m in &cfg.sml_meters {
        let listener = sml_tcp::bind(m).await.map_err(SimError::Bind)?;
        sml_addrs.push(listener.local_addr().map_err(SimError::Bind)?);
        let state = sml_tcp::SmlMeter::default();
        spawn_device(
            &mut tasks,
            sml_tcp::serve(m.clone(), listener, state, true, stop.clone()),
        );
    }
    if !cfg.soil_sensors.is_empty() || !cfg.tension_sensors.is_empty() {
        let tagged = |list: &[SoilConfig], model: &'static str| {
            list.iter()
                .map(|s| {
                    let name = format!("{model}/{}/{}/{}", s.tenant, s.application, s.device_id);
                    (s.clone(), mix(cfg.seed, hash_str(&name)), model == "trs21")
                })
                .collect::<Vec<_>>()
        };
        let mut sensors = tagged(&cfg.soil_sensors, "lse01");
        sensors.extend(tagged(&cfg.tension_sensors, "trs21"));
        let devices = past::soil_sensors(sensors, history, on_history)?;
        let run = lorawan::run_tts(devices, cfg.mqtt_faults.clone(), bus, stop.clone());
        spawn_device(&mut tasks, run);
    }
    info!(
        modbus = %modbus_addr,
        meters,
        listeners = listeners.len(),
        plugs = cfg.plugs.len(),
        soil_sensors = cfg.soil_sensors.len(),
        tension_sensors = cfg.tension_sensors.len(),
        shellies = cfg.shellies.len(),
        seed = cfg.seed,
        "Simulator started."
    );
    Ok(SimHandle {
        modbus_addr,
        listeners,
        mbus_addrs,
        sml_addrs,
        tasks,
        stop,
    })
}

/// Runs one simulated MQTT device (or group) until shutdown; device loops end only when stopped.
fn spawn_device(
    tasks: &mut JoinSet<Result<(), SimError>>,
    run: impl std::future::Future<Output = ()> + Send + 'static,
) {
    tasks.spawn(async move {
        run.await;
        Ok(())
    });
}
