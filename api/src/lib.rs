//! HTTP API (axum): live and historical usage for facility managers, residents and the parks department.
//!
//! * [`app`] builds the router from an [`AppState`]; tests drive it with `oneshot`, no socket needed.
//! * [`serve`] runs it on an already-bound listener until shutdown; [`run`] also connects the live feed.
//! * Every `/api/v1` route needs a bearer token ([`auth`]); scope is enforced where data is read, and an
//!   id outside the caller's scope answers 404, exactly like an unknown id.
//! * Errors are RFC 7807 problem documents ([`error`]); a 5xx never carries an internal URL or a
//!   dependency's error text.
//! * Hardening: request input is bounded ([`bounds`]), InfluxDB reads time out ([`db`]), every route but
//!   the live stream has a request timeout, streams are limited per user ([`streams`]), failed
//!   authentications per address ([`auth`], [`ratelimit`]), and the server cuts slow headers ([`server`]).

pub mod access_log;
pub mod auth;
pub mod bounds;
mod config;
mod db;
pub mod device_health;
pub mod error;
mod extract;
mod json;
pub mod jwt;
mod layers;
pub mod live;
pub mod metrics;
mod openapi;
mod periods;
pub mod prices;
pub mod ratelimit;
pub mod routes;
mod server;
pub mod streams;
mod swap;
pub mod tls;
pub mod views;
pub mod weather;

#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod privacy_tests;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::routing::get;
use prometheus::{IntCounterVec, Opts, Registry};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tracing::info;
use zw_bus::{BusClient, ConnectOptions, FullPolicy, QoS};
use zw_model::{Inventory, topic};

pub use config::{Config, RoleRanges, Tariff};
pub use live::{LiveCache, LiveMetrics};

/// Shared state of all handlers.
#[derive(Clone)]
pub struct AppState {
    /// Sites, devices, trees and users.
    pub inventory: Arc<Inventory>,
    /// Users by token hash.
    pub users: Arc<auth::Users>,
    /// Latest reading per device.
    pub live: LiveCache,
    /// InfluxDB client (readiness, history).
    pub influx: zw_influx::Client,
    /// Bus client, for readiness; `None` in router tests without a broker.
    pub bus: Option<BusClient>,
    /// Publisher of commands (alert acknowledgements) that waits for the broker's confirmation, so the API
    /// answers 202 only once the broker holds the command; `None` without a broker.
    pub commands: Option<zw_bus::ConfirmedPublisher>,
    /// The process's metrics registry, served on `/metrics`.
    pub registry: Registry,
    /// Requests by route template and status code.
    pub requests: IntCounterVec,
    /// Per-user rate limit.
    pub limiter: Arc<ratelimit::RateLimiter>,
    /// Failed authentications per client address.
    pub auth_failures: Arc<ratelimit::RateLimiter>,
    /// Open live streams per user.
    pub streams: Arc<streams::StreamSlots>,
    /// Query timeouts, failed authentications, streams.
    pub metrics: metrics::ApiMetrics,
    /// The API's settings (time zone, tariff).
    pub config: Arc<Config>,
    /// Alerts, tree status and device health mirrored from the bus.
    pub views: Arc<views::Views>,
    /// JWT verification, if `[api.jwt]` is configured.
    pub jwt: Option<Arc<jwt::JwtVerifier>>,
    /// The access log, if `api.access_log` is configured.
    pub access_log: Option<Arc<access_log::AccessLog>>,
    /// The relational store (admin changes, alert book, watering log); `None` without `[store]`.
    pub store: Option<zw_store::Store>,
    /// The live inventory `inventory` is a snapshot of: an admin change replaces it (after writing the
    /// store), and the router serves the new snapshot from the next request on ([`swap`]). `None` when the
    /// inventory is fixed (no store).
    pub live_inventory: Option<zw_bus::LiveInventory>,
    /// Each building's backtested forecast error of the running day (`/forecast/accuracy`).
    pub accuracy: Arc<routes::accuracy::Cache>,
}

impl AppState {
    /// Builds the state with default settings and no rate limits, and registers the API's metrics in
    /// `registry`; [`AppState::configure`] applies a configuration.
    pub fn new(
        inventory: Arc<Inventory>,
        influx: zw_influx::Client,
        bus: Option<BusClient>,
        registry: Registry,
    ) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "zw_api_requests_total",
                "HTTP requests by route template and status code.",
            ),
            &["route", "code"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        let metrics = metrics::ApiMetrics::register(&registry)?;
        let config = Config::default();
        let views = Arc::new(views::Views::default());
        views.prices.register(&registry)?;
        let inventory = views.prices.attach(inventory);
        Ok(Self {
            users: Arc::new(auth::Users::from_inventory(&inventory)),
            inventory,
            live: LiveCache::default(),
            influx,
            bus,
            commands: None,
            registry,
            requests,
            limiter: Arc::new(ratelimit::RateLimiter::new(0.0, 1)),
            auth_failures: Arc::new(ratelimit::RateLimiter::new(0.0, 1)),
            streams: Arc::new(streams::StreamSlots::new(
                config.max_streams_per_user,
                metrics.streams_open.clone(),
                metrics.streams_rejected.clone(),
            )),
            metrics,
            config: Arc::new(config),
            views,
            jwt: None,
            access_log: None,
            store: None,
            live_inventory: None,
            accuracy: Arc::default(),
        })
    }

    /// The same state serving `inventory` (and its users): everything else is shared.
    pub fn with_inventory(&self, inventory: Arc<Inventory>) -> Self {
        let inventory = self.views.prices.attach(inventory);
        Self {
            users: Arc::new(auth::Users::from_inventory(&inventory)),
            inventory,
            ..self.clone()
        }
    }

    /// Applies `cfg`: its settings, the per-user rate limit, the failed-authentication limit and the stream
    /// limit (JWT verification is set apart, as it can fail).
    pub fn configure(&mut self, cfg: Config) {
        self.limiter = Arc::new(ratelimit::RateLimiter::new(
            cfg.rate_limit_per_second,
            cfg.rate_limit_burst,
        ));
        self.auth_failures = Arc::new(ratelimit::RateLimiter::new(
            cfg.auth_failures_per_minute / 60.0,
            cfg.auth_failure_burst,
        ));
        self.streams = Arc::new(streams::StreamSlots::new(
            cfg.max_streams_per_user,
            self.metrics.streams_open.clone(),
            self.metrics.streams_rejected.clone(),
        ));
        self.config = Arc::new(cfg);
    }
}

/// The router with default settings (no CORS, default body limit).
pub fn app(state: AppState) -> Router {
    app_with(state, &Config::default())
}

/// The router with the configured CORS origins and body limit.
pub fn app_with(state: AppState, cfg: &Config) -> Router {
    // One Arc for the whole state: every extractor clones it per request.
    let state = Arc::new(state);
    let origins: Vec<HeaderValue> = cfg
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    let timeout = cfg.request_timeout;
    Router::new()
        .route("/healthz", get(routes::health::healthz))
        .route("/readyz", get(routes::health::readyz))
        .route(
            "/metrics",
            get(routes::health::metrics)
                .route_layer(middleware::from_fn_with_state(state.clone(), metrics::guard)),
        )
        .route("/api/v1/devices", get(routes::devices::list))
        .route("/api/v1/devices/{id}/live", get(routes::devices::live))
        .route("/api/v1/devices/{id}/history", get(routes::history::history))
        .route("/api/v1/sites", get(routes::sites::list))
        .route("/api/v1/sites/{id}/live", get(routes::sites::live))
        .route("/api/v1/devices/{id}/energy", get(routes::energy::device))
        .route("/api/v1/sites/{id}/energy", get(routes::energy::site))
        .route("/api/v1/devices/{id}/cost", get(routes::cost::device))
        .route("/api/v1/sites/{id}/cost", get(routes::cost::site))
        .route("/api/v1/devices/{id}/peak", get(routes::peak::device))
        .route("/api/v1/sites/{id}/peak", get(routes::peak::site))
        .route("/api/v1/devices/{id}/forecast", get(routes::forecast::device))
        .route("/api/v1/sites/{id}/forecast", get(routes::forecast::site))
        .route("/api/v1/sites/{id}/normal", get(routes::normal::site))
        .route("/api/v1/normal", get(routes::normal::all))
        .route(
            "/api/v1/sites/{id}/forecast/accuracy",
            get(routes::accuracy::site),
        )
        .route("/api/v1/sites/{id}/household", get(routes::household::site))
        .route("/api/v1/sites/{id}/top", get(routes::top::top))
        .route("/api/v1/sites/{id}/export.csv", get(routes::export::site))
        .route("/api/v1/ranking", get(routes::ranking::ranking))
        .route("/api/v1/report", get(routes::report::town))
        .route("/api/v1/sites/{id}/report", get(routes::report::site))
        .route("/api/v1/alerts", get(routes::alerts::list))
        .route("/api/v1/alerts/{id}", get(routes::alerts::one))
        .route(
            "/api/v1/alerts/{id}/ack",
            axum::routing::post(routes::alerts::ack),
        )
        .route("/api/v1/trees", get(routes::trees::geojson))
        .route("/api/v1/trees/watering", get(routes::trees::watering))
        .route("/api/v1/trees/season", get(routes::trees::season::season))
        .route("/api/v1/trees/{id}/rain", get(routes::trees::rain::rain))
        .route(
            "/api/v1/trees/{id}/waterings",
            get(routes::trees::waterings).post(routes::trees::record_watering),
        )
        .merge(routes::admin::router())
        .route("/", get(routes::dashboard::page))
        .route("/static/{*path}", get(routes::dashboard::file))
        .route("/dashboard/settings.json", get(routes::dashboard::settings))
        .merge(openapi::swagger_ui())
        .fallback(|| async { error::problem(StatusCode::NOT_FOUND, "no such route".into(), false) })
        // Routes added after this layer (the live stream) have no request timeout.
        .layer(middleware::from_fn(move |req, next| {
            layers::time_limit(timeout, req, next)
        }))
        .route("/api/v1/stream", get(routes::stream::stream))
        .layer(RequestBodyLimitLayer::new(cfg.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), access_log::record))
        .layer(middleware::from_fn(layers::problems_everywhere))
        .layer(cors)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            layers::count_requests,
        ))
        .layer(CatchPanicLayer::custom(layers::panic_problem))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown`; with `state.live_inventory`, the router follows the
/// inventory's changes ([`swap`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    cfg: &Config,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = match state.live_inventory.clone() {
        Some(live) => swap::live_router(state, cfg, live),
        None => app_with(state, cfg),
    };
    let tls = match &cfg.tls {
        Some(t) => Some(
            t.load()
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
        ),
        None => None,
    };
    server::serve(
        listener,
        router,
        cfg.header_read_timeout,
        cfg.request_timeout,
        tls,
        shutdown,
    )
    .await
}

/// How long an alert acknowledgement waits for the broker's confirmation before the API answers 503.
pub const COMMAND_CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Connects the live feed and serves the API on `listener` until `shutdown`. The inventory is followed
/// as it changes; `store` (with `[store]`) serves the admin routes, the alert book and the watering log.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    cfg: Config,
    inventory: zw_bus::LiveInventory,
    store: Option<zw_store::Store>,
    influx: zw_influx::Client,
    listener: TcpListener,
    bus: &zw_bus::Bus,
    registry: Registry,
    shutdown: CancellationToken,
) -> Result<(), ApiRunError> {
    let opts = ConnectOptions {
        client: "api".into(),
        instance: cfg.instance.clone(),
        clean_session: true,
        subscriptions: vec![
            (topic::READINGS_FILTER.to_string(), QoS::AtMostOnce),
            (topic::BATCHES_FILTER.to_string(), QoS::AtMostOnce),
            // Retained state: delivered in full on every (re)subscribe.
            (topic::ALERTS_FILTER.to_string(), QoS::AtLeastOnce),
            (topic::TREES_FILTER.to_string(), QoS::AtLeastOnce),
            (topic::DEVICE_STATUS_FILTER.to_string(), QoS::AtLeastOnce),
            (topic::WEATHER_FILTER.to_string(), QoS::AtLeastOnce),
            (topic::PRICES_FILTER.to_string(), QoS::AtLeastOnce),
        ],
        manual_acks: false,
        full_policy: FullPolicy::DropNewest,
        last_will: None,
    };
    let bus_stop = CancellationToken::new();
    let bus_settings = bus;
    let (bus, inbound, driver) = bus_settings.connect(opts, bus_stop.clone());
    let live_metrics = LiveMetrics::register(&registry)?;
    let (commands, commands_driver) = bus_settings.confirmed_publisher(
        "api-commands",
        &cfg.instance,
        COMMAND_CONFIRM_TIMEOUT,
        bus_stop.clone(),
    );
    let mut state = AppState::new(inventory.current(), influx, Some(bus.clone()), registry)?;
    state.commands = Some(commands.clone());
    state.store = store;
    if let Some(store) = &state.store {
        state.views.record_alerts(store.clone(), "api");
    }
    prices::start(&state, &cfg).await;
    state.live_inventory = Some(inventory.clone());
    state.configure(cfg.clone());
    state.jwt = cfg
        .jwt
        .as_ref()
        .map(jwt::JwtVerifier::new)
        .transpose()?
        .map(Arc::new);
    state.access_log = match &cfg.access_log {
        Some(path) => Some(Arc::new(
            access_log::AccessLog::open(path).map_err(|e| ApiRunError::AccessLog(path.clone(), e))?,
        )),
        None => {
            tracing::warn!("No api.access_log: who read which household's data is not recorded.");
            None
        }
    };
    let feed = tokio::spawn(live::feed(
        inbound,
        state.live.clone(),
        state.views.clone(),
        inventory,
        live_metrics,
    ));
    serve(listener, state, &cfg, shutdown).await?;
    feed.abort();
    bus.disconnect().await;
    commands.disconnect().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        let _ = driver.await;
        let _ = commands_driver.await;
    })
    .await;
    bus_stop.cancel();
    info!("API stopped.");
    Ok(())
}

/// API start-up or serving failures.
#[derive(Debug, thiserror::Error)]
pub enum ApiRunError {
    /// Socket error.
    #[error("API server: {0}")]
    Io(#[from] std::io::Error),
    /// Metrics registration failed.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The access log cannot be opened.
    #[error("api.access_log {}: {}", .0.display(), .1)]
    AccessLog(std::path::PathBuf, std::io::Error),
    /// The JWT settings are unusable.
    #[error("api.jwt: {0}")]
    Jwt(#[from] jwt::JwtConfigError),
}
