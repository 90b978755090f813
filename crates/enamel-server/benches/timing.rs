//! Whether an attacker can learn anything from response times, measured over HTTP
//! on loopback against the seeded demo network (SQLite), in one run:
//! - another practice's referral or patient vs an id that does not exist (both must
//!   be the same 404; issue #5 asks for "similar time");
//! - sign-in with a known email and a wrong password vs an unknown email (the same
//!   401 page; the unknown email is checked against a decoy Argon2id hash).
//!
//! Requests alternate between the two cases so drift on the machine hits both alike.
//! Each sign-in happens an hour after the last on the server's injected clock, so no
//! throttle or lockout shapes the figures. Bounded: 600 lookups per case, 40 sign-ins
//! per case.
//!
//! Run with `cargo bench -p enamel-server --bench timing`.

#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::missing_panics_doc,
    clippy::too_many_lines
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use enamel_demo::{DEFAULT_SEED, DEMO_PASSWORD, DemoNetwork};
use enamel_domain::Role;
use enamel_server::clock::ManualClock;
use enamel_server::{Application, Settings};
use enamel_store::Backend;
use reqwest::header;
use serde_json::{Value, json};

const LOOKUPS: usize = 600;
const SIGN_INS: usize = 40;

struct Bench {
    url: String,
    client: reqwest::Client,
    clock: ManualClock,
    network: DemoNetwork,
}

impl Bench {
    fn email(&self, practice: usize, role: Role) -> String {
        self.network.practices[practice]
            .users
            .iter()
            .find(|u| u.role() == role)
            .unwrap()
            .email()
            .as_str()
            .to_owned()
    }

    async fn sign_in(&self, email: &str, password: &str) -> (u16, Option<String>, Duration) {
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/sign-in", self.url))
            .header(header::ORIGIN, &self.url)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
        let _ = response.bytes().await.unwrap();
        (status, cookie, started.elapsed())
    }

    async fn post(&self, path: &str, cookie: &str, body: Value) -> Value {
        self.client
            .post(format!("{}{path}", self.url))
            .header(header::COOKIE, cookie)
            .header(header::ORIGIN, &self.url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, cookie: &str) -> (u16, Duration) {
        let started = Instant::now();
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let _ = response.bytes().await.unwrap();
        (status, started.elapsed())
    }
}

/// Median, 90th percentile and mean, in microseconds.
fn summary(samples: &mut [Duration]) -> (f64, f64, f64) {
    samples.sort_unstable();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    // Nearest-rank percentiles over a sorted sample.
    let at = |percent: usize| micros(samples[(samples.len() - 1) * percent / 100]);
    let mean = samples.iter().map(|d| micros(*d)).sum::<f64>() / samples.len() as f64;
    (at(50), at(90), mean)
}

fn report(what: &str, first: (&str, &mut [Duration]), second: (&str, &mut [Duration])) {
    let ((first_name, first_samples), (second_name, second_samples)) = (first, second);
    let (a_med, a_p90, a_mean) = summary(first_samples);
    let (b_med, b_p90, b_mean) = summary(second_samples);
    println!("{what}");
    println!(
        "  {first_name:<34} median {a_med:>9.0} µs   p90 {a_p90:>9.0} µs   mean {a_mean:>9.0} µs"
    );
    println!(
        "  {second_name:<34} median {b_med:>9.0} µs   p90 {b_p90:>9.0} µs   mean {b_mean:>9.0} µs"
    );
    println!(
        "  difference of medians: {:+.0} µs ({:+.1}%)",
        a_med - b_med,
        (a_med - b_med) / b_med * 100.0
    );
}

async fn start() -> (
    Bench,
    enamel_testkit::TestDb,
    tokio::sync::oneshot::Sender<()>,
    tempfile::TempDir,
) {
    let db = enamel_testkit::fresh_database(Backend::Sqlite)
        .await
        .unwrap();
    let network = DemoNetwork::generate(DEFAULT_SEED);
    enamel_demo::seed(&db.store, &network).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    dir.path().clone_into(&mut settings.data_dir);
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let app = Application::build_with_clock(&settings, db.store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let url = app.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (
        Bench {
            url,
            client,
            clock,
            network,
        },
        db,
        stop,
        dir,
    )
}

#[tokio::main]
async fn main() {
    let (bench, _db, _stop, _dir) = start().await;
    println!("Response times on this machine (loopback HTTP, SQLite, demo network)\n");

    // Practice 0 refers a patient to practice 3; practice 1 is a bystander.
    let (_, referrer, _) = bench
        .sign_in(&bench.email(0, Role::FrontDesk), DEMO_PASSWORD)
        .await;
    let referrer = referrer.unwrap();
    let patient = bench
        .post(
            "/api/v1/patients",
            &referrer,
            json!({ "first_name": "Tamsin", "last_name": "Okonkwo-Lindqvist", "birth_date": "1984-08-19" }),
        )
        .await;
    let patient = patient["id"].as_str().unwrap().to_owned();
    let endo = bench.network.practices[3].practice.id.to_string();
    let referral = bench
        .post(
            "/api/v1/referrals",
            &referrer,
            json!({ "patient_id": patient, "receiving_practice_id": endo,
                    "urgency": "routine", "reason": "Evaluate", "send": true }),
        )
        .await;
    let referral = referral["id"].as_str().unwrap().to_owned();
    let (_, bystander, _) = bench
        .sign_in(&bench.email(1, Role::FrontDesk), DEMO_PASSWORD)
        .await;
    let bystander = bystander.unwrap();

    for (what, foreign) in [
        (
            "GET /api/v1/referrals/{id}",
            format!("/api/v1/referrals/{referral}"),
        ),
        (
            "GET /api/v1/patients/{id}",
            format!("/api/v1/patients/{patient}"),
        ),
    ] {
        let prefix = foreign.rsplit_once('/').unwrap().0.to_owned();
        let (mut theirs, mut missing) = (Vec::new(), Vec::new());
        for i in 0..LOOKUPS * 2 {
            if i % 2 == 0 {
                let (status, took) = bench.get(&foreign, &bystander).await;
                assert_eq!(status, 404);
                theirs.push(took);
            } else {
                let random = format!("{prefix}/{}", uuid::Uuid::now_v7());
                let (status, took) = bench.get(&random, &bystander).await;
                assert_eq!(status, 404);
                missing.push(took);
            }
        }
        // The first few warm caches; they are dropped from both.
        report(
            &format!("{what}, {LOOKUPS} each, as another practice"),
            ("another practice's id", &mut theirs[10..]),
            ("an id that does not exist", &mut missing[10..]),
        );
        println!();
    }

    let known: Vec<String> = bench
        .network
        .practices
        .iter()
        .flat_map(|p| p.users.iter().map(|u| u.email().as_str().to_owned()))
        .collect();
    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    for i in 0..SIGN_INS * 2 {
        bench.clock.advance(time::Duration::hours(1));
        if i % 2 == 0 {
            let email = &known[(i / 2) % known.len()];
            let (status, _, took) = bench.sign_in(email, "not-the-password-123").await;
            assert_eq!(status, 401);
            known_times.push(took);
        } else {
            let email = format!("nobody-{i}@nowhere.example.test");
            let (status, _, took) = bench.sign_in(&email, "not-the-password-123").await;
            assert_eq!(status, 401);
            unknown_times.push(took);
        }
    }
    report(
        &format!("POST /sign-in with a wrong password, {SIGN_INS} each"),
        ("a known email", &mut known_times),
        ("an unknown email", &mut unknown_times),
    );
}
