//! Trees for the parks department: a GeoJSON map layer and a watering list ordered by urgency, each tree
//! with the litres to give now and its 1–3-day outlook ([`advice`]); the watering log; the rain observed at a
//! tree per day ([`rain`]); the season report ([`season`]).
//!
//! Tree status is computed by analytics and mirrored here; a tree without status yet is still on the map,
//! with state `unknown`, so a dead sensor never makes a tree disappear.

pub mod advice;
pub mod rain;
pub mod season;
pub mod season_soil;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use zw_model::Tree;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Litres logged for a tree: after its sensors' latest reading, and in the last seven days.
#[derive(Debug, Clone, Copy, Default)]
struct Given {
    since_reading: f64,
    last_week: f64,
}

fn feature(tree: &Tree, status: Option<&zw_model::tree::TreeStatus>, given: Given) -> Value {
    let mut props = json!({
        "tree": tree.id, "site": tree.site, "species": tree.species, "planted": tree.planted,
        "sensors": tree.sensors, "state": "unknown", "district": tree.district,
        "litres_now": advice::litres_now(status, given.since_reading, given.last_week),
        "outlook": advice::outlook(status),
    });
    if let (Some(s), Some(obj)) = (
        status.and_then(|s| serde_json::to_value(s).ok()),
        props.as_object_mut(),
    ) {
        for (k, v) in s.as_object().into_iter().flatten() {
            if !matches!(k.as_str(), "lat" | "lon" | "v") {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    // GeoJSON positions are [longitude, latitude].
    json!({ "type": "Feature", "id": tree.id, "geometry": { "type": "Point", "coordinates": [tree.lon, tree.lat] },
            "properties": props })
}

/// Trees in the caller's scope as a GeoJSON FeatureCollection with soil state, trend, days until critical and
/// urgency.
#[utoipa::path(get, path = "/api/v1/trees", tag = "trees", security(("bearer" = [])),
    responses((status = 200, content_type = "application/geo+json", body = Object),
        (status = 401, body = crate::error::Problem)))]
pub async fn geojson(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<Value>, ApiError> {
    let given = given(&state, &user).await?;
    let status = state
        .views
        .trees
        .read()
        .map_err(|_| ApiError::unavailable("tree status", &"tree view lock poisoned"))?;
    let features: Vec<Value> = visible_trees(&state, &user)
        .map(|t| {
            let g = given.get(t.id.as_str()).copied().unwrap_or_default();
            feature(t, status.get(t.id.as_str()), g)
        })
        .collect();
    Ok(Json(json!({ "type": "FeatureCollection", "features": features })))
}

/// The latest reading of each tree in scope (from its mirrored status).
fn latest_readings(
    state: &AppState,
    user: &zw_model::User,
) -> Result<BTreeMap<String, DateTime<Utc>>, ApiError> {
    let status = state
        .views
        .trees
        .read()
        .map_err(|_| ApiError::unavailable("tree status", &"tree view lock poisoned"))?;
    Ok(visible_trees(state, user)
        .filter_map(|t| {
            let s = status.get(t.id.as_str())?;
            Some((t.id.to_string(), advice::latest_reading(s)))
        })
        .collect())
}

/// Litres logged per tree in scope, from the watering log; empty without a store, or (with a warning) when
/// the log cannot be read: the list then advises as if nothing was logged, rather than failing.
async fn given(state: &AppState, user: &zw_model::User) -> Result<BTreeMap<String, Given>, ApiError> {
    let Some(store) = state.store.as_ref() else {
        return Ok(BTreeMap::new());
    };
    let latest = latest_readings(state, user)?;
    let now = Utc::now();
    let week = now - chrono::TimeDelta::days(7);
    let mut out = BTreeMap::new();
    for t in visible_trees(state, user) {
        let list = match store.waterings(t.id.as_str()).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(tree = %t.id, error = %e, "Cannot read the watering log; advising without it.");
                return Ok(BTreeMap::new());
            }
        };
        let mut g = Given::default();
        let since = latest.get(t.id.as_str()).copied();
        for w in &list {
            let (at, litres) = (w.watering.watered_at, w.watering.litres.unwrap_or(0.0));
            if since.is_some_and(|s| at > s) {
                g.since_reading += litres;
            }
            if at > week && at <= now {
                g.last_week += litres;
            }
        }
        out.insert(t.id.to_string(), g);
    }
    Ok(out)
}

fn visible_trees<'a>(state: &'a AppState, user: &'a zw_model::User) -> impl Iterator<Item = &'a Tree> {
    state.inventory.trees.iter().filter(move |t| {
        state
            .inventory
            .site(t.site.as_str())
            .is_some_and(|s| user.sees(s))
    })
}

/// The watering list: trees in scope with a known status, most urgent first (analytics' urgency rank), then
/// trees without status; each with the litres to give now and its outlook, as in the GeoJSON.
#[utoipa::path(get, path = "/api/v1/trees/watering", tag = "trees", security(("bearer" = [])),
    responses((status = 200, body = [Object]), (status = 401, body = crate::error::Problem)))]
pub async fn watering(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let given = given(&state, &user).await?;
    let status = state
        .views
        .trees
        .read()
        .map_err(|_| ApiError::unavailable("tree status", &"tree view lock poisoned"))?;
    let mut rows: Vec<(f64, Value)> = visible_trees(&state, &user)
        .map(|t| {
            let s = status.get(t.id.as_str());
            let score = s.map_or(f64::NEG_INFINITY, |s| s.urgency.score);
            let g = given.get(t.id.as_str()).copied().unwrap_or_default();
            (score, feature(t, s, g)["properties"].clone())
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(Json(rows.into_iter().map(|(_, v)| v).collect()))
}

/// Most litres one watering may log (a large water truck's tank).
pub const MAX_LITRES: f64 = 20_000.0;

/// A watering to log.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WateringBody {
    /// Litres given; positive, at most [`MAX_LITRES`].
    pub litres: f64,
    /// When it was watered (RFC 3339); default: now. Not in the future.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// The crew or person who watered; default: the caller.
    pub by: Option<String>,
}

/// The tree `id` if the caller may see it; otherwise 404, as for an unknown tree.
fn tree_in_scope<'a>(state: &'a AppState, user: &'a zw_model::User, id: &str) -> Result<&'a Tree, ApiError> {
    visible_trees(state, user)
        .find(|t| t.id.as_str() == id)
        .ok_or_else(|| ApiError::NotFound(format!("tree {id}")))
}

fn watering_json(w: &zw_store::Watering) -> Value {
    json!({
        "id": w.id, "tree": w.watering.tree, "at": w.watering.watered_at, "litres": w.watering.litres,
        "by": w.watering.note, "recorded_by": w.recorded_by, "recorded_at": w.recorded_at,
    })
}

/// Every checked problem of a watering body at `now`, each as `field: reason`.
fn check_watering(b: &WateringBody, now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let mut errors = Vec::new();
    if !(b.litres.is_finite() && b.litres > 0.0 && b.litres <= MAX_LITRES) {
        errors.push(format!(
            "litres: {} is not between 0 (exclusive) and {MAX_LITRES}",
            b.litres
        ));
    }
    if b.at.is_some_and(|at| at > now) {
        errors.push("at: lies in the future".to_owned());
    }
    if let Some(by) = &b.by
        && (by.trim().is_empty() || by.chars().count() > 100)
    {
        errors.push("by: must be 1 to 100 characters".to_owned());
    }
    errors
}

/// Logs a watering of a tree in the caller's scope (roles parks and admin: only they see parks), stores it
/// in the watering log and announces it on the bus (`zw/v1/commands/trees/watered`), so analytics counts
/// it as water given to the tree. `published` says whether the broker confirmed the announcement; the log
/// entry stands either way.
#[utoipa::path(post, path = "/api/v1/trees/{id}/waterings", tag = "trees", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tree id")), request_body = WateringBody,
    responses((status = 201, description = "Logged", body = Object),
        (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn record_watering(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let tree = tree_in_scope(&state, &user, &id)?;
    let b: WateringBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be {{\"litres\": n, \"at\": optional RFC 3339, \"by\": optional name}}: {e}"
        ))
    })?;
    let now = chrono::Utc::now();
    let errors = check_watering(&b, now);
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors.join("; ")));
    }
    let store = state
        .store
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("the watering log", &"no [store] configured"))?;
    let crew =
        b.by.as_deref()
            .map_or_else(|| user.name.to_string(), |s| s.trim().to_owned());
    let new = zw_store::NewWatering {
        tree: tree.id.to_string(),
        watered_at: b.at.unwrap_or(now),
        litres: Some(b.litres),
        note: crew.clone(),
    };
    let by = zw_store::Stamp::new(user.name.as_str(), now);
    let entry = crate::routes::alerts::retried(|| store.log_watering(by, &new))
        .await
        .map_err(|e| match e {
            zw_store::Error::Invalid(list) => ApiError::BadRequest(list.join("; ")),
            zw_store::Error::NotFound { .. } => ApiError::NotFound(format!("tree {id}")),
            e => ApiError::unavailable("the watering log", &e),
        })?;
    let event = json!({
        "v": 1, "tree": tree.id, "site": tree.site, "litres": b.litres, "at": entry.watering.watered_at, "by": crew,
    });
    let published = match &state.commands {
        Some(c) => c
            .publish(zw_model::topic::TREE_WATERED.to_string(), false, event.to_string().into_bytes())
            .await
            .inspect_err(|e| {
                state.metrics.commands_unconfirmed.inc();
                tracing::warn!(tree = %tree.id, error = %e, "Watering logged but its announcement was not confirmed.");
            })
            .is_ok(),
        None => false,
    };
    let mut out = watering_json(&entry);
    out["published"] = json!(published);
    Ok((axum::http::StatusCode::CREATED, Json(out)))
}

/// The waterings of a tree in the caller's scope, latest first, with the litres summed.
#[utoipa::path(get, path = "/api/v1/trees/{id}/waterings", tag = "trees", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tree id")),
    responses((status = 200, body = Object), (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn waterings(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tree = tree_in_scope(&state, &user, &id)?;
    let store = state
        .store
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("the watering log", &"no [store] configured"))?;
    let list = store
        .waterings(tree.id.as_str())
        .await
        .map_err(|e| ApiError::unavailable("the watering log", &e))?;
    let litres: f64 = list.iter().filter_map(|w| w.watering.litres).sum();
    Ok(Json(json!({
        "tree": tree.id,
        "sensors": tree.sensors,
        "litres": litres,
        "waterings": list.iter().map(watering_json).collect::<Vec<_>>(),
    })))
}
