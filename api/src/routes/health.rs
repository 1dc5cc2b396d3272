//! Liveness, readiness and Prometheus metrics; no token needed.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, TextEncoder};
use serde::Serialize;

use crate::AppState;

/// Health or readiness report.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Broker connection up (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<bool>,
    /// InfluxDB answers `/ping` (readiness only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub influxdb: Option<bool>,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        broker: None,
        influxdb: None,
    })
}

/// The broker and InfluxDB are reachable.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let broker = state.bus.as_ref().is_some_and(|b| b.is_connected());
    let influxdb = state.influx.ping().await;
    let ok = broker && influxdb;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Health {
        status: if ok { "ok" } else { "unavailable" },
        broker: Some(broker),
        influxdb: Some(influxdb),
    };
    (status, Json(body)).into_response()
}

/// Prometheus text exposition (format 0.0.4) of every metric in this process.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&state.registry.gather(), &mut buf) {
        tracing::error!(error = %e, "Cannot encode the metrics.");
        let detail = "the metrics could not be encoded; the cause has been logged".into();
        return crate::error::problem(StatusCode::INTERNAL_SERVER_ERROR, detail, false);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        buf,
    )
        .into_response()
}
