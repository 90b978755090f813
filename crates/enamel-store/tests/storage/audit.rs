use std::collections::BTreeMap;

use enamel_audit::checkpoint::Signer;
use enamel_audit::entry::{Action, Entry, Event, Outcome, ResourceType, Scope};
use enamel_audit::merkle::Hash;
use enamel_audit::verify::Finding;
use enamel_domain::{ActorType, PracticeId};
use enamel_store::{Backend, Store};
use enamel_testkit::TestDb;
use time::OffsetDateTime;

pub(crate) fn signer() -> Signer {
    Signer::from_seed(&[9; 32]).unwrap()
}

pub(crate) fn event(scope: Scope, i: u64) -> Event {
    Event {
        timestamp: OffsetDateTime::now_utc(),
        action: Action::Read,
        actor_id: Some(format!("user-{}", i % 5)),
        actor_type: ActorType::Human,
        scope,
        patient_id: None,
        resource_type: ResourceType::Patient,
        resource_id: Some(format!("resource-{i}")),
        outcome: Outcome::Success,
        ip_address: None,
        user_agent: None,
        correlation_id: None,
        detail: BTreeMap::new(),
    }
}

fn scope() -> Scope {
    Scope::Practice(PracticeId::generate())
}

pub(crate) async fn verify(
    store: &Store,
    scope: &Scope,
) -> Result<enamel_audit::verify::Report, Finding> {
    store
        .audit()
        .verify(scope, &signer().public_key(), |_| {})
        .await
        .unwrap()
}

/// 30 entries with a checkpoint after every 10.
async fn logged(store: &Store, scope: Scope) {
    for i in 0..30 {
        store.audit().record(event(scope, i)).await.unwrap();
        if (i + 1) % 10 == 0 {
            store.audit().checkpoint(&signer()).await.unwrap();
        }
    }
}

/// What an attacker with database access does first.
async fn drop_guards(db: &TestDb) {
    let statements: &[&str] = match db.store.backend() {
        Backend::Sqlite => &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
        ],
        Backend::Postgres => &["DROP TRIGGER audit_entries_append_only ON audit_entries"],
    };
    for sql in statements {
        db.raw_execute(sql).await;
    }
}

pub async fn concurrent_writers_form_one_unbroken_log(store: Store) {
    let scope = scope();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.audit().record(event(scope, i)).await.unwrap() })
        })
        .collect();
    let mut indexes = Vec::new();
    for task in tasks {
        indexes.push(task.await.unwrap());
    }
    indexes.sort_unstable();
    assert_eq!(indexes, (0..200).collect::<Vec<u64>>());
    store.audit().checkpoint(&signer()).await.unwrap();
    assert_eq!(verify(&store, &scope).await.unwrap().entries, 200);
}

pub async fn two_stores_on_one_database_never_fork_a_log(db: &TestDb) {
    let scope = scope();
    let other = db.reopen().await;
    let mut tasks = Vec::new();
    for (n, store) in [db.store.clone(), other].into_iter().enumerate() {
        for i in 0..150 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .audit()
                    .record(event(scope, i * 2 + n as u64))
                    .await
                    .unwrap()
            }));
        }
    }
    let mut indexes = Vec::new();
    for task in tasks {
        indexes.push(task.await.unwrap());
    }
    indexes.sort_unstable();
    assert_eq!(
        indexes,
        (0..300).collect::<Vec<u64>>(),
        "no index given twice, none skipped"
    );
    db.store.audit().checkpoint(&signer()).await.unwrap();
    assert_eq!(verify(&db.store, &scope).await.unwrap().entries, 300);
}

/// The writer builds each batch on the head it left last. When another process
/// appended in between, its compare-and-set finds the head moved, writes nothing,
/// and the batch is built again on the head read under its lock: for a batch of
/// one statement (on PostgreSQL, committed on its own) and for one cut into
/// several (entries of about 2 KiB: a PostgreSQL statement carries at most 15 KiB);
/// and, with the head where the writer left it, without reading it.
pub async fn a_batch_on_a_moved_head_is_built_again(db: &TestDb) {
    let scope = scope();
    let other = db.reopen().await;
    let large = |i: u64| Event {
        user_agent: Some(format!("bench-agent/{i} {}", "x".repeat(2_000))),
        ..event(scope, i)
    };
    let mut next = 0;
    for (burst, moved) in [
        (1_u64, true),
        (2, true),
        (40, true),
        (40, false),
        (1, true),
        (64, true),
    ] {
        assert_eq!(
            db.store.audit().record(event(scope, next)).await.unwrap(),
            next
        );
        next += 1;
        if moved {
            assert_eq!(
                other.audit().record(event(scope, next)).await.unwrap(),
                next
            );
            next += 1;
        }
        let records: Vec<_> = (0..burst)
            .map(|i| {
                let store = db.store.clone();
                let event = large(next + i);
                tokio::spawn(async move { store.audit().record(event).await.unwrap() })
            })
            .collect();
        let mut indexes = Vec::new();
        for record in records {
            indexes.push(record.await.unwrap());
        }
        indexes.sort_unstable();
        assert_eq!(indexes, (next..next + burst).collect::<Vec<u64>>());
        next += burst;
    }
    db.store.audit().checkpoint(&signer()).await.unwrap();
    assert_eq!(verify(&db.store, &scope).await.unwrap().entries, next);
    let heads = other.audit().heads().await.unwrap();
    assert!(heads.contains(&(scope, next)), "{heads:?}");
}

pub async fn the_database_refuses_updates_and_deletes_of_audit_entries(db: &TestDb) {
    let scope = scope();
    logged(&db.store, scope).await;
    for sql in [
        "UPDATE audit_entries SET action = 'write'",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET root = 'x'",
    ] {
        let refused = db.raw_try_execute(sql).await;
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("append-only")),
            "{sql}: {refused:?}"
        );
    }
    assert_eq!(verify(&db.store, &scope).await.unwrap().entries, 30);
}

/// The literal for a log's scope key.
fn key(scope: &Scope) -> String {
    format!("'{}'", scope.key())
}

/// Runs `sql` with `SCOPE` standing for the quoted key of `scope`'s log.
pub(crate) async fn on_log(db: &TestDb, scope: &Scope, sql: &str) {
    db.raw_execute(&sql.replace("SCOPE", &key(scope))).await;
}

/// The stored text of entry `index` of the log, read directly.
async fn stored_entry(db: &TestDb, scope: &Scope, index: u64) -> String {
    let stored = db
        .raw_bytes(&format!(
            "SELECT entry FROM audit_entries WHERE scope = {} AND idx = {index}",
            key(scope)
        ))
        .await;
    String::from_utf8(stored[0].clone()).unwrap()
}

async fn rewrite_entry(db: &TestDb, scope: &Scope, index: u64, entry: &[u8], leaf: &Hash) {
    db.raw_execute(&format!(
        "UPDATE audit_entries SET entry = {}, leaf_hash = {} WHERE scope = {} AND idx = {index}",
        db.bytes_literal(entry),
        db.bytes_literal(leaf),
        key(scope)
    ))
    .await;
}

pub async fn an_edited_field_is_caught_at_its_index(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    let changed = stored_entry(db, &s, 7)
        .await
        .replace("\"user-2\"", "\"user-4\"");
    db.raw_execute(&format!(
        "UPDATE audit_entries SET entry = {} WHERE scope = {} AND idx = 7",
        db.bytes_literal(changed.as_bytes()),
        key(&s)
    ))
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::EditedEntry { index: 7 })
    );
}

pub async fn a_query_column_edited_on_its_own_is_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    db.raw_execute(&format!(
        "UPDATE audit_entries SET outcome = 'failure' WHERE scope = {} AND idx = 4",
        key(&s)
    ))
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::EditedEntry { index: 4 })
    );
}

/// The columns the patient and time-range queries use are checked too: moving an
/// access to another patient, or out of a time range, would make those queries lie.
pub async fn a_patient_or_time_column_edited_on_its_own_is_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    // These entries name no patient; the column is made to name one.
    let patient = match db.store.backend() {
        Backend::Sqlite => "X'00112233445566778899aabbccddeeff'",
        Backend::Postgres => "'00112233-4455-6677-8899-aabbccddeeff'",
    };
    db.raw_execute(&format!(
        "UPDATE audit_entries SET patient_id = {patient} WHERE scope = {} AND idx = 6",
        key(&s)
    ))
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::EditedEntry { index: 6 })
    );
    let s = scope();
    logged(&db.store, s).await;
    db.raw_execute(&format!(
        "UPDATE audit_entries SET at = (SELECT at FROM audit_entries WHERE scope = {key} AND idx = 0) \
         WHERE scope = {key} AND idx = 21",
        key = key(&s)
    ))
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::EditedEntry { index: 21 })
    );
    // A value that cannot even be read as its type is reported the same way, not
    // an error that stops verification (SQLite keeps any text in a TEXT column).
    if db.store.backend() == Backend::Sqlite {
        let s = scope();
        logged(&db.store, s).await;
        db.raw_execute(&format!(
            "UPDATE audit_entries SET at = 'last tuesday' WHERE scope = {} AND idx = 3",
            key(&s)
        ))
        .await;
        assert_eq!(
            verify(&db.store, &s).await,
            Err(Finding::EditedEntry { index: 3 })
        );
    }
}

pub async fn a_deleted_entry_is_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    db.raw_execute(&format!(
        "DELETE FROM audit_entries WHERE scope = {} AND idx = 13",
        key(&s)
    ))
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::OutOfPlace {
            index: 13,
            found: 14
        })
    );
}

pub async fn an_inserted_entry_is_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    // Make room at 13 and put a copy of entry 12 there.
    for sql in [
        format!(
            "UPDATE audit_entries SET idx = idx + 1000 WHERE scope = {} AND idx >= 13",
            key(&s)
        ),
        format!(
            "UPDATE audit_entries SET idx = idx - 999 WHERE scope = {} AND idx >= 1013",
            key(&s)
        ),
        format!(
            "INSERT INTO audit_entries (scope, idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome) \
             SELECT scope, 13, entry, leaf_hash, at, action, actor_id, patient_id, outcome \
             FROM audit_entries WHERE scope = {} AND idx = 12",
            key(&s)
        ),
    ] {
        db.raw_execute(&sql).await;
    }
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::OutOfPlace {
            index: 13,
            found: 12
        })
    );
}

pub async fn two_swapped_entries_are_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    for sql in [
        format!(
            "UPDATE audit_entries SET idx = -1 WHERE scope = {} AND idx = 20",
            key(&s)
        ),
        format!(
            "UPDATE audit_entries SET idx = 20 WHERE scope = {} AND idx = 21",
            key(&s)
        ),
        format!(
            "UPDATE audit_entries SET idx = 21 WHERE scope = {} AND idx = -1",
            key(&s)
        ),
    ] {
        db.raw_execute(&sql).await;
    }
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::OutOfPlace {
            index: 20,
            found: 21
        })
    );
}

pub async fn a_truncated_tail_is_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    on_log(
        db,
        &s,
        "DELETE FROM audit_entries WHERE scope = SCOPE AND idx >= 25",
    )
    .await;
    on_log(
        db,
        &s,
        "UPDATE audit_heads SET size = 25 WHERE scope = SCOPE",
    )
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::Truncated {
            tree_size: 30,
            entries: 25
        })
    );
}

/// Entries appended after the last checkpoint are covered by no signature; the
/// head row still counts them.
pub async fn a_tail_cut_after_the_last_checkpoint_is_caught_by_the_head(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    for i in 30..35 {
        db.store.audit().record(event(s, i)).await.unwrap();
    }
    assert!(verify(&db.store, &s).await.is_ok());
    drop_guards(db).await;
    on_log(
        db,
        &s,
        "DELETE FROM audit_entries WHERE scope = SCOPE AND idx >= 33",
    )
    .await;
    let caught = verify(&db.store, &s).await;
    assert_eq!(
        caught,
        Err(Finding::HeadMismatch {
            head_size: Some(35),
            entries: 33
        })
    );
    assert_eq!(caught.unwrap_err().index(), 33, "the first missing entry");
}

/// The head row is no part of the signed log, but a deleted or altered head would
/// break the next append, so verification compares it with the entries.
pub async fn a_deleted_or_altered_head_is_caught(db: &TestDb) {
    let (deleted, grown, rehashed) = (scope(), scope(), scope());
    for s in [deleted, grown, rehashed] {
        logged(&db.store, s).await;
    }
    on_log(db, &deleted, "DELETE FROM audit_heads WHERE scope = SCOPE").await;
    on_log(
        db,
        &grown,
        "UPDATE audit_heads SET size = size + 10 WHERE scope = SCOPE",
    )
    .await;
    let zeros = match db.store.backend() {
        Backend::Sqlite => "zeroblob(32)",
        Backend::Postgres => "decode(repeat('00', 32), 'hex')",
    };
    on_log(
        db,
        &rehashed,
        &format!("UPDATE audit_heads SET last_hash = {zeros} WHERE scope = SCOPE"),
    )
    .await;
    let found = |head_size| {
        Err(Finding::HeadMismatch {
            head_size,
            entries: 30,
        })
    };
    assert_eq!(verify(&db.store, &deleted).await, found(None));
    assert_eq!(verify(&db.store, &grown).await, found(Some(40)));
    assert_eq!(verify(&db.store, &rehashed).await, found(Some(30)));
    assert!(
        db.store.audit().scopes().await.unwrap().contains(&deleted),
        "a log without its head is still listed for verification"
    );
}

/// Every index, chain link and hash recomputed from entry 12 on: only the signed
/// checkpoints catch it.
pub async fn a_wholesale_rewrite_is_caught_by_the_signed_checkpoints(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    drop_guards(db).await;
    let leaves = db
        .raw_bytes(&format!(
            "SELECT leaf_hash FROM audit_entries WHERE scope = {} ORDER BY idx",
            key(&s)
        ))
        .await;
    let mut prev: Hash = leaves[11].clone().try_into().unwrap();
    for i in 12..30_u64 {
        let mut forged = event(s, i);
        forged.actor_id = Some("nobody-was-here".into());
        let entry = Entry::new(&forged, i, &prev);
        prev = entry.leaf_hash();
        rewrite_entry(db, &s, i, &entry.canonical(), &prev).await;
        // The query columns too, so that only the checkpoints can tell.
        db.raw_execute(&format!(
            "UPDATE audit_entries SET at = '{}' WHERE scope = {} AND idx = {i}",
            enamel_audit::entry::format_timestamp(forged.timestamp),
            key(&s)
        ))
        .await;
    }
    db.raw_execute(&format!(
        "UPDATE audit_entries SET actor_id = 'nobody-was-here' WHERE scope = {} AND idx >= 12",
        key(&s)
    ))
    .await;
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::RootMismatch { tree_size: 20 })
    );
}

pub async fn credential_reads_and_writes_are_audited_in_the_practices_log(store: Store) {
    let practice = store
        .practices()
        .insert(&crate::fixtures::practice("Audited", 150_000_001))
        .await
        .unwrap()
        .id;
    let actor = enamel_domain::Actor::system_for(practice, enamel_domain::SystemTask::Seed);
    let credentials = store.scoped(&actor).vendor_credentials().unwrap();
    let twilio = enamel_domain::VendorName::parse("twilio").unwrap();
    credentials
        .put(&twilio, "token", &secrecy::SecretString::from("s3cret"))
        .await
        .unwrap();
    credentials.secret(&twilio, "token").await.unwrap();
    assert!(credentials.secret(&twilio, "missing").await.is_err());

    let scope = Scope::Practice(practice);
    let entries = store.audit().entries(&scope, 0, 10).await.unwrap();
    let parsed: Vec<Entry> = entries
        .iter()
        .map(|e| Entry::parse_canonical(&e.entry).unwrap())
        .collect();
    let summary: Vec<(&str, &str)> = parsed
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("write", "success"),
            ("read", "success"),
            ("read", "failure")
        ]
    );
    assert!(
        parsed
            .iter()
            .all(|e| e.resource_type == "vendor_credential" && e.actor_type == "system")
    );
    let raw: String = entries
        .iter()
        .map(|e| String::from_utf8_lossy(&e.entry).into_owned())
        .collect();
    assert!(!raw.contains("s3cret"), "no secret in the log");
}

pub async fn purge_keeps_six_years_and_the_rest_still_verifies(store: Store) {
    let s = scope();
    let seven_years_ago = OffsetDateTime::now_utc() - time::Duration::days(7 * 366);
    for i in 0..20 {
        let mut old = event(s, i);
        old.timestamp = seven_years_ago;
        store.audit().record(old).await.unwrap();
        if (i + 1) % 10 == 0 {
            store.audit().checkpoint(&signer()).await.unwrap();
        }
    }
    for i in 20..25 {
        store.audit().record(event(s, i)).await.unwrap();
    }
    store.audit().checkpoint(&signer()).await.unwrap();

    let exported = tempfile::tempdir().unwrap();
    let too_recent = OffsetDateTime::now_utc() - time::Duration::days(365);
    assert!(
        store
            .audit()
            .purge(&signer(), exported.path(), too_recent, 0)
            .await
            .is_err(),
        "never less than six years"
    );

    let six_years_ago =
        OffsetDateTime::now_utc() - time::Duration::days(2_192) - time::Duration::minutes(1);
    let purged = store
        .audit()
        .purge(&signer(), exported.path(), six_years_ago, 0)
        .await
        .unwrap();
    let mine: Vec<_> = purged.iter().filter(|p| p.scope == s).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].kept_from, mine[0].removed), (20, 20));

    let report = verify(&store, &s).await.unwrap();
    assert_eq!(
        (report.start, report.entries),
        (20, 6),
        "5 recent entries and the purge's own record"
    );
    let first = store.audit().entries(&s, 0, 1).await.unwrap();
    assert_eq!(first[0].index, 20);
    // The signed record is in the database and in the exported stream.
    let records = store.audit().purge_records(&s).await.unwrap();
    assert_eq!(records.len(), 1);
    assert!(records[0].allows_start(&s.key(), 20, &signer().public_key()));
    let stream =
        std::fs::read_to_string(exported.path().join(format!("{}.purges.jsonl", s.key()))).unwrap();
    assert_eq!(stream.lines().count(), 1);
    let purge_event = store.audit().entries(&s, 25, 1).await.unwrap();
    let purge_event = Entry::parse_canonical(&purge_event[0].entry).unwrap();
    assert_eq!(purge_event.action, "audit_purge");
    assert!(purge_event.detail.contains_key("last_removed_at"));
}

/// Deleting a log's oldest entries through the purge path itself, without a signed
/// purge record (and while they are minutes old), is tampering, even though the
/// checkpoint at the cut still holds the frontier to resume from.
pub async fn a_prefix_deleted_without_a_signed_purge_is_caught(db: &TestDb) {
    let s = scope();
    logged(&db.store, s).await;
    let delete = match db.store.backend() {
        Backend::Sqlite => vec![
            "INSERT INTO audit_purge_gate (opened) VALUES (1)".to_owned(),
            format!(
                "DELETE FROM audit_entries WHERE scope = {} AND idx < 10",
                key(&s)
            ),
            "DELETE FROM audit_purge_gate".to_owned(),
        ],
        Backend::Postgres => vec![format!(
            "DO $$ BEGIN PERFORM set_config('enamel.audit_purge', 'on', true); \
             DELETE FROM audit_entries WHERE scope = {} AND idx < 10; END $$",
            key(&s)
        )],
    };
    for sql in &delete {
        db.raw_execute(sql).await;
    }
    assert_eq!(
        verify(&db.store, &s).await,
        Err(Finding::UnauthorizedPurge { start: 10 })
    );
    // A record signed with the right key but over entries younger than six years
    // does not cover them either.
    let young = signer().sign_purge(
        &s,
        10,
        &enamel_audit::entry::format_timestamp(OffsetDateTime::now_utc()),
        &enamel_audit::entry::format_timestamp(OffsetDateTime::now_utc()),
    );
    let outside = enamel_store::Outside {
        purges: vec![young],
        ..Default::default()
    };
    let verdict = db
        .store
        .audit()
        .verify_with(&s, &signer().public_key(), outside, |_| {})
        .await
        .unwrap();
    assert_eq!(verdict, Err(Finding::UnauthorizedPurge { start: 10 }));
}

/// Rows that no append made: one below index 0, one past the head with a correct
/// chain. Verification covers exactly the entries `0..head.size`.
pub async fn entries_outside_the_head_are_caught(db: &TestDb) {
    let (below, after) = (scope(), scope());
    for s in [below, after] {
        logged(&db.store, s).await;
    }
    on_log(
        db,
        &below,
        "INSERT INTO audit_entries (scope, idx, entry, leaf_hash, at, action, actor_id, patient_id, outcome) \
         SELECT scope, -1, entry, leaf_hash, at, action, actor_id, patient_id, outcome \
         FROM audit_entries WHERE scope = SCOPE AND idx = 0",
    )
    .await;
    assert_eq!(
        verify(&db.store, &below).await,
        Err(Finding::OutsideLog { index: -1 })
    );
    let last = db.store.audit().entries(&after, 29, 1).await.unwrap();
    let forged = Entry::new(&event(after, 30), 30, &last[0].leaf_hash);
    let at = match db.store.backend() {
        Backend::Sqlite => format!("'{}'", forged.timestamp),
        Backend::Postgres => format!("'{}'::timestamptz", forged.timestamp),
    };
    db.raw_execute(&format!(
        "INSERT INTO audit_entries (scope, idx, entry, leaf_hash, at, action, actor_id, outcome) \
         VALUES ({}, 30, {}, {}, {at}, 'read', {}, 'success')",
        key(&after),
        db.bytes_literal(&forged.canonical()),
        db.bytes_literal(&forged.leaf_hash()),
        forged
            .actor_id
            .as_deref()
            .map_or("NULL".to_owned(), |a| format!("'{a}'")),
    ))
    .await;
    assert_eq!(
        verify(&db.store, &after).await,
        Err(Finding::HeadMismatch {
            head_size: Some(30),
            entries: 31
        })
    );
}

/// A head row set back to an empty log hides no cut tail, and a head whose tree
/// edge was replaced is caught by verification and never signed into a checkpoint.
pub async fn an_emptied_or_reshaped_head_is_caught_and_never_signed(db: &TestDb) {
    let (emptied, reshaped) = (scope(), scope());
    for s in [emptied, reshaped] {
        logged(&db.store, s).await;
    }
    // Past the last checkpoint: only the head counts these.
    for s in [emptied, reshaped] {
        for i in 30..35 {
            db.store.audit().record(event(s, i)).await.unwrap();
        }
    }
    drop_guards(db).await;
    let empty = serde_json::to_string(&enamel_audit::merkle::Frontier::default()).unwrap();
    let zeros = db.bytes_literal(&[0; 32]);
    on_log(
        db,
        &emptied,
        &format!("UPDATE audit_heads SET size = 0, last_hash = {zeros}, frontier = '{empty}' WHERE scope = SCOPE"),
    )
    .await;
    on_log(
        db,
        &emptied,
        "DELETE FROM audit_entries WHERE scope = SCOPE AND idx >= 33",
    )
    .await;
    let found = verify(&db.store, &emptied).await;
    assert!(
        matches!(
            found,
            Err(Finding::HeadMismatch {
                head_size: Some(0),
                ..
            })
        ),
        "{found:?}"
    );
    // The same size, another tree: 35 leaves that are not the log's.
    let mut other = enamel_audit::merkle::Frontier::default();
    for i in 0..35_u8 {
        other.push(enamel_audit::merkle::leaf_hash(&[i]));
    }
    let other = serde_json::to_string(&other).unwrap();
    on_log(
        db,
        &reshaped,
        &format!("UPDATE audit_heads SET frontier = '{other}' WHERE scope = SCOPE"),
    )
    .await;
    assert_eq!(
        verify(&db.store, &reshaped).await,
        Err(Finding::HeadMismatch {
            head_size: Some(35),
            entries: 35
        })
    );
    let done = db.store.audit().checkpoint(&signer()).await.unwrap();
    assert!(done.refused.contains(&reshaped), "{:?}", done.refused);
    assert!(
        done.refused.contains(&emptied) || !done.written.iter().any(|c| c.scope == emptied.key())
    );
    assert!(!done.written.iter().any(|c| c.scope == reshaped.key()));
    assert_eq!(
        db.store
            .audit()
            .checkpoints(&reshaped)
            .await
            .unwrap()
            .last()
            .unwrap()
            .tree_size,
        30,
        "no checkpoint over the altered head"
    );
}

/// The signer checks the entries since the last checkpoint a page at a time (pages
/// of 500): 1,200 new entries are signed across three pages, and an entry edited,
/// with a leaf hash to match, in the third page stops the checkpoint of its log.
pub async fn a_checkpoint_over_pages_signs_and_an_edit_in_a_later_page_stops_it(db: &TestDb) {
    let (edited, kept) = (scope(), scope());
    for s in [edited, kept] {
        logged(&db.store, s).await;
    }
    for s in [edited, kept] {
        let tasks: Vec<_> = (30..1_230)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move { store.audit().record(event(s, i)).await.unwrap() })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    }
    drop_guards(db).await;
    let at = 30 + 1_100;
    let stored = stored_entry(db, &edited, at).await;
    let changed = stored.replace("\"success\"", "\"denied\"");
    assert_ne!(changed, stored);
    let leaf = enamel_audit::merkle::leaf_hash(changed.as_bytes());
    rewrite_entry(db, &edited, at, changed.as_bytes(), &leaf).await;
    let done = db.store.audit().checkpoint(&signer()).await.unwrap();
    assert_eq!(done.refused, [edited], "{done:?}");
    let signed: Vec<(String, u64)> = done
        .written
        .iter()
        .map(|c| (c.scope.clone(), c.tree_size))
        .collect();
    assert_eq!(signed, [(kept.key(), 1_230)]);
}

/// Times are one canonical text on SQLite: a one-second window finds exactly the
/// entries in it, and an entry's time rewritten as the same instant at another
/// offset (which would hide it from time queries) is an edited entry.
pub async fn audit_times_compare_as_times_and_one_spelling_is_kept(db: &TestDb) {
    let practice = db
        .store
        .practices()
        .insert(&crate::fixtures::practice("Timed", 150_000_009))
        .await
        .unwrap()
        .id;
    let s = Scope::Practice(practice);
    let base = time::macros::datetime!(2026-11-29 10:00:00 UTC);
    let times = [
        base - time::Duration::milliseconds(500),
        base,
        base + time::Duration::milliseconds(500),
        base + time::Duration::seconds(1),
    ];
    for (i, at) in times.iter().enumerate() {
        let mut e = event(s, i as u64);
        e.timestamp = *at;
        db.store.audit().record(e).await.unwrap();
    }
    let officer = security_officer(practice);
    let window = enamel_store::AuditFilter {
        action: Some(Action::Read),
        from: Some(base),
        to: Some(base + time::Duration::seconds(1)),
        ..Default::default()
    };
    let page = db
        .store
        .audit()
        .query(&officer, &window, None, 10)
        .await
        .unwrap();
    let found: Vec<String> = page
        .entries
        .iter()
        .map(|e| e.resource_id.clone().unwrap())
        .collect();
    assert_eq!(found, ["resource-2", "resource-1"], "[10:00:00, 10:00:01)");
    db.store.audit().checkpoint(&signer()).await.unwrap();
    assert!(verify(&db.store, &s).await.is_ok());
    if db.store.backend() == Backend::Sqlite {
        drop_guards(db).await;
        on_log(
            db,
            &s,
            "UPDATE audit_entries SET at = '2026-11-29T11:00:00.500000+01:00' WHERE scope = SCOPE AND idx = 2",
        )
        .await;
        assert_eq!(
            verify(&db.store, &s).await,
            Err(Finding::EditedEntry { index: 2 })
        );
    }
}

pub async fn a_write_whose_audit_event_fails_does_not_happen(db: &TestDb) {
    let practice = db
        .store
        .practices()
        .insert(&crate::fixtures::practice("Atomic", 150_000_002))
        .await
        .unwrap()
        .id;
    let block: &[&str] = match db.store.backend() {
        Backend::Sqlite => &[
            "CREATE TRIGGER block_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit unavailable'); END",
        ],
        Backend::Postgres => &[
            "CREATE FUNCTION block_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit unavailable'; END $$",
            "CREATE TRIGGER block_audit BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION block_audit()",
        ],
    };
    for sql in block {
        db.raw_execute(sql).await;
    }
    let actor = enamel_domain::Actor::system_for(practice, enamel_domain::SystemTask::Seed);
    let credentials = db.store.scoped(&actor).vendor_credentials().unwrap();
    let twilio = enamel_domain::VendorName::parse("twilio").unwrap();

    let written = credentials
        .put(&twilio, "token", &secrecy::SecretString::from("s3cret"))
        .await;

    assert!(written.is_err(), "no audit, no write");
    let rows = db.raw_bytes("SELECT secret FROM vendor_credentials").await;
    assert!(
        rows.is_empty(),
        "the credential was rolled back with its event"
    );
}

pub async fn the_security_officer_pages_through_a_patients_accesses_newest_first(store: Store) {
    let practice = store
        .practices()
        .insert(&crate::fixtures::practice("Queried", 150_000_003))
        .await
        .unwrap()
        .id;
    let s = Scope::Practice(practice);
    let patient = uuid::Uuid::new_v4();
    for i in 0..10 {
        let mut e = event(s, i);
        e.patient_id = Some(patient);
        store.audit().record(e).await.unwrap();
        store.audit().record(event(s, 100 + i)).await.unwrap(); // another patient's
    }
    let officer = security_officer(practice);
    let filter = enamel_store::AuditFilter {
        patient: Some(patient),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .audit()
            .query(&officer, &filter, before, 4)
            .await
            .unwrap();
        assert!(page.entries.len() <= 4);
        seen.extend(page.entries.iter().map(|e| e.resource_id.clone().unwrap()));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..10).rev().map(|i| format!("resource-{i}")).collect();
    assert_eq!(seen, expected, "all ten, newest first, across three pages");
    let queries = store
        .audit()
        .query(
            &officer,
            &enamel_store::AuditFilter {
                action: Some(Action::AuditQuery),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        queries.entries.len(),
        3,
        "each page query was itself recorded"
    );
}

pub async fn failures_and_denials_of_the_last_day_are_listed_alone(store: Store) {
    let practice = store
        .practices()
        .insert(&crate::fixtures::practice("Failing", 150_000_004))
        .await
        .unwrap()
        .id;
    let s = Scope::Practice(practice);
    for (i, outcome) in [
        Outcome::Success,
        Outcome::Failure,
        Outcome::Denied,
        Outcome::Success,
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = event(s, i as u64);
        e.outcome = outcome;
        store.audit().record(e).await.unwrap();
    }
    let mut old = event(s, 9);
    old.outcome = Outcome::Failure;
    old.timestamp = OffsetDateTime::now_utc() - time::Duration::days(2);
    store.audit().record(old).await.unwrap();
    let officer = security_officer(practice);
    let page = store
        .audit()
        .recent_failures(&officer, None, 50)
        .await
        .unwrap();
    let outcomes: Vec<&str> = page.entries.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["denied", "failure"]);
}

pub async fn the_accounting_of_disclosures_lists_each_disclosure_as_csv(store: Store) {
    let practice = store
        .practices()
        .insert(&crate::fixtures::practice("Disclosing", 150_000_005))
        .await
        .unwrap()
        .id;
    let s = Scope::Practice(practice);
    let patient = uuid::Uuid::new_v4();
    let mut disclosure = event(s, 1);
    disclosure.action = Action::Disclose;
    disclosure.patient_id = Some(patient);
    disclosure.resource_type = ResourceType::Referral;
    disclosure.resource_id = Some("referral-1".into());
    disclosure.detail.insert(
        "recipient_type",
        enamel_audit::entry::Detail::Code("practice".into()),
    );
    disclosure.detail.insert(
        "recipient",
        enamel_audit::entry::Detail::Code("lonestar-endo".into()),
    );
    disclosure.detail.insert(
        "purpose",
        enamel_audit::entry::Detail::Code("treatment".into()),
    );
    store.audit().record(disclosure).await.unwrap();
    let mut read = event(s, 2);
    read.patient_id = Some(patient);
    store.audit().record(read).await.unwrap();

    let officer = security_officer(practice);
    let csv = store
        .audit()
        .disclosures_csv(&officer, patient)
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(
        lines[0],
        "timestamp,recipient_type,recipient,purpose,resource_type,resource_id"
    );
    assert!(
        lines[1].ends_with(",practice,lonestar-endo,treatment,referral,referral-1"),
        "{csv}"
    );
}

/// A security officer of `practice`, as the audit queries are asked by one.
pub(crate) fn security_officer(practice: enamel_domain::PracticeId) -> enamel_domain::Actor {
    enamel_domain::Actor::human(&enamel_domain::User {
        id: enamel_domain::UserId::generate(),
        practice: Some(practice),
        email: enamel_domain::Email::parse("officer@example.test").unwrap(),
        display_name: enamel_domain::DisplayName::parse("Security Officer").unwrap(),
        role: enamel_domain::Role::SecurityOfficer,
        status: enamel_domain::UserStatus::Active,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    })
}
