//! `enamel practice`: the operator onboards a practice from the command line, on the
//! demo's data with `--demo` like every other command.

use crate::helpers::{enamel, run, succeed, text};

const PRACTICE: &[&str] = &[
    "--name",
    "Prairie Creek Dental",
    "--specialty",
    "general",
    "--phone",
    "(512) 555-0142",
    "--street",
    "400 Congress Ave",
    "--city",
    "Austin",
    "--state",
    "tx",
    "--zip",
    "78701",
    "--time-zone",
    "America/Chicago",
    "--admin-name",
    "Rosa Prairie",
    "--admin-email",
    "rosa@prairie.example.test",
];

#[test]
fn the_operator_onboards_a_practice_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["--demo", "migrate"]));
    assert!(
        dir.path().join("demo").exists(),
        "--demo keeps its data apart"
    );

    // A wrong value is named, and nothing is created.
    let bad = run(enamel(dir.path())
        .args(["practice", "create", "--demo", "--npi", "1234567890"])
        .args(PRACTICE));
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("invalid NPI"),
        "{}",
        text(&bad.stderr)
    );

    let created = succeed(
        enamel(dir.path())
            .args(["practice", "create", "--demo", "--npi", "1234567893"])
            .args(PRACTICE),
    );
    let out = text(&created.stdout);
    assert!(out.contains("Created Prairie Creek Dental ("), "{out}");
    assert!(
        out.contains("queued for rosa@prairie.example.test"),
        "{out}"
    );
    let id = out
        .split('(')
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();

    // The same NPI twice is refused.
    let again = run(enamel(dir.path())
        .args(["practice", "create", "--demo", "--npi", "1234567893"])
        .args(PRACTICE));
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already exists"));

    let listed = text(&succeed(enamel(dir.path()).args(["--demo", "practice", "list"])).stdout);
    assert!(listed.contains(&id), "{listed}");
    assert!(listed.contains("no BAA yet"), "{listed}");
    assert!(
        listed.contains("rosa@prairie.example.test invited"),
        "{listed}"
    );
    let shown = text(&succeed(enamel(dir.path()).args(["--demo", "practice", "show", &id])).stdout);
    assert!(shown.contains("Austin, TX (America/Chicago)"), "{shown}");
    assert!(shown.contains("not executed: the practice can hold no patient yet"));

    // A practice that never executed the agreement has none to terminate; a wrong
    // name is refused before anything is looked at.
    let wrong =
        run(enamel(dir.path()).args(["--demo", "practice", "terminate", &id, "--yes", "Other"]));
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("exact name"),
        "{}",
        text(&wrong.stderr)
    );
    let none = run(enamel(dir.path()).args([
        "--demo",
        "practice",
        "terminate",
        &id,
        "--yes",
        "Prairie Creek Dental",
    ]));
    assert_eq!(none.status.code(), Some(1));
    assert!(
        text(&none.stderr).contains("no agreement in force"),
        "{}",
        text(&none.stderr)
    );

    // Onboarding is in the platform's audit log, which verifies.
    succeed(enamel(dir.path()).args(["--demo", "audit", "checkpoint"]));
    succeed(enamel(dir.path()).args(["--demo", "audit", "verify", "--platform"]));
    // Without --demo the command looks at the real (here: empty) data directory.
    let real = run(enamel(dir.path()).args(["practice", "list"]));
    assert_eq!(real.status.code(), Some(1));
    assert!(text(&real.stderr).contains("enamel migrate"));
}

/// Return or destroy from the command line, on the demo as `serve --demo` seeds it:
/// the first office's records, its synthetic radiographs among them, are written out
/// once its agreement is terminated, then its keys are destroyed.
#[test]
fn a_terminated_practice_is_exported_then_shredded() {
    use enamel_demo::{DEFAULT_SEED, DemoNetwork};

    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed"]));
    let network = DemoNetwork::generate(DEFAULT_SEED);
    let practice = &network.practices[0].practice;
    let (id, name) = (practice.id.to_string(), practice.name.as_str());
    let out = dir.path().join("handover");
    let out_arg = out.to_str().unwrap();

    let in_force = run(enamel(dir.path()).args(["practice", "export", &id, "--out", out_arg]));
    assert_eq!(in_force.status.code(), Some(1));
    assert!(
        text(&in_force.stderr).contains("agreement is in force"),
        "{}",
        text(&in_force.stderr)
    );
    assert!(!out.exists());

    let terminated =
        succeed(enamel(dir.path()).args(["practice", "terminate", &id, "--yes", name]));
    assert!(text(&terminated.stdout).contains("enamel practice export"));
    let exported = succeed(enamel(dir.path()).args(["practice", "export", &id, "--out", out_arg]));
    let said = text(&exported.stdout);
    assert!(said.contains("referrals and"), "{said}");

    let records: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("records.json")).unwrap()).unwrap();
    assert!(records["patients"].as_array().unwrap().len() > 100);
    let referrals = records["referrals"].as_array().unwrap();
    assert!(referrals.len() >= 10, "{}", referrals.len());
    let attachments: Vec<&serde_json::Value> = referrals
        .iter()
        .flat_map(|r| r["attachments"].as_array().unwrap())
        .collect();
    let kinds: Vec<&str> = attachments
        .iter()
        .map(|a| a["media_type"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"image/png"), "{kinds:?}");
    assert!(kinds.contains(&"application/dicom"), "{kinds:?}");
    for attachment in &attachments {
        let file = out.join(attachment["file"].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(bytes.len() as u64, attachment["size"].as_u64().unwrap());
        assert_eq!(
            enamel_crypto::checksum::sha256_hex(&bytes[..]).unwrap(),
            attachment["sha256"].as_str().unwrap()
        );
    }
    assert!(
        said.contains(&format!("{} attachments", attachments.len())),
        "{said}"
    );

    succeed(enamel(dir.path()).args(["keys", "shred", "--practice", &id, "--yes", name]));
    let gone = run(enamel(dir.path()).args([
        "practice",
        "export",
        &id,
        "--out",
        dir.path().join("again").to_str().unwrap(),
    ]));
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        text(&gone.stderr).contains("destroyed"),
        "{}",
        text(&gone.stderr)
    );
}
