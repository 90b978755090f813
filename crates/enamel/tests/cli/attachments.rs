//! Attachments through a running `enamel serve` whose store is an S3 bucket (moto).

use enamel_demo::{DEFAULT_SEED, DemoNetwork};
use enamel_domain::{Actor, PracticeId, Role, VendorName};
use enamel_integrations::{ObjectStore, S3Credentials, S3Settings};
use serde_json::{Value, json};

use crate::audit::on_database;
use crate::helpers::{Server, succeed};

/// A client of a running server, signed in as one account.
struct Session {
    http: reqwest::Client,
    url: String,
    cookie: String,
}

impl Session {
    async fn sign_in(url: &str, email: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let signed_in = http
            .post(format!("{url}/sign-in"))
            .header("origin", url)
            .form(&[("email", email), ("password", enamel_demo::DEMO_PASSWORD)])
            .send()
            .await
            .unwrap();
        let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();
        Self {
            http,
            url: url.to_owned(),
            cookie,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.url))
            .header("origin", &self.url)
            .header("cookie", &self.cookie)
    }

    /// POSTs `body` and returns the created resource's id.
    async fn create(&self, path: &str, body: &Value) -> String {
        let response = self
            .request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        let created: Value = response.json().await.unwrap();
        created["id"].as_str().unwrap().to_owned()
    }
}

impl Session {
    /// A new patient referred to `receiving`: the patient's and the referral's ids.
    async fn refer_a_new_patient(&self, receiving: PracticeId) -> (String, String) {
        let patient =
            json!({ "first_name": "Orla", "last_name": "Penhallow", "birth_date": "1984-02-09" });
        let patient = self.create("/api/v1/patients", &patient).await;
        let referral = json!({ "patient_id": patient, "receiving_practice_id": receiving,
                               "urgency": "routine", "reason": "Evaluate", "send": true });
        let referral = self.create("/api/v1/referrals", &referral).await;
        (patient, referral)
    }
}

/// The newest entry of `practice`'s audit log, as canonical JSON.
async fn last_event(store: &enamel_store::Store, practice: PracticeId) -> Value {
    let scope = enamel_audit::entry::Scope::Practice(practice);
    let entries = store.audit().entries(&scope, 0, 100_000).await.unwrap();
    serde_json::from_slice(&entries.last().unwrap().entry).unwrap()
}

/// A new bucket on moto at `endpoint`, and a client that reads it with credentials
/// (moto refuses unsigned reads of objects).
async fn new_bucket(endpoint: &str) -> (String, ObjectStore) {
    let name = format!("enamel-test-{}", PracticeId::generate());
    let created = reqwest::Client::new()
        .put(format!("{}/{name}", endpoint.trim_end_matches('/')))
        .send()
        .await
        .expect("moto is reachable");
    assert!(created.status().is_success(), "CreateBucket");
    let reader = ObjectStore::s3(S3Settings {
        bucket: name.clone(),
        region: "us-east-1".to_owned(),
        endpoint: Some(endpoint.to_owned()),
        path_style: true,
        credentials: S3Credentials::Explicit {
            access_key_id: "test".to_owned(),
            secret_access_key: secrecy::SecretString::from("test"),
            session_token: None,
        },
        vendor: VendorName::parse("aws-s3").unwrap(),
    })
    .await
    .unwrap();
    (name, reader)
}

/// Starts `serve` (the `command`) with attachments in `bucket` at `endpoint`, its
/// configuration file in `dir`.
fn serve_with_bucket(
    mut command: std::process::Command,
    dir: &std::path::Path,
    endpoint: &str,
    bucket: &str,
) -> Server {
    // The endpoint is a file setting (no environment variable names it).
    let config = dir.join("enamel.toml");
    let toml = format!("[referrals]\ns3_bucket = \"{bucket}\"\ns3_endpoint = \"{endpoint}\"\n");
    std::fs::write(&config, toml).unwrap();
    command
        .env("ENAMEL_CONFIG", &config)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test");
    Server::start(command)
}

/// The practice's executed BAA with the bucket's vendor, as its security officer
/// would record it.
async fn record_storage_baa(store: &enamel_store::Store, practice: PracticeId) {
    let executed = time::OffsetDateTime::now_utc().date();
    store
        .scoped(&Actor::system_for(
            practice,
            enamel_domain::SystemTask::Seed,
        ))
        .put_vendor(
            &enamel_store::VendorEntry {
                name: VendorName::parse("aws-s3").unwrap(),
                display_name: "Amazon S3".to_owned(),
                services: "attachment storage".to_owned(),
                baa_status: enamel_store::BaaStatus::Executed,
                executed_on: Some(executed),
                expires_on: Some(executed + time::Duration::days(365)),
                document_ref: Some("BAA-TEST".to_owned()),
            },
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
}

/// While the bucket's vendor has no executed BAA with the practice, an upload is
/// refused before anything reaches the bucket, and the refusal is in the practice's
/// audit log with its reason. Once the BAA is recorded, the file is stored sealed
/// and downloads whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_to_s3_waits_for_an_executed_baa_and_a_refusal_is_audited() {
    let Some(endpoint) = enamel_testkit::setting("ENAMEL_TEST_S3_ENDPOINT", "S3 (moto)") else {
        return;
    };
    let Some(db) = enamel_testkit::fresh_database(enamel_store::Backend::Sqlite).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_db = on_database(&db, dir.path());
    succeed(&mut with_db(&["demo", "seed"]));
    let (bucket, reader) = new_bucket(&endpoint).await;
    let server = serve_with_bucket(
        with_db(&["serve", "--bind", "127.0.0.1:0"]),
        dir.path(),
        &endpoint,
        &bucket,
    );

    let network = DemoNetwork::generate(DEFAULT_SEED);
    let bluebonnet = &network.practices[0];
    let front_desk = bluebonnet
        .users
        .iter()
        .find(|u| u.role() == Role::FrontDesk);
    let session = Session::sign_in(&server.url, front_desk.unwrap().email().as_str()).await;
    let receiving = network.practices[3].practice.id;
    let (patient, referral) = session.refer_a_new_patient(receiving).await;
    let attachments = format!("/api/v1/referrals/{referral}/attachments");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend((0..4_096_u32).map(|i| u8::try_from(i % 251).unwrap()));
    let upload = || {
        session
            .request(reqwest::Method::POST, &attachments)
            .header("x-file-name", "panoramic-2026.png")
            .body(png.clone())
            .send()
    };

    let refused = upload().await.unwrap();
    assert_eq!(refused.status(), 422);
    let problem: Value = refused.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("no executed BAA"), "{problem}");
    let key_prefix = format!("attachments/{}/", bluebonnet.practice.id);
    let last = last_event(&db.store, bluebonnet.practice.id).await;
    assert_eq!(
        [&last["action"], &last["resource_type"], &last["outcome"]],
        ["create", "attachment", "failure"],
        "{last}"
    );
    assert_eq!(last["patient_id"], patient.as_str());
    assert_eq!(
        last["detail"]["reason"],
        json!({ "code": "no_storage_baa" })
    );
    assert!(
        !last.to_string().contains("panoramic"),
        "no file name: {last}"
    );
    let attachment = last["resource_id"].as_str().unwrap();
    assert!(
        !reader
            .exists(&format!("{key_prefix}{attachment}"))
            .await
            .unwrap(),
        "nothing reached the bucket"
    );

    record_storage_baa(&db.store, bluebonnet.practice.id).await;
    let stored = upload().await.unwrap();
    assert_eq!(stored.status(), 201);
    let stored: Value = stored.json().await.unwrap();
    let attachment = stored["id"].as_str().unwrap();
    let copy = dir.path().join("sealed-copy");
    reader
        .get_to_file(&format!("{key_prefix}{attachment}"), &copy)
        .await
        .unwrap();
    let sealed = std::fs::read(&copy).unwrap();
    assert!(sealed.len() > png.len(), "sealed: a header and tags added");
    assert!(
        !sealed.windows(4).any(|w| w == &png[..4]),
        "the bucket holds ciphertext only"
    );
    let downloaded = session
        .request(reqwest::Method::GET, &format!("{attachments}/{attachment}"))
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.status(), 200);
    assert_eq!(downloaded.bytes().await.unwrap().to_vec(), png);
    let (clean_exit, _, stderr) = server.terminate();
    assert!(clean_exit, "{stderr}");
}
