//! Alerts in the caller's scope: list with filters, and acknowledge.
//!
//! Analytics owns the alert lifecycle; the API mirrors the retained alerts and forwards acknowledgements as a
//! command on the bus (`zw/v1/commands/alerts/ack`). The acknowledged state shows once analytics has applied
//! it and republished the alert, so the answer to an acknowledgement is 202 Accepted, given only once the
//! broker confirmed it holds the command ([`zw_bus::ConfirmedPublisher`]); otherwise 503, and the client
//! retries (a second acknowledgement is harmless).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use tracing::warn;
use zw_model::alert::{AckCommand, Alert, AlertId};
use zw_model::topic;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// Filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// `open`, `acknowledged` or `resolved`; default: open and acknowledged.
    #[param(pattern = "^(open|acknowledged|resolved)$")]
    pub state: Option<String>,
    /// `energy`, `watering` or `maintenance`.
    #[param(pattern = "^(energy|watering|maintenance)$")]
    pub category: Option<String>,
    /// Only alerts of this site.
    pub site: Option<String>,
}

/// In scope, and opened no earlier than the user's scope starts (a resident's move-in).
fn visible(state: &AppState, user: &zw_model::User, a: &Alert) -> bool {
    state
        .inventory
        .site(a.site.as_str())
        .is_some_and(|s| user.sees(s))
        && user.since.is_none_or(|since| a.opened_at >= since)
}

/// Alerts the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertParams),
    responses((status = 200, description = "Alerts with their explanation", body = [Object]),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<AlertParams>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    if let Some(s) = p
        .state
        .as_deref()
        .filter(|s| !matches!(*s, "open" | "acknowledged" | "resolved"))
    {
        return Err(ApiError::BadRequest(format!(
            "state must be open, acknowledged or resolved, got {s:?}"
        )));
    }
    if let Some(c) = p
        .category
        .as_deref()
        .filter(|c| !matches!(*c, "energy" | "watering" | "maintenance"))
    {
        return Err(ApiError::BadRequest(format!(
            "category must be energy, watering or maintenance, got {c:?}"
        )));
    }
    let alerts = state
        .views
        .alerts
        .read()
        .map_err(|_| ApiError::unavailable("the alert list", &"alert view lock poisoned"))?;
    let mut out: Vec<Alert> = alerts
        .values()
        .filter(|a| visible(&state, &user, a))
        .filter(|a| match p.state.as_deref() {
            Some(s) => a.state.name() == s,
            None => a.state.name() != "resolved",
        })
        .filter(|a| p.category.as_deref().is_none_or(|c| a.category.name() == c))
        .filter(|a| p.site.as_deref().is_none_or(|s| a.site.as_str() == s))
        .cloned()
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
    Ok(Json(out))
}

/// Acknowledges an alert in the caller's scope.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")),
    responses((status = 202, description = "The broker confirmed the acknowledgement; analytics applies it", body = Object),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn ack(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Alert>), ApiError> {
    let not_found = || ApiError::NotFound(format!("alert {id}"));
    let alert_id = AlertId::parse(&id).ok_or_else(not_found)?;
    let alert = {
        let alerts = state
            .views
            .alerts
            .read()
            .map_err(|_| ApiError::unavailable("the alert list", &"alert view lock poisoned"))?;
        alerts
            .get(alert_id.as_str())
            .filter(|a| visible(&state, &user, a))
            .cloned()
            .ok_or_else(not_found)?
    };
    let commands = state
        .commands
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("acknowledging", &"no broker connection"))?;
    let cmd = AckCommand {
        alert: alert_id,
        by: user.name.clone(),
        ts: Utc::now(),
    };
    let payload = serde_json::to_vec(&cmd).map_err(|e| ApiError::unavailable("acknowledging", &e))?;
    // 202 only once the broker holds the command (analytics' persistent session queues it); otherwise
    // 503, and the client retries: acknowledging twice is harmless.
    if let Err(e) = commands
        .publish(topic::ALERT_ACK.to_string(), false, payload)
        .await
    {
        state.metrics.commands_unconfirmed.inc();
        warn!(alert = %alert.id, error = %e, "Acknowledgement not confirmed by the broker; answering 503.");
        return Err(ApiError::unavailable("acknowledging", &e));
    }
    Ok((StatusCode::ACCEPTED, Json(alert)))
}
