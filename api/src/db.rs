//! InfluxDB reads for the handlers: every query runs under `api.query_timeout`, and a failure (timeout,
//! connection, InfluxDB's own error) is logged once server-side and answered as a generic 503 that names
//! only what is unavailable, never an internal URL or InfluxDB's text.

use zw_influx::Series;

use crate::AppState;
use crate::error::ApiError;

/// Runs `q` with bound `params`; `what` names the data in the 503 text (e.g. `"history"`).
pub async fn query(
    state: &AppState,
    what: &'static str,
    q: &str,
    params: &[(&str, &str)],
) -> Result<Vec<Series>, ApiError> {
    answer(state, what, state.influx.query(q, params)).await
}

/// Runs several `;`-separated statements in one request (`zw_influx::Client::query_all`); the series of each.
pub async fn query_all(
    state: &AppState,
    what: &'static str,
    q: &str,
    params: &[(&str, &str)],
) -> Result<Vec<Vec<Series>>, ApiError> {
    answer(state, what, state.influx.query_all(q, params)).await
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
