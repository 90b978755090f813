use enamel_domain::{Email, PracticeId, Role};
use enamel_store::{Store, StoreError};

use crate::fixtures;

pub async fn an_inserted_account_is_found_by_email_in_any_case(store: Store) {
    let practice = store
        .practices()
        .insert(&fixtures::practice("P", 123_456_010))
        .await
        .unwrap();
    let new = fixtures::user(practice.id, "hygienist@p.example.test", Role::Hygienist);
    let inserted = store.users().insert(&new).await.unwrap();
    let found = store
        .users()
        .find_by_email(&Email::parse("Hygienist@P.Example.Test").unwrap())
        .await
        .unwrap();
    assert_eq!(found, Some(inserted));
}

pub async fn a_second_account_with_the_same_email_is_a_conflict(store: Store) {
    let practice = store
        .practices()
        .insert(&fixtures::practice("P", 123_456_011))
        .await
        .unwrap();
    let first = fixtures::user(practice.id, "same@p.example.test", Role::Dentist);
    let second = fixtures::user(practice.id, "same@p.example.test", Role::Billing);
    store.users().insert(&first).await.unwrap();
    let err = store.users().insert(&second).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
}

pub async fn an_account_for_an_unknown_practice_is_not_found(store: Store) {
    let orphan = fixtures::user(PracticeId::generate(), "orphan@example.test", Role::Dentist);
    let err = store.users().insert(&orphan).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
}
