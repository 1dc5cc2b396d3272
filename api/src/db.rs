//! Time-series reads for the handlers (InfluxDB or VictoriaMetrics, [`zw_influx::read`]): every query runs under `api.query_timeout`, and a failure (timeout,
//! connection, InfluxDB's own error) is logged once server-side and answered as a generic 503 that names
//! only what is unavailable, never an internal URL or InfluxDB's text.

use zw_influx::read::{Group, Request};

use crate::AppState;
use crate::error::ApiError;

/// Runs one read on the configured engine ([`zw_influx::Client::read`]).
pub async fn read(state: &AppState, what: &'static str, request: &Request) -> Result<Vec<Group>, ApiError> {
    answer(state, what, state.influx.read(request)).await
}

/// Runs several reads at once ([`zw_influx::Client::read_all`]); the groups of each.
pub async fn read_all(
    state: &AppState,
    what: &'static str,
    requests: &[Request],
) -> Result<Vec<Vec<Group>>, ApiError> {
    answer(state, what, state.influx.read_all(requests)).await
}

async fn answer<T>(
    state: &AppState,
    what: &'static str,
    query: impl Future<Output = Result<T, zw_influx::QueryError>>,
) -> Result<T, ApiError> {
    let timeout = state.config.query_timeout;
    match tokio::time::timeout(timeout, query).await {
        Ok(Ok(series)) => Ok(series),
        Ok(Err(e)) => Err(ApiError::unavailable(what, &e)),
        Err(_) => {
            state.metrics.query_timeouts.inc();
            let cause = format!("no answer from InfluxDB within api.query_timeout ({timeout:?})");
            Err(ApiError::unavailable(what, &cause))
        }
    }
}
