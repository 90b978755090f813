//! Embedded migrations, one numbered set per backend.

use std::collections::HashMap;

use anyhow::Context as _;
use sqlx::migrate::Migrator;

use crate::db::on_pool;
use crate::{Store, StoreError};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// How the database's schema compares with the migrations this binary carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Migrations this binary carries.
    pub expected: usize,
    /// Of those, applied successfully with an unchanged checksum.
    pub applied: usize,
}

impl MigrationStatus {
    /// Whether every migration this binary carries has been applied.
    #[must_use]
    pub const fn is_current(&self) -> bool {
        self.applied == self.expected
    }
}

impl Store {
    const fn migrator(&self) -> &'static Migrator {
        match self.backend() {
            crate::Backend::Sqlite => &SQLITE,
            crate::Backend::Postgres => &POSTGRES,
        }
    }

    /// Applies the migrations not yet applied. Safe to run from several processes at
    /// once: sqlx takes a lock on PostgreSQL, and SQLite serializes writers.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = self.migrator();
        on_pool!(&self.db, pool => migrator.run(pool).await).context("applying migrations")?;
        Ok(())
    }

    /// Compares the applied migrations with the ones this binary carries.
    ///
    /// A database that was never migrated reports zero applied.
    pub async fn migration_status(&self) -> Result<MigrationStatus, StoreError> {
        let migrator = self.migrator();
        let expected = migrator
            .iter()
            .filter(|m| m.migration_type.is_up_migration());
        let applied: Vec<(i64, Vec<u8>)> = match on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await
        }) {
            Ok(rows) => rows,
            // The bookkeeping table is created by the first migration run.
            Err(sqlx::Error::Database(_)) => Vec::new(),
            Err(err) => return Err(anyhow::Error::new(err).context("reading migrations").into()),
        };
        let applied: HashMap<i64, Vec<u8>> = applied.into_iter().collect();
        let (mut total, mut done) = (0, 0);
        for migration in expected {
            total += 1;
            if applied.get(&migration.version).map(Vec::as_slice) == Some(&*migration.checksum) {
                done += 1;
            }
        }
        Ok(MigrationStatus {
            expected: total,
            applied: done,
        })
    }
}
