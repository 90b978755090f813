use enamel_demo::{CanaryScanner, DEFAULT_SEED, DemoNetwork};

use crate::helpers::{Server, enamel, run, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_health_readiness_and_metrics_and_logs_no_phi() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = enamel(dir.path());
    command.args(["serve", "--demo", "--bind", "127.0.0.1:0"]);
    let server = Server::start(command);
    let patient = &DemoNetwork::generate(DEFAULT_SEED).patients[11];
    let phi_query = format!(
        "?patient={}+{}&dob={}&phone={}",
        patient.first_name.expose(),
        patient.last_name.expose(),
        patient.birth_date.expose(),
        &patient.phone.expose().e164()[1..]
    );

    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = reqwest::get(format!("{}{path}{phi_query}", server.url))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let ready: serde_json::Value = reqwest::get(format!("{}/readyz", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (clean_exit, stdout, stderr) = server.terminate();

    assert!(clean_exit, "SIGTERM ends the server cleanly");
    assert_eq!(ready["database"], "sqlite");
    assert!(
        dir.path().join("demo/enamel.db").exists(),
        "the demo database is under the data dir"
    );
    assert!(
        stdout.contains("practice-admin@bluebonnet.example.test"),
        "demo logins are printed"
    );
    assert!(stderr.contains("request finished") && stderr.contains("shutting down"));
    let scanner = CanaryScanner::for_seed(DEFAULT_SEED);
    let findings: Vec<String> = [("stdout", &stdout), ("stderr", &stderr)]
        .iter()
        .flat_map(|(name, output)| scanner.scan(name, output))
        .map(|finding| finding.to_string())
        .collect();
    assert!(
        findings.is_empty(),
        "PHI in the demo's output: {findings:?}"
    );
}

#[test]
fn serve_refuses_plain_http_on_a_network_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(enamel(dir.path()).args(["serve", "--bind", "0.0.0.0:0"]));
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("refusing to serve plain HTTP"), "{stderr}");
}

#[test]
fn serve_starts_on_a_network_address_when_a_tls_proxy_is_declared() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = enamel(dir.path());
    command
        .args(["serve", "--bind", "0.0.0.0:0"])
        .env("ENAMEL_SERVER_BEHIND_TLS_PROXY", "true");
    let server = Server::start(command);
    assert!(server.url.starts_with("http://0.0.0.0:"), "{}", server.url);
    let (clean_exit, _, _) = server.terminate();
    assert!(clean_exit);
}

/// `serve --no-jobs` runs no background work; an `enamel worker` on the same
/// database does it (here: signing the seeded logs' checkpoints), and stops cleanly
/// on SIGTERM. On both backends, as two processes on one database.
async fn serve_without_jobs_leaves_background_work_to_a_worker(backend: enamel_store::Backend) {
    let Some(db) = enamel_testkit::fresh_database(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_db = crate::audit::on_database(&db, dir.path());
    crate::helpers::succeed(&mut with_db(&["demo", "seed"]));
    let checkpoints = dir.path().join("audit-checkpoints");
    let practices: Vec<String> = DemoNetwork::generate(DEFAULT_SEED)
        .practices
        .iter()
        .map(|p| format!("{}.jsonl", p.practice.id))
        .collect();
    // The practices' logs whose checkpoints were exported.
    let exported = || {
        practices
            .iter()
            .filter(|name| checkpoints.join(name).exists())
            .count()
    };
    let mut command = with_db(&["serve", "--no-jobs", "--bind", "127.0.0.1:0"]);
    command.env("ENAMEL_AUDIT_CHECKPOINT_SECONDS", "1");
    let server = Server::start(command);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(!checkpoints.exists(), "the web process signs nothing");

    let worker = with_db(&["worker"])
        .env("ENAMEL_AUDIT_CHECKPOINT_SECONDS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut waited = 0;
    while exported() < 9 && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(exported(), 9, "the worker signed every practice's log");
    assert!(checkpoints.exists());
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let stopped = worker.wait_with_output().unwrap();
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    let (clean_exit, stdout, _) = server.terminate();
    assert!(clean_exit);
    assert!(stdout.contains("--no-jobs"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_jobs_leaves_background_work_to_a_worker_on_sqlite() {
    serve_without_jobs_leaves_background_work_to_a_worker(enamel_store::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_jobs_leaves_background_work_to_a_worker_on_postgres() {
    serve_without_jobs_leaves_background_work_to_a_worker(enamel_store::Backend::Postgres).await;
}
