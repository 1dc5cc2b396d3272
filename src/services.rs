//! Starting services and stopping them in order.
//!
//! Shutdown order in `all`: stop polling (gateway), drain and flush (ingest), stop analytics, stop the API
//! last, so readiness stays truthful until the end. Each service has its own cancellation token and is
//! awaited before the next one is told to stop.

use std::sync::Arc;

use anyhow::Context as _;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::{Config, LogConfig};

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

struct Running {
    name: &'static str,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Runs `service` until a shutdown signal, then stops everything in order.
pub async fn run(service: Service, cfg: Config) -> anyhow::Result<()> {
    let registry = Registry::new();
    let bus = zw_bus::Bus {
        config: cfg.bus.clone(),
        metrics: zw_bus::Metrics::register(&registry)?,
    };
    let inventory = Arc::new(cfg.inventory.clone());
    let has = |s: Service| service == s || (service == Service::All && s != Service::Sim);
    let mut running = Vec::new();
    // Cancelled when any service ends on its own, which is always an error: services run until told to stop.
    let exited = CancellationToken::new();
    let spawn = |fut: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>| {
        let exited = exited.clone();
        tokio::spawn(async move {
            let result = fut.await;
            exited.cancel();
            result
        })
    };

    if has(Service::Gateway) {
        let stop = CancellationToken::new();
        let metrics = zw_gateway::Metrics::register(&registry)?;
        let (c, inv, bus, s) = (cfg.gateway.clone(), inventory.clone(), bus.clone(), stop.clone());
        let task = spawn(Box::pin(async move {
            Ok(zw_gateway::run(c, inv, &bus, metrics, s).await?)
        }));
        running.push(Running {
            name: "gateway",
            stop,
            task,
        });
    }
    if has(Service::Ingest) {
        let stop = CancellationToken::new();
        let metrics = zw_ingest::Metrics::register(&registry)?;
        let influx = zw_influx::Client::new(cfg.influx.clone())?;
        let (c, bus, s) = (cfg.ingest.clone(), bus.clone(), stop.clone());
        let task = spawn(Box::pin(async move {
            Ok(zw_ingest::run(c, influx, &bus, metrics, s).await?)
        }));
        running.push(Running {
            name: "ingest",
            stop,
            task,
        });
    }
    if has(Service::Analytics) {
        let stop = CancellationToken::new();
        let metrics = zw_analytics::Metrics::register(&registry)?;
        let influx = zw_influx::Client::new(cfg.influx.clone())?;
        let (c, inv, bus, s) = (
            cfg.analytics.clone(),
            inventory.clone(),
            bus.clone(),
            stop.clone(),
        );
        let task = spawn(Box::pin(async move {
            zw_analytics::run(c, inv, Some(influx), &bus, metrics, s).await;
            Ok(())
        }));
        running.push(Running {
            name: "analytics",
            stop,
            task,
        });
    }
    let mut sim = None;
    if has(Service::Sim) {
        let stop = CancellationToken::new();
        let handle = if cfg.sim.history.is_zero() {
            zw_sim::start(cfg.sim.clone(), &bus, stop.clone()).await?
        } else {
            let profiles = zw_gateway::ProfileSet::load(&cfg.gateway.profile_dirs)
                .map_err(|e| anyhow::anyhow!("meter profiles: {}", e.join("; ")))?;
            let mut history = crate::backfill::Backfill::new(
                &cfg.inventory,
                &cfg.gateway,
                &profiles,
                cfg.ingest.batch_size,
            );
            let handle =
                zw_sim::start_with_history(cfg.sim.clone(), &bus, stop.clone(), &mut |p| history.record(p))
                    .await?;
            // Written before "Simulator running.", so whoever waits for that line (deploy/demo.sh) starts
            // analytics with the history in place to warm up from.
            if let Err(e) = history.write(&cfg, stop.clone()).await {
                tracing::error!(error = %e, "Simulator history not written.");
            }
            handle
        };
        info!(modbus = %handle.modbus_addr, "Simulator running.");
        sim = Some((stop, handle));
    }
    if has(Service::Api) {
        let stop = CancellationToken::new();
        let listener = TcpListener::bind(cfg.api.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.api.listen))?;
        let influx = zw_influx::Client::new(cfg.influx.clone())?;
        let (c, inv, bus, r, s) = (
            cfg.api.clone(),
            inventory.clone(),
            bus.clone(),
            registry.clone(),
            stop.clone(),
        );
        let task = spawn(Box::pin(async move {
            Ok(zw_api::run(c, inv, influx, listener, &bus, r, s).await?)
        }));
        running.push(Running {
            name: "api",
            stop,
            task,
        });
    } else if let Some(addr) = cfg.telemetry.metrics_listen {
        let stop = CancellationToken::new();
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let task = spawn(Box::pin(serve_metrics(listener, registry.clone(), stop.clone())));
        running.push(Running {
            name: "metrics",
            stop,
            task,
        });
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
    first_error.map_or(Ok(()), Err)
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
