//! PHI never reaches the log.
//!
//! A test binary of its own: it installs the process-wide subscriber, which a test
//! sharing a process with others cannot do reliably (tracing caches per-callsite
//! interest across threads).

use std::io::Write;
use std::sync::{Arc, Mutex};

use enamel_demo::{CanaryScanner, DEFAULT_SEED, DemoNetwork};
use enamel_server::settings::{LogFormat, LogSettings};
use enamel_server::telemetry;
use tracing_subscriber::fmt::MakeWriter;

use enamel_server::Application;
use enamel_store::Backend;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phi_in_query_strings_headers_and_bodies_never_reaches_the_log() {
    let captured = Captured::default();
    let settings = LogSettings {
        format: LogFormat::Json,
        level: "debug".into(),
    };
    tracing::subscriber::set_global_default(telemetry::subscriber(&settings, captured.clone()))
        .unwrap();
    let db = enamel_testkit::fresh_database(Backend::Sqlite)
        .await
        .unwrap();
    let mut config = enamel_server::Settings::default();
    config.server.bind = "127.0.0.1:0".parse().unwrap();
    let app = Application::build(&config, db.store.clone()).await.unwrap();
    let url = app.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let patient = &DemoNetwork::generate(DEFAULT_SEED).patients[7];
    let name = format!(
        "{} {}",
        patient.first_name.expose(),
        patient.last_name.expose()
    );
    let query = format!(
        "?name={}&phone={}&email={}&dob={}",
        url_encode(&name),
        url_encode(patient.phone.expose().e164()),
        url_encode(patient.email.expose().as_str()),
        patient.birth_date.expose()
    );
    let request_id = "0123456789abcdef0123456789abcdef";

    for path in ["/healthz", "/no/such/route", "/readyz"] {
        client
            .get(format!("{url}{path}{query}"))
            .header("X-Request-Id", request_id)
            .header("X-Patient-Name", &name)
            .header("Authorization", "Bearer secret-token-value")
            .send()
            .await
            .unwrap();
    }
    client
        .post(format!("{url}/healthz{query}"))
        .json(&serde_json::json!({ "name": name, "phone": patient.phone.expose().e164() }))
        .send()
        .await
        .unwrap();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("request finished"),
        "the capture must see the access log"
    );
    assert!(
        logs.contains(request_id),
        "log lines carry the correlation id"
    );
    let findings = CanaryScanner::for_seed(DEFAULT_SEED).scan("captured log", &logs);
    let shown: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert!(findings.is_empty(), "PHI reached the log: {shown:?}");
    assert!(
        !logs.contains("secret-token-value"),
        "a credential reached the log"
    );
}
