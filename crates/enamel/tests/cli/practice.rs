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
