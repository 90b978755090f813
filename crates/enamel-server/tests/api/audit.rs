use std::collections::BTreeMap;
use std::time::Duration;

use enamel_audit::checkpoint::Checkpoint;
use enamel_audit::entry::{Action, Event, Outcome, ResourceType, Scope};
use enamel_domain::ActorType;
use enamel_store::Backend;

use crate::helpers::spawn_app_with;

fn event(scope: Scope) -> Event {
    Event {
        timestamp: time::OffsetDateTime::now_utc(),
        action: Action::SignIn,
        actor_id: Some("operator".into()),
        actor_type: ActorType::Human,
        scope,
        patient_id: None,
        resource_type: ResourceType::Session,
        resource_id: None,
        outcome: Outcome::Success,
        ip_address: None,
        user_agent: None,
        correlation_id: None,
        detail: BTreeMap::new(),
    }
}

/// The checkpoints of `scope` exported under `dir`.
fn exported(dir: &std::path::Path, scope: &Scope) -> Vec<Checkpoint> {
    std::fs::read_to_string(dir.join(format!("audit-checkpoints/{scope}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn the_server_signs_checkpoints_on_schedule_and_at_shutdown() {
    let mut app = spawn_app_with(Backend::Sqlite, |s| {
        s.audit.checkpoint_seconds = 1;
        s.audit.checkpoint_entries = 1_000;
    })
    .await
    .unwrap();
    // A log of its own: the runtime writes to the platform's (retention runs).
    let scope = Scope::Practice(enamel_domain::PracticeId::generate());
    for _ in 0..3 {
        app.db.store.audit().record(event(scope)).await.unwrap();
    }
    // A timed checkpoint comes within a couple of seconds (one may already have
    // caught the log while the three were being written).
    let mut waited = Duration::ZERO;
    while exported(app.data_dir.path(), &scope)
        .last()
        .is_none_or(|c| c.tree_size < 3)
        && waited < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
    }
    let scheduled = exported(app.data_dir.path(), &scope);
    assert_eq!(
        scheduled.last().map(|c| c.tree_size),
        Some(3),
        "a timed checkpoint"
    );

    app.db.store.audit().record(event(scope)).await.unwrap();
    app.stop().await;

    let all = exported(app.data_dir.path(), &scope);
    assert_eq!(
        all.last().unwrap().tree_size,
        4,
        "a checkpoint at shutdown covers the last entry"
    );
    let public_key = app.db.store.audit().signer().await.unwrap().public_key();
    assert!(all.iter().all(|c| c.verify(&public_key)));
}

/// The security officer's queries over HTTP, on a demo practice that has referred a
/// patient: by patient (paged), by action, failures and denials, the accounting of
/// disclosures as JSON and CSV; other roles are refused; the queries are logged.
#[allow(clippy::too_many_lines, reason = "one story, read top to bottom")]
async fn the_security_officer_queries_the_log_over_http(backend: Backend) {
    use enamel_domain::Role;
    use serde_json::json;

    let Some(demo) = crate::identity::demo_on(backend, |_| {}).await else {
        return;
    };
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let (_, patient) = demo
        .post(
            "/api/v1/patients",
            &front_desk,
            json!({ "first_name": "Ines", "last_name": "Marchetti-Cole", "birth_date": "1972-05-14" }),
        )
        .await;
    let patient = patient["id"].as_str().unwrap().to_owned();
    let endo = demo.network.practices[3].practice.id.to_string();
    let (status, _) = demo
        .post(
            "/api/v1/referrals",
            &front_desk,
            json!({ "patient_id": patient, "receiving_practice_id": endo,
                    "urgency": "routine", "reason": "Evaluate", "send": true }),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = demo
        .read(&format!("/api/v1/patients/{patient}"), &front_desk)
        .await;
    assert_eq!(status, 200);
    // A denial to find later: the front desk may not see the vendor registry.
    let (status, _) = demo.read("/api/v1/vendors", &front_desk).await;
    assert_eq!(status, 403);
    let (status, _) = demo.read("/api/v1/audit/entries", &front_desk).await;
    assert_eq!(status, 403, "only the security officer queries the log");

    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    let by_patient = format!("/api/v1/audit/entries?patient={patient}&limit=2");
    let (status, first) = demo.read(&by_patient, &officer).await;
    assert_eq!(status, 200, "{first}");
    let entries = first["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries[0]["index"].as_u64() > entries[1]["index"].as_u64(),
        "newest first"
    );
    assert_eq!(entries[0]["action"], "read", "the read came last");
    let next = first["next_before"].as_u64().unwrap();
    let (_, second) = demo
        .read(&format!("{by_patient}&before={next}"), &officer)
        .await;
    assert!(
        second["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["index"].as_u64() < Some(next) && e["patient_id"] == patient.as_str())
    );
    let text = format!("{first}{second}");
    assert!(!text.contains("Marchetti"), "ids and keyed hashes only");

    let (_, disclosed) = demo
        .read(
            &format!("/api/v1/audit/entries?action=disclose&patient={patient}"),
            &officer,
        )
        .await;
    assert_eq!(disclosed["entries"].as_array().unwrap().len(), 1);

    let (_, failures) = demo.read("/api/v1/audit/failures", &officer).await;
    assert!(
        failures["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == "denied"
                && e["detail"]["policy_action"]["code"] == "vendor.view"),
        "{failures}"
    );

    let (_, accounting) = demo
        .read(
            &format!("/api/v1/audit/disclosures?patient={patient}"),
            &officer,
        )
        .await;
    let rows = accounting["disclosures"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{accounting}");
    assert_eq!(rows[0]["recipient_type"], "practice");
    assert_eq!(rows[0]["recipient"], endo.as_str());
    let csv = demo
        .get(
            &format!("/api/v1/audit/disclosures.csv?patient={patient}"),
            &officer,
        )
        .await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(&endo));

    let (status, problem) = demo
        .read("/api/v1/audit/entries?outcome=maybe", &officer)
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("invalid_input"))
    );
    // Each query is itself in the log.
    let (_, queries) = demo
        .read("/api/v1/audit/entries?action=audit_query", &officer)
        .await;
    let logged = queries["entries"].as_array().unwrap();
    assert!(logged.len() >= 5, "{queries}");
    assert!(
        logged
            .iter()
            .all(|e| e["ip_address"] == "127.0.0.1" && e["correlation_id"].is_string()),
        "each query records the request's address and correlation id: {queries}"
    );
    assert!(
        logged
            .iter()
            .any(|e| e["detail"]["outcomes"]["code"] == "failure,denied"),
        "the filters used are recorded: {queries}"
    );
}

/// Whatever a caller types (a filter, a name, a note, a password) stays out of the
/// permanent log and its export: an audit detail is an id, a count, a code or a
/// keyed hash.
async fn no_caller_text_reaches_the_audit_log(backend: Backend) {
    use enamel_domain::Role;
    use serde_json::json;

    let Some(demo) = crate::identity::demo_on(backend, |_| {}).await else {
        return;
    };
    let typed = [
        "Ines Marchetti",
        "214-555-0142",
        "ines.marchetti@example.test",
        "Marchetti1972!",
    ];
    // A sign-in with PHI-shaped words.
    demo.form(
        "/sign-in",
        None,
        &[("email", typed[2]), ("password", typed[3])],
    )
    .await;
    // An invitation, a break-glass note, and the officer's filters.
    let (admin, _) = demo
        .admin_session(&demo.email(0, Role::PracticeAdmin))
        .await;
    let (status, _) = demo
        .post(
            "/api/v1/invitations",
            &admin,
            json!({ "display_name": typed[0], "email": "im.newhire@example.test", "role": "front_desk" }),
        )
        .await;
    assert_eq!(status, 201);
    let dentist = demo.session(&demo.email(0, Role::Dentist)).await;
    let front_desk = demo.session(&demo.email(0, Role::FrontDesk)).await;
    let patient = demo.add_patient(&front_desk, "Filterwell").await;
    let (status, _) = demo
        .post(
            "/api/v1/break-glass",
            &dentist,
            json!({ "patient_id": patient, "reason": "other", "note": format!("{} called from {}", typed[0], typed[1]) }),
        )
        .await;
    assert_eq!(status, 409, "an open record");
    let (officer, _) = demo
        .admin_session(&demo.email(0, Role::SecurityOfficer))
        .await;
    for filter in [
        format!("actor={}", typed[0].replace(' ', "%20")),
        format!("actor={}", typed[1]),
        format!("actor={}", typed[2]),
    ] {
        let (status, _) = demo
            .read(&format!("/api/v1/audit/entries?{filter}"), &officer)
            .await;
        assert_eq!(status, 200, "{filter}");
    }
    let practice = demo.network.practices[0].practice.id;
    let expected = demo
        .db
        .store
        .audit_hash(practice, "actor_filter", typed[0])
        .await
        .unwrap();
    let mut exported = Vec::new();
    for scope in [Scope::Practice(practice), Scope::Platform] {
        for entry in crate::identity::log_of(&demo, &scope).await {
            exported.extend_from_slice(&entry);
            exported.push(b'\n');
        }
    }
    let exported = String::from_utf8_lossy(&exported).to_lowercase();
    for value in typed {
        assert!(
            !exported.contains(&value.to_lowercase()),
            "{value} is in the log"
        );
    }
    assert!(!exported.contains("marchetti"));
    let hashed = serde_json::to_string(&expected).unwrap();
    assert!(
        exported.contains(&hashed.to_lowercase()),
        "the filter kept as its keyed hash"
    );
}

on_both_backends!(
    no_caller_text_reaches_the_audit_log,
    the_security_officer_queries_the_log_over_http,
);
