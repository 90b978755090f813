use enamel_demo::{DEFAULT_SEED, DemoNetwork};

use crate::helpers::{enamel, run, text};

/// A data directory with the demo network seeded into it.
fn seeded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let seeded = run(enamel(dir.path()).args(["demo", "seed"]));
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    dir
}

/// Every practice's sealed values (a credential; patients' name, birth date and
/// contact) are rewritten, each practice in full: `rotate --reencrypt` prints one
/// "N rows examined, M rewritten" line per practice.
fn assert_every_practice_was_reencrypted_in_full(stdout: &str) {
    let counts: Vec<(u64, u64)> = stdout
        .lines()
        .filter(|l| l.contains("rows examined"))
        .map(|l| {
            let numbers: Vec<u64> = l
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            (numbers[0], numbers[1])
        })
        .collect();
    assert_eq!(counts.len(), 9, "{stdout}");
    assert!(
        counts
            .iter()
            .all(|(seen, rewritten)| seen == rewritten && *seen > 0),
        "{stdout}"
    );
    assert!(
        counts.iter().any(|(seen, _)| *seen > 1_000),
        "patients were re-encrypted: {stdout}"
    );
}

#[test]
fn rotate_with_reencrypt_rewrites_every_practices_values() {
    let dir = seeded();
    let output = run(enamel(dir.path()).args(["keys", "rotate", "--reencrypt"]));
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(stdout.matches("is now current").count(), 9, "{stdout}");
    assert_every_practice_was_reencrypted_in_full(&stdout);
    let again = run(enamel(dir.path()).args(["keys", "rotate-kek"]));
    assert!(text(&again.stdout).contains("re-wrapped under a new key-encryption key"));
}

#[test]
fn shred_refuses_without_the_practice_name_and_proceeds_with_it() {
    let dir = seeded();
    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .clone();
    let id = practice.id.to_string();

    let unconfirmed = run(enamel(dir.path()).args(["keys", "shred", "--practice", &id]));
    assert!(!unconfirmed.status.success());
    assert!(text(&unconfirmed.stderr).contains("pass --yes"));

    let wrong = run(enamel(dir.path()).args([
        "keys",
        "shred",
        "--practice",
        &id,
        "--yes",
        "Some Other Dental",
    ]));
    assert!(!wrong.status.success());
    assert!(text(&wrong.stderr).contains("nothing was destroyed"));

    let key_file = dir.path().join("keys/enamel.keys");
    assert!(std::fs::read_to_string(&key_file).unwrap().contains(&id));
    let confirmed = run(enamel(dir.path()).args([
        "keys",
        "shred",
        "--practice",
        &id,
        "--yes",
        practice.name.as_str(),
    ]));
    assert!(confirmed.status.success(), "{}", text(&confirmed.stderr));
    assert!(!std::fs::read_to_string(&key_file).unwrap().contains(&id));
    // The other practices' keys still rotate; the shredded one's cannot.
    let rotate = run(enamel(dir.path()).args(["keys", "rotate", "--practice", &id]));
    assert!(!rotate.status.success());
    assert!(
        text(&rotate.stderr).contains("destroyed"),
        "{}",
        text(&rotate.stderr)
    );
}

#[test]
fn a_key_file_readable_by_others_stops_every_command_with_the_fix() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = seeded();
    let key_file = dir.path().join("keys/enamel.keys");
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(enamel(dir.path()).args(["keys", "rotate"]));
    assert!(!output.status.success());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("group or others can read it") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

#[test]
fn the_whole_key_lifecycle_runs_on_aws_kms() {
    let Some(endpoint) = enamel_testkit::setting("ENAMEL_TEST_KMS_ENDPOINT", "AWS KMS (moto)")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("alias/enamel-cli-{}/practice", std::process::id());
    let kms = |args: &[&str]| {
        let mut command = enamel(dir.path());
        command
            .args(args)
            .env("ENAMEL_KEYS_PROVIDER", "aws-kms")
            .env("ENAMEL_KEYS_KMS_ENDPOINT", &endpoint)
            .env("ENAMEL_KEYS_KMS_ALIAS_PREFIX", &prefix)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test");
        run(&mut command)
    };
    let seeded = kms(&["demo", "seed"]);
    assert!(seeded.status.success(), "{}", text(&seeded.stderr));
    assert!(
        !dir.path().join("keys/enamel.keys").exists(),
        "no local key file with KMS"
    );

    let rotated = kms(&["keys", "rotate", "--reencrypt"]);
    assert!(rotated.status.success(), "{}", text(&rotated.stderr));
    assert_every_practice_was_reencrypted_in_full(&text(&rotated.stdout));

    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[2]
        .practice
        .clone();
    let id = practice.id.to_string();
    let shredded = kms(&[
        "keys",
        "shred",
        "--practice",
        &id,
        "--yes",
        practice.name.as_str(),
    ]);
    assert!(shredded.status.success(), "{}", text(&shredded.stderr));
    let after = kms(&["keys", "rotate", "--practice", &id]);
    assert!(
        text(&after.stderr).contains("destroyed"),
        "{}",
        text(&after.stderr)
    );
}
