//! The platform operator's dead letters: a job that ran out of attempts is listed
//! on the operator's page and in the API, and put back in the queue from there,
//! audited; nobody else may see or retry it.

use enamel_domain::Role;
use enamel_store::{Backend, NewJob};

use crate::identity::demo_on;

/// A job of a kind no worker runs, claimed once and failed: a dead letter.
async fn a_dead_letter(store: &enamel_store::Store) -> uuid::Uuid {
    let jobs = store.jobs();
    let id = jobs
        .enqueue(&NewJob {
            kind: "test_job".into(),
            key: "test_job:1".into(),
            payload: serde_json::Value::Null,
            run_at: store.now(),
            max_attempts: 1,
        })
        .await
        .unwrap()
        .unwrap();
    let claimed = jobs
        .claim("test", &["test_job"], time::Duration::minutes(1), 1)
        .await
        .unwrap();
    let finished = jobs
        .failed(&claimed[0], "vendor_down", time::Duration::seconds(10))
        .await
        .unwrap();
    assert_eq!(finished, enamel_store::Finished::Dead);
    id
}

async fn the_operator_retries_a_dead_letter(backend: Backend) {
    let Some(demo) = demo_on(backend, |_| {}).await else {
        return;
    };
    let id = a_dead_letter(&demo.db.store).await;
    let (operator, _) = demo
        .admin_session(demo.network.operator.email().as_str())
        .await;

    let page = demo
        .get("/operator/jobs", &operator)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("test_job:1") && page.contains("vendor_down"),
        "{page}"
    );
    let (status, listed) = demo.read("/api/v1/operator/dead-letters", &operator).await;
    assert_eq!(status, 200);
    assert_eq!(listed["dead_letters"][0]["id"], id.to_string(), "{listed}");
    assert_eq!(listed["dead_letters"][0]["last_error"], "vendor_down");

    // No practice role sees the queue or retries it.
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (status, _) = demo
        .read("/api/v1/operator/dead-letters", &front_desk)
        .await;
    assert_eq!(status, 403);
    let retry = format!("/api/v1/operator/dead-letters/{id}/retry");
    let (status, _) = demo
        .post(&retry, &front_desk, serde_json::json!(null))
        .await;
    assert_eq!(status, 403);
    let job = demo
        .db
        .store
        .jobs()
        .find("test_job", "test_job:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, "dead", "a refused retry changes nothing");

    // The operator's retry puts it back, once, audited in the platform's log.
    let retried = demo
        .form(&format!("/operator/jobs/{id}/retry"), Some(&operator), &[])
        .await;
    assert_eq!(retried.status(), 303);
    assert_eq!(
        retried.headers()["location"],
        "/operator/jobs?flash=retried"
    );
    let job = demo
        .db
        .store
        .jobs()
        .find("test_job", "test_job:1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.state.as_str(), job.attempts), ("queued", 1));
    let (status, _) = demo.post(&retry, &operator, serde_json::json!(null)).await;
    assert_eq!(status, 404, "no longer a dead letter");
    let platform = demo
        .db
        .store
        .audit()
        .entries(&enamel_audit::entry::Scope::Platform, 0, 100_000)
        .await
        .unwrap();
    let audited = platform
        .iter()
        .map(|s| enamel_audit::entry::Entry::parse_canonical(&s.entry).unwrap())
        .filter(|e| e.resource_type == "job" && e.resource_id.as_deref() == Some(&id.to_string()))
        .filter(|e| e.action == "write" && e.outcome == "success")
        .count();
    assert_eq!(audited, 1);
}

on_both_backends!(the_operator_retries_a_dead_letter);
