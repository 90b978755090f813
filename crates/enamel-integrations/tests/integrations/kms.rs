//! AWS KMS against moto's server. Runs when `ENAMEL_TEST_KMS_ENDPOINT` is set
//! (`.ci/run` starts moto and sets it).

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use enamel_crypto::keys::KeyBinding;
use enamel_crypto::{KeyId, KeyProvider, KeyPurpose};
use enamel_domain::PracticeId;
use enamel_integrations::AwsKms;

const ENDPOINT_VAR: &str = "ENAMEL_TEST_KMS_ENDPOINT";

/// A provider on the test endpoint, with aliases of its own so tests sharing one
/// moto server do not meet, and a client to inspect the keys with.
fn kms_and_client() -> Option<(AwsKms, aws_sdk_kms::Client, String)> {
    let endpoint = enamel_testkit::setting(ENDPOINT_VAR, "AWS KMS (moto)")?;
    let config = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "enamel-tests"))
        .build();
    let prefix = format!(
        "alias/enamel-test-{}/practice",
        uuid::Uuid::new_v4().simple()
    );
    let client = aws_sdk_kms::Client::from_conf(config);
    Some((AwsKms::with_client(client.clone(), &prefix), client, prefix))
}

fn kms() -> Option<AwsKms> {
    kms_and_client().map(|(kms, _, _)| kms)
}

/// The key's state in KMS. moto's Decrypt does not check key state (AWS's does,
/// answering `DisabledException` or `KMSInvalidStateException`, which the adapter maps
/// to `Shredded`), so these tests check that the adapter put the key in that state.
async fn key_state(client: &aws_sdk_kms::Client, key: &str) -> String {
    let id = key.rsplit_once(":key/").map_or(key, |(_, id)| id);
    let described = client.describe_key().key_id(id).send().await.unwrap();
    described
        .key_metadata()
        .unwrap()
        .key_state()
        .unwrap()
        .as_str()
        .to_owned()
}

fn binding(practice: PracticeId) -> KeyBinding {
    KeyBinding {
        practice,
        key: KeyId::generate(),
        purpose: KeyPurpose::Data,
    }
}

#[tokio::test]
async fn a_generated_data_key_unwraps_only_under_its_own_binding() {
    let Some(kms) = kms() else { return };
    let mine = binding(PracticeId::generate());
    let (material, wrapped) = kms.generate(mine).await.unwrap();
    assert!(
        !wrapped
            .bytes
            .windows(16)
            .any(|w| w == &material.expose()[..16]),
        "no clear key in the blob"
    );
    assert_eq!(
        kms.unwrap(mine, &wrapped).await.unwrap().expose(),
        material.expose()
    );
    for other in [
        KeyBinding {
            key: KeyId::generate(),
            ..mine
        },
        KeyBinding {
            purpose: KeyPurpose::Index,
            ..mine
        },
    ] {
        assert!(kms.unwrap(other, &wrapped).await.is_err(), "{other:?}");
    }
}

#[tokio::test]
async fn rotation_wraps_under_a_new_key_and_retiring_the_old_one_ends_it() {
    let Some((kms, client, _)) = kms_and_client() else {
        return;
    };
    let practice = PracticeId::generate();
    let old = binding(practice);
    let (material, old_wrapped) = kms.generate(old).await.unwrap();
    let new_kek = kms.rotate(practice).await.unwrap();
    assert_ne!(new_kek, old_wrapped.kek_id);
    let rewrapped = kms.wrap(old, &material).await.unwrap();
    assert_eq!(rewrapped.kek_id, new_kek);
    assert_eq!(
        kms.unwrap(old, &old_wrapped).await.unwrap().expose(),
        material.expose()
    );
    assert_eq!(
        kms.unwrap(old, &rewrapped).await.unwrap().expose(),
        material.expose()
    );

    kms.retire(practice, vec![old_wrapped.kek_id.clone()])
        .await
        .unwrap();

    assert_eq!(
        key_state(&client, &old_wrapped.kek_id).await,
        "PendingDeletion"
    );
    assert_eq!(key_state(&client, &new_kek).await, "Enabled");
    assert!(kms.unwrap(old, &rewrapped).await.is_ok());
}

#[tokio::test]
async fn destroying_a_practice_disables_its_keys_and_spares_the_others() {
    let Some((kms, client, prefix)) = kms_and_client() else {
        return;
    };
    let (gone, kept) = (
        binding(PracticeId::generate()),
        binding(PracticeId::generate()),
    );
    let (_, gone_wrapped) = kms.generate(gone).await.unwrap();
    let (_, kept_wrapped) = kms.generate(kept).await.unwrap();

    let alias = format!("{prefix}/{}", gone.practice);
    assert!(client.describe_key().key_id(&alias).send().await.is_ok());

    kms.destroy(gone.practice, vec![gone_wrapped.kek_id.clone()])
        .await
        .unwrap();

    assert_eq!(
        key_state(&client, &gone_wrapped.kek_id).await,
        "PendingDeletion"
    );
    assert_eq!(key_state(&client, &kept_wrapped.kek_id).await, "Enabled");
    assert!(kms.unwrap(kept, &kept_wrapped).await.is_ok());
    // The alias is gone too: no new data key can be made under the practice's CMK.
    assert!(client.describe_key().key_id(&alias).send().await.is_err());
    // Destroying twice is not an error: the goal is already met.
    kms.destroy(gone.practice, vec![gone_wrapped.kek_id])
        .await
        .unwrap();
}

#[tokio::test]
async fn the_audit_signing_seed_is_kms_wrapped_on_disk_and_stable() {
    let Some(kms) = kms() else { return };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit-signing.kms");
    let kms = kms.with_signing_seed_file(file.clone());
    let seed = kms.audit_signing_seed().await.unwrap();
    let on_disk = std::fs::read(&file).unwrap();
    assert!(
        !on_disk.windows(16).any(|w| w == &seed.expose()[..16]),
        "only wrapped on disk"
    );
    assert_eq!(
        kms.audit_signing_seed().await.unwrap().expose(),
        seed.expose()
    );
}
