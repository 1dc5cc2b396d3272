//! Simulated meters and sensors speaking the real wire formats (Modbus TCP SDM630, Tasmota, The Things Stack).
//!
//! The simulator stands in for the field devices at the very start of the data flow, so the gateway and
//! everything behind it can run without hardware:
//!
//! * Eastron SDM630 meters ([`sdm630`]) served over Modbus TCP from per-unit register images ([`modbus`]),
//!   with the real addresses, float32 "ABCD" encoding and the meter's 80-register/even-count limits.
//! * Tasmota plugs ([`tasmota`]) publishing `tele/<topic>/LWT|STATE|SENSOR` over the MQTT bus.
//! * Dragino LSE01 soil sensors ([`lse01`]) whose uplinks are published as The Things Stack v3 does ([`tts`]).
//!
//! Guarantees: every value is a pure function of the seed, the simulated time and the previous state
//! ([`curves`]), so runs are reproducible; energy counters never decrease; [`start`] binds the Modbus listener
//! before it returns and needs no broker unless plugs or soil sensors are configured; everything stops when the
//! shutdown token is cancelled, and [`SimHandle::join`] waits for it.

pub mod config;
pub mod curves;
pub mod localtime;
pub mod lorawan;
pub mod lse01;
pub mod modbus;
mod mqtt;
pub mod sdm630;
pub mod tasmota;
pub mod tts;

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio::time::{MissedTickBehavior, interval};
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

pub use config::{Config, MeterConfig, PlugConfig, SoilConfig};
use curves::{hash_str, mix};
use modbus::{ImageService, SharedImage};
use sdm630::Sdm630;

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
    let problems = cfg.validate();
    if !problems.is_empty() {
        return Err(SimError::Config(problems));
    }
    let addr = cfg.modbus_listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| SimError::Bind(io::Error::new(e.kind(), format!("{addr}: {e}"))))?;
    let modbus_addr = listener.local_addr().map_err(SimError::Bind)?;

    // Step once before serving, so the first read already sees plausible values.
    let now = Utc::now();
    let mut meters = Vec::with_capacity(cfg.meters.len());
    let mut units = HashMap::with_capacity(cfg.meters.len());
    for m in &cfg.meters {
        let mut meter = Sdm630::new(mix(cfg.seed, 0x5D63_0000 + u64::from(m.unit_id)));
        meter.step(now);
        let mut image = Sdm630::new_image();
        meter.write_image(&mut image);
        let image = Arc::new(RwLock::new(image));
        units.insert(m.unit_id, Arc::clone(&image));
        meters.push((meter, image));
    }

    let stop = shutdown.child_token();
    let mut tasks = JoinSet::new();
    tasks.spawn(serve_modbus(listener, ImageService::new(units), stop.clone()));
    tasks.spawn(update_meters(meters, cfg.update_interval, stop.clone()));
    let bus = bus.clone();
    for plug in &cfg.plugs {
        let seed = mix(cfg.seed, hash_str(&format!("tasmota/{}", plug.topic)));
        let run = mqtt::run_plug(plug.clone(), seed, bus.clone(), stop.clone());
        tasks.spawn(async move {
            run.await;
            Ok(())
        });
    }
    if !cfg.soil_sensors.is_empty() {
        let sensors = cfg.soil_sensors.iter().map(|s| {
            let name = format!("lse01/{}/{}/{}", s.tenant, s.application, s.device_id);
            (s.clone(), mix(cfg.seed, hash_str(&name)))
        });
        let run = mqtt::run_tts(sensors.collect(), bus, stop.clone());
        tasks.spawn(async move {
            run.await;
            Ok(())
        });
    }
    info!(
        modbus = %modbus_addr,
        meters = cfg.meters.len(),
        plugs = cfg.plugs.len(),
        soil_sensors = cfg.soil_sensors.len(),
        seed = cfg.seed,
        "Simulator started."
    );
    Ok(SimHandle {
        modbus_addr,
        tasks,
        stop,
    })
}

/// Serves the register images until `stop`; open connections are closed with the server.
async fn serve_modbus(
    listener: TcpListener,
    service: ImageService,
    stop: CancellationToken,
) -> Result<(), SimError> {
    let on_connected = move |stream, peer| {
        let service = service.clone();
        async move { accept_tcp_connection(stream, peer, |_| Ok(Some(service.clone()))) }
    };
    let on_process_error = |e: io::Error| debug!(error = %e, "Modbus connection closed with an error.");
    Server::new(listener)
        .serve_until(&on_connected, on_process_error, stop.cancelled_owned())
        .await
        .map_err(SimError::Serve)?;
    debug!("Modbus server stopped.");
    Ok(())
}

/// Advances every meter and rewrites its image every `every` until `stop`.
async fn update_meters(
    mut meters: Vec<(Sdm630, SharedImage)>,
    every: Duration,
    stop: CancellationToken,
) -> Result<(), SimError> {
    if meters.is_empty() {
        return Ok(());
    }
    let mut ticker = interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let now = Utc::now();
        for (meter, image) in &mut meters {
            meter.step(now);
            meter.write_image(&mut image.write().unwrap_or_else(PoisonError::into_inner));
        }
    }
}
