//! Erasing one household's rows (`zaehlwerk erase`): what the store holds about a site besides its
//! inventory.
//!
//! [`Store::erase_site`] deletes, in one transaction, the site's alert episodes with their comments, the
//! watering log of its trees and its activation codes, and empties the before/after JSON of the audit
//! entries about those rows (who did what when stays: that is a record of staff actions, not of the
//! household). One `erase` audit entry records the counts.
//!
//! The inventory rows (site, devices, trees, users) are left alone: a flat keeps its meters when a tenant
//! moves out. Retiring them is [`Store::retire_site`] and [`Store::retire_user`], which `zaehlwerk erase
//! --retire` calls after this.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::{Error, Stamp, Store, audit};

/// How many rows [`Store::erase_site`] removed or redacted, per kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ErasedRows {
    /// Alert episodes of the site.
    pub alerts: u64,
    /// Comments on those episodes.
    pub alert_comments: u64,
    /// Waterings of the site's trees.
    pub waterings: u64,
    /// Activation codes for the site.
    pub activations: u64,
    /// Audit entries about the rows above whose before/after JSON was emptied.
    pub audit_redacted: u64,
}

/// Runs `sql` with the site as `$1`; the number of rows it touched.
async fn run(conn: &mut AnyConnection, sql: &str, site: &str) -> Result<u64, Error> {
    Ok(sqlx::query(sql).bind(site).execute(conn).await?.rows_affected())
}

/// The site's alert episodes (`alerts.id`).
const EPISODES: &str = "SELECT id FROM alerts WHERE site_id = $1";
/// The waterings of the site's trees (retired trees included).
const WATERINGS: &str =
    "SELECT id FROM watering_log WHERE tree_id IN (SELECT id FROM trees WHERE site_id = $1)";

impl Store {
    /// Deletes what the store holds about site `site` outside the inventory (see the module docs) and
    /// audits the erasure as `by`. Erasing a site with nothing stored (or an unknown site) removes nothing
    /// and is still audited. Errors: [`Error::Db`].
    pub async fn erase_site(&self, by: Stamp<'_>, site: &str) -> Result<ErasedRows, Error> {
        let mut tx = self.pool.begin().await?;
        // The audit first, while the rows it points at still exist.
        let redact = "UPDATE audit SET before_json = NULL, after_json = NULL WHERE ";
        let audit_redacted = run(
            &mut tx,
            &format!("{redact}entity = 'alert' AND entity_id IN ({EPISODES})"),
            site,
        )
        .await?
            + run(
                &mut tx,
                &format!("{redact}entity = 'watering' AND entity_id IN ({WATERINGS})"),
                site,
            )
            .await?
            + run(
                &mut tx,
                &format!("{redact}entity = 'activation' AND entity_id = $1"),
                site,
            )
            .await?;
        let alert_comments = run(
            &mut tx,
            &format!("DELETE FROM alert_comments WHERE alert_id IN ({EPISODES})"),
            site,
        )
        .await?;
        let alerts = run(&mut tx, "DELETE FROM alerts WHERE site_id = $1", site).await?;
        let waterings = run(
            &mut tx,
            &format!("DELETE FROM watering_log WHERE id IN ({WATERINGS})"),
            site,
        )
        .await?;
        let activations = run(&mut tx, "DELETE FROM activation_codes WHERE site_id = $1", site).await?;
        let erased = ErasedRows {
            alerts,
            alert_comments,
            waterings,
            activations,
            audit_redacted,
        };
        audit::record::<_, ()>(&mut tx, by, "erase", "site", site, Some(&erased), None).await?;
        tx.commit().await?;
        Ok(erased)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Utc};

    use crate::{NewAlert, Stamp, Store};

    /// Only the erased site's episodes, comments and audit bodies go; the other site's stay whole.
    #[tokio::test]
    async fn erases_one_site_and_leaves_the_other() {
        let store = Store::connect("sqlite::memory:").await.expect("store");
        let at = Utc.with_ymd_and_hms(2026, 5, 1, 12, 0, 0).unwrap();
        let by = Stamp::new("analytics", at);
        let alert = |site: &str| NewAlert {
            alert_id: format!("left_on.{site}.{site}-plug"),
            kind: "left_on".into(),
            site: Some(site.into()),
            subject: format!("{site}-plug"),
            detail: Some(serde_json::json!({ "observed": 812.5 })),
        };
        let gone = store.open_alert(by, &alert("hh-12")).await.expect("open");
        let kept = store.open_alert(by, &alert("hh-13")).await.expect("open");
        store
            .comment_alert(Stamp::new("anna", at), &gone.id, "the kettle")
            .await
            .expect("comment");
        store
            .acknowledge_alert(Stamp::new("anna", at), &gone.alert.alert_id)
            .await
            .expect("ack");
        let erased = store
            .erase_site(Stamp::new("cli", at), "hh-12")
            .await
            .expect("erase");
        assert_eq!(
            erased,
            super::ErasedRows {
                alerts: 1,
                alert_comments: 1,
                waterings: 0,
                activations: 0,
                audit_redacted: 3,
            }
        );
        assert_eq!(store.alert_episode(&gone.id).await.expect("read"), None);
        assert_eq!(store.alert_comments(&gone.id).await.expect("read"), []);
        assert_eq!(
            store.alert_episode(&kept.id).await.expect("read"),
            Some(kept.clone())
        );
        let trail = store.audit_log(Some("alert"), None).await.expect("audit");
        for entry in &trail {
            let text = format!("{:?}{:?}", entry.before, entry.after);
            assert_eq!(
                entry.entity_id == gone.id,
                !text.contains("hh-1") && entry.before.is_none() && entry.after.is_none(),
                "{entry:?}"
            );
        }
        let erase = store.audit_log(Some("site"), Some("hh-12")).await.expect("audit");
        assert_eq!(erase.len(), 1);
        assert_eq!(erase[0].action, "erase");
        assert_eq!(erase[0].before.as_ref().expect("counts")["alerts"], 1);
        // Again: nothing left, nothing removed.
        let again = store
            .erase_site(Stamp::new("cli", at), "hh-12")
            .await
            .expect("erase");
        assert_eq!(again, super::ErasedRows::default());
    }
}
