//! The relational store of a system under test: a SQLite file in the stack's state directory, or a fresh
//! database on the stack's real PostgreSQL ([`crate::StackBuilder::postgres`]), as the URL the system's
//! `[store] url` takes.

use anyhow::Context as _;

use crate::Stack;

/// Which database a test runs the system's store on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreBackend {
    /// `sqlite://<state dir>/store/<name>.db` (created by the system at start).
    Sqlite,
    /// A new database `<name>` on the stack's PostgreSQL.
    Postgres,
}

impl Stack {
    /// The URL of a new, empty store called `name` on `backend`: for [`StoreBackend::Postgres`] the
    /// database is created now (the stack must have been started with `.postgres()`).
    pub async fn store_url(&self, backend: StoreBackend, name: &str) -> anyhow::Result<String> {
        match backend {
            StoreBackend::Sqlite => Ok(format!("sqlite://{}/store/{name}.db", self.state_dir().display())),
            StoreBackend::Postgres => {
                let pg = self.postgres();
                pg.create_database(name)
                    .await
                    .with_context(|| format!("creating database {name}"))?;
                Ok(pg.url(name))
            }
        }
    }
}
