//! Trees for the parks department: a GeoJSON map layer and a watering list ordered by urgency.
//!
//! Tree status is computed by analytics and mirrored here; a tree without status yet is still on the map,
//! with state `unknown`, so a dead sensor never makes a tree disappear.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use zw_model::Tree;

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

fn feature(tree: &Tree, status: Option<&zw_model::tree::TreeStatus>) -> Value {
    let mut props = json!({
        "tree": tree.id, "site": tree.site, "species": tree.species, "planted": tree.planted,
        "sensors": tree.sensors, "state": "unknown",
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
    let status = state
        .views
        .trees
        .read()
        .map_err(|_| ApiError::unavailable("tree status", &"tree view lock poisoned"))?;
    let features: Vec<Value> = visible_trees(&state, &user)
        .map(|t| feature(t, status.get(t.id.as_str())))
        .collect();
    Ok(Json(json!({ "type": "FeatureCollection", "features": features })))
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
/// trees without status.
#[utoipa::path(get, path = "/api/v1/trees/watering", tag = "trees", security(("bearer" = [])),
    responses((status = 200, body = [Object]), (status = 401, body = crate::error::Problem)))]
pub async fn watering(
    State(state): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<Vec<Value>>, ApiError> {
    let status = state
        .views
        .trees
        .read()
        .map_err(|_| ApiError::unavailable("tree status", &"tree view lock poisoned"))?;
    let mut rows: Vec<(f64, Value)> = visible_trees(&state, &user)
        .map(|t| {
            let s = status.get(t.id.as_str());
            let score = s.map_or(f64::NEG_INFINITY, |s| s.urgency.score);
            (score, feature(t, s)["properties"].clone())
        })
        .collect();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(Json(rows.into_iter().map(|(_, v)| v).collect()))
}
