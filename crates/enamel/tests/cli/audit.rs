use enamel_demo::{DEFAULT_SEED, DemoNetwork};

use crate::helpers::{enamel, run, text};

#[test]
fn checkpoint_verify_export_and_prove_work_and_a_tampered_export_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        run(enamel(dir.path()).args(["demo", "seed"]))
            .status
            .success()
    );
    // Rotating keys adds key events to every practice's log.
    assert!(
        run(enamel(dir.path()).args(["keys", "rotate", "--reencrypt"]))
            .status
            .success()
    );
    let checkpoint = run(enamel(dir.path()).args(["audit", "checkpoint"]));
    assert!(
        text(&checkpoint.stdout).contains("7 checkpoint(s) signed"),
        "{}",
        text(&checkpoint.stdout)
    );
    assert!(
        dir.path()
            .join("audit-checkpoints")
            .read_dir()
            .unwrap()
            .count()
            == 7,
        "checkpoints exported outside the database"
    );

    let verified = run(enamel(dir.path()).args(["audit", "verify"]));
    let stdout = text(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    assert_eq!(stdout.matches("  ok: ").count(), 7, "{stdout}");

    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .id
        .to_string();
    let out = dir.path().join("export");
    let exported = run(enamel(dir.path())
        .args(["audit", "export", "--practice", &practice, "--out"])
        .arg(&out));
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let from_export = run(enamel(dir.path())
        .args(["audit", "verify", "--export"])
        .arg(&out));
    assert!(
        from_export.status.success(),
        "{}",
        text(&from_export.stdout)
    );

    let proof = run(enamel(dir.path())
        .args(["audit", "prove", "--index", "1", "--export"])
        .arg(&out));
    assert!(proof.status.success(), "{}", text(&proof.stderr));
    let proof: serde_json::Value = serde_json::from_slice(&proof.stdout).unwrap();
    assert_eq!(proof["verified"], true);
    assert_eq!(proof["kind"], "inclusion");

    let entries = out.join("entries.jsonl");
    let tampered =
        std::fs::read_to_string(&entries)
            .unwrap()
            .replacen("\"success\"", "\"failure\"", 1);
    std::fs::write(&entries, tampered).unwrap();
    let caught = run(enamel(dir.path())
        .args(["audit", "verify", "--export"])
        .arg(&out));
    assert_eq!(caught.status.code(), Some(1));
    // An export has no stored leaf hashes: the edit shows as the broken link between
    // entries 0 and 1 (the database path names the edited entry itself).
    let report = text(&caught.stdout);
    assert!(
        report.contains("TAMPERED at index 1: entry 1 does not chain to entry 0"),
        "{report}"
    );
}
