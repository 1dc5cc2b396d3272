//! The API's own hardening metrics: query timeouts, failed authentications and live streams. Requests per
//! route and status are counted in [`crate::AppState::requests`].

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Counters and gauges registered once per process registry.
#[derive(Clone)]
pub struct ApiMetrics {
    /// InfluxDB reads that exceeded `api.query_timeout`.
    pub query_timeouts: IntCounter,
    /// Failed authentications by reason: `missing`, `malformed`, `unknown_token`, `invalid_jwt`, and
    /// `limited` for requests refused because their address failed too often.
    pub auth_failures: IntCounterVec,
    /// Live streams open now.
    pub streams_open: IntGauge,
    /// Live streams refused because the user had `api.max_streams_per_user` open.
    pub streams_rejected: IntCounter,
    /// Alert acknowledgements answered 503 because the broker did not confirm the command in time.
    pub commands_unconfirmed: IntCounter,
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
        };
        registry.register(Box::new(m.commands_unconfirmed.clone()))?;
        registry.register(Box::new(m.query_timeouts.clone()))?;
        registry.register(Box::new(m.auth_failures.clone()))?;
        registry.register(Box::new(m.streams_open.clone()))?;
        registry.register(Box::new(m.streams_rejected.clone()))?;
        Ok(m)
    }
}
