use std::collections::BTreeMap;
use std::time::Duration;

use enamel_audit::checkpoint::Checkpoint;
use enamel_audit::entry::{Action, Event, Outcome, ResourceType, Scope};
use enamel_domain::ActorType;
use enamel_store::Backend;

use crate::helpers::spawn_app_with;

fn event() -> Event {
    Event {
        timestamp: time::OffsetDateTime::now_utc(),
        action: Action::SignIn,
        actor_id: Some("operator".into()),
        actor_type: ActorType::Human,
        scope: Scope::Platform,
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

fn exported(dir: &std::path::Path) -> Vec<Checkpoint> {
    std::fs::read_to_string(dir.join("audit-checkpoints/platform.jsonl"))
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
    for _ in 0..3 {
        app.db.store.audit().record(event()).await.unwrap();
    }
    let mut waited = Duration::ZERO;
    while exported(app.data_dir.path()).is_empty() && waited < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
    }
    let scheduled = exported(app.data_dir.path());
    assert_eq!(
        scheduled.iter().map(|c| c.tree_size).collect::<Vec<_>>(),
        [3],
        "a timed checkpoint"
    );

    app.db.store.audit().record(event()).await.unwrap();
    app.stop().await;

    let all = exported(app.data_dir.path());
    assert_eq!(
        all.last().unwrap().tree_size,
        4,
        "a checkpoint at shutdown covers the last entry"
    );
    let public_key = app.db.store.audit().signer().await.unwrap().public_key();
    assert!(all.iter().all(|c| c.verify(&public_key)));
}
