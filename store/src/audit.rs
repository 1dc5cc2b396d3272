//! The audit trail: one entry per change, written in the change's transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;

use crate::codec::{Cols, json, new_id, ts};
use crate::{Error, Stamp, Store};

/// One change: who, when, what, and the entity before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Time-ordered id.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who ([`Stamp::who`]).
    pub actor: String,
    /// What was done: `create`, `update`, `retire`, `import`, `acknowledge`, …
    pub action: String,
    /// The kind of entity: `site`, `device`, `tree`, `user`, `token`, `activation`, `alert`, `watering`.
    pub entity: String,
    /// Its id.
    pub entity_id: String,
    /// The entity before the change; `None` if it did not exist.
    pub before: Option<serde_json::Value>,
    /// The entity after the change; `None` if it is gone.
    pub after: Option<serde_json::Value>,
}

/// Records a put (create or update) of `entity` `entity_id`: `action` if the caller names one (an import,
/// say), else "create" for [`crate::Change::Created`] and "update" otherwise.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_put<B: Serialize, A: Serialize>(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    action: Option<&str>,
    change: crate::Change,
    entity: &str,
    entity_id: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), Error> {
    let action = action.unwrap_or(if change == crate::Change::Created {
        "create"
    } else {
        "update"
    });
    record(conn, by, action, entity, entity_id, before, after).await
}

/// Writes one audit entry on `conn` (inside the change's transaction).
pub(crate) async fn record<B: Serialize, A: Serialize>(
    conn: &mut AnyConnection,
    by: Stamp<'_>,
    action: &str,
    entity: &str,
    entity_id: &str,
    before: Option<&B>,
    after: Option<&A>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO audit (id, changed_at, actor, action, entity, entity_id, before_json, after_json) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id(by.at))
    .bind(ts(by.at))
    .bind(by.who)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(before.map(json))
    .bind(after.map(json))
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The audit trail, oldest first: of one entity (`entity`, `entity_id`), of one kind of entity
    /// (`entity` only), or everything (neither).
    pub async fn audit_log(
        &self,
        entity: Option<&str>,
        entity_id: Option<&str>,
    ) -> Result<Vec<AuditEntry>, Error> {
        let rows = sqlx::query(
            "SELECT id, changed_at, actor, action, entity, entity_id, before_json, after_json FROM audit \
             WHERE ($1 IS NULL OR entity = $1) AND ($2 IS NULL OR entity_id = $2) ORDER BY id",
        )
        .bind(entity)
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cols::new(row, "audit", "id");
                Ok(AuditEntry {
                    id: c.text("id")?,
                    at: c.time("changed_at")?,
                    actor: c.text("actor")?,
                    action: c.text("action")?,
                    entity: c.text("entity")?,
                    entity_id: c.text("entity_id")?,
                    before: c.json_opt("before_json")?,
                    after: c.json_opt("after_json")?,
                })
            })
            .collect()
    }

    /// The inventory's version: the number of audit entries, 0 when there are none.
    ///
    /// Every change of the store writes one audit entry in its transaction and no entry is ever deleted
    /// (an erasure empties bodies, the rows stay), so the count only grows, and it is the same in every
    /// process on one database. (The entries' ids are time-ordered text and do not fit an `i64`.) The
    /// admin API publishes it in each change notice (`zw/v1/inventory/changed`); a service that reloads the
    /// inventory after reading version `v` holds every change up to `v`. Changes that are not about
    /// the inventory (an acknowledged alert) also count: a version can grow with nothing to reload.
    pub async fn inventory_version(&self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit")
            .fetch_one(&self.pool)
            .await?)
    }
}
