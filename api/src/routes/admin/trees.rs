//! Trees: list, create, read, change, retire (their watering log stays). A tree is written as in the
//! TOML inventory.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use zw_model::Tree;
use zw_store::Stored;

use super::sites::checked_id;
use super::{Admin, AdminError, Body, Lifecycle, ListParams, applied};
use crate::AppState;
use crate::extract::ApiQuery;

/// A tree as the admin API reads and writes it (the inventory's `[[trees]]`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TreeInput {
    /// Unique tree id (e.g. the cadastre number); in a change it may be left out (the path names it).
    pub id: String,
    /// The park it stands in.
    pub site: String,
    /// Botanical name.
    pub species: String,
    /// Year of planting.
    pub planted: u16,
    /// WGS84 latitude.
    pub lat: f64,
    /// WGS84 longitude.
    pub lon: f64,
    /// Soil sensor device ids at this tree (devices of the park).
    pub sensors: Vec<String>,
}

/// A stored tree.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TreeView {
    /// The tree.
    #[serde(flatten)]
    pub tree: TreeInput,
    /// Its lifecycle.
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
}

impl From<&Stored<Tree>> for TreeView {
    fn from(s: &Stored<Tree>) -> Self {
        let t = &s.value;
        Self {
            tree: TreeInput {
                id: t.id.to_string(),
                site: t.site.to_string(),
                species: t.species.clone(),
                planted: t.planted,
                lat: t.lat,
                lon: t.lon,
                sensors: t.sensors.iter().map(ToString::to_string).collect(),
            },
            lifecycle: s.into(),
        }
    }
}

fn record(mut body: Value, path_id: Option<&str>) -> Result<Tree, AdminError> {
    let body_id = body.get("id").and_then(Value::as_str).map(str::to_owned);
    let id = checked_id("tree.id", path_id, body_id.as_deref())?;
    if let Value::Object(fields) = &mut body {
        fields.insert("id".into(), Value::String(id.to_string()));
    }
    serde_json::from_value(body).map_err(|e| AdminError::Invalid(vec![format!("tree: {e}")]))
}

/// Every tree, in inventory order.
#[utoipa::path(get, path = "/api/v1/admin/trees", tag = "admin", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = [TreeView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    admin: Admin,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<TreeView>>, AdminError> {
    let trees = admin.store.trees(p.retired).await?;
    Ok(Json(trees.iter().map(TreeView::from).collect()))
}

/// One tree, live or retired.
#[utoipa::path(get, path = "/api/v1/admin/trees/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tree id")),
    responses((status = 200, body = TreeView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn one(admin: Admin, Path(id): Path<String>) -> Result<Json<TreeView>, AdminError> {
    view(&admin, &id).await
}

async fn view(admin: &Admin, id: &str) -> Result<Json<TreeView>, AdminError> {
    let trees = admin.store.trees(true).await?;
    let tree = trees
        .iter()
        .find(|t| t.value.id.as_str() == id)
        .ok_or_else(|| AdminError::NotFound(format!("tree {id:?}")))?;
    Ok(Json(TreeView::from(tree)))
}

/// Creates a tree.
#[utoipa::path(post, path = "/api/v1/admin/trees", tag = "admin", security(("bearer" = [])), request_body = TreeInput,
    responses((status = 201, body = TreeView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<TreeView>), AdminError> {
    let tree = record(body, None)?;
    if view(&admin, tree.id.as_str()).await.is_ok() {
        return Err(AdminError::Conflict(format!("tree {:?}", tree.id.as_str())));
    }
    Ok((StatusCode::CREATED, put(&state, &admin, tree).await?))
}

/// Changes a tree (or brings a retired one back).
#[utoipa::path(put, path = "/api/v1/admin/trees/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tree id")), request_body = TreeInput,
    responses((status = 200, body = TreeView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn change(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
    Body(body): Body<Value>,
) -> Result<Json<TreeView>, AdminError> {
    let _exists = view(&admin, &id).await?;
    put(&state, &admin, record(body, Some(&id))?).await
}

async fn put(state: &AppState, admin: &Admin, tree: Tree) -> Result<Json<TreeView>, AdminError> {
    let now = Utc::now();
    admin.store.put_tree(admin.stamp(now), &tree).await?;
    applied(state, &admin.store, admin.user.name.as_str(), now).await?;
    view(admin, tree.id.as_str()).await
}

/// Retires a tree.
#[utoipa::path(delete, path = "/api/v1/admin/trees/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Tree id")),
    responses((status = 200, description = "The retired tree", body = TreeView),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn retire(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<TreeView>, AdminError> {
    let now = Utc::now();
    admin.store.retire_tree(admin.stamp(now), &id).await?;
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    view(&admin, &id).await
}
