//! Seeding the demo network into both backends.

use enamel_demo::{DEFAULT_SEED, DEMO_REFERRALS, DemoNetwork, seed, seed_activity};
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
        assert_eq!(first.practices_created, 9, "{backend:?}");
        assert_eq!(first.users_created, 9 * 6 + 1, "{backend:?}");
        let again = seed(&db.store, &network).await.unwrap();
        assert_eq!(
            again.practices_created + again.users_created,
            0,
            "{backend:?}"
        );
        assert_eq!(db.store.practices().count().await.unwrap(), 9);
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

/// The films the demo hands over, as the server's upload pipeline would receive them
/// (the binary's tests store them through it).
#[derive(Default)]
struct Films(std::sync::Mutex<Vec<(enamel_domain::ReferralId, String, Vec<u8>)>>);

impl enamel_demo::FilmDrop for Films {
    async fn attach(
        &self,
        _office: &enamel_store::Scoped<'_>,
        referral: enamel_domain::ReferralId,
        file_name: &str,
        bytes: Vec<u8>,
        _at: time::OffsetDateTime,
    ) -> anyhow::Result<()> {
        self.0
            .lock()
            .unwrap()
            .push((referral, file_name.to_owned(), bytes));
        Ok(())
    }
}

impl Films {
    /// Two referrals in three have a PNG, one in four a DICOM file, recognised by
    /// content as the upload pipeline judges them; seeding twice adds none.
    fn check(&self) {
        use enamel_domain::MediaType;
        let films = self.0.lock().unwrap();
        let kinds: Vec<Option<MediaType>> =
            films.iter().map(|(_, _, b)| MediaType::sniff(b)).collect();
        let png = kinds.iter().filter(|k| **k == Some(MediaType::Png)).count();
        let dicom = kinds
            .iter()
            .filter(|k| **k == Some(MediaType::Dicom))
            .count();
        assert_eq!((png, dicom), (24, 9), "{kinds:?}");
        assert_eq!(films.len(), png + dicom);
        assert!(
            films
                .iter()
                .all(|(_, name, _)| name.starts_with("periapical-"))
        );
    }
}

#[tokio::test]
async fn the_demo_activity_covers_every_state_once_on_both_backends() {
    use enamel_domain::{Actor, ReferralStatus, Role};
    use enamel_store::{ReferralBox, ReferralQuery};

    let network = DemoNetwork::generate(DEFAULT_SEED);
    for backend in BACKENDS {
        let Some(db) = fresh_database(backend).await else {
            continue;
        };
        seed(&db.store, &network).await.unwrap();
        let films = Films::default();
        seed_activity(&db.store, &network, &films).await.unwrap();
        seed_activity(&db.store, &network, &films).await.unwrap();
        films.check();
        let mut statuses = Vec::new();
        let mut flagged = 0;
        let mut unread = 0;
        let mut total = 0;
        for practice in network.practices.iter().take(3) {
            let desk = practice
                .users
                .iter()
                .find(|u| u.role() == Role::FrontDesk)
                .unwrap();
            let desk = db
                .store
                .users()
                .find_by_email(desk.email())
                .await
                .unwrap()
                .unwrap();
            let actor = Actor::human(&desk);
            let page = db
                .store
                .scoped(&actor)
                .find_referrals(&ReferralQuery {
                    limit: 200,
                    ..ReferralQuery::new(ReferralBox::Outbox)
                })
                .await
                .unwrap();
            total += page.referrals.len();
            for referral in &page.referrals {
                statuses.push(referral.status);
                flagged += usize::from(referral.not_responding);
                unread += usize::from(referral.unread);
            }
        }
        assert_eq!(total, DEMO_REFERRALS, "seeded once: {backend:?}");
        assert!(total >= 30);
        for status in ReferralStatus::ALL {
            assert!(statuses.contains(&status), "{status:?} on {backend:?}");
        }
        assert!(flagged >= 3, "not responding: {flagged}");
        assert!(unread >= 1, "a message waits unread at a referring office");
    }
}
