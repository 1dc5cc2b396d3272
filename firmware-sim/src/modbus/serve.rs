//! Running the Modbus side: bind every planned listener, serve its units (Modbus TCP or RTU over TCP), and
//! advance the meters' register images on a ticker.
//!
//! Each accepted connection gets its own service copy (so a `drop_connection` fault ends only that
//! connection) and `TCP_NODELAY` (answers are small and must not wait for Nagle).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::faults::Faults;
use super::fleet::{Framing, ListenerPlan};
use super::line::{LineService, LineSettings, RtuLine};
use super::meters::MeterModel;
use super::sdm630::Sdm630;
use super::{ImageService, KillableStream, RegisterImage, SharedImage};
use crate::SimError;
use crate::time::History;

/// One step of a meter's simulated past ([`crate::Config::history`]): its register image as the device would have
/// answered at `ts`.
#[derive(Debug)]
pub struct HistorySample<'a> {
    /// The listener the meter answers on (its actual address).
    pub listener: SocketAddr,
    /// The meter's unit id.
    pub unit_id: u8,
    /// The simulated time of this image.
    pub ts: DateTime<Utc>,
    /// The register image; [`RegisterImage::read`] answers like the device.
    pub image: &'a RegisterImage,
}

/// A meter being simulated: its building, model, image and faults (for `stuck`).
pub(crate) struct Live {
    meter: Sdm630,
    model: MeterModel,
    image: SharedImage,
    faults: Faults,
}

/// A bound listener with the service for its units.
pub(crate) struct Bound {
    pub listener: TcpListener,
    pub framing: Framing,
    pub service: ImageService,
    /// RTU: the simulated RS-485 line every connection shares.
    pub line: Option<Arc<RtuLine>>,
}

/// Binds every listener and builds the images (stepped to the history's end, so the first read is
/// plausible). Every meter is first stepped through the `history`, each step's image handed to `on_sample`.
pub(crate) async fn bind(
    plans: Vec<ListenerPlan>,
    history: History,
    on_sample: &mut (dyn FnMut(HistorySample<'_>) + Send),
) -> Result<(Vec<Bound>, Vec<Live>), SimError> {
    let (mut bound, mut live) = (Vec::with_capacity(plans.len()), Vec::new());
    for plan in plans {
        let addr = plan.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| SimError::Bind(io::Error::new(e.kind(), format!("{addr}: {e}"))))?;
        let local = listener.local_addr().map_err(SimError::Bind)?;
        let mut units = HashMap::with_capacity(plan.meters.len());
        for m in plan.meters {
            let mut meter = Sdm630::new(m.seed)
                .including(&m.includes)
                .with_surges(m.surges.iter().map(|c| c.resolve(history.now)).collect());
            if m.sub {
                meter = meter.sub_meter();
            }
            let mut image = m.model.new_image();
            if history.start < history.now {
                meter.step(history.start);
                for t in history.times(Duration::ZERO) {
                    meter.step(t);
                    m.model.write_image(&meter, &mut image);
                    on_sample(HistorySample {
                        listener: local,
                        unit_id: m.unit_id,
                        ts: t,
                        image: &image,
                    });
                }
                // Thousands of steps: let the runtime breathe between meters.
                tokio::task::yield_now().await;
            }
            meter.step(history.now);
            m.model.write_image(&meter, &mut image);
            let image = Arc::new(RwLock::new(image));
            let faults = Faults::new(m.seed, m.faults);
            units.insert(m.unit_id, (Arc::clone(&image), faults.clone()));
            live.push(Live {
                meter,
                model: m.model,
                image,
                faults,
            });
        }
        bound.push(Bound {
            listener,
            framing: plan.framing,
            service: ImageService::with_faults(units),
            line: plan.baud.map(|b| RtuLine::new(LineSettings::n81(b))),
        });
    }
    Ok((bound, live))
}

/// Serves one listener until `stop`; open connections are closed with the server.
pub(crate) async fn serve(b: Bound, stop: CancellationToken) -> Result<(), SimError> {
    if let (Framing::Rtu, Some(line)) = (b.framing, &b.line) {
        let service = LineService::new(b.service, Arc::clone(line));
        let on_connected = move |stream: TcpStream, _peer: SocketAddr| {
            let (svc, kill) = service.for_connection();
            async move {
                stream.set_nodelay(true)?;
                Ok(Some((svc, KillableStream::new(stream, kill))))
            }
        };
        let on_process_error = |e: io::Error| debug!(error = %e, "Modbus connection closed with an error.");
        tokio_modbus::server::rtu_over_tcp::Server::new(b.listener)
            .serve_until(&on_connected, on_process_error, stop.cancelled_owned())
            .await
            .map_err(SimError::Serve)?;
        return Ok(());
    }
    let service = b.service;
    let on_connected = move |stream: TcpStream, _peer: SocketAddr| {
        let (svc, kill) = service.for_connection();
        async move {
            stream.set_nodelay(true)?;
            Ok(Some((svc, KillableStream::new(stream, kill))))
        }
    };
    let on_process_error = |e: io::Error| debug!(error = %e, "Modbus connection closed with an error.");
    match b.framing {
        Framing::Tcp => {
            tokio_modbus::server::tcp::Server::new(b.listener)
                .serve_until(&on_connected, on_process_error, stop.cancelled_owned())
                .await
        }
        Framing::Rtu => {
            tokio_modbus::server::rtu_over_tcp::Server::new(b.listener)
                .serve_until(&on_connected, on_process_error, stop.cancelled_owned())
                .await
        }
    }
    .map_err(SimError::Serve)?;
    debug!("Modbus server stopped.");
    Ok(())
}

/// Advances every meter and rewrites its image every `every` until `stop`; stuck meters keep their image.
pub(crate) async fn update_meters(
    mut meters: Vec<Live>,
    every: Duration,
    stop: CancellationToken,
) -> Result<(), SimError> {
    if meters.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    let mut ticker = interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let now = Utc::now();
        let elapsed = started.elapsed();
        for (i, m) in meters.iter_mut().enumerate() {
            // Thousands of meters take a while: let the Modbus connections on this worker run in between.
            if i % 256 == 255 {
                tokio::task::yield_now().await;
            }
            m.meter.step(now);
            if !m.faults.stuck(elapsed) {
                let mut img = m.image.write().unwrap_or_else(PoisonError::into_inner);
                m.model.write_image(&m.meter, &mut img);
            }
        }
    }
}
