//! `GET /api/v1/admin/audit`: the audit trail, newest first: who changed what when, with the entity before
//! and after.

use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Admin, AdminError};
use crate::extract::ApiQuery;

/// The most entries one request returns.
pub const MAX_LIMIT: usize = 1000;
/// Entries returned without `limit`.
pub const DEFAULT_LIMIT: usize = 100;

/// Filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// How many entries, newest first: 1–1000, default 100.
    pub limit: Option<usize>,
    /// Only this kind of entity: `site`, `device`, `tree`, `user`, `token`, `activation`, `alert`, ….
    pub entity: Option<String>,
    /// Only this entity (its id).
    pub id: Option<String>,
}

/// One audit entry.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditView {
    /// Time-ordered id.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: a user name, `import`, `activation`.
    pub actor: String,
    /// `create`, `update`, `retire`, `import`, `activate`, `revoke`, `add_token`, ….
    pub action: String,
    /// Kind of entity.
    pub entity: String,
    /// Its id.
    pub entity_id: String,
    /// The entity before; `null` if it did not exist.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The entity after; `null` if it is gone.
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, body = [AuditView]), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
        (status = 422, body = super::InvalidProblem)))]
pub async fn list(
    admin: Admin,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<Vec<AuditView>>, AdminError> {
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::Invalid(vec![format!(
            "limit: {limit} is not within 1–{MAX_LIMIT}"
        )]));
    }
    let entries = admin
        .store
        .audit_log(p.entity.as_deref(), p.id.as_deref())
        .await?;
    Ok(Json(
        entries
            .into_iter()
            .rev()
            .take(limit)
            .map(|e| AuditView {
                id: e.id,
                at: e.at,
                actor: e.actor,
                action: e.action,
                entity: e.entity,
                entity_id: e.entity_id,
                before: e.before,
                after: e.after,
            })
            .collect(),
    ))
}
