//! The admin API (role `admin`): sites, devices, trees and users in the relational store, households with
//! their activation codes, resident activation, the CSV import of a utility's meter list, and the audit
//! trail.
//!
//! Every change runs the same way ([`applied`]): the store validates it against the whole inventory
//! (the config's own validation) and writes it with an audit entry naming the admin and the time; then the
//! API's live inventory is replaced from the store, so this instance serves the change from the next
//! request; then a [`zw_bus::ChangeNotice`] is published retained with QoS 1 on
//! `zw/v1/inventory/changed`, so every other service reloads the store.
//!
//! Answers: 401 without a valid token, 403 for a caller who is not an admin, 404 for an unknown id, 409
//! when a create names an existing id, 422 problem+json whose `errors` lists every problem the validation
//! found, 503 `no store configured` when the API runs without `[store]` (and 503 when the store fails).
//! `POST /api/v1/activate` needs no token and is limited per client address like failed logins.

pub mod activate;
pub mod audit;
pub mod devices;
pub mod households;
pub mod import;
pub mod sites;
pub mod trees;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::warn;
use zw_model::{Role, User};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, problem};

/// The admin routes and `POST /api/v1/activate`; merged into the API's router.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admin/sites", get(sites::list))
        .route("/api/v1/admin/sites", post(sites::create))
        .route("/api/v1/admin/sites/{id}", get(sites::one))
        .route("/api/v1/admin/sites/{id}", put(sites::change))
        .route("/api/v1/admin/sites/{id}", delete(sites::retire))
        .route("/api/v1/admin/devices", get(devices::list))
        .route("/api/v1/admin/devices", post(devices::create))
        .route("/api/v1/admin/devices/import", post(import::import))
        .route("/api/v1/admin/devices/{id}", get(devices::one))
        .route("/api/v1/admin/devices/{id}", put(devices::change))
        .route("/api/v1/admin/devices/{id}", delete(devices::retire))
        .route("/api/v1/admin/trees", get(trees::list))
        .route("/api/v1/admin/trees", post(trees::create))
        .route("/api/v1/admin/trees/{id}", get(trees::one))
        .route("/api/v1/admin/trees/{id}", put(trees::change))
        .route("/api/v1/admin/trees/{id}", delete(trees::retire))
        .route("/api/v1/admin/users", get(users::list))
        .route("/api/v1/admin/users", post(users::create))
        .route("/api/v1/admin/users/{id}", get(users::one))
        .route("/api/v1/admin/users/{id}", put(users::change))
        .route("/api/v1/admin/users/{id}", delete(users::retire))
        .route("/api/v1/admin/users/{id}/tokens", delete(users::revoke_tokens))
        .route("/api/v1/admin/households", post(households::create))
        .route(
            "/api/v1/admin/households/{id}/activation",
            post(households::reissue),
        )
        .route("/api/v1/admin/audit", get(audit::list))
        .route("/api/v1/activate", post(activate::activate))
}

/// An admin's request: the caller (role `admin`) and the store.
pub struct Admin {
    /// The admin.
    pub user: Arc<User>,
    /// The relational store.
    pub store: zw_store::Store,
}

impl Admin {
    /// The audit stamp of a change made now by this admin.
    pub fn stamp(&self, at: DateTime<Utc>) -> zw_store::Stamp<'_> {
        zw_store::Stamp::new(self.user.name.as_str(), at)
    }
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let Caller(user) = Caller::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(AdminError::Forbidden);
        }
        let store = state.store.clone().ok_or(AdminError::NoStore)?;
        Ok(Admin { user, store })
    }
}

/// Why an admin request failed; each variant is one status.
#[derive(Debug)]
pub enum AdminError {
    /// Authentication failed (401, 429).
    Api(ApiError),
    /// The caller is not an admin (403).
    Forbidden,
    /// The API runs without `[store]` (503).
    NoStore,
    /// The body is not JSON, or not CSV (400).
    BadRequest(String),
    /// Every validation problem (422).
    Invalid(Vec<String>),
    /// No such entity (404).
    NotFound(String),
    /// A create names an entity that exists (409).
    Conflict(String),
    /// The store failed (503; the cause is logged, not sent).
    Store,
}

impl From<ApiError> for AdminError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<zw_store::Error> for AdminError {
    fn from(e: zw_store::Error) -> Self {
        match e {
            zw_store::Error::Invalid(errors) => Self::Invalid(errors),
            zw_store::Error::NotFound { entity, id } => Self::NotFound(format!("{entity} {id:?}")),
            e => {
                warn!(error = %e, "Admin request answered 503: the store failed.");
                Self::Store
            }
        }
    }
}

/// A 422 problem document with every validation problem.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvalidProblem {
    /// `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `Unprocessable Entity`.
    pub title: String,
    /// 422.
    pub status: u16,
    /// How many problems, and the first.
    pub detail: String,
    /// Every problem, each with its path (`users[3].scope[0]: unknown site "hh-9"`).
    pub errors: Vec<String>,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::Api(e) => return e.into_response(),
            Self::Invalid(errors) => return invalid(errors),
            Self::Forbidden => (StatusCode::FORBIDDEN, "the admin API needs role admin".to_owned()),
            Self::NoStore => (
                StatusCode::SERVICE_UNAVAILABLE,
                "no store configured: the admin API needs [store]".to_owned(),
            ),
            Self::BadRequest(d) => (StatusCode::BAD_REQUEST, d),
            Self::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
            Self::Conflict(what) => (StatusCode::CONFLICT, format!("{what} exists already")),
            Self::Store => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is temporarily unavailable".to_owned(),
            ),
        };
        problem(status.0, status.1, false)
    }
}

fn invalid(errors: Vec<String>) -> Response {
    let detail = match errors.as_slice() {
        [one] => one.clone(),
        [first, ..] => format!("{} problems; the first: {first}", errors.len()),
        [] => "invalid".to_owned(),
    };
    let body = InvalidProblem {
        kind: "about:blank".into(),
        title: "Unprocessable Entity".into(),
        status: 422,
        detail,
        errors,
    };
    let mut resp = (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/problem+json"),
    );
    resp
}

/// A JSON body: not JSON → 400, JSON of the wrong shape → 422 naming the field.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| AdminError::BadRequest(e.body_text()))?;
        parse(&bytes).map(Body)
    }
}

/// `T` from a JSON body (see [`Body`]).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => AdminError::Invalid(vec![e.to_string()]),
        _ => AdminError::BadRequest(format!("the body is not JSON: {e}")),
    })
}

/// When an entity was created, last changed and retired.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct Lifecycle {
    /// First stored.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Retired; `null` while live.
    pub retired_at: Option<DateTime<Utc>>,
}

impl<T> From<&zw_store::Stored<T>> for Lifecycle {
    fn from(s: &zw_store::Stored<T>) -> Self {
        Self {
            created_at: s.created_at,
            updated_at: s.updated_at,
            retired_at: s.retired_at,
        }
    }
}

/// `?retired=true` lists retired entities too.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Also list retired entities; default false.
    #[serde(default)]
    pub retired: bool,
}

/// After a change made by `by` at `at`: replaces the API's live inventory from the store and publishes
/// the change notice (retained, QoS 1). A notice the broker does not confirm is logged and counted
/// (`zw_api_change_notices_unconfirmed_total`), not an error: the change is stored, and every service
/// catches up with the next notice.
pub(crate) async fn applied(
    state: &AppState,
    store: &zw_store::Store,
    by: &str,
    at: DateTime<Utc>,
) -> Result<(), AdminError> {
    let inventory = store.export_inventory().await?;
    if let Some(live) = &state.live_inventory {
        live.replace(inventory);
    }
    let notice = zw_bus::ChangeNotice {
        version: store.inventory_version().await?,
        at,
        by: by.to_owned(),
    };
    if let Some(commands) = &state.commands
        && let Err(e) = commands
            .publish(zw_bus::ChangeNotice::TOPIC.to_owned(), true, notice.to_json())
            .await
    {
        state.metrics.notices_unconfirmed.inc();
        warn!(version = notice.version, error = %e, "Inventory change notice not confirmed by the broker.");
    }
    Ok(())
}

/// A random secret of `bytes` bytes as lower-case hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let buf: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(buf)
}

/// The SHA-256 of a secret nobody knows: a user who must hold a token (the inventory requires one) but
/// may not log in yet (a household before activation, a user whose tokens were revoked).
pub(crate) fn sealed_token_hash() -> String {
    zw_model::inventory::token_hash(&random_hex(32))
}

/// The admin routes' part of the OpenAPI document (merged into the API's, which adds 429 and 503).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(sites::list, sites::create, sites::one, sites::change, sites::retire,
        devices::list, devices::create, devices::one, devices::change, devices::retire, import::import,
        trees::list, trees::create, trees::one, trees::change, trees::retire,
        users::list, users::create, users::one, users::change, users::retire, users::revoke_tokens,
        households::create, households::reissue, audit::list, activate::activate),
    components(schemas(InvalidProblem, Lifecycle, sites::SiteInput, sites::SiteView, devices::DeviceInput,
        devices::DeviceView, trees::TreeInput, trees::TreeView, users::UserInput, users::UserView,
        users::CreatedUser, users::Revoked, households::HouseholdInput, households::CreatedHousehold,
        activate::ActivateInput, activate::Activated, import::ImportReport, import::RowResult,
        audit::AuditView)),
    modifiers(&InvalidProblems)
)]
pub struct AdminDoc;

/// 422 bodies are `application/problem+json`, as every other error body.
struct InvalidProblems;

impl utoipa::Modify for InvalidProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete];
            for op in ops.into_iter().flatten() {
                if let Some(RefOr::T(resp)) = op.responses.responses.get_mut("422")
                    && let Some(json) = resp.content.shift_remove("application/json")
                {
                    resp.content.insert("application/problem+json".into(), json);
                }
            }
        }
    }
}
