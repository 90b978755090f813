use enamel_store::Store;

pub async fn a_fresh_database_is_current_after_migrating(store: Store) {
    let status = store.migration_status().await.unwrap();
    assert!(status.expected >= 1);
    assert!(status.is_current(), "{status:?}");
}

pub async fn migrating_twice_changes_nothing(store: Store) {
    store
        .practices()
        .insert(&crate::fixtures::practice("Kept Dental", 123_456_001))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert!(store.migration_status().await.unwrap().is_current());
    assert_eq!(store.practices().count().await.unwrap(), 1);
}
