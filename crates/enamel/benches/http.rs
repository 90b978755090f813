//! Throughput and latency of `enamel serve --demo` (this crate's release binary, a
//! process of its own) on loopback, on SQLite and on PostgreSQL, at 1, 16 and 64
//! connections, with a load generator of its own in this process (HTTP/1.1
//! keep-alive, one request in flight per connection, like `wrk`):
//!
//! - `GET /healthz`: nothing but HTTP;
//! - `GET /readyz`: database round trips (the reference for the PHI read);
//! - `GET /api/v1/me`: the session alone;
//! - `GET /api/v1/patients/{id}`: session, authorization, decryption, and the read's
//!   audit entry made durable before the answer;
//! - `POST /api/v1/patients`: a PHI write (sealed fields, blind index, audit).
//!
//! Each row runs for `ENAMEL_BENCH_SECONDS` (default 5) after a one-second warm-up;
//! latencies are of the requests started inside the window. After the table, five
//! alternated pairs of `/readyz` and the PHI read at 64 connections give the PHI
//! read's share of `/readyz` as the median of five adjacent comparisons, since the
//! machine's speed drifts more between rows than within a pair. After the run the
//! server's resident memory is read from `/proc`. PostgreSQL rows run when
//! `ENAMEL_TEST_POSTGRES_URL` is set (a fresh database is made through it), over
//! TCP as production connects. Everything targets 127.0.0.1 and stops by itself.
//!
//! Run with `cargo bench -p enamel --bench http`; results are in docs/performance.md.

#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::missing_panics_doc,
    clippy::too_many_lines
)]

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use enamel_demo::{DEFAULT_SEED, DEMO_PASSWORD, DemoNetwork};
use enamel_domain::Role;
use enamel_store::Backend;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use tokio::net::TcpStream;

/// The connection counts of every row.
const CONNECTIONS: [usize; 3] = [1, 16, 64];
const WARM_UP: Duration = Duration::from_secs(1);
/// Pairs of back-to-back `/readyz` and PHI read windows at 64 connections after the
/// table. A machine of this kind drifts by tens of percent within minutes (see
/// docs/performance.md), more than the rows of one table are apart; each pair's ratio
/// is taken from two adjacent windows, and the pairs are summarized by their median.
const PAIRS: usize = 5;
/// Numbers every created patient's name over the whole run: a name and birth date
/// seen before is refused as a possible duplicate.
static NAMES: AtomicU64 = AtomicU64::new(0);

/// One kind of request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Healthz,
    Readyz,
    Me,
    PatientRead,
    PatientWrite,
}

impl Target {
    const ALL: [Self; 5] = [
        Self::Healthz,
        Self::Readyz,
        Self::Me,
        Self::PatientRead,
        Self::PatientWrite,
    ];

    const fn label(self) -> &'static str {
        match self {
            Self::Healthz => "GET /healthz",
            Self::Readyz => "GET /readyz",
            Self::Me => "GET /api/v1/me",
            Self::PatientRead => "GET /api/v1/patients/{id}",
            Self::PatientWrite => "POST /api/v1/patients",
        }
    }
}

/// What every request needs to know about the server.
struct Server {
    addr: SocketAddr,
    origin: String,
    cookie: String,
    patient: String,
}

impl Server {
    /// The request for `target`; `n` makes a created patient's name its own.
    fn request(&self, target: Target, n: u64) -> hyper::Request<Full<Bytes>> {
        let (method, path, body) = match target {
            Target::Healthz => ("GET", "/healthz".to_owned(), None),
            Target::Readyz => ("GET", "/readyz".to_owned(), None),
            Target::Me => ("GET", "/api/v1/me".to_owned(), None),
            Target::PatientRead => ("GET", format!("/api/v1/patients/{}", self.patient), None),
            Target::PatientWrite => (
                "POST",
                "/api/v1/patients".to_owned(),
                Some(format!(
                    r#"{{"first_name":"Bench","last_name":"Load{}","birth_date":"1980-02-29"}}"#,
                    letters(n)
                )),
            ),
        };
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string())
            .header("cookie", &self.cookie)
            .header("origin", &self.origin);
        if body.is_some() {
            request = request.header("content-type", "application/json");
        }
        request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("a valid request")
    }
}

/// `n` spelled in lower-case letters (names take no digits).
fn letters(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + u8::try_from(n % 26).unwrap_or(0));
        n /= 26;
        if n == 0 {
            break;
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

/// What one row measured.
struct Measured {
    ok: u64,
    failed: u64,
    /// The status of the first request that did not succeed.
    first_failure: Option<u16>,
    /// Latencies of the successful requests started in the window, in microseconds.
    latencies: Vec<u32>,
    window: Duration,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.window.as_secs_f64()
    }

    /// Panics unless every request of the window succeeded: a row with failures
    /// would not measure what it says.
    fn check(&self, target: Target) {
        assert!(
            self.ok > 0 && self.failed == 0,
            "{}: {} requests failed (the first with status {:?}); not a measurement",
            target.label(),
            self.failed,
            self.first_failure
        );
    }

    fn percentile(&mut self, percent: usize) -> f64 {
        self.latencies.sort_unstable();
        let Some(last) = self.latencies.len().checked_sub(1) else {
            return f64::NAN;
        };
        f64::from(self.latencies[last * percent / 100]) / 1_000.0
    }
}

/// `connections` connections, each sending `target` one request at a time until the
/// window closes.
async fn load(
    server: &Arc<Server>,
    target: Target,
    connections: usize,
    window: Duration,
) -> Measured {
    let start = Instant::now() + WARM_UP;
    let end = start + window;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let server = Arc::clone(server);
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(server.addr)
                .await
                .expect("the server accepts");
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .expect("an HTTP/1.1 connection");
            tokio::spawn(connection);
            let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
            let mut first_failure = None;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let n = NAMES.fetch_add(1, Ordering::Relaxed);
                let response = sender
                    .send_request(server.request(target, n))
                    .await
                    .expect("an answer");
                let status = response.status();
                let _ = response.into_body().collect().await.expect("a body");
                if sent < start {
                    continue;
                }
                if status.is_success() {
                    ok += 1;
                    let micros = sent.elapsed().as_micros();
                    latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                } else {
                    failed += 1;
                    first_failure.get_or_insert(status.as_u16());
                }
            }
            (ok, failed, latencies, first_failure)
        }));
    }
    let mut measured = Measured {
        ok: 0,
        failed: 0,
        first_failure: None,
        latencies: Vec::new(),
        window,
    };
    for task in tasks {
        let (ok, failed, latencies, first_failure) = task.await.expect("a load task");
        measured.ok += ok;
        measured.failed += failed;
        measured.first_failure = measured.first_failure.or(first_failure);
        measured.latencies.extend(latencies);
    }
    measured
}

/// [`PAIRS`] alternated pairs of `/readyz` and the PHI read at 64 connections (the
/// order flips from pair to pair, so neither row always runs on a warmer server);
/// returns the median ratio of the PHI read's throughput to `/readyz`'s and the
/// median of the PHI read's p99 in milliseconds.
async fn paired(server: &Arc<Server>, window: Duration) -> (f64, f64) {
    println!("| pair | /readyz requests/s | PHI read requests/s | ratio | PHI read p99 ms |");
    println!("|---|---|---|---|---|");
    let (mut ratios, mut p99s) = (Vec::new(), Vec::new());
    for pair in 1..=PAIRS {
        let order = if pair % 2 == 1 {
            [Target::Readyz, Target::PatientRead]
        } else {
            [Target::PatientRead, Target::Readyz]
        };
        let mut rates = [0.0; 2];
        let mut p99 = f64::NAN;
        for target in order {
            let mut measured = load(server, target, 64, window).await;
            measured.check(target);
            if target == Target::Readyz {
                rates[0] = measured.rate();
            } else {
                rates[1] = measured.rate();
                p99 = measured.percentile(99);
            }
        }
        let ratio = rates[1] / rates[0];
        println!(
            "| {pair} | {:.0} | {:.0} | {ratio:.2}x | {p99:.2} |",
            rates[0], rates[1]
        );
        ratios.push(ratio);
        p99s.push(p99);
    }
    (median(&mut ratios), median(&mut p99s))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A running `enamel serve --demo`.
struct Process {
    child: tokio::process::Child,
    _data: tempfile::TempDir,
    _database: Option<enamel_testkit::TestDb>,
}

impl Process {
    /// Resident and peak resident memory, in MB.
    fn memory(&self) -> (f64, f64) {
        let pid = self.child.id().expect("the server is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
                .map_or(f64::NAN, |kb| kb / 1024.0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SIGTERM: the server shuts down gracefully and signs its checkpoints.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await;
        let _ = self.child.kill().await;
    }
}

/// Starts the release binary on a free loopback port with the demo network, signs
/// in as the first office's front desk and creates the patient the reads ask for.
async fn start(backend: Backend) -> Option<(Process, Arc<Server>)> {
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(enamel_testkit::fresh_database(Backend::Postgres).await?),
    };
    let data = tempfile::tempdir().expect("a temporary directory");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        probe.local_addr().expect("an address").port()
    };
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let log_path = data.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("the server's log file");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_enamel"));
    // The server refuses ENAMEL_ variables it does not know (the benchmark's own).
    for (name, _) in std::env::vars() {
        if name.starts_with("ENAMEL_") {
            command.env_remove(name);
        }
    }
    command
        .args(["serve", "--demo"])
        .env("ENAMEL_DATA_DIR", data.path())
        .env("ENAMEL_SERVER_BIND", addr.to_string())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true);
    if let Some(db) = &database {
        use secrecy::ExposeSecret as _;
        command.env("ENAMEL_DATABASE_URL", db.url.expose_secret());
    }
    let child = command.spawn().expect("the enamel binary starts");
    let process = Process {
        child,
        _data: data,
        _database: database,
    };
    let origin = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let ready = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{origin}/readyz")).send().await
            && r.status().is_success()
        {
            break;
        }
        if ready.elapsed() > Duration::from_mins(2) {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            panic!("the server did not become ready; its log ends: {tail:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let network = DemoNetwork::generate(DEFAULT_SEED);
    let email = network.practices[0]
        .users
        .iter()
        .find(|u| u.role() == Role::FrontDesk)
        .expect("a front desk account")
        .email()
        .as_str()
        .to_owned();
    let signed_in = client
        .post(format!("{origin}/sign-in"))
        .header("origin", &origin)
        .form(&[("email", email.as_str()), ("password", DEMO_PASSWORD)])
        .send()
        .await
        .expect("sign-in answers");
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let created: serde_json::Value = client
        .post(format!("{origin}/api/v1/patients"))
        .header("cookie", &cookie)
        .header("origin", &origin)
        .json(&serde_json::json!({
            "first_name": "Bench", "last_name": "Reader", "birth_date": "1975-06-30"
        }))
        .send()
        .await
        .expect("the patient is created")
        .json()
        .await
        .expect("the created patient");
    let patient = created["id"].as_str().expect("the patient's id").to_owned();
    Some((
        process,
        Arc::new(Server {
            addr,
            origin,
            cookie,
            patient,
        }),
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let window = Duration::from_secs(
        std::env::var("ENAMEL_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    println!(
        "enamel serve --demo (release), loopback HTTP/1.1, {}s windows after a 1s warm-up, \
         load generator in the benchmark's process on the same machine\n",
        window.as_secs()
    );
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some((process, server)) = start(backend).await else {
            println!(
                "{}: skipped (ENAMEL_TEST_POSTGRES_URL is not set)\n",
                backend.name()
            );
            continue;
        };
        println!(
            "| {} | connections | requests/s | p50 ms | p99 ms | failed |",
            backend.name()
        );
        println!("|---|---|---|---|---|---|");
        let mut at_64 = std::collections::HashMap::new();
        for target in Target::ALL {
            for connections in CONNECTIONS {
                let mut measured = load(&server, target, connections, window).await;
                let (p50, p99) = (measured.percentile(50), measured.percentile(99));
                println!(
                    "| {} | {connections} | {:.0} | {p50:.2} | {p99:.2} | {} |",
                    target.label(),
                    measured.rate(),
                    measured.failed
                );
                measured.check(target);
                if connections == 64 {
                    at_64.insert(target.label(), (measured.rate(), p99));
                }
            }
        }
        let read = at_64[Target::PatientRead.label()];
        let ready = at_64[Target::Readyz.label()];
        println!(
            "\n{}: in the table, the PHI read at 64 connections: {:.0}/s = {:.2}x /readyz \
             ({:.0}/s), p99 {:.1} ms\n",
            backend.name(),
            read.0,
            read.0 / ready.0,
            ready.0,
            read.1
        );
        let (ratio, p99) = paired(&server, window).await;
        let (rss, peak) = process.memory();
        println!(
            "\n{}: PHI read at 64 connections, median of {PAIRS} alternated pairs: {ratio:.2}x \
             /readyz, p99 {p99:.1} ms; server RSS {rss:.0} MB after the run (peak {peak:.0} MB)\n",
            backend.name(),
        );
        process.stop().await;
    }
}
