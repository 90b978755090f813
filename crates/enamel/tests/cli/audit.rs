use enamel_demo::{DEFAULT_SEED, DemoNetwork};

use crate::helpers::{enamel, run, succeed, text};

#[test]
fn checkpoint_verify_export_and_prove_work_and_a_tampered_export_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed"]));
    // Rotating keys adds key events to every practice's log.
    succeed(enamel(dir.path()).args(["keys", "rotate", "--reencrypt"]));
    let checkpoint = run(enamel(dir.path()).args(["audit", "checkpoint"]));
    assert!(
        text(&checkpoint.stdout).contains("9 checkpoint(s) signed"),
        "{}",
        text(&checkpoint.stdout)
    );
    assert!(
        dir.path()
            .join("audit-checkpoints")
            .read_dir()
            .unwrap()
            .count()
            == 9,
        "checkpoints exported outside the database"
    );

    let verified = succeed(enamel(dir.path()).args(["audit", "verify"]));
    let stdout = text(&verified.stdout);
    assert_eq!(stdout.matches("  ok: ").count(), 9, "{stdout}");

    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .id
        .to_string();
    let out = dir.path().join("export");
    succeed(
        enamel(dir.path())
            .args(["audit", "export", "--practice", &practice, "--out"])
            .arg(&out),
    );
    succeed(
        enamel(dir.path())
            .args(["audit", "verify", "--export"])
            .arg(&out),
    );

    let proof = succeed(
        enamel(dir.path())
            .args(["audit", "prove", "--index", "1", "--export"])
            .arg(&out),
    );
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

/// `export --since` starts at the last checkpoint signed before the date, carries its
/// frontier, verifies on its own, catches tampering, and refuses proofs.
#[test]
fn a_partial_export_since_a_time_verifies_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed"]));
    succeed(enamel(dir.path()).args(["audit", "checkpoint"]));
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let between = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    // More entries after the first checkpoint (re-encryption audits key events).
    succeed(enamel(dir.path()).args(["keys", "rotate", "--reencrypt"]));
    succeed(enamel(dir.path()).args(["audit", "checkpoint"]));
    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .id
        .to_string();
    let whole = dir.path().join("whole");
    let part = dir.path().join("part");
    for (out, since) in [(&whole, None), (&part, Some(between.as_str()))] {
        let mut command = enamel(dir.path());
        command
            .args(["audit", "export", "--practice", &practice, "--out"])
            .arg(out);
        if let Some(since) = since {
            command.args(["--since", since]);
        }
        succeed(&mut command);
    }
    let lines = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("entries.jsonl"))
            .unwrap()
            .lines()
            .count()
    };
    assert!(part.join("start.json").exists());
    assert!(
        lines(&part) > 0 && lines(&part) < lines(&whole),
        "{} of {}",
        lines(&part),
        lines(&whole)
    );
    let verified = succeed(
        enamel(dir.path())
            .args(["audit", "verify", "--export"])
            .arg(&part),
    );
    assert!(text(&verified.stdout).contains("a partial export, from index"));

    let proof = run(enamel(dir.path())
        .args(["audit", "prove", "--index", "1", "--export"])
        .arg(&part));
    assert!(!proof.status.success());
    assert!(text(&proof.stderr).contains("proofs need a whole export"));

    // Dropping the first exported entry breaks the chain at the start.
    let entries = part.join("entries.jsonl");
    let kept: Vec<String> = std::fs::read_to_string(&entries)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    std::fs::write(&entries, kept.join("\n") + "\n").unwrap();
    let caught = run(enamel(dir.path())
        .args(["audit", "verify", "--export"])
        .arg(&part));
    assert_eq!(caught.status.code(), Some(1), "{}", text(&caught.stdout));
}

/// `enamel` with its data directory at `dir` and its database at the test database.
pub(crate) fn on_database(
    db: &enamel_testkit::TestDb,
    dir: &std::path::Path,
) -> impl Fn(&[&str]) -> std::process::Command {
    use secrecy::ExposeSecret as _;
    let (url, dir) = (db.url.expose_secret().to_owned(), dir.to_owned());
    move |args| {
        let mut command = enamel(&dir);
        command.args(args).env("ENAMEL_DATABASE_URL", &url);
        command
    }
}

#[tokio::test]
async fn processes_appending_at_once_on_one_postgresql_never_fork_a_log() {
    let Some(db) = enamel_testkit::fresh_database(enamel_store::Backend::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_db = on_database(&db, dir.path());
    succeed(&mut with_db(&["demo", "seed"]));
    let before = std::collections::BTreeMap::from_iter(db.store.audit().heads().await.unwrap());

    // Six processes at once, each appending one key event to every practice's log.
    let children: Vec<_> = (0..6)
        .map(|_| {
            with_db(&["keys", "rotate"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }

    for (scope, size) in db.store.audit().heads().await.unwrap() {
        if let enamel_audit::entry::Scope::Practice(_) = scope {
            assert_eq!(
                size,
                before[&scope] + 6,
                "{scope}: one entry per process, none lost or doubled"
            );
        }
    }
    succeed(&mut with_db(&["audit", "checkpoint"]));
    succeed(&mut with_db(&["audit", "verify"]));
}

/// An attacker with the database deletes a log's checkpoint rows and then its last
/// entry, and removes another log altogether: the checkpoints exported outside the
/// database (`audit.checkpoint_dir`) still catch both.
async fn exported_checkpoints_catch_what_deleted_checkpoint_rows_would_hide(
    backend: enamel_store::Backend,
) {
    let Some(db) = enamel_testkit::fresh_database(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_db = on_database(&db, dir.path());
    succeed(&mut with_db(&["demo", "seed"]));
    succeed(&mut with_db(&["audit", "checkpoint"]));
    succeed(&mut with_db(&["audit", "verify"]));

    let practices = DemoNetwork::generate(DEFAULT_SEED).practices;
    let (cut, removed) = (
        practices[0].practice.id.to_string(),
        practices[1].practice.id.to_string(),
    );
    let guards: &[&str] = match backend {
        enamel_store::Backend::Sqlite => &[
            "DROP TRIGGER audit_entries_no_delete",
            "DROP TRIGGER audit_checkpoints_no_delete",
        ],
        enamel_store::Backend::Postgres => &[
            "DROP TRIGGER audit_entries_append_only ON audit_entries",
            "DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints",
        ],
    };
    for sql in guards {
        db.raw_execute(sql).await;
    }
    db.raw_execute(&format!(
        "DELETE FROM audit_checkpoints WHERE scope IN ('{cut}', '{removed}')"
    ))
    .await;
    db.raw_execute(&format!(
        "DELETE FROM audit_entries WHERE scope = '{cut}' AND idx = \
         (SELECT MAX(idx) FROM audit_entries WHERE scope = '{cut}')"
    ))
    .await;
    for table in ["audit_entries", "audit_heads"] {
        db.raw_execute(&format!("DELETE FROM {table} WHERE scope = '{removed}'"))
            .await;
    }

    let caught = run(&mut with_db(&["audit", "verify"]));
    let report = text(&caught.stdout);
    assert_eq!(caught.status.code(), Some(1), "{report}");
    for practice in [&cut, &removed] {
        let section = report
            .split(&format!("{practice}:"))
            .nth(1)
            .unwrap_or_else(|| panic!("{practice} is verified: {report}"));
        let verdict = section.lines().nth(1).unwrap_or_default();
        assert!(
            verdict.contains("TAMPERED") && verdict.contains("entries removed from the end"),
            "{report}"
        );
    }
    assert_eq!(report.matches("  ok: ").count(), 7, "{report}");
}

#[tokio::test]
async fn exported_checkpoints_catch_what_deleted_checkpoint_rows_would_hide_sqlite() {
    exported_checkpoints_catch_what_deleted_checkpoint_rows_would_hide(
        enamel_store::Backend::Sqlite,
    )
    .await;
}

#[tokio::test]
async fn exported_checkpoints_catch_what_deleted_checkpoint_rows_would_hide_postgres() {
    exported_checkpoints_catch_what_deleted_checkpoint_rows_would_hide(
        enamel_store::Backend::Postgres,
    )
    .await;
}

/// The query index is derived: `audit reindex` builds it from the entries, `audit
/// verify` finds an index row removed behind the application's back (the log itself
/// still verifies), and rebuilding one practice's index mends it.
async fn the_query_index_is_checked_by_verify_and_rebuilt_by_reindex(
    backend: enamel_store::Backend,
) {
    let Some(db) = enamel_testkit::fresh_database(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with_db = on_database(&db, dir.path());
    succeed(&mut with_db(&["demo", "seed"]));
    let rebuilt = run(&mut with_db(&["audit", "reindex"]));
    assert!(rebuilt.status.success());
    let indexed: u64 = text(&rebuilt.stdout)
        .trim()
        .rsplit(": ")
        .next()
        .and_then(|tail| tail.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    let total: u64 = db
        .store
        .audit()
        .heads()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(indexed, total, "{}", text(&rebuilt.stdout));
    succeed(&mut with_db(&["audit", "verify"]));

    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .id
        .to_string();
    let remove = format!("DELETE FROM audit_index WHERE scope = '{practice}' AND idx = 3");
    assert!(
        db.raw_try_execute(&remove).await.is_err(),
        "only the indexer writes the index"
    );
    let guards: &[&str] = match backend {
        enamel_store::Backend::Sqlite => &["DROP TRIGGER audit_index_no_delete"],
        enamel_store::Backend::Postgres => &["DROP TRIGGER audit_index_guard ON audit_index"],
    };
    for sql in guards {
        db.raw_execute(sql).await;
    }
    db.raw_execute(&remove).await;
    let caught = run(&mut with_db(&["audit", "verify"]));
    let report = text(&caught.stdout);
    assert_eq!(caught.status.code(), Some(1), "{report}");
    let section = report
        .split(&format!("{practice}:"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        section.contains("  ok: ") && section.contains("QUERY INDEX ALTERED at index 3"),
        "the log is sound, its index is not: {report}"
    );
    assert!(!report.contains("TAMPERED"), "{report}");

    succeed(&mut with_db(&["audit", "reindex", "--practice", &practice]));
    succeed(&mut with_db(&["audit", "verify"]));
}

#[tokio::test]
async fn the_query_index_is_checked_by_verify_and_rebuilt_by_reindex_sqlite() {
    the_query_index_is_checked_by_verify_and_rebuilt_by_reindex(enamel_store::Backend::Sqlite)
        .await;
}

#[tokio::test]
async fn the_query_index_is_checked_by_verify_and_rebuilt_by_reindex_postgres() {
    the_query_index_is_checked_by_verify_and_rebuilt_by_reindex(enamel_store::Backend::Postgres)
        .await;
}

/// What an export ships about its own key proves nothing: the auditor pins their own
/// copy, an export whose checkpoints were emptied is unverifiable (not ok), and a
/// torn last line of the checkpoint stream is named and left out. Verifying an
/// export needs no database at all.
#[test]
fn an_export_is_verified_against_the_auditors_pinned_key() {
    let dir = tempfile::tempdir().unwrap();
    succeed(enamel(dir.path()).args(["demo", "seed"]));
    succeed(enamel(dir.path()).args(["audit", "checkpoint"]));
    let printed = succeed(enamel(dir.path()).args(["audit", "public-key"]));
    let printed = text(&printed.stdout);
    let key = printed.lines().next().unwrap().trim().to_owned();
    assert_eq!(key.len(), 64, "{printed}");
    let fingerprint = printed
        .lines()
        .nth(1)
        .and_then(|l| l.strip_prefix("fingerprint "))
        .unwrap()
        .to_owned();
    let practice = DemoNetwork::generate(DEFAULT_SEED).practices[0]
        .practice
        .id
        .to_string();
    let out = dir.path().join("export");
    succeed(
        enamel(dir.path())
            .args(["audit", "export", "--practice", &practice, "--out"])
            .arg(&out),
    );
    // With no database configured at all (another directory, nothing in it).
    let elsewhere = tempfile::tempdir().unwrap();
    let pinned = succeed(
        enamel(elsewhere.path())
            .args(["audit", "verify", "--public-key", &key, "--export"])
            .arg(&out),
    );
    let report = text(&pinned.stdout);
    assert!(
        report.contains(&fingerprint) && report.contains("same key"),
        "{report}"
    );
    assert!(report.contains("  ok: "), "{report}");

    // An export re-signed with another key passes only its own key, never the pinned one.
    let other_key = "11".repeat(32);
    std::fs::write(out.join("public-key.hex"), format!("{other_key}\n")).unwrap();
    let refused = run(enamel(elsewhere.path())
        .args(["audit", "verify", "--public-key", &key, "--export"])
        .arg(&out));
    assert!(
        text(&refused.stdout).contains("DIFFERENT key"),
        "{}",
        text(&refused.stdout)
    );
    let unpinned = run(enamel(elsewhere.path())
        .args(["audit", "verify", "--export"])
        .arg(&out));
    assert_eq!(
        unpinned.status.code(),
        Some(1),
        "the swapped key fails every signature"
    );

    // Emptied checkpoints: unverifiable, not ok.
    std::fs::write(out.join("public-key.hex"), format!("{key}\n")).unwrap();
    std::fs::write(out.join("checkpoints.jsonl"), "").unwrap();
    let emptied = run(enamel(elsewhere.path())
        .args(["audit", "verify", "--public-key", &key, "--export"])
        .arg(&out));
    assert_ne!(emptied.status.code(), Some(0));
    assert!(
        text(&emptied.stderr).contains("UNVERIFIABLE"),
        "{}",
        text(&emptied.stderr)
    );

    // A torn last line in the database's exported checkpoint stream is named, and the
    // next checkpoint is appended after cutting it off.
    let stream = dir
        .path()
        .join("audit-checkpoints")
        .join(format!("{practice}.jsonl"));
    let mut torn = std::fs::read_to_string(&stream).unwrap();
    torn.push_str("{\"scope\":\"");
    std::fs::write(&stream, &torn).unwrap();
    let verified = succeed(enamel(dir.path()).args(["audit", "verify", "--practice", &practice]));
    assert!(
        text(&verified.stdout).contains("is torn"),
        "{}",
        text(&verified.stdout)
    );
    succeed(enamel(dir.path()).args(["keys", "rotate", "--practice", &practice]));
    succeed(enamel(dir.path()).args(["audit", "checkpoint"]));
    let repaired = std::fs::read_to_string(&stream).unwrap();
    assert!(repaired.ends_with('\n') && !repaired.contains("{\"scope\":\"{"));
    assert!(
        repaired
            .lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
}
