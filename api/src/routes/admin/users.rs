//! Users: list, create (with a new token handed out once, or a given token hash), read, change role,
//! scope or move-in date, retire (revoking every token), and revoke every token of a user in one call.
//!
//! Token hashes are never listed: a user shows how many live tokens it holds.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zw_model::inventory::token_hash;
use zw_model::{Role, User};
use zw_store::Stored;

use super::sites::checked_id;
use super::{Admin, AdminError, Body, Lifecycle, ListParams, applied, random_hex, sealed_token_hash};
use crate::AppState;
use crate::extract::ApiQuery;

/// A user as the admin API writes it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// User name (`a-z`, `0-9`, `-`, `_`); in a change it may be left out (the path names it).
    #[serde(default)]
    pub name: Option<String>,
    /// `facility_manager`, `resident`, `parks` or `admin`.
    #[schema(value_type = String, pattern = "^(facility_manager|resident|parks|admin)$")]
    pub role: Role,
    /// Site ids the user may see, or `["*"]`; a resident's is exactly one household.
    pub scope: Vec<String>,
    /// Start of the user's scope in time (a resident's move-in): nothing measured before it is shown.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Create only: the SHA-256 of a token handed out otherwise; absent: the API makes a token and answers
    /// it once.
    #[serde(default)]
    pub token_sha256: Option<String>,
}

/// A stored user.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// User name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Site ids, or `["*"]`.
    pub scope: Vec<String>,
    /// Move-in date, if any.
    pub since: Option<DateTime<Utc>>,
    /// How many tokens the user holds (not revoked; expired ones count until removed).
    pub tokens: usize,
    /// Its lifecycle.
    #[serde(flatten)]
    pub lifecycle: Lifecycle,
}

impl From<&Stored<User>> for UserView {
    fn from(s: &Stored<User>) -> Self {
        let u = &s.value;
        Self {
            name: u.name.to_string(),
            role: serde_json::to_value(u.role)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            scope: u.scope.clone(),
            since: u.since,
            tokens: u.token_hashes().filter(|(h, _)| !h.is_empty()).count(),
            lifecycle: s.into(),
        }
    }
}

/// A created user, with its token if the API made one (shown this once).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    /// The user.
    #[serde(flatten)]
    pub user: UserView,
    /// The bearer token, if the request gave no `token_sha256`; only its SHA-256 is stored.
    pub token: Option<String>,
}

/// Every user.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = [UserView]), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
pub async fn list(
    admin: Admin,
    ApiQuery(p): ApiQuery<ListParams>,
) -> Result<Json<Vec<UserView>>, AdminError> {
    let users = admin.store.users(p.retired).await?;
    Ok(Json(users.iter().map(UserView::from).collect()))
}

/// One user, live or retired.
#[utoipa::path(get, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User name")),
    responses((status = 200, body = UserView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn one(admin: Admin, Path(name): Path<String>) -> Result<Json<UserView>, AdminError> {
    Ok(Json(UserView::from(&stored(&admin, &name).await?)))
}

async fn stored(admin: &Admin, name: &str) -> Result<Stored<User>, AdminError> {
    admin
        .store
        .user(name)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user {name:?}")))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), request_body = UserInput,
    responses((status = 201, body = CreatedUser), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn create(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Body(input): Body<UserInput>,
) -> Result<(StatusCode, Json<CreatedUser>), AdminError> {
    let name = checked_id("user.name", None, input.name.as_deref())?;
    if admin.store.user(name.as_str()).await?.is_some() {
        return Err(AdminError::Conflict(format!("user {:?}", name.as_str())));
    }
    let token = input.token_sha256.is_none().then(|| random_hex(32));
    let user = User {
        name,
        role: input.role,
        scope: input.scope,
        token_sha256: input
            .token_sha256
            .unwrap_or_else(|| token.as_deref().map(token_hash).unwrap_or_default()),
        token_expires: None,
        tokens: Vec::new(),
        since: input.since,
    };
    let view = put(&state, &admin, &user).await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { user: view, token })))
}

/// Changes a user's role, scope or move-in date (tokens stay; a `token_sha256` here is refused).
#[utoipa::path(put, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User name")), request_body = UserInput,
    responses((status = 200, body = UserView), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn change(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(name): Path<String>,
    Body(input): Body<UserInput>,
) -> Result<Json<UserView>, AdminError> {
    let mut user = stored(&admin, &name).await?.value;
    checked_id("user.name", Some(&name), input.name.as_deref())?;
    if input.token_sha256.is_some() {
        return Err(AdminError::Invalid(vec![
            "user.token_sha256: tokens are not changed here (revoke them, or create a household's activation)"
                .into(),
        ]));
    }
    (user.role, user.scope, user.since) = (input.role, input.scope, input.since);
    Ok(Json(put(&state, &admin, &user).await?))
}

async fn put(state: &AppState, admin: &Admin, user: &User) -> Result<UserView, AdminError> {
    let now = Utc::now();
    admin.store.put_user(admin.stamp(now), user).await?;
    applied(state, &admin.store, admin.user.name.as_str(), now).await?;
    Ok(UserView::from(&stored(admin, user.name.as_str()).await?))
}

/// Retires a user and revokes every token of theirs.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User name")),
    responses((status = 200, description = "The retired user", body = UserView),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn retire(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<Json<UserView>, AdminError> {
    let now = Utc::now();
    admin.store.retire_user(admin.stamp(now), &name).await?;
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    Ok(Json(UserView::from(&stored(&admin, &name).await?)))
}

/// What a revocation did.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// The user.
    pub user: String,
    /// How many tokens were revoked.
    pub revoked: usize,
}

/// Revokes every token of a user: their next request answers 401. The user stays (with a token nobody
/// knows, as the inventory requires one), so a new activation or token can be given later.
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}/tokens", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User name")),
    responses((status = 200, body = Revoked), (status = 401, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_tokens(
    State(state): State<Arc<AppState>>,
    admin: Admin,
    Path(name): Path<String>,
) -> Result<Json<Revoked>, AdminError> {
    let user = stored(&admin, &name).await?;
    if user.retired_at.is_some() {
        return Err(AdminError::NotFound(format!("user {name:?}")));
    }
    let now = Utc::now();
    let hashes: Vec<String> = user
        .value
        .token_hashes()
        .map(|(h, _)| h.to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    // The sealed token first, so the user never holds none (the inventory's validation needs one).
    admin
        .store
        .add_token(admin.stamp(now), &name, &sealed_token_hash(), None)
        .await?;
    for hash in &hashes {
        admin.store.revoke_token(admin.stamp(now), hash).await?;
    }
    applied(&state, &admin.store, admin.user.name.as_str(), now).await?;
    Ok(Json(Revoked {
        user: name,
        revoked: hashes.len(),
    }))
}
