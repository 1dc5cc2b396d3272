//! The watering log: when a tree was watered, how much, by whom.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::codec::{Cols, new_id, ts};
use crate::{Error, Stamp, Store, audit};

/// A watering being logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewWatering {
    /// The tree.
    pub tree: String,
    /// When it was watered (may be earlier than when it is logged).
    pub watered_at: DateTime<Utc>,
    /// Litres given, if known; positive.
    pub litres: Option<f64>,
    /// Free text.
    pub note: String,
}

/// A logged watering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watering {
    /// Time-ordered id.
    pub id: String,
    /// What was logged.
    #[serde(flatten)]
    pub watering: NewWatering,
    /// Who logged it.
    pub recorded_by: String,
    /// When it was logged.
    pub recorded_at: DateTime<Utc>,
}

impl Store {
    /// Logs a watering. Errors: [`Error::NotFound`] for an unknown or retired tree; [`Error::Invalid`]
    /// for litres that are not positive or a watering after `by.at`.
    pub async fn log_watering(&self, by: Stamp<'_>, w: &NewWatering) -> Result<Watering, Error> {
        let mut errors = Vec::new();
        if let Some(l) = w.litres
            && !(l.is_finite() && l > 0.0)
        {
            errors.push(format!("watering.litres: {l} is not a positive amount"));
        }
        if w.watered_at > by.at {
            errors.push("watering.watered_at: lies in the future".to_owned());
        }
        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        let mut tx = self.pool.begin().await?;
        let live: Option<String> =
            sqlx::query_scalar("SELECT id FROM trees WHERE id = $1 AND retired_at IS NULL")
                .bind(&w.tree)
                .fetch_optional(&mut *tx)
                .await?;
        if live.is_none() {
            return Err(Error::not_found("tree", &w.tree));
        }
        let entry = Watering {
            id: new_id(by.at),
            watering: w.clone(),
            recorded_by: by.who.to_owned(),
            recorded_at: by.at,
        };
        sqlx::query(
            "INSERT INTO watering_log (id, tree_id, watered_at, litres, recorded_by, note, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&entry.id)
        .bind(&w.tree)
        .bind(ts(w.watered_at))
        .bind(w.litres)
        .bind(by.who)
        .bind(&w.note)
        .bind(ts(by.at))
        .execute(&mut *tx)
        .await?;
        audit::record::<(), _>(&mut tx, by, "create", "watering", &entry.id, None, Some(&entry)).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// The waterings of a tree, latest first.
    pub async fn waterings(&self, tree: &str) -> Result<Vec<Watering>, Error> {
        let rows = sqlx::query(
            "SELECT id, tree_id, watered_at, litres, recorded_by, note, recorded_at FROM watering_log \
             WHERE tree_id = $1 ORDER BY watered_at DESC, id DESC",
        )
        .bind(tree)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cols::new(row, "watering_log", "id");
                Ok(Watering {
                    id: c.text("id")?,
                    watering: NewWatering {
                        tree: c.text("tree_id")?,
                        watered_at: c.time("watered_at")?,
                        litres: c.float_opt("litres")?,
                        note: c.text("note")?,
                    },
                    recorded_by: c.text("recorded_by")?,
                    recorded_at: c.time("recorded_at")?,
                })
            })
            .collect()
    }
}
