//! The schema's migrations, embedded in the binary and applied in order by [`crate::Store::connect`].
//!
//! One set for both databases: `store/migrations/NNNN_name.sql` is portable SQL (see the conventions at
//! the top of `0001_initial.sql`). sqlx records what it applied in `_sqlx_migrations` with a checksum, so
//! running them again is a no-op and an edited, already applied migration is an error: add a new file
//! instead, and list it in [`MIGRATIONS`].

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

/// Version, description and SQL of every migration, oldest first.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "device secret",
        include_str!("../migrations/0002_device_secret.sql"),
    ),
    (
        3,
        "tree district",
        include_str!("../migrations/0003_tree_district.sql"),
    ),
    (
        4,
        "price intervals",
        include_str!("../migrations/0004_price_intervals.sql"),
    ),
];

/// The embedded migrations as an sqlx migration source.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(self) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, name, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(name),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The migrator over [`MIGRATIONS`].
pub async fn migrator() -> Result<Migrator, sqlx::migrate::MigrateError> {
    Migrator::new(Embedded).await
}
