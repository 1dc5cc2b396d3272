//! Alerts in the caller's scope: list with filters, one alert with its history, and acknowledge (with an
//! optional comment).
//!
//! Analytics owns the alert lifecycle; the API mirrors the retained alerts and forwards acknowledgements as a
//! command on the bus (`zw/v1/commands/alerts/ack`). The acknowledged state shows once analytics has applied
//! it and republished the alert, so the answer to an acknowledgement is 202 Accepted, given only once the
//! broker confirmed it holds the command ([`zw_bus::ConfirmedPublisher`]); otherwise 503, and the client
//! retries (a second acknowledgement is harmless).
//!
//! With a store (`[store]`), the alert book answers instead of the mirror: every alert event mirrored is
//! recorded there ([`crate::views::Views::record_alerts`]), an acknowledgement is stored with who and when
//! (the first one is kept) and its comment next to it, so both survive the loss of the broker's retained
//! state. Each listed alert then carries `episode` (its occurrence in the book) and `comments`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::warn;
use zw_model::alert::{AckCommand, Alert, AlertId, AlertState};
use zw_model::topic;
use zw_store::{AlertComment, AlertEpisode, Stamp, Store};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::ApiQuery;

/// Longest acknowledgement comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// `open` (nobody acknowledged it yet), `acknowledged`, `resolved` (or its synonym `closed`), or `all`;
    /// default: open and acknowledged.
    #[param(pattern = "^(open|acknowledged|resolved|closed|all)$")]
    pub state: Option<String>,
    /// `energy`, `watering` or `maintenance`.
    #[param(pattern = "^(energy|watering|maintenance)$")]
    pub category: Option<String>,
    /// Only alerts of this site.
    pub site: Option<String>,
}

/// The body of an acknowledgement; the whole body is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// A comment stored with the acknowledgement (who and when), at most [`MAX_COMMENT_CHARS`] characters.
    pub comment: Option<String>,
}

/// An alert as listed: the model's alert, and with a store its occurrence in the alert book and the
/// comments on it.
#[derive(Debug, Serialize)]
pub struct BookAlert {
    /// The alert (state and acknowledgement as the book has them).
    #[serde(flatten)]
    pub alert: Alert,
    /// The alert book's episode id (absent without a store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub episode: Option<String>,
    /// Comments on this occurrence, oldest first.
    pub comments: Vec<AlertComment>,
}

/// In scope, and opened no earlier than the user's scope starts (a resident's move-in).
fn visible(state: &AppState, user: &zw_model::User, a: &Alert) -> bool {
    state
        .inventory
        .site(a.site.as_str())
        .is_some_and(|s| user.sees(s))
        && user.since.is_none_or(|since| a.opened_at >= since)
}

fn check_params(p: &AlertParams) -> Result<(), ApiError> {
    if let Some(s) = p
        .state
        .as_deref()
        .filter(|s| !matches!(*s, "open" | "acknowledged" | "resolved" | "closed" | "all"))
    {
        return Err(ApiError::BadRequest(format!(
            "state must be open, acknowledged, resolved, closed or all, got {s:?}"
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
    Ok(())
}

fn wanted(p: &AlertParams, a: &Alert) -> bool {
    let state_ok = match p.state.as_deref() {
        Some("all") => true,
        Some("closed") => a.state == AlertState::Resolved,
        Some(s) => a.state.name() == s,
        None => a.state != AlertState::Resolved,
    };
    state_ok
        && p.category.as_deref().is_none_or(|c| a.category.name() == c)
        && p.site.as_deref().is_none_or(|s| a.site.as_str() == s)
}

/// Runs a store write again on a database error, up to 5 times 100 ms × attempt apart: SQLite lets one
/// writer in at a time and the alert recorder writes too.
pub(crate) async fn retried<T, F, Fut>(mut f: F) -> Result<T, zw_store::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, zw_store::Error>>,
{
    let mut attempt = 1;
    loop {
        match f().await {
            Err(zw_store::Error::Db(e)) if attempt < 5 => {
                warn!(error = %e, attempt, "Alert book write failed; retrying.");
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
                attempt += 1;
            }
            r => return r,
        }
    }
}

fn store_error(what: &'static str) -> impl Fn(zw_store::Error) -> ApiError {
    move |e| ApiError::unavailable(what, &e)
}

/// The model's alert of an episode, with the book's acknowledgement and close. `None` for an episode whose
/// detail is not a model alert (recorded by something else than the API).
fn from_episode(ep: &AlertEpisode) -> Option<Alert> {
    let mut a: Alert = serde_json::from_value(ep.alert.detail.clone()?).ok()?;
    if let Some((who, at)) = &ep.acknowledged {
        a.acknowledged_by = Some(who.clone());
        a.acknowledged_at = Some(*at);
    }
    if let Some(closed) = ep.closed_at {
        a.state = AlertState::Resolved;
        a.resolved_at.get_or_insert(closed);
    } else if ep.acknowledged.is_some() {
        a.state = AlertState::Acknowledged;
    }
    Some(a)
}

/// Every episode in the book the caller may see, as alerts, newest first.
async fn book(
    state: &AppState,
    store: &Store,
    user: &zw_model::User,
) -> Result<Vec<(AlertEpisode, Alert)>, ApiError> {
    let from = user.since.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    // The store's instants are fixed-width text: the end of year 9999 is the latest it orders correctly.
    let far = DateTime::<Utc>::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let episodes = store
        .alert_history(None, from, far)
        .await
        .map_err(store_error("the alert book"))?;
    let mut out: Vec<(AlertEpisode, Alert)> = episodes
        .into_iter()
        .filter_map(|ep| from_episode(&ep).map(|a| (ep, a)))
        .filter(|(_, a)| visible(state, user, a))
        .collect();
    out.sort_by_key(|(ep, a)| std::cmp::Reverse((a.updated_at, ep.opened_at)));
    Ok(out)
}

async fn with_comments(store: &Store, ep: AlertEpisode, alert: Alert) -> Result<BookAlert, ApiError> {
    let comments = store
        .alert_comments(&ep.id)
        .await
        .map_err(store_error("the alert book"))?;
    Ok(BookAlert {
        alert,
        episode: Some(ep.id),
        comments,
    })
}

fn mirrored(
    state: &AppState,
) -> Result<std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<String, Alert>>, ApiError> {
    state
        .views
        .alerts
        .read()
        .map_err(|_| ApiError::unavailable("the alert list", &"alert view lock poisoned"))
}

/// Alerts the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts", security(("bearer" = [])), params(AlertParams),
    responses((status = 200, description = "Alerts with their explanation, episode and comments", body = [Object]),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<AlertParams>,
) -> Result<Json<Vec<BookAlert>>, ApiError> {
    check_params(&p)?;
    if let Some(store) = &state.store {
        let mut out = Vec::new();
        for (ep, a) in book(&state, store, &user).await? {
            if wanted(&p, &a) {
                out.push(with_comments(store, ep, a).await?);
            }
        }
        return Ok(Json(out));
    }
    let mut out: Vec<Alert> = mirrored(&state)?
        .values()
        .filter(|a| visible(&state, &user, a) && wanted(&p, a))
        .cloned()
        .collect();
    out.sort_by_key(|a| std::cmp::Reverse(a.updated_at));
    Ok(Json(
        out.into_iter()
            .map(|alert| BookAlert {
                alert,
                episode: None,
                comments: Vec::new(),
            })
            .collect(),
    ))
}

/// One alert in the caller's scope: its latest occurrence with comments, and with a store every earlier
/// occurrence in `history` (newest first).
#[utoipa::path(get, path = "/api/v1/alerts/{id}", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")),
    responses((status = 200, description = "The alert, its comments and history", body = Object),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn one(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let not_found = || ApiError::NotFound(format!("alert {id}"));
    let alert_id = AlertId::parse(&id).ok_or_else(not_found)?;
    let Some(store) = &state.store else {
        let a = mirrored(&state)?
            .get(alert_id.as_str())
            .filter(|a| visible(&state, &user, a))
            .cloned()
            .ok_or_else(not_found)?;
        return Ok(Json(
            serde_json::json!({ "alert": a, "comments": [], "history": [] }),
        ));
    };
    let mut mine: Vec<(AlertEpisode, Alert)> = book(&state, store, &user)
        .await?
        .into_iter()
        .filter(|(ep, _)| ep.alert.alert_id == alert_id.as_str())
        .collect();
    mine.sort_by_key(|(ep, _)| std::cmp::Reverse(ep.opened_at));
    let mut it = mine.into_iter();
    let (ep, a) = it.next().ok_or_else(not_found)?;
    let latest = with_comments(store, ep, a).await?;
    let mut history = Vec::new();
    for (ep, a) in it {
        history.push(with_comments(store, ep, a).await?);
    }
    Ok(Json(serde_json::json!({
        "alert": latest.alert, "episode": latest.episode, "comments": latest.comments, "history": history,
    })))
}

/// The body's comment: `None` for an empty body, `null` (the document declares the body nullable) or no
/// comment. Errors: 400 for a body that is not an [`AckBody`] or a comment too long.
fn parse_ack_body(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let b: Option<AckBody> = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body must be {{\"comment\": \"…\"}}: {e}")))?;
    let comment = b
        .and_then(|b| b.comment)
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if let Some(c) = &comment
        && c.chars().count() > MAX_COMMENT_CHARS
    {
        return Err(ApiError::BadRequest(format!(
            "comment: {} characters, at most {MAX_COMMENT_CHARS}",
            c.chars().count()
        )));
    }
    Ok(comment)
}

/// Acknowledges an alert in the caller's scope, with an optional comment.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", tag = "alerts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Alert id")), request_body(content = Option<AckBody>),
    responses((status = 202, description = "The broker confirmed the acknowledgement; analytics applies it", body = Object),
        (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 503, body = crate::error::Problem)))]
pub async fn ack(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<BookAlert>), ApiError> {
    let not_found = || ApiError::NotFound(format!("alert {id}"));
    let alert_id = AlertId::parse(&id).ok_or_else(not_found)?;
    let comment = parse_ack_body(&body)?;
    let mirrored_alert = mirrored(&state)?
        .get(alert_id.as_str())
        .filter(|a| visible(&state, &user, a))
        .cloned();
    // Without the broker's retained state, the book still knows the alert.
    let alert = match (mirrored_alert, &state.store) {
        (Some(a), _) => a,
        (None, Some(store)) => book(&state, store, &user)
            .await?
            .into_iter()
            .find(|(ep, a)| ep.alert.alert_id == alert_id.as_str() && a.is_active())
            .map(|(_, a)| a)
            .ok_or_else(not_found)?,
        (None, None) => return Err(not_found()),
    };
    let commands = state
        .commands
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("acknowledging", &"no broker connection"))?;
    let now = Utc::now();
    let cmd = AckCommand {
        alert: alert_id,
        by: user.name.clone(),
        ts: now,
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
    let Some(store) = &state.store else {
        return Ok((
            StatusCode::ACCEPTED,
            Json(BookAlert {
                alert,
                episode: None,
                comments: Vec::new(),
            }),
        ));
    };
    let by = Stamp::new(user.name.as_str(), now);
    let event = crate::views::book_event(&alert);
    let ep = retried(|| store.record_alert_event(by, &event))
        .await
        .map_err(store_error("the alert book"))?;
    let ep = retried(|| store.acknowledge_episode(by, &ep.id))
        .await
        .map_err(store_error("the alert book"))?;
    if let Some(c) = &comment {
        retried(|| store.comment_alert(by, &ep.id, c))
            .await
            .map_err(store_error("the alert book"))?;
    }
    let alert = from_episode(&ep).unwrap_or(alert);
    Ok((StatusCode::ACCEPTED, Json(with_comments(store, ep, alert).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ack_body_may_be_empty_null_or_a_comment_and_nothing_else() {
        for none in [
            &b""[..],
            b"  \n",
            b"null",
            b"{}",
            b"{\"comment\":null}",
            b"{\"comment\":\"  \"}",
        ] {
            assert_eq!(
                parse_ack_body(none).ok(),
                Some(None),
                "{}",
                String::from_utf8_lossy(none)
            );
        }
        assert_eq!(
            parse_ack_body(b"{\"comment\":\" Pumpe getauscht \"}").ok(),
            Some(Some("Pumpe getauscht".to_owned()))
        );
        for bad in [&b"[]"[..], b"\"text\"", b"{\"comment\":3}", b"{"] {
            assert!(parse_ack_body(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let long = format!("{{\"comment\":\"{}\"}}", "x".repeat(MAX_COMMENT_CHARS + 1));
        assert!(parse_ack_body(long.as_bytes()).is_err());
    }
}
