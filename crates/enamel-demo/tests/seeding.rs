//! Seeding the demo network into both backends.

use enamel_demo::{DEFAULT_SEED, DemoNetwork, seed};
use enamel_store::Backend;
use enamel_testkit::{BACKENDS, fresh_database};

#[tokio::test]
async fn seeding_creates_the_network_once_on_both_backends() {
    let network = DemoNetwork::generate(DEFAULT_SEED);
    for backend in BACKENDS {
        let Some(db) = fresh_database(backend).await else {
            continue;
        };
        let first = seed(&db.store, &network).await.unwrap();
        assert_eq!(first.practices_created, 7, "{backend:?}");
        assert_eq!(first.users_created, 7 * 6 + 1, "{backend:?}");
        let again = seed(&db.store, &network).await.unwrap();
        assert_eq!(
            again.practices_created + again.users_created,
            0,
            "{backend:?}"
        );
        assert_eq!(db.store.practices().count().await.unwrap(), 7);
        assert_eq!(
            db.store
                .key_admin()
                .encrypted_values(network.practices[0].practice.id)
                .await
                .unwrap(),
            // One vendor credential, and each patient's name, birth date and contact,
            // seeded once however often seeding runs.
            1 + 3 * network
                .patients
                .iter()
                .filter(|p| p.practice == network.practices[0].practice.id)
                .count() as u64
        );
        if backend == Backend::Sqlite {
            let practice = &network.practices[3].practice;
            assert_eq!(
                db.store.practices().get(practice.id).await.unwrap().name,
                practice.name
            );
        }
    }
}
