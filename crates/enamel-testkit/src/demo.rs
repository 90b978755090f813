//! A seeded demo network served on loopback, with a clock the test moves and the
//! jobs runtime beside it, and typed helpers to use it as a browser or an API client
//! would (the server suite's story tests, on either database). Built with the
//! `server` feature, which the server's tests turn on: the test kit
//! then depends on the server, a cycle that Cargo allows for dev-dependencies.

#![allow(
    clippy::missing_panics_doc,
    clippy::must_use_candidate,
    missing_debug_implementations,
    reason = "test support: a failed step is a failed test, and nothing here is logged"
)]

use std::sync::Arc;

use enamel_crypto::totp::TotpSecret;
use enamel_demo::{DEFAULT_SEED, DEMO_PASSWORD, DemoNetwork};
use enamel_domain::Role;
use enamel_server::clock::{Clock as _, ManualClock};
use enamel_server::{Application, Settings};
use enamel_store::Backend;
use reqwest::header;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::{TestDb, fresh_database};

/// Settings for a test: loopback, any free port, defaults otherwise.
pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    settings.server.bind = "127.0.0.1:0".parse().unwrap();
    settings
}

/// Starts the jobs runtime (`enamel serve` runs it beside the server) on `store`,
/// until the returned sender is used or dropped.
pub fn start_jobs(
    settings: &Settings,
    store: enamel_store::Store,
    clock: std::sync::Arc<dyn enamel_server::clock::Clock>,
    url: &str,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let runtime = enamel_agents::Runtime::new(
        store,
        clock,
        &settings.notifications,
        enamel_agents::RuntimeSettings::from_settings(settings, url),
    )
    .expect("the jobs runtime starts");
    let (stop, stopped) = oneshot::channel::<()>();
    let jobs = tokio::spawn(runtime.run_until_stopped(async {
        let _ = stopped.await;
    }));
    (stop, jobs)
}

/// A demo network served with a clock the test moves.
pub struct Demo {
    pub url: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub network: DemoNetwork,
    pub db: TestDb,
    _stop: oneshot::Sender<()>,
    _stop_jobs: oneshot::Sender<()>,
    dir: tempfile::TempDir,
}

pub async fn demo_on(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<Demo> {
    let db = fresh_database(backend).await?;
    let network = DemoNetwork::generate(DEFAULT_SEED);
    enamel_demo::seed(&db.store, &network).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings();
    dir.path().clone_into(&mut settings.data_dir);
    adjust(&mut settings);
    let clock = ManualClock::new(OffsetDateTime::now_utc());
    let app = Application::build_with_clock(&settings, db.store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let url = app.url();
    let (stop_jobs, _) = start_jobs(&settings, db.store.clone(), Arc::new(clock.clone()), &url);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    Some(Demo {
        url,
        client,
        clock,
        network,
        db,
        _stop: stop,
        _stop_jobs: stop_jobs,
        dir,
    })
}

impl Demo {
    pub fn email(&self, practice: usize, role: Role) -> String {
        self.network.practices[practice]
            .users
            .iter()
            .find(|u| u.role() == role)
            .unwrap()
            .email()
            .as_str()
            .to_owned()
    }

    pub fn origin(&self) -> String {
        self.url.clone()
    }

    /// The server's data directory (attachments under `attachments/`).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Posts a form as a browser on this site would.
    pub async fn form(
        &self,
        path: &str,
        cookie: Option<&str>,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(format!("{}{path}", self.url))
            .header(header::ORIGIN, self.origin())
            .form(fields);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .header(header::COOKIE, cookie)
            .send()
            .await
            .unwrap()
    }

    /// The id of the account with `email`, as the practice admin behind `admin` lists it.
    pub async fn user_id(&self, admin: &str, email: &str) -> String {
        let users: Value = self.get("/api/v1/users", admin).await.json().await.unwrap();
        users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Signs in with a password; returns the cookie and where the page sent us.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> (Option<String>, reqwest::Response) {
        let response = self
            .form(
                "/sign-in",
                None,
                &[("email", email), ("password", password)],
            )
            .await;
        (cookie_of(&response), response)
    }

    /// Signs in an account that needs no second factor.
    pub async fn session(&self, email: &str) -> String {
        let (cookie, response) = self.sign_in(email, DEMO_PASSWORD).await;
        assert_eq!(response.status(), 303);
        assert_eq!(response.headers()[header::LOCATION], "/");
        cookie.unwrap()
    }

    /// Signs in an admin, enrolling a second factor; returns the cookie and secret.
    pub async fn admin_session(&self, email: &str) -> (String, TotpSecret) {
        self.enrolled_session(email, DEMO_PASSWORD).await
    }

    /// Signs in again an account enrolled with `secret` (a demo password), with a
    /// code of the clock's current time step.
    pub async fn second_factor_session(&self, email: &str, secret: &TotpSecret) -> String {
        let (pending, response) = self.sign_in(email, DEMO_PASSWORD).await;
        assert_eq!(
            response.headers()[header::LOCATION],
            "/sign-in/second-factor"
        );
        let code = code(secret, self.clock.now());
        let response = self
            .form(
                "/sign-in/second-factor",
                pending.as_deref(),
                &[("code", &code)],
            )
            .await;
        assert_eq!(response.status(), 303);
        cookie_of(&response).unwrap()
    }

    /// Signs in with `password` an account whose role needs a second factor it has
    /// not set up yet, enrolling one; returns the cookie and secret.
    pub async fn enrolled_session(&self, email: &str, password: &str) -> (String, TotpSecret) {
        let (pending, response) = self.sign_in(email, password).await;
        assert_eq!(response.headers()[header::LOCATION], "/sign-in/enrol");
        let pending = pending.unwrap();
        let page = self
            .get("/sign-in/enrol", &pending)
            .await
            .text()
            .await
            .unwrap();
        let secret = secret_on(&page);
        let code = code(&secret, self.clock.now());
        let response = self
            .form("/sign-in/enrol", Some(&pending), &[("code", &code)])
            .await;
        assert_eq!(response.status(), 200);
        let cookie = cookie_of(&response).unwrap();
        let page = response.text().await.unwrap();
        assert_eq!(page.matches("<li><code>").count(), 10, "ten recovery codes");
        (cookie, secret)
    }
}

/// The demo mailbox's message (a `.txt` file in `dir`) that contains `needle`,
/// waiting up to ten seconds for the jobs runtime to write it.
pub async fn mailbox_message(dir: &std::path::Path, needle: &str) -> String {
    for _ in 0..100 {
        let found = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .find(|text| text.contains(needle));
        if let Some(text) = found {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no message with {needle:?} in the mailbox");
}

pub fn cookie_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| !v.contains("Max-Age=0"))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

pub fn secret_on(page: &str) -> TotpSecret {
    let start = page.find("<code>").unwrap() + 6;
    let end = start + page[start..].find("</code>").unwrap();
    base32_decode(&page[start..end])
}

fn base32_decode(text: &str) -> TotpSecret {
    let (mut buffer, mut bits, mut out) = (0_u32, 0_u32, Vec::new());
    for c in text.chars() {
        let value = u32::try_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".find(c).unwrap()).unwrap();
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap());
        }
    }
    TotpSecret::from_bytes(&out)
}

pub fn code(secret: &TotpSecret, at: OffsetDateTime) -> String {
    format!(
        "{:06}",
        secret.code_at_step(TotpSecret::step_at(at.unix_timestamp()))
    )
}

impl Demo {
    /// Sends a JSON request with a session cookie, from this site's origin.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.request(method, path, cookie)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A request with a session cookie, from this site's origin.
    pub fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .header(header::COOKIE, cookie)
            .header(header::ORIGIN, self.origin())
    }

    /// Sends `patient` to the demo's endodontist as `cookie`; returns the referral's id.
    pub async fn refer(&self, cookie: &str, patient: &str) -> String {
        let endo = self.network.practices[3].practice.id.to_string();
        let (status, referral) = self
            .post(
                "/api/v1/referrals",
                cookie,
                json!({ "patient_id": patient, "receiving_practice_id": endo, "urgency": "routine",
                        "reason": "Evaluate", "send": true }),
            )
            .await;
        assert_eq!(status, 201, "{referral}");
        referral["id"].as_str().unwrap().to_owned()
    }

    /// Adds a synthetic patient through the API as `cookie`; returns its id.
    pub async fn add_patient(&self, cookie: &str, last_name: &str) -> String {
        let created = self
            .send_json(
                reqwest::Method::POST,
                "/api/v1/patients",
                cookie,
                &json!({ "first_name": "Testa", "last_name": last_name, "birth_date": "1990-02-03",
                         "email": format!("{}@example.test", last_name.to_lowercase()),
                         "preferred_contact": "email" }),
            )
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        created["id"].as_str().unwrap().to_owned()
    }
}

impl Demo {
    pub fn clock_now(&self) -> time::OffsetDateTime {
        use enamel_server::clock::Clock as _;
        self.clock.now()
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.request(method, path, cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn post(&self, path: &str, cookie: &str, body: Value) -> (u16, Value) {
        self.api(reqwest::Method::POST, path, cookie, Some(body))
            .await
    }

    pub async fn read(&self, path: &str, cookie: &str) -> (u16, Value) {
        self.api(reqwest::Method::GET, path, cookie, None).await
    }

    /// Sends `referral`'s patient a portal link as `cookie` (the referring office),
    /// and returns the link's path as the queued message carries it.
    pub async fn send_portal_link(&self, cookie: &str, referral: &str) -> String {
        let (status, _) = self
            .post(
                &format!("/api/v1/referrals/{referral}/portal-link"),
                cookie,
                json!({}),
            )
            .await;
        assert_eq!(status, 202);
        let practice = self.network.practices[0].practice.id;
        let outbox = self.db.store.outbox();
        let queued = outbox.of_practice(practice, 100).await.unwrap();
        let message = queued
            .iter()
            .find(|m| {
                m.kind == "patient_portal_link"
                    && m.referral.is_some_and(|r| r.to_string() == referral)
            })
            .expect("the link was queued");
        let pending = outbox
            .pending(message.id)
            .await
            .unwrap()
            .expect("not sent yet");
        let body = &pending.text.expose().body;
        body[body.find("/p/").unwrap()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }

    /// Opens a portal link (`url` in full, or a path) as a patient on a phone would:
    /// the page asks for the birth date, which is posted from the page; returns the
    /// status and page the patient ends on.
    pub async fn open_portal(&self, url: &str, birth_date: &str) -> (u16, String) {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.url)
        } else {
            url.to_owned()
        };
        let asked = self.client.get(&url).send().await.unwrap();
        if asked.status() != 200 {
            let status = asked.status().as_u16();
            return (status, asked.text().await.unwrap());
        }
        let page = asked.text().await.unwrap();
        assert!(page.contains("Date of birth"), "{page}");
        let answered = self
            .client
            .post(&url)
            .header(header::ORIGIN, self.origin())
            .form(&[("birth_date", birth_date)])
            .send()
            .await
            .unwrap();
        if answered.status() != 303 {
            let status = answered.status().as_u16();
            return (status, answered.text().await.unwrap());
        }
        assert_eq!(answered.headers()[header::LOCATION], "/portal");
        let cookie = cookie_of(&answered).unwrap();
        let shown = self.get("/portal", &cookie).await;
        (shown.status().as_u16(), shown.text().await.unwrap())
    }

    pub async fn page(&self, path: &str, cookie: &str) -> (u16, String) {
        let response = self.get(path, cookie).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }
}
