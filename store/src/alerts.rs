//! The alert book: episodes of alerts (opened, acknowledged, closed) and their comments.
//!
//! Analytics decides alerts and publishes them on the bus; the book keeps their history so that
//! acknowledgements and comments survive the broker. An [`AlertEpisode`] is one opening of an alert: the
//! same [`zw_model::alert::AlertId`] opens a new episode after the previous one closed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::codec::{Cols, json, new_id, ts};
use crate::{Error, Stamp, Store, audit};

/// An alert being opened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewAlert {
    /// The model's alert id (kind, site and subject), e.g. `high_consumption.rathaus.rathaus-main`.
    pub alert_id: String,
    /// The alert kind's name (`high_consumption`, `tree_water`, …).
    pub kind: String,
    /// The site, if the alert is about one.
    pub site: Option<String>,
    /// What it is about (a device, tree or site id).
    pub subject: String,
    /// Anything worth keeping (the model's `Alert` as JSON, say).
    pub detail: Option<serde_json::Value>,
}

/// One episode of an alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEpisode {
    /// The episode's id (time-ordered).
    pub id: String,
    /// The alert as opened.
    #[serde(flatten)]
    pub alert: NewAlert,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it closed; `None` while open.
    pub closed_at: Option<DateTime<Utc>>,
    /// Who acknowledged it, and when.
    pub acknowledged: Option<(String, DateTime<Utc>)>,
}

/// A comment on an episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertComment {
    /// The comment's id (time-ordered).
    pub id: String,
    /// The episode.
    pub episode: String,
    /// Who wrote it.
    pub author: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The text.
    pub body: String,
}

const COLS: &str = "id, alert_id, kind, site_id, subject, detail, opened_at, closed_at, acknowledged_by, \
                    acknowledged_at";

fn episode_from(row: &AnyRow) -> Result<AlertEpisode, Error> {
    let c = Cols::new(row, "alerts", "id");
    let acknowledged = match (c.text_opt("acknowledged_by")?, c.time_opt("acknowledged_at")?) {
        (Some(who), Some(at)) => Some((who, at)),
        _ => None,
    };
    Ok(AlertEpisode {
        id: c.text("id")?,
        alert: NewAlert {
            alert_id: c.text("alert_id")?,
            kind: c.text("kind")?,
            site: c.text_opt("site_id")?,
            subject: c.text("subject")?,
            detail: c.json_opt("detail")?,
        },
        opened_at: c.time("opened_at")?,
        closed_at: c.time_opt("closed_at")?,
        acknowledged,
    })
}

/// The open episode of `alert_id`, if any.
async fn open_episode(conn: &mut AnyConnection, alert_id: &str) -> Result<Option<AlertEpisode>, Error> {
    let sql = format!(
        "SELECT {COLS} FROM alerts WHERE alert_id = $1 AND closed_at IS NULL ORDER BY opened_at DESC, id DESC"
    );
    let row = sqlx::query(&sql).bind(alert_id).fetch_optional(conn).await?;
    row.as_ref().map(episode_from).transpose()
}

impl Store {
    /// Opens an episode of `alert.alert_id` at `by.at`, or returns the one already open (an alert
    /// re-published while open is the same episode).
    pub async fn open_alert(&self, by: Stamp<'_>, alert: &NewAlert) -> Result<AlertEpisode, Error> {
        let mut tx = self.pool.begin().await?;
        if let Some(open) = open_episode(&mut tx, &alert.alert_id).await? {
            return Ok(open);
        }
        let episode = AlertEpisode {
            id: new_id(by.at),
            alert: alert.clone(),
            opened_at: by.at,
            closed_at: None,
            acknowledged: None,
        };
        sqlx::query(
            "INSERT INTO alerts (id, alert_id, kind, site_id, subject, detail, opened_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&episode.id)
        .bind(&alert.alert_id)
        .bind(&alert.kind)
        .bind(alert.site.as_deref())
        .bind(&alert.subject)
        .bind(alert.detail.as_ref().map(json))
        .bind(ts(by.at))
        .execute(&mut *tx)
        .await?;
        audit::record::<(), _>(&mut tx, by, "open", "alert", &episode.id, None, Some(&episode)).await?;
        tx.commit().await?;
        Ok(episode)
    }

    /// Closes the open episode of `alert_id` at `by.at`; `None` if none was open.
    pub async fn close_alert(&self, by: Stamp<'_>, alert_id: &str) -> Result<Option<AlertEpisode>, Error> {
        self.change_open(
            by,
            alert_id,
            "close",
            "UPDATE alerts SET closed_at = $2 WHERE id = $1",
        )
        .await
    }

    /// Acknowledges the open episode of `alert_id` as `by.who` at `by.at` (again: the later
    /// acknowledgement wins). Errors: [`Error::NotFound`] if no episode is open.
    pub async fn acknowledge_alert(&self, by: Stamp<'_>, alert_id: &str) -> Result<AlertEpisode, Error> {
        self.change_open(
            by,
            alert_id,
            "acknowledge",
            "UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1",
        )
        .await?
        .ok_or_else(|| Error::not_found("alert", alert_id))
    }

    /// Runs `sql` (`$1` episode id, `$2` the stamp's instant, `$3` its actor) on the open episode.
    async fn change_open(
        &self,
        by: Stamp<'_>,
        alert_id: &str,
        action: &str,
        sql: &str,
    ) -> Result<Option<AlertEpisode>, Error> {
        let mut tx = self.pool.begin().await?;
        let Some(before) = open_episode(&mut tx, alert_id).await? else {
            return Ok(None);
        };
        let mut q = sqlx::query(sql).bind(&before.id).bind(ts(by.at));
        if sql.contains("$3") {
            q = q.bind(by.who);
        }
        q.execute(&mut *tx).await?;
        let after = self.episode_on(&mut tx, &before.id).await?;
        audit::record(
            &mut tx,
            by,
            action,
            "alert",
            &before.id,
            Some(&before),
            after.as_ref(),
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn episode_on(&self, conn: &mut AnyConnection, id: &str) -> Result<Option<AlertEpisode>, Error> {
        let sql = format!("SELECT {COLS} FROM alerts WHERE id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_optional(conn).await?;
        row.as_ref().map(episode_from).transpose()
    }

    /// One episode by its id.
    pub async fn alert_episode(&self, id: &str) -> Result<Option<AlertEpisode>, Error> {
        self.episode_on(&mut *self.pool.acquire().await?, id).await
    }

    /// Every episode of `alert_id` (all alerts if `None`) opened in `[from, to)`, oldest first.
    pub async fn alert_history(
        &self,
        alert_id: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertEpisode>, Error> {
        let sql = format!(
            "SELECT {COLS} FROM alerts WHERE ($1 IS NULL OR alert_id = $1) AND opened_at >= $2 \
             AND opened_at < $3 ORDER BY opened_at, id"
        );
        let rows = sqlx::query(&sql)
            .bind(alert_id)
            .bind(ts(from))
            .bind(ts(to))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(episode_from).collect()
    }

    /// Comments on an episode. Errors: [`Error::NotFound`] for an unknown episode; [`Error::Invalid`] for
    /// an empty comment.
    pub async fn comment_alert(
        &self,
        by: Stamp<'_>,
        episode: &str,
        body: &str,
    ) -> Result<AlertComment, Error> {
        if body.trim().is_empty() {
            return Err(Error::Invalid(vec!["comment.body: must not be empty".to_owned()]));
        }
        let mut tx = self.pool.begin().await?;
        if self.episode_on(&mut tx, episode).await?.is_none() {
            return Err(Error::not_found("alert", episode));
        }
        let comment = AlertComment {
            id: new_id(by.at),
            episode: episode.to_owned(),
            author: by.who.to_owned(),
            at: by.at,
            body: body.to_owned(),
        };
        sqlx::query(
            "INSERT INTO alert_comments (id, alert_id, author, written_at, body) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&comment.id)
        .bind(episode)
        .bind(by.who)
        .bind(ts(by.at))
        .bind(body)
        .execute(&mut *tx)
        .await?;
        audit::record::<(), _>(&mut tx, by, "comment", "alert", episode, None, Some(&comment)).await?;
        tx.commit().await?;
        Ok(comment)
    }

    /// The comments on an episode, oldest first.
    pub async fn alert_comments(&self, episode: &str) -> Result<Vec<AlertComment>, Error> {
        let rows = sqlx::query(
            "SELECT id, alert_id, author, written_at, body FROM alert_comments WHERE alert_id = $1 ORDER BY id",
        )
        .bind(episode)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let c = Cols::new(row, "alert_comments", "id");
                Ok(AlertComment {
                    id: c.text("id")?,
                    episode: c.text("alert_id")?,
                    author: c.text("author")?,
                    at: c.time("written_at")?,
                    body: c.text("body")?,
                })
            })
            .collect()
    }
}
