//! Zählwerk's relational store: everything that is not a time series.
//!
//! Sites (with address, floor area, building category and usage hours), devices, trees, users with their
//! token hashes and activation codes, the alert book with comments, the watering log, and an audit trail
//! of every change. SQLite is the embedded default (one file under the state folder, nothing to install);
//! PostgreSQL serves deployments with several API or analytics instances. Both run the same migrations
//! ([`migrate`]), embedded in the binary and applied by [`Store::connect`].
//!
//! Guarantees:
//! - every change goes through a repository function that takes a [`Stamp`] (who, when) and writes an
//!   audit entry in the same transaction, with the entity before and after as JSON;
//! - changes that touch the inventory are checked with the config's own validation
//!   ([`zw_model::Inventory::validate`]) against the whole stored inventory with the change applied, so
//!   the store never holds an inventory the config would reject; [`Error::Invalid`] lists every problem;
//! - nothing of the inventory is deleted: retiring marks a row and hides it from [`Store::export_inventory`];
//! - time is injected (the [`Stamp`]'s `at`, the `now` of lookups), never read from the clock here.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zw_store::Error> {
//! let store = zw_store::Store::connect("sqlite://state/zaehlwerk.db").await?;
//! let inventory = store.export_inventory().await?;
//! println!("{}", zw_store::inventory_toml(&inventory)?);
//! # Ok(()) }
//! ```

mod alerts;
mod audit;
mod codec;
mod config;
mod devices;
mod erase;
mod error;
mod inventory;
pub mod migrate;
mod prices;
mod sites;
mod trees;
mod users;
mod watering;

use std::sync::Once;

use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;

pub use alerts::{AlertComment, AlertEpisode, AlertEvent, NewAlert, episode_id};
pub use audit::AuditEntry;
pub use config::Config;
pub use devices::DeviceRecord;
pub use erase::ErasedRows;
pub use error::Error;
pub use inventory::{ImportReport, inventory_toml};
pub use prices::StoredPrices;
pub use sites::{SiteDetails, SiteRecord, Stored};
pub use trees::TreeRecord;
pub use users::{Activation, UserRecord};
pub use watering::{NewWatering, Watering};

/// The store's URL when none is configured: a SQLite file in the state folder, relative to the working
/// directory (`deploy/demo.sh` runs in the repository, whose `state/` is the demo's state folder).
pub const DEFAULT_URL: &str = "sqlite://state/zaehlwerk.db";

/// The most connections one process keeps open.
const MAX_CONNECTIONS: u32 = 8;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file (`sqlite://path`).
    Sqlite,
    /// PostgreSQL (`postgres://user@host:port/db`).
    Postgres,
}

/// Who makes a change, and when; written into the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    /// The user name, or a service name (`import`, `analytics`).
    pub who: &'a str,
    /// The instant of the change.
    pub at: DateTime<Utc>,
}

impl<'a> Stamp<'a> {
    /// `who` at `at`.
    pub fn new(who: &'a str, at: DateTime<Utc>) -> Self {
        Self { who, at }
    }
}

/// Whether a put created, changed or left an entity as it was (an unchanged entity writes no audit entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The entity did not exist.
    Created,
    /// The entity existed and differed (or was retired and is back).
    Updated,
    /// The entity existed exactly like this.
    Unchanged,
}

/// A connection pool to the store's database, migrated.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to `url` and applies the migrations that are missing.
    ///
    /// `sqlite://path` creates the file (and its folder) when missing; `sqlite::memory:` is an in-memory
    /// database (one connection, so it is one database). `postgres://` or `postgresql://` connects to
    /// PostgreSQL. Errors: [`Error::Url`] for another scheme, [`Error::Db`] when the database cannot be
    /// reached, [`Error::Migrate`] when a migration fails or the database carries migrations this binary
    /// does not know (it is newer).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);
        let (backend, url, max) = normalize_url(url)?;
        let pool = AnyPoolOptions::new().max_connections(max).connect(&url).await?;
        let store = Self { pool, backend };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations that are missing (a no-op when the schema is current).
    pub async fn migrate(&self) -> Result<(), Error> {
        migrate::migrator().await?.run(&self.pool).await?;
        Ok(())
    }

    /// The versions of the migrations applied to the database, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<i64>, Error> {
        Ok(
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The database behind the store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection; waits until they are closed.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The backend, the URL as sqlx takes it, and the pool size.
fn normalize_url(url: &str) -> Result<(Backend, String, u32), Error> {
    if url == "sqlite::memory:" {
        return Ok((Backend::Sqlite, url.to_owned(), 1));
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        let (file, query) = path.split_once('?').unwrap_or((path, ""));
        if file.is_empty() {
            return Err(Error::Url(format!(
                "{url:?} names no file (sqlite://state/zaehlwerk.db)"
            )));
        }
        if let Some(dir) = std::path::Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Url(format!(
                    "cannot create the folder {} of {url:?}: {e}",
                    dir.display()
                ))
            })?;
        }
        let query = if query.is_empty() { "mode=rwc" } else { query };
        return Ok((
            Backend::Sqlite,
            format!("sqlite://{file}?{query}"),
            MAX_CONNECTIONS,
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_owned(), MAX_CONNECTIONS));
    }
    Err(Error::Url(format!(
        "{url:?} is neither sqlite://<file> nor postgres://<user>@<host>:<port>/<database>"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized_or_rejected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("sub/zw.db");
        let (b, u, _) = normalize_url(&format!("sqlite://{}", file.display())).expect("sqlite url");
        assert_eq!(
            (b, u),
            (Backend::Sqlite, format!("sqlite://{}?mode=rwc", file.display()))
        );
        assert!(file.parent().is_some_and(|d| d.is_dir()), "the folder is created");
        let (b, _, _) = normalize_url("postgres://zw@127.0.0.1:5432/zw").expect("pg url");
        assert_eq!(b, Backend::Postgres);
        for bad in ["mysql://x", "sqlite://", "zaehlwerk.db"] {
            assert!(matches!(normalize_url(bad), Err(Error::Url(_))), "{bad}");
        }
    }
}
