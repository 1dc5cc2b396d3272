//! The API's own hardening metrics: query timeouts, failed authentications, live streams, access log
//! errors and refused `/metrics` requests. Requests per route and status are counted in
//! [`crate::AppState::requests`].

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Counters and gauges registered once per process registry.
#[derive(Clone)]
pub struct ApiMetrics {
    /// InfluxDB reads that exceeded `api.query_timeout`.
    pub query_timeouts: IntCounter,
    /// Failed authentications by reason: `missing`, `malformed`, `unknown_token`, `expired`, `invalid_jwt`, and
    /// `limited` for requests refused because their address failed too often.
    pub auth_failures: IntCounterVec,
    /// Live streams open now.
    pub streams_open: IntGauge,
    /// Live streams refused because the user had `api.max_streams_per_user` open.
    pub streams_rejected: IntCounter,
    /// Alert acknowledgements answered 503 because the broker did not confirm the command in time.
    pub commands_unconfirmed: IntCounter,
    /// Access log lines that could not be written.
    pub access_log_errors: IntCounter,
    /// `/metrics` requests refused (no or a wrong metrics token, or not from this host).
    pub metrics_refused: IntCounter,
    /// Resident activations by outcome: `activated`, `failed` (unknown, used or expired code), `limited`.
    pub activations: IntCounterVec,
    /// Inventory change notices the broker did not confirm (the change is stored; services catch up later).
    pub notices_unconfirmed: IntCounter,
}

impl ApiMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self {
            query_timeouts: IntCounter::new(
                "zw_api_query_timeouts_total",
                "InfluxDB reads that exceeded api.query_timeout.",
            )?,
            auth_failures: IntCounterVec::new(
                Opts::new(
                    "zw_api_auth_failures_total",
                    "Failed authentications by reason (limited: refused, the address failed too often).",
                ),
                &["reason"],
            )?,
            streams_open: IntGauge::new("zw_api_streams_open", "Live streams open now.")?,
            streams_rejected: IntCounter::new(
                "zw_api_streams_rejected_total",
                "Live streams refused because the user had api.max_streams_per_user open.",
            )?,
            commands_unconfirmed: IntCounter::new(
                "zw_api_commands_unconfirmed_total",
                "Alert acknowledgements answered 503: the broker did not confirm the command in time.",
            )?,
            access_log_errors: IntCounter::new(
                "zw_api_access_log_errors_total",
                "Access log lines that could not be written to api.access_log.",
            )?,
            metrics_refused: IntCounter::new(
                "zw_api_metrics_refused_total",
                "/metrics requests refused: no or a wrong metrics token, or (without one) not from this host.",
            )?,
            activations: IntCounterVec::new(
                Opts::new(
                    "zw_api_activations_total",
                    "Resident activations by outcome (activated, failed, limited).",
                ),
                &["outcome"],
            )?,
            notices_unconfirmed: IntCounter::new(
                "zw_api_change_notices_unconfirmed_total",
                "Inventory change notices the broker did not confirm after an admin change.",
            )?,
        };
        registry.register(Box::new(m.activations.clone()))?;
        registry.register(Box::new(m.notices_unconfirmed.clone()))?;
        registry.register(Box::new(m.access_log_errors.clone()))?;
        registry.register(Box::new(m.metrics_refused.clone()))?;
        registry.register(Box::new(m.commands_unconfirmed.clone()))?;
        registry.register(Box::new(m.query_timeouts.clone()))?;
        registry.register(Box::new(m.auth_failures.clone()))?;
        registry.register(Box::new(m.streams_open.clone()))?;
        registry.register(Box::new(m.streams_rejected.clone()))?;
        Ok(m)
    }
}

/// Middleware on `/metrics`: with `api.metrics_token_sha256` set, only a request bearing that token is
/// served; without one, only a request from this host (a loopback peer, not forwarded by a proxy) is, so a
/// deployment never exposes its metrics to the network unless told to. Refusals are 401 (a token is
/// configured) or 403 problems, counted in `zw_api_metrics_refused_total`. Requests without a peer address
/// (router tests driven by `oneshot`) count as local.
pub async fn guard(
    axum::extract::State(state): axum::extract::State<std::sync::Arc<crate::AppState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    let refuse = |status: StatusCode, detail: &str| {
        state.metrics.metrics_refused.inc();
        crate::error::problem(status, detail.into(), status == StatusCode::UNAUTHORIZED)
    };
    match &state.config.metrics_token_sha256 {
        Some(expected) => {
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            if token.is_none_or(|t| zw_model::inventory::token_hash(t) != *expected) {
                return refuse(StatusCode::UNAUTHORIZED, "the metrics token is required");
            }
        }
        None => {
            let peer = req
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let forwarded =
                req.headers().contains_key("x-forwarded-for") || req.headers().contains_key("forwarded");
            if peer.is_some_and(|p| !p.is_loopback()) || forwarded {
                return refuse(
                    StatusCode::FORBIDDEN,
                    "metrics are served to this host only; configure api.metrics_token_sha256 to scrape from elsewhere",
                );
            }
        }
    }
    next.run(req).await
}
