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
/// on SIGTERM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_jobs_leaves_background_work_to_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    crate::helpers::succeed(enamel(dir.path()).args(["demo", "seed"]));
    let checkpoints = dir.path().join("audit-checkpoints");
    let exported = || {
        std::fs::read_dir(&checkpoints).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".jsonl"))
                .count()
        })
    };
    let mut command = enamel(dir.path());
    command
        .args(["serve", "--no-jobs", "--bind", "127.0.0.1:0"])
        .env("ENAMEL_AUDIT_CHECKPOINT_SECONDS", "1");
    let server = Server::start(command);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(exported(), 0, "the web process signs nothing");

    let worker = enamel(dir.path())
        .arg("worker")
        .env("ENAMEL_AUDIT_CHECKPOINT_SECONDS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut waited = 0;
    while exported() < 7 && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(exported(), 7, "the worker signed every practice's log");
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
