//! The store's errors.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no database this store can use.
    #[error("store URL: {0}")]
    Url(String),
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed, or the database was migrated by a newer binary.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The change would leave an inventory the config's validation rejects; every problem, each with its
    /// path.
    #[error("invalid: {}", .0.join("; "))]
    Invalid(Vec<String>),
    /// No such entity (or it is retired where a live one is needed).
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// `site`, `device`, `tree`, `user`, `token`, `activation`, `alert`.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A row the store cannot read back (edited by hand, or by a newer binary): table, key and why.
    #[error("unreadable {table} row {key:?}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// An inventory could not be written as TOML.
    #[error("TOML: {0}")]
    Toml(#[from] toml::ser::Error),
}

impl Error {
    pub(crate) fn not_found(entity: &'static str, id: &str) -> Self {
        Self::NotFound {
            entity,
            id: id.to_owned(),
        }
    }
}
