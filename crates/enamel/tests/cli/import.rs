//! `enamel import csv`: the documented example files import in order, a second
//! import updates instead of duplicating, a dry run writes nothing, and a bad file
//! is reported by line and reason without its values.

use enamel_demo::{DEFAULT_SEED, DemoNetwork};

use crate::helpers::{enamel, run, succeed, text};

const KINDS: [&str; 9] = [
    "patients",
    "providers",
    "operatories",
    "appointment-types",
    "recall-types",
    "appointments",
    "waitlist",
    "recalls",
    "coverage",
];

fn example(kind: &str) -> String {
    format!(
        "{}/../../docs/import-examples/{kind}.csv",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn the_example_files_import_once_and_update_on_the_second_run() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed", "--network-only"]));
    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[3]
        .practice
        .id
        .to_string();
    let import = |kind: &str, extra: &[&str]| {
        run(enamel(dir.path())
            .args(["import", "csv", "--practice", &practice, "--kind", kind])
            .args(extra)
            .arg(example(kind)))
    };
    // A dry run of appointments before anything else: every row refers to records
    // not imported yet, and nothing is written.
    let dry = import("appointments", &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(3), "{}", text(&dry.stderr));
    let said = text(&dry.stdout);
    assert!(said.contains("Nothing was written"), "{said}");
    assert!(
        said.contains("line 2: ProvNum: no such record was imported"),
        "{said}"
    );

    for kind in KINDS {
        let done = import(kind, &[]);
        let said = text(&done.stdout);
        assert!(
            done.status.success(),
            "{kind}: {said}{}",
            text(&done.stderr)
        );
        assert!(said.contains(", 0 updated, 0 rejected."), "{kind}: {said}");
    }
    for kind in KINDS {
        let again = import(kind, &[]);
        let said = text(&again.stdout);
        assert!(again.status.success(), "{kind}: {said}");
        assert!(said.contains(" 0 added,"), "{kind} again: {said}");
    }
}

#[test]
fn a_bad_file_is_reported_by_line_and_reason_without_its_values() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed", "--network-only"]));
    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[4]
        .practice
        .id
        .to_string();
    let file = dir.path().join("patients.csv");
    std::fs::write(
        &file,
        "PatNum,LName,FName,Birthdate,Email\n\
         1,Zeferino,Ana,1980-02-30,ana@example.test\n\
         2,Quell\u{7},Bo,1981-01-01,\n\
         3,Marrow,Cy,1982-03-04,not-an-email\n\
         4,Vantwest,Di,1983-04-05,di@example.test\n",
    )
    .unwrap();
    let done = run(enamel(dir.path())
        .args([
            "import",
            "csv",
            "--practice",
            &practice,
            "--kind",
            "patients",
        ])
        .arg(&file));
    let said = text(&done.stdout);
    assert_eq!(done.status.code(), Some(3), "{said}{}", text(&done.stderr));
    assert!(
        said.contains("4 rows, 1 added, 0 updated, 3 rejected."),
        "{said}"
    );
    assert!(
        said.contains("line 2: Birthdate: is not a YYYY-MM-DD date"),
        "{said}"
    );
    assert!(said.contains("line 3: LName:"), "{said}");
    assert!(said.contains("line 4: Email:"), "{said}");
    for value in [
        "Zeferino",
        "1980-02-30",
        "Quell",
        "not-an-email",
        "Vantwest",
    ] {
        assert!(!said.contains(value), "{value} printed: {said}");
        assert!(!text(&done.stderr).contains(value), "{value} logged");
    }

    // A missing column refuses the whole file.
    std::fs::write(&file, "PatNum,LName,Birthdate\n1,Zeferino,1980-02-03\n").unwrap();
    let refused = run(enamel(dir.path())
        .args([
            "import",
            "csv",
            "--practice",
            &practice,
            "--kind",
            "patients",
        ])
        .arg(&file));
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("lacks the column FName"),
        "{}",
        text(&refused.stderr)
    );
}

/// The synthetic Open Dental export of a demo office (docs/import-examples/demo-office,
/// kept equal to `enamel_demo::export`'s output by its own test) imports into a fresh
/// office in order with no row rejected.
#[test]
fn the_demo_office_export_imports_whole() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed", "--network-only"]));
    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .id
        .to_string();
    let folder = format!(
        "{}/../../docs/import-examples/demo-office",
        env!("CARGO_MANIFEST_DIR")
    );
    for kind in KINDS {
        let done = run(enamel(dir.path())
            .args(["import", "csv", "--practice", &practice, "--kind", kind])
            .arg(format!("{folder}/{kind}.csv")));
        let said = text(&done.stdout);
        assert!(
            done.status.success(),
            "{kind}: {said}{}",
            text(&done.stderr)
        );
        assert!(said.contains(", 0 rejected."), "{kind}: {said}");
    }
}
