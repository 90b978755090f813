use std::collections::BTreeSet;
use std::sync::Arc;

use enamel_domain::clock::{Clock as _, ManualClock};
use enamel_store::{Finished, NewJob, Store};
use enamel_testkit::TestDb;
use time::Duration;

fn job(kind: &str, key: &str, run_at: time::OffsetDateTime) -> NewJob {
    NewJob {
        kind: kind.into(),
        key: key.into(),
        payload: serde_json::json!({ "practice": "00000000-0000-0000-0000-000000000001" }),
        run_at,
        max_attempts: 3,
    }
}

fn clocked(store: &Store) -> ManualClock {
    let clock = ManualClock::new(time::macros::datetime!(2026-11-29 10:00:00.5 UTC));
    store.use_clock(Arc::new(clock.clone()));
    clock
}

pub async fn a_job_is_enqueued_once_per_key_and_runs_when_due(store: Store) {
    let clock = clocked(&store);
    let later = clock.now() + Duration::seconds(30);
    let jobs = store.jobs();
    assert!(
        jobs.enqueue(&job("deliver", "a", later))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        jobs.enqueue(&job("deliver", "a", later))
            .await
            .unwrap()
            .is_none(),
        "the same kind and key make one job"
    );
    assert!(
        jobs.enqueue(&job("other", "a", later))
            .await
            .unwrap()
            .is_some()
    );
    // Half a second early is not due (times compare as times on both backends).
    clock.advance(Duration::milliseconds(29_500));
    assert!(
        jobs.claim("w1", &["deliver"], Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::milliseconds(500));
    let claimed = jobs
        .claim("w1", &["deliver"], Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "only the kinds asked for");
    assert_eq!((claimed[0].key.as_str(), claimed[0].attempt), ("a", 1));
    assert_eq!(
        claimed[0].payload["practice"],
        "00000000-0000-0000-0000-000000000001"
    );
    assert_eq!(jobs.done(&claimed[0]).await.unwrap(), Finished::Done);
    clock.advance(Duration::hours(1));
    assert!(
        jobs.claim("w1", &["deliver"], Duration::minutes(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Two workers (two stores, as two processes would open them) claiming at once
/// never take the same job, and together take every job once.
pub async fn two_workers_never_run_the_same_job_twice(db: &TestDb) {
    let clock = clocked(&db.store);
    let other = db.reopen().await;
    other.use_clock(Arc::new(clock.clone()));
    for i in 0..200 {
        db.store
            .jobs()
            .enqueue(&job("deliver", &format!("job-{i}"), clock.now()))
            .await
            .unwrap();
    }
    let work = |store: Store, name: &'static str| async move {
        let mut taken = Vec::new();
        loop {
            let claimed = store
                .jobs()
                .claim(name, &["deliver"], Duration::minutes(5), 7)
                .await
                .unwrap();
            if claimed.is_empty() {
                return taken;
            }
            for job in claimed {
                assert_eq!(store.jobs().done(&job).await.unwrap(), Finished::Done);
                taken.push(job.key);
            }
        }
    };
    let (a, b) = tokio::join!(
        tokio::spawn(work(db.store.clone(), "worker-a")),
        tokio::spawn(work(other, "worker-b"))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let all: BTreeSet<String> = a.iter().chain(&b).cloned().collect();
    assert_eq!(a.len() + b.len(), 200, "no job run twice");
    assert_eq!(all.len(), 200, "every job run once");
}

/// A worker that dies holding a job (kill -9: it never finishes) loses it when the
/// lease runs out; another takes it over, and the first can no longer record it.
pub async fn a_job_whose_worker_died_is_taken_over_after_its_lease(store: Store) {
    let clock = clocked(&store);
    let jobs = store.jobs();
    jobs.enqueue(&job("checkpoint", "once", clock.now()))
        .await
        .unwrap();
    let dead_worker = jobs
        .claim("a", &["checkpoint"], Duration::minutes(1), 1)
        .await
        .unwrap();
    assert_eq!(dead_worker.len(), 1);
    clock.advance(Duration::seconds(59));
    assert!(
        jobs.claim("b", &["checkpoint"], Duration::minutes(1), 1)
            .await
            .unwrap()
            .is_empty()
    );
    clock.advance(Duration::seconds(1));
    let taken_over = jobs
        .claim("b", &["checkpoint"], Duration::minutes(1), 1)
        .await
        .unwrap();
    assert_eq!(taken_over.len(), 1);
    assert_eq!(taken_over[0].attempt, 2);
    assert_eq!(
        jobs.done(&dead_worker[0]).await.unwrap(),
        Finished::LeaseLost
    );
    assert_eq!(jobs.done(&taken_over[0]).await.unwrap(), Finished::Done);
}

/// A failing job is retried after a doubling back-off, then kept as a dead letter.
pub async fn a_failing_job_backs_off_then_becomes_a_dead_letter(store: Store) {
    let clock = clocked(&store);
    let jobs = store.jobs();
    jobs.enqueue(&job("deliver", "flaky", clock.now()))
        .await
        .unwrap();
    let first = Duration::seconds(30);
    let mut expected_wait = first;
    for attempt in 1..=2 {
        let claimed = jobs
            .claim("w", &["deliver"], Duration::minutes(1), 1)
            .await
            .unwrap();
        assert_eq!(claimed[0].attempt, attempt);
        let at = clock.now() + expected_wait;
        assert_eq!(
            jobs.failed(&claimed[0], "smtp_unavailable", first)
                .await
                .unwrap(),
            Finished::Retrying(at)
        );
        clock.advance(expected_wait - Duration::seconds(1));
        assert!(
            jobs.claim("w", &["deliver"], Duration::minutes(1), 1)
                .await
                .unwrap()
                .is_empty()
        );
        clock.advance(Duration::seconds(1));
        expected_wait *= 2;
    }
    let last = jobs
        .claim("w", &["deliver"], Duration::minutes(1), 1)
        .await
        .unwrap();
    assert_eq!(
        jobs.failed(&last[0], "smtp_unavailable", first)
            .await
            .unwrap(),
        Finished::Dead
    );
    clock.advance(Duration::days(1));
    assert!(
        jobs.claim("w", &["deliver"], Duration::minutes(1), 1)
            .await
            .unwrap()
            .is_empty()
    );
    let dead = jobs.dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (
            dead[0].key.as_str(),
            dead[0].attempts,
            dead[0].last_error.as_deref()
        ),
        ("flaky", 3, Some("smtp_unavailable"))
    );
}
