//! Audit log throughput, in one run on this machine:
//! - durable appends per second at 1, 16, 64 and 256 concurrent writers, with patient
//!   ids ascending and random, on SQLite and (when `ENAMEL_TEST_POSTGRES_URL` is set)
//!   PostgreSQL over TCP, through Enamel's group-commit writer, beside a baseline
//!   written here: one transaction per event that locks the chain head, reads its
//!   hash and inserts;
//! - the query indexer's catch-up rate over what those appends left, and appends
//!   with the indexer running beside them;
//! - verification speed of an exported log in MB/s, beside
//!   `openssl speed -evp sha256` at 256-byte blocks.
//!
//! The bars: at least 50,000 events/s at 64 writers with random patient ids, an
//! indexer that keeps up with that; verification at least
//! half of OpenSSL's SHA-256 figure. Each measurement is bounded in time and events.
//!
//! Run with `cargo bench -p enamel-store --bench audit`.

#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::missing_panics_doc
)]

/// The allocator of the `enamel` binary (crates/enamel/src/main.rs), so the store is
/// measured as the server runs it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use enamel_audit::checkpoint::Signer;
use enamel_audit::entry::{Action, Entry, Event, Outcome, ResourceType, Scope};
use enamel_audit::merkle::Frontier;
use enamel_audit::verify::Verifier;
use enamel_crypto::LocalKeyFile;
use enamel_domain::{ActorType, PracticeId};
use enamel_store::{Backend, ConnectOptions, INDEX_BATCH, Store};
use secrecy::SecretString;
use sqlx::Connection as _;

const WINDOW: Duration = Duration::from_secs(3);
const MAX_EVENTS: u64 = 400_000;

/// The `i`th benchmark event. Its patient id ascends with `i` unless `random_patient`,
/// as real accesses are: random ids touch a different leaf of the by-patient index
/// with every row.
fn event(scope: Scope, i: u64, random_patient: bool) -> Event {
    let patient = if random_patient {
        uuid::Uuid::new_v4()
    } else {
        uuid::Uuid::from_u128(u128::from(i))
    };
    Event {
        timestamp: time::OffsetDateTime::now_utc(),
        action: Action::Read,
        actor_id: Some(format!("user-{}", i % 50)),
        actor_type: ActorType::Human,
        scope,
        patient_id: Some(patient),
        resource_type: ResourceType::Patient,
        resource_id: Some(i.to_string()),
        outcome: Outcome::Success,
        ip_address: Some("192.0.2.1".parse().unwrap()),
        user_agent: Some("enamel-bench/1.0".into()),
        correlation_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
        detail: BTreeMap::new(),
    }
}

/// Runs `writers` tasks that each append, awaited one by one, until the window ends.
async fn measure<F, Fut>(writers: u64, append: F) -> f64
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let append = Arc::new(append);
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (append, done) = (Arc::clone(&append), Arc::clone(&done));
            tokio::spawn(async move {
                while started.elapsed() < WINDOW && done.load(Ordering::Relaxed) < MAX_EVENTS {
                    let i = done.fetch_add(1, Ordering::Relaxed);
                    append(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

async fn store(url: &SecretString, dir: &std::path::Path) -> Store {
    let keys = Arc::new(LocalKeyFile::open_or_create(&dir.join("keys")).unwrap());
    let options = ConnectOptions {
        max_connections: 32,
        ..ConnectOptions::default()
    };
    let store = Store::connect(url, &options, keys).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// The common pattern: one transaction per event, locking the chain head. Written
/// once and compiled for each backend's pool.
macro_rules! baseline_on {
    ($pool:expr, $backend:expr, $writers:expr, $blob:literal) => {{
        let pool = $pool;
        for sql in [
            concat!("CREATE TABLE IF NOT EXISTS baseline_head (id INTEGER PRIMARY KEY, idx BIGINT NOT NULL, hash ", $blob, " NOT NULL)"),
            concat!("CREATE TABLE IF NOT EXISTS baseline_entries (idx BIGINT PRIMARY KEY, entry ", $blob, " NOT NULL, hash ", $blob, " NOT NULL)"),
            "DELETE FROM baseline_entries",
            "DELETE FROM baseline_head",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        sqlx::query("INSERT INTO baseline_head (id, idx, hash) VALUES (1, 0, $1)").bind(vec![0_u8; 32]).execute(&pool).await.unwrap();
        let scope = Scope::Practice(PracticeId::generate());
        measure($writers, move |i| {
            let pool = pool.clone();
            async move {
                loop {
                    let attempt: Result<(), sqlx::Error> = async {
                        let mut tx = pool.begin().await?;
                        let select = if $backend == Backend::Sqlite {
                            // A careful SQLite writer takes the write lock before reading.
                            sqlx::query("UPDATE baseline_head SET idx = idx WHERE id = 1").execute(&mut *tx).await?;
                            "SELECT idx, hash FROM baseline_head WHERE id = 1"
                        } else {
                            "SELECT idx, hash FROM baseline_head WHERE id = 1 FOR UPDATE"
                        };
                        let (idx, hash): (i64, Vec<u8>) = sqlx::query_as(select).fetch_one(&mut *tx).await?;
                        let prev: [u8; 32] = hash.try_into().unwrap();
                        let entry = Entry::new(&event(scope, i, false), u64::try_from(idx).unwrap(), &prev).canonical();
                        let leaf = enamel_audit::merkle::leaf_hash(&entry).to_vec();
                        sqlx::query("INSERT INTO baseline_entries (idx, entry, hash) VALUES ($1, $2, $3)")
                            .bind(idx)
                            .bind(entry)
                            .bind(leaf.clone())
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query("UPDATE baseline_head SET idx = $1, hash = $2 WHERE id = 1").bind(idx + 1).bind(leaf).execute(&mut *tx).await?;
                        tx.commit().await
                    }
                    .await;
                    if attempt.is_ok() {
                        break;
                    }
                }
            }
        })
        .await
    }};
}

async fn baseline(url: &str, backend: Backend, writers: u64) -> f64 {
    match backend {
        Backend::Sqlite => {
            let options = url
                .parse::<sqlx::sqlite::SqliteConnectOptions>()
                .unwrap()
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(30));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(32)
                .connect_with(options)
                .await
                .unwrap();
            baseline_on!(pool, backend, writers, "BLOB")
        }
        Backend::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(32)
                .connect(url)
                .await
                .unwrap();
            baseline_on!(pool, backend, writers, "BYTEA")
        }
    }
}

fn openssl_sha256_256() -> Option<f64> {
    let output = std::process::Command::new("openssl")
        .args(["speed", "-evp", "sha256", "-bytes", "256", "-seconds", "3"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|l| l.to_lowercase().starts_with("sha256"))?;
    let kbytes: f64 = line
        .split_whitespace()
        .last()?
        .trim_end_matches('k')
        .parse()
        .ok()?;
    Some(kbytes / 1000.0)
}

/// A log of 200,000 entries (about 100 MB) and its one signed checkpoint.
fn exported_log() -> (Vec<Vec<u8>>, Signer, enamel_audit::checkpoint::Checkpoint) {
    let signer = Signer::from_seed(&[1; 32]).unwrap();
    let scope = Scope::Platform;
    let (mut entries, mut frontier, mut prev) = (Vec::new(), Frontier::default(), [0_u8; 32]);
    for i in 0..200_000 {
        let entry = Entry::new(&event(scope, i, false), i, &prev);
        prev = entry.leaf_hash();
        frontier.push(prev);
        entries.push(entry.canonical());
    }
    let checkpoint = signer.sign(
        &scope,
        200_000,
        &frontier.root(),
        "2026-11-22T00:00:00.000000Z",
    );
    (entries, signer, checkpoint)
}

/// The best of five runs of `run` over the log, in MB/s of canonical entries.
fn best_of_five(entries: &[Vec<u8>], mut run: impl FnMut()) -> f64 {
    let bytes: usize = entries.iter().map(Vec::len).sum();
    (0..5)
        .map(|_| {
            let started = Instant::now();
            run();
            bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// Verification speed one entry at a time, and in runs of 16,384 entries scanned
/// and hashed on every core; and, for reference, the leaf and node hashing alone.
fn verification_speeds() -> (f64, f64, usize, f64) {
    let (entries, signer, checkpoint) = exported_log();
    let scope = Scope::Platform;
    let start = || Verifier::new(&scope, &signer.public_key(), vec![checkpoint.clone()]).unwrap();
    let one_by_one = best_of_five(&entries, || {
        let mut verifier = start();
        for entry in &entries {
            verifier.push(entry, None).unwrap();
        }
        verifier.finish().unwrap();
    });
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let in_runs = best_of_five(&entries, || {
        let mut verifier = start();
        for run in entries.chunks(16_384) {
            verifier.push_all(run, None, threads).unwrap();
        }
        verifier.finish().unwrap();
    });
    let hashing = best_of_five(&entries, || {
        let mut frontier = Frontier::default();
        for entry in &entries {
            frontier.push(enamel_audit::merkle::leaf_hash(entry));
        }
        assert_eq!(frontier.root(), checkpoint.root_hash().unwrap());
    });
    (one_by_one, in_runs, threads, hashing)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench ... -- appends` or `-- verification` runs one half.
    let args: Vec<String> = std::env::args().collect();
    let wants = |part: &str| {
        let named: Vec<&String> = args
            .iter()
            .filter(|a| !a.starts_with('-'))
            .skip(1)
            .collect();
        named.is_empty() || named.iter().any(|a| a.as_str() == part)
    };
    if wants("appends") {
        appends().await;
    }
    if wants("verification") {
        verification();
    }
}

async fn appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![(
        Backend::Sqlite,
        format!("sqlite://{}/bench.db", dir.path().display()),
    )];
    if let Ok(admin) = std::env::var("ENAMEL_TEST_POSTGRES_URL") {
        // Over TCP when the URL names a host, as production connects: the rows then
        // also show that no INSERT waits on Nagle's algorithm (about 1,400/s if one
        // did; see PG_STATEMENT_BYTES).
        println!(
            "(PostgreSQL at {})",
            url::Url::parse(&admin)
                .ok()
                .and_then(|u| u.host_str().map(ToOwned::to_owned))
                .unwrap_or_else(|| "a local socket".to_owned())
        );
        let name = format!("enamel_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        backends.push((Backend::Postgres, url.to_string()));
    } else {
        println!("(PostgreSQL skipped: ENAMEL_TEST_POSTGRES_URL is not set)");
    }
    println!(
        "durable audit appends per second ({}s windows, at most {MAX_EVENTS} events each); \
         patient ids ascending or random; no indexer running unless said",
        WINDOW.as_secs()
    );
    for (backend, url) in &backends {
        let store = store(&SecretString::from(url.clone()), dir.path()).await;
        let name = backend.name();
        for writers in [1, 16, 64, 256] {
            let ascending = group_commit(&store, writers, false).await;
            let random = group_commit(&store, writers, true).await;
            let base = baseline(url, *backend, writers).await;
            println!(
                "  {name:<8} {writers:>3} writers: group commit {ascending:>7.0}/s ascending, \
                 {random:>7.0}/s random; one transaction per event {base:>6.0}/s ({:.1}x)",
                random / base
            );
        }
        index_catch_up(&store, name).await;
        let indexer = {
            let store = store.clone();
            tokio::spawn(async move {
                loop {
                    let round = store.audit().index_round(INDEX_BATCH).await.unwrap();
                    // As the jobs worker's loop does (jobs/audit_index.rs).
                    if round.behind == 0 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        };
        let (random, scope) = appended(&store, 64, true).await;
        let stopped = Instant::now();
        let behind = store.audit().index_lag().await.unwrap();
        while store.audit().index_lag().await.unwrap() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let caught_up = stopped.elapsed();
        indexer.abort();
        verifies(&store, &scope).await;
        assert_eq!(
            store.audit().index_disagreement(&scope).await.unwrap(),
            None,
            "the index the indexer built agrees with the log"
        );
        println!(
            "  {name:<8}  64 writers, random ids, indexer running: {random:>7.0}/s appended; \
             {behind} entries behind when the appends stopped, all indexed {:.2}s later",
            caught_up.as_secs_f64()
        );
        store.close().await;
    }
}

/// How fast the indexer brings every log's query index up to its head, from what
/// the appends above left unindexed.
async fn index_catch_up(store: &Store, name: &str) {
    let behind = store.audit().index_lag().await.unwrap();
    let started = Instant::now();
    let mut indexed = 0;
    loop {
        let round = store.audit().index_round(INDEX_BATCH).await.unwrap();
        indexed += round.entries;
        if round.behind == 0 {
            break;
        }
    }
    assert_eq!(indexed, behind, "the indexer reached every head");
    println!(
        "  {name:<8} indexer catch-up: {indexed} entries in {:.1}s = {:.0} entries/s ({INDEX_BATCH} a transaction)",
        started.elapsed().as_secs_f64(),
        indexed as f64 / started.elapsed().as_secs_f64()
    );
}

/// Durable appends per second by `writers` concurrent callers to a new log of
/// `store`, which must verify afterwards.
async fn group_commit(store: &Store, writers: u64, random_patients: bool) -> f64 {
    let (rate, scope) = appended(store, writers, random_patients).await;
    verifies(store, &scope).await;
    rate
}

/// Durable appends per second by `writers` concurrent callers to a new log, and the
/// log's scope.
async fn appended(store: &Store, writers: u64, random_patients: bool) -> (f64, Scope) {
    let scope = Scope::Practice(PracticeId::generate());
    let store = store.clone();
    let rate = measure(writers, move |i| {
        let store = store.clone();
        async move {
            let event = event(scope, i, random_patients);
            store.audit().record(event).await.unwrap();
        }
    })
    .await;
    (rate, scope)
}

async fn verifies(store: &Store, scope: &Scope) {
    let public_key = store.audit().signer().await.unwrap().public_key();
    let verdict = store
        .audit()
        .verify(scope, &public_key, |_| {})
        .await
        .unwrap();
    assert!(verdict.is_ok(), "the benchmarked log verifies");
}

fn verification() {
    let (one_by_one, in_runs, threads, hashing) = verification_speeds();
    println!(
        "verification of an exported log (200,000 entries, best of 5), MB/s of canonical entries:"
    );
    let openssl = openssl_sha256_256();
    let ratio = |speed: f64| {
        openssl.map_or_else(String::new, |openssl| {
            format!(" -> {:.2}x OpenSSL", speed / openssl)
        })
    };
    println!(
        "  one thread:        {one_by_one:>7.1}{}",
        ratio(one_by_one)
    );
    println!(
        "  {threads} threads:         {in_runs:>7.1}{}",
        ratio(in_runs)
    );
    println!(
        "  hashing alone:     {hashing:>7.1}{} (leaf and node hashes, one thread)",
        ratio(hashing)
    );
    match openssl {
        Some(openssl) => {
            println!("openssl speed -evp sha256, 256-byte blocks: {openssl:.1} MB/s (bar: 0.50x)");
        }
        None => println!("openssl speed was not available; no ratio printed"),
    }
}
