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

/// An alert event as mirrored from the bus (analytics publishes the alert's whole state on every change),
/// recorded by [`Store::record_alert_event`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    /// The alert as published.
    pub alert: NewAlert,
    /// When this occurrence opened (the alert's own `opened_at`): with the alert id it names the episode.
    pub opened_at: DateTime<Utc>,
    /// Who acknowledged it and when, once someone did.
    pub acknowledged: Option<(String, DateTime<Utc>)>,
    /// When the condition ended, once it did.
    pub closed_at: Option<DateTime<Utc>>,
}

/// The episode id of the occurrence of `alert_id` opened at `opened_at`: every recorder derives the same id
/// from the same event, so several API instances recording one event write one episode.
pub fn episode_id(alert_id: &str, opened_at: DateTime<Utc>) -> String {
    let ms = u64::try_from(opened_at.timestamp_millis()).unwrap_or(0);
    format!("{ms:013x}-{alert_id}")
}

impl Store {
    /// Records an alert event idempotently: the episode ([`episode_id`]) is created if missing (audited as
    /// `open`), its detail follows the latest event, the first acknowledgement is kept (audited as
    /// `acknowledge`) and the first close is kept (audited as `close`). Recording the same event again, from
    /// this or another instance, changes nothing. `by` names the recorder (its `at` is not used: the times
    /// are the event's).
    pub async fn record_alert_event(&self, by: Stamp<'_>, ev: &AlertEvent) -> Result<AlertEpisode, Error> {
        let id = episode_id(&ev.alert.alert_id, ev.opened_at);
        let mut tx = self.pool.begin().await?;
        let created = sqlx::query(
            "INSERT INTO alerts (id, alert_id, kind, site_id, subject, detail, opened_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&id)
        .bind(&ev.alert.alert_id)
        .bind(&ev.alert.kind)
        .bind(ev.alert.site.as_deref())
        .bind(&ev.alert.subject)
        .bind(ev.alert.detail.as_ref().map(json))
        .bind(ts(ev.opened_at))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let stamp = Stamp::new(by.who, ev.opened_at);
        if created {
            let after = self.episode_on(&mut tx, &id).await?;
            audit::record::<(), _>(&mut tx, stamp, "open", "alert", &id, None, after.as_ref()).await?;
        } else if let Some(detail) = &ev.alert.detail {
            // The latest published state, not a change anyone made: not audited.
            sqlx::query("UPDATE alerts SET detail = $2 WHERE id = $1")
                .bind(&id)
                .bind(json(detail))
                .execute(&mut *tx)
                .await?;
        }
        if let Some((who, at)) = &ev.acknowledged {
            ack_first(&mut tx, Stamp::new(who, *at), &id).await?;
        }
        if let Some(at) = ev.closed_at {
            let before = self.episode_on(&mut tx, &id).await?;
            let closed = sqlx::query("UPDATE alerts SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL")
                .bind(&id)
                .bind(ts(at))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if closed {
                let after = self.episode_on(&mut tx, &id).await?;
                audit::record(
                    &mut tx,
                    Stamp::new(by.who, at),
                    "close",
                    "alert",
                    &id,
                    before.as_ref(),
                    after.as_ref(),
                )
                .await?;
            }
        }
        let episode = self
            .episode_on(&mut tx, &id)
            .await?
            .ok_or_else(|| Error::not_found("alert", &id))?;
        tx.commit().await?;
        Ok(episode)
    }

    /// Acknowledges the episode `episode` as `by.who` at `by.at` unless someone already did (the first
    /// acknowledgement is kept, as analytics keeps it). Errors: [`Error::NotFound`] for an unknown episode.
    pub async fn acknowledge_episode(&self, by: Stamp<'_>, episode: &str) -> Result<AlertEpisode, Error> {
        let mut tx = self.pool.begin().await?;
        ack_first(&mut tx, by, episode).await?;
        let after = self
            .episode_on(&mut tx, episode)
            .await?
            .ok_or_else(|| Error::not_found("alert", episode))?;
        tx.commit().await?;
        Ok(after)
    }
}

/// Sets the acknowledgement of `episode` if it has none, auditing it. Writes first, so that on SQLite the
/// transaction takes the write lock at once (waiting for another writer) instead of failing to upgrade a read.
async fn ack_first(conn: &mut AnyConnection, by: Stamp<'_>, episode: &str) -> Result<(), Error> {
    let done = sqlx::query(
        "UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3 WHERE id = $1 AND acknowledged_at IS NULL",
    )
    .bind(episode)
    .bind(ts(by.at))
    .bind(by.who)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if done {
        let sql = format!("SELECT {COLS} FROM alerts WHERE id = $1");
        let row = sqlx::query(&sql).bind(episode).fetch_optional(&mut *conn).await?;
        let after = row.as_ref().map(episode_from).transpose()?;
        let before = after.clone().map(|mut e| {
            e.acknowledged = None;
            e
        });
        audit::record(
            conn,
            by,
            "acknowledge",
            "alert",
            episode,
            before.as_ref(),
            after.as_ref(),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use super::{AlertEvent, NewAlert, episode_id};
    use crate::{Stamp, Store};

    /// Two recorders (API instances) recording the same events write one episode, keep the first
    /// acknowledgement and close, and audit each transition once.
    #[tokio::test]
    async fn recording_an_event_twice_changes_nothing() {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let t = |m| Utc.with_ymd_and_hms(2026, 5, 1, 12, m, 0).unwrap();
        let open = AlertEvent {
            alert: NewAlert {
                alert_id: "left_on.hh-12.hh-12-plug".into(),
                kind: "left_on".into(),
                site: Some("hh-12".into()),
                subject: "hh-12-plug".into(),
                detail: Some(serde_json::json!({ "observed": 800.0 })),
            },
            opened_at: t(0),
            acknowledged: None,
            closed_at: None,
        };
        let (a, b) = (Stamp::new("api-1", t(1)), Stamp::new("api-2", t(2)));
        let first = store.record_alert_event(a, &open).await.expect("open");
        assert_eq!(first.id, episode_id("left_on.hh-12.hh-12-plug", t(0)));
        assert_eq!(store.record_alert_event(b, &open).await.expect("again"), first);

        let mut acked = open.clone();
        acked.alert.detail = Some(serde_json::json!({ "observed": 900.0 }));
        acked.acknowledged = Some(("anna".into(), t(5)));
        let ep = store.record_alert_event(a, &acked).await.expect("ack");
        assert_eq!(ep.acknowledged, Some(("anna".into(), t(5))));
        assert_eq!(
            ep.alert.detail, acked.alert.detail,
            "the detail follows the latest event"
        );
        let later = store
            .acknowledge_episode(Stamp::new("bernd", t(6)), &ep.id)
            .await
            .expect("ack again");
        assert_eq!(
            later.acknowledged,
            Some(("anna".into(), t(5))),
            "the first acknowledgement stays"
        );

        let mut closed = acked.clone();
        closed.closed_at = Some(t(9));
        store.record_alert_event(a, &closed).await.expect("close");
        closed.closed_at = Some(t(10));
        let ep = store.record_alert_event(b, &closed).await.expect("close again");
        assert_eq!(ep.closed_at, Some(t(9)));

        let actions: Vec<String> = store
            .audit_log(Some("alert"), Some(&ep.id))
            .await
            .expect("audit")
            .into_iter()
            .map(|e| e.action)
            .collect();
        let mut sorted = actions.clone();
        sorted.sort();
        assert_eq!(sorted, ["acknowledge", "close", "open"], "{actions:?}");
        assert!(
            store.acknowledge_episode(a, "no-such-episode").await.is_err(),
            "an unknown episode is not found"
        );
    }
}
