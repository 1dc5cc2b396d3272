//! Sites: list, create, read, change, retire (with their devices and trees).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use zw_model::{Id, SiteKind};
use zw_store::{SiteDetails, SiteRecord, Stored};

use super::{Admin, AdminError, Body, Lifecycle, ListParams, applied};
use crate::AppState;
use crate::extract::ApiQuery;

/// A site as the admin API reads and writes it: the inventory's fields (without devices) and the details
/// only the store keeps.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteInput {
    /// Unique site id (`a-z`, `0-9`, `-`, `_`); in a change it may be left out (the path names it).
    #[serde(default)]
    pub id: Option<String>,
    /// `building`, `household` or `park`.
    #[schema(value_type = String, pattern = "^(building|household|park)$")]
    pub kind: SiteKind,
    /// Human-readable name.
    #[serde(default)]
    pub name: String,
    /// Postal address.
    #[serde(default)]
    pub address: Option<String>,
    /// Heated floor area, m²; positive.
    #[serde(default)]
    pub floor_area_m2: Option<f64>,
    /// Building category (a report category such as `schule`, or a BWZK code).
    #[serde(default)]
    pub building_category: Option<String>,
    /// Usage hours as the facility manager writes them (`Mo-Fr 07:00-18:00`).
    #[serde(default)]
    pub usage_hours: Option<String>,
}

/// A stored site.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SiteView {
    /// The site.
    #[serde(flatten)]
    pub site: SiteInput,
    /// Its lifecycle.
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
}

impl From<&Stored<SiteRecord>> for SiteView {
    fn from(s: &Stored<SiteRecord>) -> Self {
        let r = &s.value;
        Self {
            site: SiteInput {
                id: Some(r.id.to_string()),
                kind: r.kind,
                name: r.name.clone(),
                address: r.details.address.clone(),
                floor_area_m2: r.details.floor_area_m2,
                building_category: r.details.building_category.clone(),
                usage_hours: r.details.usage_hours.clone(),
            },
            lifecycle: s.into(),
        }
    }
}

impl SiteInput {
    /// The store's record of this site as `id` (the path's, or the body's), or every problem.
    pub(crate) fn record(self, id: Option<&str>) -> Result<SiteRecord, AdminError> {
        let id = checked_id("site.id", id, self.id.as_deref())?;
        Ok(SiteRecord {
            id,
            kind: self.kind,
            name: self.name,
            details: SiteDetails {
                address: self.address,
                floor_area_m2: self.floor_area_m2,
                building_category: self.building_category,
                usage_hours: self.usage_hours,
            },
        })
    }
}

/// The entity's id: the path's (`path`), which the body (`body`) may repeat but not contradict; or, for a
/// create, the body's. A malformed id is a 422 naming `field`.
pub(crate) fn checked_id(field: &str, path: Option<&str>, body: Option<&str>) -> Result<Id, AdminError> {
    let id = match (path, body) {
        (Some(p), Some(b)) if p != b => {
            return Err(AdminError::Invalid(vec![format!(
                "{field}: {b:?} differs from the path's {p:?}"
            )]));
        }
        (Some(p), _) => p,
        (None, Some(b)) => b,
        (None, None) => return Err(AdminError::Invalid(vec![format!("{field}: missing")])),
    };
    Id::new(id).map_err(|e| AdminError::Invalid(vec![format!("{field}: {e}")]))
}

/// Every site, in inventory order.
#[utoipa::path(get, path = "/api/v1/admin/sites", tag = "admin", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = [SiteView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    admin: Admin,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<SiteView>>, AdminError> {
    let sites = admin.store.sites(p.retired).await?;
    Ok(Json(sites.iter().map(SiteView::from).collect()))
}

/// One site, live or retired.
#[utoipa::path(get, path = "/api/v1/admin/sites/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, body = SiteView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn one(admin: Admin, Path(id): Path<String>) -> Result<Json<SiteView>, AdminError> {
    let site = admin
        .store
        .site(&id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("site {id:?}")))?;
    Ok(Json(SiteView::from(&site)))
}

/// Creates a site.
#[utoipa::path(post, path = "/api/v1/admin/sites", tag = "admin", security(("bearer" = [])), request_body = SiteInput,
    responses((status = 201, body = SiteView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Body(input): Body<SiteInput>,
) -> Result<(StatusCode, Json<SiteView>), AdminError> {
    let rec = input.record(None)?;
    if admin.store.site(rec.id.as_str()).await?.is_some() {
        return Err(AdminError::Conflict(format!("site {:?}", rec.id.as_str())));
    }
    Ok((StatusCode::CREATED, put(&state, &admin, rec).await?))
}

/// Changes a site (or brings a retired one back).
#[utoipa::path(put, path = "/api/v1/admin/sites/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")), request_body = SiteInput,
    responses((status = 200, body = SiteView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn change(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
    Body(input): Body<SiteInput>,
) -> Result<Json<SiteView>, AdminError> {
    if admin.store.site(&id).await?.is_none() {
        return Err(AdminError::NotFound(format!("site {id:?}")));
    }
    put(&state, &admin, input.record(Some(&id))?).await
}

async fn put(state: &AppState, admin: &Admin, rec: SiteRecord) -> Result<Json<SiteView>, AdminError> {
    let now = Utc::now();
    admin.store.put_site(admin.stamp(now), &rec).await?;
    applied(state, &admin.store, admin.user.name.as_str(), now).await?;
    one_view(admin, rec.id.as_str()).await
}

async fn one_view(admin: &Admin, id: &str) -> Result<Json<SiteView>, AdminError> {
    let site = admin.store.site(id).await?.ok_or(AdminError::Store)?;
    Ok(Json(SiteView::from(&site)))
}

/// Retires a site with its devices and trees; refused (422) while a user's scope names it.
#[utoipa::path(delete, path = "/api/v1/admin/sites/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, description = "The retired site", body = SiteView),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = super::InvalidProblem)))]
pub async fn retire(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(id): Path<String>,
) -> Result<Json<SiteView>, AdminError> {
    let now = Utc::now();
    admin.store.retire_site(admin.stamp(now), &id).await?;
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    one_view(&admin, &id).await
}
