//! Starting services and stopping them in order.
//!
//! A subcommand runs one or more parts ([`parts`]): the gateway, ingest, analytics, the simulator, the API,
//! or `/metrics` alone for a process without the API. Each part is started by [`start`] (metrics
//! registered, clients built, listener bound, so a bad setting fails before anything serves) and gets its
//! own cancellation token. A gateway that shares its process with ingest polls only once ingest's
//! subscriptions stand (at most [`INGEST_WAIT`]): on a broker that has never seen ingest's session, what is
//! published before that would reach nobody.
//!
//! Shutdown order: the simulator first, then the parts in start order: stop polling (gateway), drain and
//! flush (ingest), stop analytics, stop the API last, so readiness stays truthful until the end. Each part
//! is awaited before the next one is told to stop. A part that ends on its own is an error and starts the
//! same ordered shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context as _;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use zw_config::{Config, LogConfig};

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Gateway,
    Ingest,
    Analytics,
    Api,
    Sim,
    All,
}

/// Sets up tracing: `RUST_LOG` wins over `log.filter`; `log.format` picks text or JSON.
pub fn init_logging(cfg: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.filter));
    // Logs go to stderr; colours only when a person is watching.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if cfg.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// A service's task: runs until its stop token is cancelled; ending earlier is an error.
type Task = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// One part of a running process. [`parts`] lists them in start order, which is also the order the
/// parts other than the simulator are stopped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Gateway,
    Ingest,
    Analytics,
    /// The simulator: stopped before everything else, and not a [`Task`] (it has its own handle).
    Sim,
    Api,
    /// `/metrics` alone, for a process without the API.
    Metrics(SocketAddr),
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Gateway => "gateway",
            Part::Ingest => "ingest",
            Part::Analytics => "analytics",
            Part::Sim => "sim",
            Part::Api => "api",
            Part::Metrics(_) => "metrics",
        }
    }
}

/// What `service` runs, in start order: `all` is every service but the simulator; `/metrics` is served by
/// the API, or on its own at `telemetry.metrics_listen` when set.
fn parts(service: Service, metrics_listen: Option<SocketAddr>) -> Vec<Part> {
    let mut parts = match service {
        Service::Gateway => vec![Part::Gateway],
        Service::Ingest => vec![Part::Ingest],
        Service::Analytics => vec![Part::Analytics],
        Service::Api => vec![Part::Api],
        Service::Sim => vec![Part::Sim],
        Service::All => vec![Part::Gateway, Part::Ingest, Part::Analytics, Part::Api],
    };
    if let (false, Some(addr)) = (parts.contains(&Part::Api), metrics_listen) {
        parts.push(Part::Metrics(addr));
    }
    parts
}

/// What every part is built from.
struct Shared {
    cfg: Config,
    registry: Registry,
    bus: zw_bus::Bus,
    /// The inventory every part serves: the config's, fixed, or the store's, followed by
    /// [`crate::inventory_feed`] (one per process).
    inventory: zw_bus::LiveInventory,
    /// The relational store, with `[store] url`.
    store: Option<zw_store::Store>,
    /// Whether this process runs ingest, and whether its subscriptions stand yet: a gateway in the same
    /// process polls only once they do (bounded by [`INGEST_WAIT`]), so on a broker that has never seen
    /// ingest's session the first readings are not published to nobody.
    ingest: Option<tokio::sync::watch::Sender<bool>>,
}

/// How long a gateway waits for ingest's subscriptions in the same process before it polls anyway.
const INGEST_WAIT: Duration = Duration::from_secs(10);

/// A part that has started.
enum Started {
    Task(Task),
    Sim(zw_sim::SimHandle),
}

/// Starts `part`: registers its metrics, opens its clients and binds its listener, so a bad setting stops
/// the process before it serves; the returned task then runs until `stop`.
async fn start(part: Part, sh: &Shared, stop: CancellationToken) -> anyhow::Result<Started> {
    let (cfg, bus) = (&sh.cfg, sh.bus.clone());
    let task: Task = match part {
        Part::Gateway => {
            let metrics = zw_gateway::Metrics::register(&sh.registry)?;
            let c = cfg.gateway.clone();
            // The process's live inventory: the gateway follows its changes.
            let live = sh.inventory.clone();
            let ingest = sh.ingest.as_ref().map(tokio::sync::watch::Sender::subscribe);
            Box::pin(async move {
                if let Some(mut subscribed) = ingest {
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        r = tokio::time::timeout(INGEST_WAIT, subscribed.wait_for(|s| *s)) => if r.is_err() {
                            warn!(after = ?INGEST_WAIT, "Ingest has not subscribed yet; polling anyway (on a new broker the readings until it does reach nobody).");
                        },
                    }
                }
                Ok(zw_gateway::run(c, live, &bus, metrics, stop).await?)
            })
        }
        Part::Ingest => {
            let metrics = zw_ingest::Metrics::register(&sh.registry)?;
            let influx = zw_influx::Client::new(cfg.influx.clone())?;
            let c = cfg.ingest.clone();
            // The known site/device pairs follow the live inventory (rebuilt when it is replaced).
            let known = zw_ingest::Known::live(&sh.inventory);
            // Retention per data class, next to the writer, stopped with it.
            tokio::spawn(crate::retention::run(
                cfg.retention.clone(),
                influx.clone(),
                stop.clone(),
            ));
            // The energy rollups for long reports, next to the writer, stopped with it.
            tokio::spawn(zw_ingest::rollup::run(
                c.rollup.clone(),
                crate::rollup::roller(cfg)?,
                stop.clone(),
            ));
            let subscribed = sh
                .ingest
                .clone()
                .unwrap_or_else(|| tokio::sync::watch::channel(false).0);
            Box::pin(
                async move { Ok(zw_ingest::run(c, influx, &bus, metrics, known, subscribed, stop).await?) },
            )
        }
        Part::Analytics => {
            let metrics = zw_analytics::Metrics::register(&sh.registry)?;
            let influx = zw_influx::Client::new(cfg.influx.clone())?;
            let c = cfg.analytics.clone();
            // The process's live inventory: the detectors follow its changes.
            let live = sh.inventory.clone();
            Box::pin(async move {
                zw_analytics::run(c, live, Some(influx), &bus, metrics, stop).await;
                Ok(())
            })
        }
        Part::Sim => return Ok(Started::Sim(start_sim(cfg, &bus, stop).await?)),
        Part::Api => {
            let listener = TcpListener::bind(cfg.api.listen)
                .await
                .with_context(|| format!("cannot listen on {}", cfg.api.listen))?;
            let influx = zw_influx::Client::new(cfg.influx.clone())?;
            let (mut c, r) = (cfg.api.clone(), sh.registry.clone());
            // The season report judges soil days by analytics' tree settings.
            c.trees = cfg.analytics.trees.soil_rules();
            let (live, store) = (sh.inventory.clone(), sh.store.clone());
            Box::pin(async move { Ok(zw_api::run(c, live, store, influx, listener, &bus, r, stop).await?) })
        }
        Part::Metrics(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            Box::pin(serve_metrics(listener, sh.registry.clone(), stop))
        }
    };
    Ok(Started::Task(task))
}

/// Starts the simulator; with `[sim] history`, writes its past to InfluxDB before it serves.
async fn start_sim(
    cfg: &Config,
    bus: &zw_bus::Bus,
    stop: CancellationToken,
) -> anyhow::Result<zw_sim::SimHandle> {
    let handle = if cfg.sim.history.is_zero() {
        zw_sim::start(cfg.sim.clone(), bus, stop).await?
    } else {
        let profiles = zw_gateway::ProfileSet::load(&cfg.gateway.profile_dirs)
            .map_err(|e| anyhow::anyhow!("meter profiles: {}", e.join("; ")))?;
        let mut history =
            crate::backfill::Backfill::new(&cfg.inventory, &cfg.gateway, &profiles, cfg.ingest.batch_size);
        let handle =
            zw_sim::start_with_history(cfg.sim.clone(), bus, stop.clone(), &mut |p| history.record(p))
                .await?;
        // Written before "Simulator running.", so whoever waits for that line (deploy/demo.sh) starts
        // analytics with the history in place to warm up from.
        if let Err(e) = history.write(cfg, stop).await {
            tracing::error!(error = %e, "Simulator history not written.");
        }
        handle
    };
    info!(modbus = %handle.modbus_addr, "Simulator running.");
    Ok(handle)
}

struct Running {
    name: &'static str,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Runs `service` until a shutdown signal, then stops everything in order: the simulator first, then
/// the parts in start order (gateway, ingest, analytics, API last), each awaited before the next is told.
pub async fn run(service: Service, cfg: Config) -> anyhow::Result<()> {
    let registry = Registry::new();
    let bus = zw_bus::Bus {
        config: cfg.bus.clone(),
        metrics: zw_bus::Metrics::register(&registry)?,
    };
    let parts = parts(service, cfg.telemetry.metrics_listen);
    let uses_tsdb = parts
        .iter()
        .any(|p| matches!(p, Part::Ingest | Part::Analytics | Part::Api));
    if uses_tsdb && cfg.influx.read_backend == zw_influx::ReadBackend::VictoriaMetrics {
        tokio::spawn(check_victoria_dedup(zw_influx::Client::new(cfg.influx.clone())?));
    }
    // With `[store] url`: the store's inventory, followed by one feed for the whole process (a process
    // without a part that serves the inventory, the simulator alone, does not touch the store).
    let account = feed_account(&parts);
    let opened = match account {
        Some(_) => crate::inventory_feed::open(&cfg.store, &cfg.inventory).await?,
        None => None,
    };
    let feed_stop = CancellationToken::new();
    let feed = match (&opened, account) {
        (Some(o), Some(service)) => Some(tokio::spawn(crate::inventory_feed::run(
            bus.clone(),
            service,
            o.clone(),
            crate::inventory_feed::Metrics::register(&registry)?,
            feed_stop.clone(),
        ))),
        _ => None,
    };
    let shared = Shared {
        inventory: opened
            .as_ref()
            .map_or_else(|| cfg.inventory.clone().into(), |o| o.inventory.clone()),
        store: opened.map(|o| o.store),
        ingest: parts
            .contains(&Part::Ingest)
            .then(|| tokio::sync::watch::channel(false).0),
        cfg,
        registry,
        bus,
    };
    let mut running = Vec::new();
    let mut sim = None;
    // Cancelled when any service ends on its own, which is always an error: services run until told to stop.
    let exited = CancellationToken::new();
    for part in parts {
        let stop = CancellationToken::new();
        match start(part, &shared, stop.clone()).await? {
            Started::Sim(handle) => sim = Some((stop, handle)),
            Started::Task(fut) => {
                let exited = exited.clone();
                let task = tokio::spawn(async move {
                    let result = fut.await;
                    exited.cancel();
                    result
                });
                running.push(Running {
                    name: part.name(),
                    stop,
                    task,
                });
            }
        }
    }

    // Wait for a signal, or for any service to end on its own (an error).
    let mut first_error = None;
    tokio::select! {
        () = shutdown_signal() => info!("Shutdown requested."),
        () = exited.cancelled() => {
            if let Some(r) = running.iter_mut().find(|r| r.task.is_finished()) {
                let result = (&mut r.task).await;
                first_error = Some(anyhow::anyhow!("{} stopped unexpectedly: {}", r.name, describe(result)));
            }
        }
    }
    if let Some((stop, handle)) = sim {
        stop.cancel();
        handle.join().await?;
    }
    for r in running {
        r.stop.cancel();
        match r.task.await {
            Ok(Ok(())) => info!(service = r.name, "Stopped."),
            Ok(Err(e)) => first_error = first_error.or(Some(e.context(r.name))),
            Err(e) => first_error = first_error.or(Some(anyhow::anyhow!("{} panicked: {e}", r.name))),
        }
    }
    feed_stop.cancel();
    if let Some(feed) = feed {
        let _ = feed.await;
    }
    if let Some(store) = &shared.store {
        store.close().await;
    }
    first_error.map_or(Ok(()), Err)
}

/// Says once whether VictoriaMetrics deduplicates: without `-dedup.minScrapeInterval` it stores a reading
/// the bus delivered twice (at least once) as two samples (`docs/delivery.md`).
async fn check_victoria_dedup(tsdb: zw_influx::Client) {
    match tsdb.victoria_dedup_interval().await {
        Ok(Some(interval)) => info!(%interval, "VictoriaMetrics deduplicates samples."),
        Ok(None) => warn!(
            "VictoriaMetrics runs without -dedup.minScrapeInterval: a reading delivered twice is stored twice; start it with -dedup.minScrapeInterval=1ms (docs/delivery.md)."
        ),
        Err(e) => warn!(error = %e, "Could not read VictoriaMetrics' /flags to check its deduplication."),
    }
}

/// The service whose bus account the process's inventory feed logs in with: the first part that serves the
/// inventory (the simulator and `/metrics` alone need none).
fn feed_account(parts: &[Part]) -> Option<&'static str> {
    parts.iter().find_map(|p| match p {
        Part::Gateway => Some("gateway"),
        Part::Ingest => Some("ingest"),
        Part::Analytics => Some("analytics"),
        Part::Api => Some("api"),
        Part::Sim | Part::Metrics(_) => None,
    })
}

fn describe(result: Result<anyhow::Result<()>, tokio::task::JoinError>) -> String {
    match result {
        Ok(Ok(())) => "exited".into(),
        Ok(Err(e)) => format!("{e:#}"),
        Err(e) => format!("panicked: {e}"),
    }
}

/// Serves `/metrics` alone, for services that run without the API.
async fn serve_metrics(
    listener: TcpListener,
    registry: Registry,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use axum::{Router, http::header, routing::get};
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let registry = registry.clone();
            async move {
                let mut buf = Vec::new();
                let _ = prometheus::Encoder::encode(
                    &prometheus::TextEncoder::new(),
                    &registry.gather(),
                    &mut buf,
                );
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    buf,
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Start order is shutdown order (after the simulator): gateway, ingest, analytics, the API last.
    #[test]
    fn parts_start_and_stop_in_pipeline_order() {
        let m: SocketAddr = ([127, 0, 0, 1], 9100).into();
        let pipeline = vec![Part::Gateway, Part::Ingest, Part::Analytics, Part::Api];
        let cases = [
            (Service::All, None, pipeline.clone()),
            (Service::All, Some(m), pipeline),
            (Service::Api, Some(m), vec![Part::Api]),
            (Service::Gateway, None, vec![Part::Gateway]),
            (Service::Ingest, Some(m), vec![Part::Ingest, Part::Metrics(m)]),
            (Service::Analytics, None, vec![Part::Analytics]),
            (Service::Sim, Some(m), vec![Part::Sim, Part::Metrics(m)]),
        ];
        for (service, metrics, want) in cases {
            assert_eq!(
                parts(service, metrics),
                want,
                "{service:?} with metrics at {metrics:?}"
            );
        }
    }
}
