use std::ops::ControlFlow;

use enamel_domain::{Actor, PhoneNumber, PracticeId, VendorName};
use enamel_store::{Store, StoreError};
use enamel_testkit::TestDb;
use secrecy::{ExposeSecret as _, SecretString};

use crate::fixtures;

const TOKEN: &str = "tok_live_4f1c2e9a8b7d6c5e";

fn twilio() -> VendorName {
    VendorName::parse("twilio").unwrap()
}

async fn practice(store: &Store, npi: u32) -> PracticeId {
    store
        .practices()
        .insert(&fixtures::practice("Keyed Dental", npi))
        .await
        .unwrap()
        .id
}

async fn put(store: &Store, practice: PracticeId, label: &str, secret: &str) {
    let actor = Actor::system_for(practice, enamel_domain::SystemTask::Seed);
    let credentials = store.scoped(&actor).vendor_credentials().unwrap();
    credentials
        .put(&twilio(), label, &SecretString::from(secret))
        .await
        .unwrap();
}

async fn secret(store: &Store, practice: PracticeId, label: &str) -> Result<String, StoreError> {
    let actor = Actor::system_for(practice, enamel_domain::SystemTask::Seed);
    let credentials = store.scoped(&actor).vendor_credentials()?;
    Ok(credentials
        .secret(&twilio(), label)
        .await?
        .expose_secret()
        .to_owned())
}

/// The key id in a stored ciphertext's header (bytes 1..17).
async fn header_key(db: &TestDb, label: &str) -> Vec<u8> {
    let rows = db
        .raw_bytes(&format!(
            "SELECT secret FROM vendor_credentials WHERE label = '{label}'"
        ))
        .await;
    rows[0][1..17].to_vec()
}

pub async fn a_vendor_credential_round_trips_and_is_stored_only_as_ciphertext(db: &TestDb) {
    let p = practice(&db.store, 130_000_001).await;
    put(&db.store, p, "auth-token", TOKEN).await;
    assert_eq!(secret(&db.store, p, "auth-token").await.unwrap(), TOKEN);
    let stored = db.raw_bytes("SELECT secret FROM vendor_credentials").await;
    assert_eq!(stored.len(), 1);
    assert!(
        !stored[0].windows(8).any(|w| w == &TOKEN.as_bytes()[..8]),
        "no clear text at rest"
    );
    assert_eq!(stored[0][0], 1, "format version 1");
}

pub async fn a_ciphertext_swapped_between_rows_fails_instead_of_decrypting(db: &TestDb) {
    let p = practice(&db.store, 130_000_002).await;
    put(&db.store, p, "a", "secret-a").await;
    put(&db.store, p, "b", "secret-b").await;
    let swapped = db
        .raw_execute(
            "UPDATE vendor_credentials SET secret = \
             (SELECT secret FROM vendor_credentials WHERE label = 'b') WHERE label = 'a'",
        )
        .await;
    assert_eq!(swapped, 1);
    let err = secret(&db.store, p, "a").await;
    assert!(matches!(err, Err(StoreError::Crypto(_))), "{err:?}");
    assert_eq!(secret(&db.store, p, "b").await.unwrap(), "secret-b");
}

pub async fn another_practices_ciphertext_copied_in_fails(db: &TestDb) {
    let (mine, theirs) = (
        practice(&db.store, 130_000_003).await,
        practice(&db.store, 130_000_004).await,
    );
    put(&db.store, mine, "token", "mine").await;
    put(&db.store, theirs, "token", "theirs").await;
    db.raw_execute(&format!(
        "UPDATE vendor_credentials SET secret = (SELECT secret FROM vendor_credentials v \
         WHERE v.practice_id = {theirs_id}) WHERE practice_id = {mine_id}",
        theirs_id = sql_id(db, theirs),
        mine_id = sql_id(db, mine)
    ))
    .await;
    let err = secret(&db.store, mine, "token").await;
    assert!(matches!(err, Err(StoreError::Crypto(_))), "{err:?}");
}

/// A practice id as a literal for raw SQL on the database's backend.
fn sql_id(db: &TestDb, id: PracticeId) -> String {
    match db.store.backend() {
        enamel_store::Backend::Sqlite => format!("X'{}'", id.as_uuid().simple()),
        enamel_store::Backend::Postgres => format!("'{id}'::uuid"),
    }
}

pub async fn keys_survive_a_restart(db: &TestDb) {
    let p = practice(&db.store, 130_000_005).await;
    put(&db.store, p, "token", TOKEN).await;
    let restarted = db.reopen().await;
    assert_eq!(secret(&restarted, p, "token").await.unwrap(), TOKEN);
}

pub async fn rotation_seals_new_values_under_the_new_key_and_old_ones_still_open(db: &TestDb) {
    let p = practice(&db.store, 130_000_006).await;
    put(&db.store, p, "old", "old-secret").await;
    let new_key = db.store.key_admin().rotate(p).await.unwrap();
    put(&db.store, p, "new", "new-secret").await;
    assert_eq!(header_key(db, "new").await, new_key.as_uuid().as_bytes());
    assert_ne!(header_key(db, "old").await, header_key(db, "new").await);
    assert_eq!(secret(&db.store, p, "old").await.unwrap(), "old-secret");
    assert_eq!(
        secret(&db.reopen().await, p, "old").await.unwrap(),
        "old-secret"
    );
}

pub async fn reencryption_rewrites_everything_and_resumes_after_an_interruption(db: &TestDb) {
    let p = practice(&db.store, 130_000_007).await;
    for i in 0..25 {
        put(
            &db.store,
            p,
            &format!("token-{i:02}"),
            &format!("value-{i}"),
        )
        .await;
    }
    let current = db.store.key_admin().rotate(p).await.unwrap();
    let admin = db.store.key_admin();

    let first = admin
        .reencrypt(p, 10, |_| ControlFlow::Break(()))
        .await
        .unwrap();
    assert_eq!(
        (first.examined, first.rewritten, first.complete),
        (10, 10, false)
    );

    let resumed = db.reopen().await;
    let second = resumed
        .key_admin()
        .reencrypt(p, 10, |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    assert!(second.complete);
    assert_eq!(
        (second.examined, second.rewritten),
        (25, 15),
        "the first ten are skipped"
    );

    let headers = db.raw_bytes("SELECT secret FROM vendor_credentials").await;
    assert!(
        headers
            .iter()
            .all(|c| c[1..17] == *current.as_uuid().as_bytes())
    );
    for i in 0..25 {
        assert_eq!(
            secret(&resumed, p, &format!("token-{i:02}")).await.unwrap(),
            format!("value-{i}")
        );
    }
}

pub async fn kek_rotation_rewraps_data_keys_without_touching_rows(db: &TestDb) {
    let p = practice(&db.store, 130_000_008).await;
    put(&db.store, p, "token", TOKEN).await;
    let rows_before = db.raw_bytes("SELECT secret FROM vendor_credentials").await;
    let wrapped_before = db.raw_bytes("SELECT wrapped FROM practice_keys").await;
    let file_before = std::fs::read_to_string(&db.key_file).unwrap();

    let rewrapped = db.store.key_admin().rotate_kek(p).await.unwrap();

    assert_eq!(rewrapped, wrapped_before.len());
    assert_eq!(
        db.raw_bytes("SELECT secret FROM vendor_credentials").await,
        rows_before
    );
    assert_ne!(
        db.raw_bytes("SELECT wrapped FROM practice_keys").await,
        wrapped_before
    );
    let file_after = std::fs::read_to_string(&db.key_file).unwrap();
    assert_ne!(file_before, file_after);
    assert_eq!(
        file_after.lines().filter(|l| l.starts_with("kek ")).count(),
        1,
        "the old KEK is retired"
    );
    assert_eq!(secret(&db.reopen().await, p, "token").await.unwrap(), TOKEN);
}

pub async fn shredding_makes_one_practice_unreadable_and_leaves_the_others(db: &TestDb) {
    let (gone, kept) = (
        practice(&db.store, 130_000_009).await,
        practice(&db.store, 130_000_010).await,
    );
    put(&db.store, gone, "token", "gone").await;
    put(&db.store, kept, "token", "kept").await;

    db.store.key_admin().shred(gone).await.unwrap();

    for store in [db.store.clone(), db.reopen().await] {
        assert!(matches!(
            secret(&store, gone, "token").await,
            Err(StoreError::Shredded)
        ));
        let actor = Actor::system_for(gone, enamel_domain::SystemTask::Seed);
        let write = store
            .scoped(&actor)
            .vendor_credentials()
            .unwrap()
            .put(&twilio(), "x", &SecretString::from("y"))
            .await;
        assert!(
            matches!(write, Err(StoreError::Shredded)),
            "no new key for a shredded practice"
        );
        assert_eq!(secret(&store, kept, "token").await.unwrap(), "kept");
    }
    let file = std::fs::read_to_string(&db.key_file).unwrap();
    assert!(!file.contains(&gone.to_string()) && file.contains(&kept.to_string()));
    let remaining = db
        .raw_bytes(&format!(
            "SELECT wrapped FROM practice_keys WHERE practice_id = {} AND wrapped IS NOT NULL",
            sql_id(db, gone)
        ))
        .await;
    assert!(remaining.is_empty());
}

pub async fn blind_index_keys_are_per_practice_and_stable_across_restarts(db: &TestDb) {
    let (one, two) = (
        practice(&db.store, 130_000_011).await,
        practice(&db.store, 130_000_012).await,
    );
    let phone = PhoneNumber::parse("(214) 555-0142").unwrap();
    let index = |store: Store, practice: PracticeId| {
        let phone = phone.clone();
        async move {
            let actor = Actor::system_for(practice, enamel_domain::SystemTask::Seed);
            store
                .scoped(&actor)
                .blind_index_key()
                .await
                .unwrap()
                .phone(&phone)
        }
    };
    let first = index(db.store.clone(), one).await;
    assert_eq!(first, index(db.reopen().await, one).await);
    assert_ne!(first, index(db.store.clone(), two).await);
}

/// The local key file, named as if it were an outside vendor's KMS: what the BAA gate
/// sees of AWS KMS, without a KMS.
#[derive(Debug)]
struct VendorKms(enamel_crypto::LocalKeyFile);

impl enamel_crypto::KeyProvider for VendorKms {
    fn kind(&self) -> &'static str {
        "test KMS"
    }
    fn vendor(&self) -> Option<&'static str> {
        Some("aws-kms")
    }
    fn generate(
        &self,
        binding: enamel_crypto::keys::KeyBinding,
    ) -> enamel_crypto::ProviderFuture<
        '_,
        (enamel_crypto::keys::KeyMaterial, enamel_crypto::WrappedKey),
    > {
        self.0.generate(binding)
    }
    fn wrap<'a>(
        &'a self,
        binding: enamel_crypto::keys::KeyBinding,
        material: &'a enamel_crypto::keys::KeyMaterial,
    ) -> enamel_crypto::ProviderFuture<'a, enamel_crypto::WrappedKey> {
        self.0.wrap(binding, material)
    }
    fn unwrap<'a>(
        &'a self,
        binding: enamel_crypto::keys::KeyBinding,
        wrapped: &'a enamel_crypto::WrappedKey,
    ) -> enamel_crypto::ProviderFuture<'a, enamel_crypto::keys::KeyMaterial> {
        self.0.unwrap(binding, wrapped)
    }
    fn rotate(&self, practice: PracticeId) -> enamel_crypto::ProviderFuture<'_, String> {
        self.0.rotate(practice)
    }
    fn retire(
        &self,
        practice: PracticeId,
        kek_ids: Vec<String>,
    ) -> enamel_crypto::ProviderFuture<'_, ()> {
        self.0.retire(practice, kek_ids)
    }
    fn audit_signing_seed(
        &self,
    ) -> enamel_crypto::ProviderFuture<'_, enamel_crypto::keys::KeyMaterial> {
        self.0.audit_signing_seed()
    }
    fn destroy(
        &self,
        practice: PracticeId,
        known: Vec<String>,
    ) -> enamel_crypto::ProviderFuture<'_, ()> {
        self.0.destroy(practice, known)
    }
}

pub async fn a_kms_without_an_executed_baa_makes_no_key_and_the_refusal_is_audited(db: &TestDb) {
    let keys = enamel_crypto::LocalKeyFile::open_or_create(&db.key_file).unwrap();
    let store = Store::connect(
        &db.url,
        &enamel_store::ConnectOptions::default(),
        std::sync::Arc::new(VendorKms(keys)),
    )
    .await
    .unwrap();
    let p = practice(&store, 130_000_101).await;
    let seed = Actor::system_for(p, enamel_domain::SystemTask::Seed);
    let credentials = store.scoped(&seed).vendor_credentials().unwrap();
    let refused = credentials
        .put(&twilio(), "auth-token", &SecretString::from(TOKEN))
        .await;
    assert!(
        matches!(&refused, Err(StoreError::NoBaa(v)) if v.as_str() == "aws-kms"),
        "a key was made at a vendor without a BAA: {refused:?}"
    );
    assert!(
        db.raw_bytes("SELECT wrapped FROM practice_keys")
            .await
            .is_empty()
    );
    let entries = store
        .audit()
        .entries(&enamel_audit::entry::Scope::Practice(p), 0, 10)
        .await
        .unwrap();
    let refusals: Vec<enamel_audit::entry::Entry> = entries
        .iter()
        .map(|e| enamel_audit::entry::Entry::parse_canonical(&e.entry).unwrap())
        .filter(|e| e.outcome.as_str() == "denied" && e.action.as_str() == "disclose")
        .collect();
    assert_eq!(refusals.len(), 1, "one audited refusal");
    let detail = format!("{:?}", refusals[0].detail);
    assert!(
        detail.contains("aws-kms") && detail.contains("no_executed_baa"),
        "{detail}"
    );

    // Once the agreement is executed, the key is made and the value sealed.
    let executed = store.now().date();
    store
        .scoped(&seed)
        .put_vendor(
            &enamel_store::VendorEntry {
                name: VendorName::parse("aws-kms").unwrap(),
                display_name: "AWS KMS".into(),
                services: "key management".into(),
                baa_status: enamel_store::BaaStatus::Executed,
                executed_on: Some(executed),
                expires_on: None,
                document_ref: Some("BAA-TEST".into()),
            },
            store.now(),
        )
        .await
        .unwrap();
    credentials
        .put(&twilio(), "auth-token", &SecretString::from(TOKEN))
        .await
        .unwrap();
    assert_eq!(
        db.raw_bytes("SELECT wrapped FROM practice_keys")
            .await
            .len(),
        1
    );
}
