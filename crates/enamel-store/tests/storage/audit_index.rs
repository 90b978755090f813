//! The audit log's query index is derived data off the append path: a query is
//! complete the moment an append returns, whether the indexer is stopped, behind,
//! running beside the appends or rebuilt; a wrong index is found by its check and
//! mended by a rebuild; verification of the log never reads it.

use enamel_audit::entry::{Action, Outcome, Scope};
use enamel_store::{AuditFilter, Store};
use enamel_testkit::TestDb;
use uuid::Uuid;

use crate::audit::{event, on_log, security_officer, signer, verify};

/// What was appended, to compute each query's expected answer.
struct Appended {
    resource: String,
    patient: Option<Uuid>,
    actor: String,
    action: Action,
    outcome: Outcome,
    at: time::OffsetDateTime,
}

const BASE: time::OffsetDateTime = time::macros::datetime!(2026-11-29 23:59:00 UTC);

/// Appends `n` entries numbered from `first`, spread over three patients (and
/// none), four actors, two actions, two outcomes and two minutes of time.
async fn append(
    store: &Store,
    scope: Scope,
    patients: &[Uuid; 3],
    first: u64,
    n: u64,
) -> Vec<Appended> {
    let mut appended = Vec::new();
    for i in first..first + n {
        let mut e = event(scope, i);
        e.patient_id = (i % 4 != 3).then(|| patients[usize::try_from(i % 3).unwrap()]);
        e.actor_id = Some(format!("user-{}", i % 4));
        e.action = if i % 5 == 0 {
            Action::Write
        } else {
            Action::Read
        };
        e.outcome = if i % 7 == 0 {
            Outcome::Denied
        } else {
            Outcome::Success
        };
        e.timestamp = BASE + time::Duration::milliseconds(i64::try_from(i).unwrap() * 500);
        appended.push(Appended {
            resource: e.resource_id.clone().unwrap(),
            patient: e.patient_id,
            actor: e.actor_id.clone().unwrap(),
            action: e.action,
            outcome: e.outcome,
            at: e.timestamp,
        });
        store.audit().record(e).await.unwrap();
    }
    appended
}

/// The filters an officer uses: by patient, actor, action, outcome and time, alone
/// and combined.
fn filters(patients: &[Uuid; 3]) -> Vec<AuditFilter> {
    let window = BASE + time::Duration::seconds(10);
    vec![
        AuditFilter::default(),
        AuditFilter {
            patient: Some(patients[0]),
            ..Default::default()
        },
        AuditFilter {
            patient: Some(patients[2]),
            action: Some(Action::Write),
            ..Default::default()
        },
        AuditFilter {
            actor: Some("user-1".to_owned()),
            ..Default::default()
        },
        AuditFilter {
            action: Some(Action::Write),
            ..Default::default()
        },
        AuditFilter {
            outcomes: vec![Outcome::Denied],
            ..Default::default()
        },
        AuditFilter {
            from: Some(window),
            to: Some(window + time::Duration::seconds(10)),
            ..Default::default()
        },
        AuditFilter {
            patient: Some(patients[1]),
            actor: Some("user-2".to_owned()),
            outcomes: vec![Outcome::Success, Outcome::Denied],
            from: Some(BASE),
            ..Default::default()
        },
    ]
}

fn matches(filter: &AuditFilter, a: &Appended) -> bool {
    filter.patient.is_none_or(|p| a.patient == Some(p))
        && filter.actor.as_ref().is_none_or(|x| *x == a.actor)
        && filter.action.is_none_or(|x| x == a.action)
        && (filter.outcomes.is_empty() || filter.outcomes.contains(&a.outcome))
        && filter.from.is_none_or(|from| a.at >= from)
        && filter.to.is_none_or(|to| a.at < to)
}

/// Pages through every filter (pages of 7, so page edges fall on both sides of the
/// watermark) and compares with what was appended, newest first. The queries' own
/// entries (`audit_query`) are left out of the comparison.
async fn every_query_is_complete(
    store: &Store,
    practice: enamel_domain::PracticeId,
    patients: &[Uuid; 3],
    all: &[Appended],
    when: &str,
) {
    let officer = security_officer(practice);
    for filter in filters(patients) {
        let mut found = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .audit()
                .query(&officer, &filter, before, 7)
                .await
                .unwrap();
            found.extend(
                page.entries
                    .iter()
                    .filter(|e| e.action != "audit_query")
                    .map(|e| e.resource_id.clone().unwrap()),
            );
            match page.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = all
            .iter()
            .rev()
            .filter(|a| matches(&filter, a))
            .map(|a| a.resource.clone())
            .collect();
        assert!(
            !expected.is_empty(),
            "every filter finds something: {filter:?}"
        );
        assert_eq!(found, expected, "{when}: {filter:?}");
    }
}

/// A new practice named `name`, whose log a test writes.
async fn new_practice(store: &Store, name: &str, npi_base: u32) -> enamel_domain::PracticeId {
    store
        .practices()
        .insert(&crate::fixtures::practice(name, npi_base))
        .await
        .unwrap()
        .id
}

pub async fn queries_are_complete_whatever_the_indexer_has_done(db: &TestDb) {
    let store = &db.store;
    let practice = new_practice(store, "Indexed", 150_000_021).await;
    let s = Scope::Practice(practice);
    let patients = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let mut all = append(store, s, &patients, 0, 60).await;

    // Nothing indexed (no indexer runs in this suite): every query scans.
    assert!(store.audit().index_lag().await.unwrap() >= 60);
    every_query_is_complete(store, practice, &patients, &all, "indexer stopped").await;

    // Part indexed: the answer comes from the index and the entries above it.
    let round = store.audit().index_round(25).await.unwrap();
    assert!(round.entries >= 25 && round.behind > 0, "{round:?}");
    every_query_is_complete(store, practice, &patients, &all, "index part-way").await;

    // The indexer running beside the appends: each entry is found by its patient
    // the moment its append returns.
    let indexer = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                store.audit().index_round(5).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let officer = security_officer(practice);
    for i in 60..120 {
        let latest = append(store, s, &patients, i, 1).await;
        let filter = AuditFilter {
            patient: latest[0].patient,
            action: Some(latest[0].action),
            ..Default::default()
        };
        let page = store
            .audit()
            .query(&officer, &filter, None, 1)
            .await
            .unwrap();
        assert_eq!(
            page.entries[0].resource_id.as_ref(),
            Some(&latest[0].resource),
            "entry {i} found at once"
        );
        all.extend(latest);
    }
    indexer.abort();
    every_query_is_complete(store, practice, &patients, &all, "indexer running").await;

    // Caught up: the index alone answers, and nothing is behind.
    while store.audit().index_round(50).await.unwrap().behind > 0 {}
    assert_eq!(store.audit().index_lag().await.unwrap(), 0);
    assert_eq!(store.audit().index_disagreement(&s).await.unwrap(), None);
    every_query_is_complete(store, practice, &patients, &all, "index caught up").await;
}

pub async fn a_wrong_index_is_found_and_rebuilt_and_verification_never_needs_it(db: &TestDb) {
    let store = &db.store;
    let practice = new_practice(store, "Reindexed", 150_000_022).await;
    let s = Scope::Practice(practice);
    let patients = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let all = append(store, s, &patients, 0, 40).await;
    store.audit().checkpoint(&signer()).await.unwrap();
    while store.audit().index_round(16).await.unwrap().behind > 0 {}

    // Only the indexer writes the index, and a watermark only moves forward.
    let key = format!("'{}'", s.key());
    for refused in [
        "DELETE FROM audit_index WHERE scope = SCOPE AND idx = 12",
        "UPDATE audit_index SET action = 'write' WHERE scope = SCOPE AND idx = 6",
        "UPDATE audit_index_marks SET indexed_to = 3 WHERE scope = SCOPE",
        "DELETE FROM audit_index_marks WHERE scope = SCOPE",
    ] {
        let sql = refused.replace("SCOPE", &key);
        assert!(db.raw_try_execute(&sql).await.is_err(), "{refused}");
    }
    let guards: &[&str] = match store.backend() {
        enamel_store::Backend::Sqlite => &[
            "DROP TRIGGER audit_index_no_delete",
            "DROP TRIGGER audit_index_no_update",
        ],
        enamel_store::Backend::Postgres => &["DROP TRIGGER audit_index_guard ON audit_index"],
    };
    for sql in guards {
        db.raw_execute(sql).await;
    }

    // The index is not the log: tampering with it leaves the log sound, but the
    // check finds the first entry it misreports.
    on_log(
        db,
        &s,
        "DELETE FROM audit_index WHERE scope = SCOPE AND idx = 12",
    )
    .await;
    assert!(
        verify(store, &s).await.is_ok(),
        "verification does not read the index"
    );
    assert_eq!(
        store.audit().index_disagreement(&s).await.unwrap(),
        Some(12)
    );
    on_log(
        db,
        &s,
        "UPDATE audit_index SET action = 'write' WHERE scope = SCOPE AND idx = 6",
    )
    .await;
    assert_eq!(store.audit().index_disagreement(&s).await.unwrap(), Some(6));
    on_log(db, &s, "DELETE FROM audit_index WHERE scope = SCOPE").await;
    assert!(verify(store, &s).await.is_ok(), "nor needs it");

    // Rebuilt from the entries, while more are appended: true again.
    let mut reported = Vec::new();
    let indexed = store
        .audit()
        .reindex(Some(&s), |n| reported.push(n))
        .await
        .unwrap();
    assert!(
        indexed >= 40 && reported.last() == Some(&indexed),
        "{indexed} {reported:?}"
    );
    assert_eq!(store.audit().index_disagreement(&s).await.unwrap(), None);
    assert_eq!(store.audit().index_lag().await.unwrap(), 0);
    every_query_is_complete(store, practice, &patients, &all, "rebuilt").await;

    // A row slipped in above the watermark (inserting is not refused) is reported,
    // and the next batch over its place replaces it with the entry's own values.
    append(store, s, &patients, 40, 3).await;
    on_log(
        db,
        &s,
        "INSERT INTO audit_index (scope, idx, at, action, actor_id, patient_id, outcome) \
         SELECT scope, idx, at, 'write', actor_id, patient_id, outcome FROM audit_entries \
         WHERE scope = SCOPE AND idx = (SELECT MAX(idx) FROM audit_entries WHERE scope = SCOPE)",
    )
    .await;
    let squatter = store.audit().index_disagreement(&s).await.unwrap();
    assert!(squatter.is_some(), "a row above the watermark is reported");
    while store.audit().index_round(16).await.unwrap().behind > 0 {}
    assert_eq!(store.audit().index_disagreement(&s).await.unwrap(), None);
}

/// Two workers' indexers (two stores on one database, as two processes) race each
/// other and the appends: the index comes out whole, each entry once, and every
/// query agrees with what was appended.
pub async fn two_indexers_racing_the_appends_build_one_whole_index(db: &TestDb) {
    let store = &db.store;
    let practice = new_practice(store, "Raced", 150_000_023).await;
    let s = Scope::Practice(practice);
    let patients = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let indexers: Vec<_> = [(store.clone(), 7), (db.reopen().await, 5)]
        .into_iter()
        .map(|(worker, batch)| {
            let stop = std::sync::Arc::clone(&stop);
            tokio::spawn(async move {
                let mut indexed = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    indexed += worker.audit().index_round(batch).await.unwrap().entries;
                    tokio::task::yield_now().await;
                }
                indexed
            })
        })
        .collect();
    let all = append(store, s, &patients, 0, 150).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut by_each = Vec::new();
    for indexer in indexers {
        by_each.push(indexer.await.unwrap());
    }
    while store.audit().index_round(64).await.unwrap().behind > 0 {}
    assert!(by_each.iter().all(|n| *n > 0), "both indexed: {by_each:?}");
    assert_eq!(store.audit().index_lag().await.unwrap(), 0);
    assert_eq!(store.audit().index_disagreement(&s).await.unwrap(), None);
    every_query_is_complete(store, practice, &patients, &all, "two indexers").await;
}
