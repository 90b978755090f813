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

/// Enamel reads every integer as `i64`; a 32-bit column on PostgreSQL fails to
/// decode at run time (the sign-in throttle once answered 500 for this). SQLite's
/// integers are all 64-bit, so this guards PostgreSQL's schema.
pub async fn every_integer_column_is_64_bit(db: &enamel_testkit::TestDb) {
    if db.store.backend() != enamel_store::Backend::Postgres {
        return;
    }
    let narrow = db
        .raw_bytes(
            "SELECT convert_to(table_name || '.' || column_name || ' ' || data_type, 'UTF8') \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name NOT LIKE '\\_sqlx%' \
             AND data_type IN ('smallint', 'integer', 'real', 'numeric')",
        )
        .await;
    let narrow: Vec<String> = narrow
        .into_iter()
        .map(|c| String::from_utf8(c).unwrap())
        .collect();
    assert!(narrow.is_empty(), "narrow columns: {narrow:?}");
}
