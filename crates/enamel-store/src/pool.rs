//! Connecting to the database and dispatching queries to the open backend.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use enamel_crypto::KeyProvider;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::audit::Appender;
use crate::db::{Db, WriteGate, on_pool};
use crate::keyring::Keyring;
use crate::repos::practices::PracticeRepo;
use crate::repos::users::UserRepo;
use crate::scoped::Scoped;
use crate::{AuditLog, KeyAdmin, StoreError};

/// The database systems Enamel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(StoreError::UnsupportedUrl),
        }
    }

    /// The backend's name, for logs and `/readyz`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// How to open the pool.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub max_connections: u32,
    /// How long SQLite waits for a lock, and how long anyone waits for a connection.
    pub busy_timeout: Duration,
    /// How long an unwrapped data key stays in memory before the provider is asked
    /// again. Also how long another process may keep reading a practice after it is
    /// shredded elsewhere.
    pub key_cache_ttl: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            busy_timeout: Duration::from_secs(5),
            key_cache_ttl: Duration::from_mins(1),
        }
    }
}

/// The store's clock, shared by every handle on the store and its key ring.
#[derive(Clone, Debug)]
pub(crate) struct StoreClock(Arc<std::sync::RwLock<Arc<dyn enamel_domain::clock::Clock>>>);

impl StoreClock {
    fn system() -> Self {
        Self(Arc::new(std::sync::RwLock::new(Arc::new(
            enamel_domain::clock::SystemClock,
        ))))
    }

    fn set(&self, clock: Arc<dyn enamel_domain::clock::Clock>) {
        *self.0.write().expect("the clock's lock is never poisoned") = clock;
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.0
            .read()
            .expect("the clock's lock is never poisoned")
            .now()
    }
}

/// A handle on Enamel's database; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    pub(crate) clock: StoreClock,
    pub(crate) keys: Arc<Keyring>,
    pub(crate) audit: Appender,
    pub(crate) policy: Arc<enamel_policy::PolicyEngine>,
}

/// How long a pooled PostgreSQL connection may sit idle before it is pinged at its
/// next checkout.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(30);

impl Store {
    /// Opens a pool on the database that `url` names.
    ///
    /// SQLite files are created on first use, with their parent directory, and run in
    /// WAL mode with foreign keys enforced, a busy timeout, and `synchronous = FULL`
    /// so an acknowledged commit survives a crash of the machine, not only the process.
    pub async fn connect(
        url: &SecretString,
        options: &ConnectOptions,
        keys: Arc<dyn KeyProvider>,
    ) -> Result<Self, StoreError> {
        let url = url.expose_secret();
        let db = match Backend::from_url(url)? {
            Backend::Sqlite => {
                let connect = SqliteConnectOptions::from_str(url)
                    .map_err(|_| StoreError::UnsupportedUrl)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(options.busy_timeout)
                    // 1 MiB of page cache per pooled connection instead of SQLite's
                    // 2 MiB: sixteen connections' caches were a fifth of the server's
                    // memory under load, and the operating system caches the file
                    // for all of them (docs/performance.md).
                    .pragma("cache_size", "-1024");
                if let Some(parent) = Path::new(connect.get_filename()).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent)
                        .context("creating the SQLite database's directory")?;
                }
                // No ping before each checkout: a connection to a local file does
                // not go stale, and the ping is a round trip to the connection's
                // thread on every statement (docs/performance.md).
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.busy_timeout)
                    .test_before_acquire(false)
                    .connect_with(connect)
                    .await
                    .context("opening the SQLite database")?;
                Db::Sqlite(pool, WriteGate::new(options.busy_timeout))
            }
            Backend::Postgres => {
                let connect =
                    PgConnectOptions::from_str(url).map_err(|_| StoreError::UnsupportedUrl)?;
                // A connection is pinged before a checkout only when it has been
                // idle long enough to have been dropped by the server or the network
                // (a restart, a proxy's idle timeout); the default pings every
                // checkout, a round trip per statement (docs/performance.md). sqlx
                // also pings each connection as it goes back to the pool.
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.busy_timeout)
                    .test_before_acquire(false)
                    .before_acquire(|connection, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_IF_IDLE_FOR {
                                use sqlx::Connection as _;
                                connection.ping().await?;
                            }
                            Ok(true)
                        })
                    })
                    .connect_with(connect)
                    .await
                    .context("connecting to PostgreSQL")?;
                Db::Postgres(pool)
            }
        };
        let policy =
            enamel_policy::PolicyEngine::bundled().context("loading the authorization policies")?;
        let audit = Appender::start(db.clone());
        let clock = StoreClock::system();
        Ok(Self {
            db,
            keys: Arc::new(Keyring::new(keys, options.key_cache_ttl, clock.clone())),
            clock,
            audit,
            policy: Arc::new(policy),
        })
    }

    /// Makes `clock` the one clock of this store and every handle on it (its audit
    /// timestamps, "the last 24 hours", retention, key records). Whoever runs the
    /// store sets it once, before serving: the application passes its own clock,
    /// and a test its manual one.
    pub fn use_clock(&self, clock: Arc<dyn enamel_domain::clock::Clock>) {
        self.clock.set(clock);
    }

    /// Now, by the store's clock.
    #[must_use]
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// Which backend this store runs on.
    #[must_use]
    pub const fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
            .context("pinging the database")?;
        Ok(())
    }

    /// Closes every pooled connection, waiting for the ones in use to be returned.
    /// On SQLite the audit writer's own connection closes when the last handle on
    /// this store is dropped.
    pub async fn close(&self) {
        on_pool!(&self.db, pool => pool.close().await);
    }

    /// Practices: the tenants. Not PHI.
    #[must_use]
    pub const fn practices(&self) -> PracticeRepo<'_> {
        PracticeRepo::new(self)
    }

    /// Workforce accounts across practices, for the system (seeding, sign-in). Not PHI.
    #[must_use]
    pub const fn users(&self) -> UserRepo<'_> {
        UserRepo::new(self)
    }

    /// Sign-in's view: credentials, sessions, second factors, tokens.
    #[must_use]
    pub const fn identity(&self) -> crate::Identity<'_> {
        crate::Identity::new(self)
    }

    /// The policy decision point.
    #[must_use]
    pub fn policy(&self) -> &enamel_policy::PolicyEngine {
        &self.policy
    }

    /// The tamper-evident audit log.
    #[must_use]
    pub const fn audit(&self) -> AuditLog<'_> {
        AuditLog::new(self)
    }

    /// Key rotation, re-encryption and crypto-shredding.
    #[must_use]
    pub const fn key_admin(&self) -> KeyAdmin<'_> {
        KeyAdmin::new(self)
    }

    /// The repositories an actor may use, each query limited to the actor's practice.
    #[must_use]
    pub const fn scoped<'a>(&'a self, actor: &'a enamel_domain::Actor) -> Scoped<'a> {
        Scoped::new(self, actor)
    }
}

/// A migrated store on a SQLite file in `dir`, with a local key file beside it.
#[cfg(test)]
pub(crate) async fn sqlite_test_store(dir: &Path, options: &ConnectOptions) -> Store {
    let keys = Arc::new(enamel_crypto::LocalKeyFile::open_or_create(&dir.join("keys")).unwrap());
    let url = SecretString::from(format!("sqlite://{}/enamel.db", dir.display()));
    let store = Store::connect(&url, options, keys).await.unwrap();
    store.migrate().await.unwrap();
    store
}
