use enamel_domain::PracticeId;
use enamel_store::{Store, StoreError};

use crate::fixtures;

pub async fn an_inserted_practice_reads_back_equal(store: Store) {
    let new = fixtures::practice("Bluebonnet Endodontics", 123_456_002);
    let inserted = store.practices().insert(&new).await.unwrap();
    let read = store.practices().get(new.id).await.unwrap();
    assert_eq!(read, inserted);
    assert_eq!(read.address.line2.as_deref(), Some("Suite 2"));
    assert_eq!(read.fax.unwrap().e164(), "+15125550101");
}

pub async fn a_second_practice_with_the_same_npi_is_a_conflict(store: Store) {
    store
        .practices()
        .insert(&fixtures::practice("First", 123_456_003))
        .await
        .unwrap();
    let err = store
        .practices()
        .insert(&fixtures::practice("Second", 123_456_003))
        .await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert_eq!(store.practices().count().await.unwrap(), 1);
}

pub async fn a_missing_practice_is_not_found(store: Store) {
    let err = store.practices().get(PracticeId::generate()).await;
    assert!(matches!(err, Err(StoreError::NotFound)), "{err:?}");
}

pub async fn practices_list_by_name(store: Store) {
    for (name, npi) in [("Cedar Ortho", 123_456_004), ("Aspen Perio", 123_456_005)] {
        store
            .practices()
            .insert(&fixtures::practice(name, npi))
            .await
            .unwrap();
    }
    let names: Vec<_> = store
        .practices()
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["Aspen Perio", "Cedar Ortho"]);
}
