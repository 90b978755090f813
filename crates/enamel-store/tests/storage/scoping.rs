use enamel_domain::{Actor, Role, User};
use enamel_store::{Store, StoreError};

use crate::fixtures;

/// Two practices with two accounts each; returns one account of each practice.
async fn two_practices(store: &Store) -> (User, User) {
    let mut firsts = Vec::new();
    for (i, name) in ["Own Dental", "Foreign Dental"].into_iter().enumerate() {
        let base = 123_456_020 + u32::try_from(i).unwrap();
        let practice = store
            .practices()
            .insert(&fixtures::practice(name, base))
            .await
            .unwrap();
        let slug = name.split(' ').next().unwrap().to_lowercase();
        for role in [Role::PracticeAdmin, Role::FrontDesk] {
            let email = format!("{}@{slug}.example.test", role.as_str());
            let user = store
                .users()
                .insert(&fixtures::user(practice.id, &email, role))
                .await;
            firsts.push(user.unwrap());
        }
    }
    (firsts[0].clone(), firsts[2].clone())
}

pub async fn a_practice_lists_only_its_own_accounts(store: Store) {
    let (own, _) = two_practices(&store).await;
    let actor = Actor::human(&own);
    let users = store.scoped(&actor).users().await.unwrap();
    assert_eq!(users.len(), 2);
    assert!(users.iter().all(|u| u.practice == own.practice));
}

pub async fn a_role_without_the_permission_is_denied_and_the_denial_audited(store: Store) {
    let (own, _) = two_practices(&store).await;
    let users = store.scoped(&Actor::human(&own)).users().await.unwrap();
    let front_desk = users.iter().find(|u| u.role == Role::FrontDesk).unwrap();
    let actor = Actor::human(front_desk);
    let err = store.scoped(&actor).users().await;
    assert!(matches!(err, Err(StoreError::Denied)), "{err:?}");
    let heads = store.audit().heads().await.unwrap();
    let scope = enamel_audit::entry::Scope::Practice(own.practice.unwrap());
    let size = heads
        .iter()
        .find(|(s, _)| *s == scope)
        .map(|(_, n)| *n)
        .unwrap();
    let last = store.audit().entries(&scope, size - 1, 1).await.unwrap();
    let entry: serde_json::Value = serde_json::from_slice(&last[0].entry).unwrap();
    assert_eq!(entry["outcome"], "denied");
    assert_eq!(entry["detail"]["policy_action"]["code"], "account.list");
}

pub async fn another_practices_account_is_not_found(store: Store) {
    let (own, foreign) = two_practices(&store).await;
    let actor = Actor::human(&own);
    let err = store.scoped(&actor).account(foreign.id).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
    assert_eq!(store.scoped(&actor).account(own.id).await.unwrap(), own);
}

pub async fn the_system_actor_reaches_no_practice_data(store: Store) {
    let (own, _) = two_practices(&store).await;
    let system = Actor::system(enamel_domain::SystemTask::Housekeeping);
    assert!(matches!(
        store.scoped(&system).users().await,
        Err(StoreError::Denied)
    ));
    assert!(matches!(
        store.scoped(&system).account(own.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.scoped(&system).own_practice().await,
        Err(StoreError::NotFound)
    ));
}
