use enamel_demo::{DEFAULT_SEED, DemoNetwork};

use crate::helpers::{enamel, run, text};

#[test]
fn demo_scan_reports_a_planted_patient_by_kind_and_place_but_not_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let patient = &DemoNetwork::generate(DEFAULT_SEED).patients[5];
    let leaky = dir.path().join("leaky.log");
    let surname = patient.last_name.expose();
    std::fs::write(&leaky, format!("fine\n{{\"msg\":\"sent to {surname}\"}}\n")).unwrap();
    let clean = dir.path().join("clean.log");
    std::fs::write(&clean, "fine\nalso fine\n").unwrap();

    let found = run(enamel(dir.path())
        .args(["demo", "scan"])
        .arg(&clean)
        .arg(&leaky));
    let stdout = text(&found.stdout);
    assert_eq!(found.status.code(), Some(1));
    assert!(
        stdout.contains("leaky.log:2: a synthetic patient name"),
        "{}",
        stdout.len()
    );
    assert!(!stdout.contains(surname.as_str()));

    let clean_run = run(enamel(dir.path()).args(["demo", "scan"]).arg(&clean));
    assert!(clean_run.status.success());
}

#[test]
fn demo_seed_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let first = run(enamel(dir.path()).args(["demo", "seed"]));
    assert!(
        text(&first.stdout).contains("Seeded 9 practices and 55 accounts"),
        "{}",
        text(&first.stderr)
    );
    let second = run(enamel(dir.path()).args(["demo", "seed"]));
    assert!(text(&second.stdout).contains("Seeded 0 practices and 0 accounts"));
}
