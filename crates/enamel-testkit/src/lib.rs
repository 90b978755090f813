//! Test support shared by Enamel's suites.
//!
//! Suites that need an outside service (PostgreSQL today; object storage, SMTP and
//! others as they arrive) run when their setting is given in the environment and are
//! otherwise skipped with one notice per `cargo test` run. With
//! `ENAMEL_TEST_REQUIRE_ALL=1` (as `.ci/run` sets), a skipped suite fails instead.

#![allow(clippy::print_stderr)]

#[cfg(feature = "server")]
pub mod demo;
#[cfg(feature = "opendental")]
pub mod opendental;
pub mod smtp;

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use enamel_crypto::LocalKeyFile;
use enamel_store::{Backend, ConnectOptions, Store};
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::Connection as _;
use tempfile::TempDir;

/// The environment variable naming an administrative PostgreSQL URL: tests create
/// one fresh database per test through it.
pub const POSTGRES_URL_VAR: &str = "ENAMEL_TEST_POSTGRES_URL";
/// The environment variable that turns a skipped suite into a failure.
pub const REQUIRE_ALL_VAR: &str = "ENAMEL_TEST_REQUIRE_ALL";

/// A fresh, migrated database, with its own key file, that lives as long as this value.
#[derive(Debug)]
pub struct TestDb {
    pub store: Store,
    pub url: SecretString,
    /// The key file the store's keys are wrapped by.
    pub key_file: PathBuf,
    _dir: TempDir,
}

impl TestDb {
    /// Another store on the same database and key file, as a restarted or second
    /// process would open it.
    pub async fn reopen(&self) -> Store {
        connect(&self.url, &self.key_file).await
    }

    /// Runs a statement directly on the database, around Enamel, as an attacker or
    /// an auditor with database access would. Returns the rows affected.
    pub async fn raw_execute(&self, sql: &str) -> u64 {
        self.raw_try_execute(sql)
            .await
            .unwrap_or_else(|err| panic!("raw SQL failed: {err}"))
    }

    /// Like [`TestDb::raw_execute`], but returns the database's refusal instead of
    /// panicking on it.
    pub async fn raw_try_execute(&self, sql: &str) -> Result<u64, String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let result = match self.store.backend() {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(self.url.expose_secret())
                    .await
                    .unwrap();
                sqlx::query(sql)
                    .execute(&mut conn)
                    .await
                    .map(|r| r.rows_affected())
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(self.url.expose_secret())
                    .await
                    .unwrap();
                sqlx::query(sql)
                    .execute(&mut conn)
                    .await
                    .map(|r| r.rows_affected())
            }
        };
        result.map_err(|err| err.to_string())
    }

    /// A byte string as a literal of this backend's SQL.
    #[must_use]
    pub fn bytes_literal(&self, bytes: &[u8]) -> String {
        let hex = bytes.iter().fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        match self.store.backend() {
            Backend::Sqlite => format!("X'{hex}'"),
            Backend::Postgres => format!("'\\x{hex}'::bytea"),
        }
    }

    /// The first column of every row of a query, as bytes, read directly.
    pub async fn raw_bytes(&self, sql: &str) -> Vec<Vec<u8>> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        match self.store.backend() {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(self.url.expose_secret())
                    .await
                    .unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
            Backend::Postgres => {
                let mut conn = sqlx::PgConnection::connect(self.url.expose_secret())
                    .await
                    .unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }
}

impl TestDb {
    /// Every value of every row of `table`, as the database holds it, joined into
    /// one text (bytes that are not UTF-8 are replaced): what someone reading the
    /// plain columns would see.
    pub async fn raw_text_dump(&self, table: &str) -> String {
        let mut out = Vec::new();
        match self.store.backend() {
            Backend::Sqlite => {
                let columns = self
                    .raw_bytes(&format!(
                        "SELECT CAST(name AS BLOB) FROM pragma_table_info('{table}')"
                    ))
                    .await;
                for column in columns {
                    let column = String::from_utf8(column).unwrap();
                    for value in self
                        .raw_bytes(&format!(
                            "SELECT CAST({column} AS BLOB) FROM {table} WHERE {column} IS NOT NULL"
                        ))
                        .await
                    {
                        out.extend_from_slice(&value);
                        out.push(b'\n');
                    }
                }
            }
            Backend::Postgres => {
                for row in self
                    .raw_bytes(&format!(
                        "SELECT convert_to(t::text, 'UTF8') FROM {table} t"
                    ))
                    .await
                {
                    out.extend_from_slice(&row);
                    out.push(b'\n');
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Both backends, for suites that run once on each.
pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// A fresh, migrated database on `backend`, or `None` if that suite is skipped.
///
/// # Panics
/// When the backend's setting is given but the database cannot be created, or when
/// the suite would be skipped under `ENAMEL_TEST_REQUIRE_ALL=1`.
pub async fn fresh_database(backend: Backend) -> Option<TestDb> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("keys/enamel.keys");
    let url: SecretString = match backend {
        Backend::Sqlite => format!("sqlite://{}/enamel.db", dir.path().display()).into(),
        Backend::Postgres => {
            let admin_url = setting(POSTGRES_URL_VAR, "PostgreSQL")?;
            create_postgres_database(&admin_url).await.into()
        }
    };
    let db = TestDb {
        store: connect(&url, &key_file).await,
        url,
        key_file,
        _dir: dir,
    };
    db.store
        .migrate()
        .await
        .expect("migrations apply to a fresh database");
    Some(db)
}

async fn connect(url: &SecretString, key_file: &Path) -> Store {
    let keys = LocalKeyFile::open_or_create(key_file).expect("a test key file");
    Store::connect(url, &ConnectOptions::default(), std::sync::Arc::new(keys))
        .await
        .expect("the test database accepts connections")
}

/// Creates `enamel_test_<random>` through the admin URL and returns its URL.
async fn create_postgres_database(admin_url: &str) -> String {
    let name = format!("enamel_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|_| panic!("{POSTGRES_URL_VAR} is set but PostgreSQL is unreachable"));
    // The name is ours (a fixed prefix and a UUID's hex digits), not outside input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE for a test");
    let _ = admin.close().await;
    let mut url = url::Url::parse(admin_url).expect("a PostgreSQL URL");
    url.set_path(&name);
    url.to_string()
}

/// The value of a suite's setting, or `None` (after the skip notice) if it is unset.
///
/// # Panics
/// Under `ENAMEL_TEST_REQUIRE_ALL=1`, when the setting is unset.
#[must_use]
pub fn setting(var: &str, suite: &str) -> Option<String> {
    if let Ok(value) = std::env::var(var)
        && !value.is_empty()
    {
        return Some(value);
    }
    let why = format!("{var} is not set");
    assert!(
        std::env::var(REQUIRE_ALL_VAR).as_deref() != Ok("1"),
        "the {suite} suite is required ({REQUIRE_ALL_VAR}=1) but {why}"
    );
    notify_skipped_once(suite, &why);
    None
}

/// Prints "suite skipped" once per `cargo test` run, not once per test.
///
/// Test binaries of one run share a parent (cargo), so a marker file named after the
/// parent's pid dedupes across binaries. The notice goes straight to stderr, which
/// the test harness does not capture.
fn notify_skipped_once(suite: &str, why: &str) {
    let marker = std::env::temp_dir().join(format!(
        "enamel-skip-{}-{}",
        std::os::unix::process::parent_id(),
        suite.to_lowercase()
    ));
    if OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
        .is_ok()
    {
        let _ = writeln!(
            std::io::stderr(),
            "note: the {suite} tests were skipped because {why} (see README: Tests)"
        );
    }
}

/// What a storage test takes: the store, or the whole test database (for raw SQL).
pub trait FromTestDb<'a> {
    fn from_test_db(db: &'a TestDb) -> Self;
}

impl FromTestDb<'_> for Store {
    fn from_test_db(db: &TestDb) -> Self {
        db.store.clone()
    }
}

impl<'a> FromTestDb<'a> for &'a TestDb {
    fn from_test_db(db: &'a TestDb) -> Self {
        db
    }
}

/// Declares each listed `async fn(Backend)` (a story test that builds what it needs
/// on the backend it is given) as one test per backend, in modules `sqlite` and
/// `postgres` beside it. PostgreSQL's test passes trivially only when no PostgreSQL
/// is configured and `ENAMEL_TEST_REQUIRE_ALL` is unset (see [`fresh_database`]).
#[macro_export]
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(enamel_store::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(enamel_store::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Declares each listed `module::test`, an `async fn(Store)` or `async fn(&TestDb)`,
/// as one test per backend on a fresh database, in modules `sqlite` and `postgres`
/// beside it (invoke it where the listed modules are visible as `super::module`).
#[macro_export]
macro_rules! on_both_databases {
    ($($module:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $test() {
                    let db = $crate::fresh_database(enamel_store::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    super::$module::$test($crate::FromTestDb::from_test_db(&db)).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $test() {
                    if let Some(db) = $crate::fresh_database(enamel_store::Backend::Postgres).await {
                        super::$module::$test($crate::FromTestDb::from_test_db(&db)).await;
                    }
                }
            )*
        }
    };
}
