//! Attachment storage on the file system and on moto's S3 server. The S3 tests run
//! when `ENAMEL_TEST_S3_ENDPOINT` is set (`.ci/run` starts moto and sets it).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use enamel_domain::VendorName;
use enamel_integrations::{ObjectError, ObjectStore, S3Credentials, S3Settings};
use secrecy::SecretString;

const ENDPOINT_VAR: &str = "ENAMEL_TEST_S3_ENDPOINT";
const MIB: usize = 1024 * 1024;

/// A file of `len` pseudo-random bytes (so parts differ), and its SHA-256.
fn random_file(dir: &Path, name: &str, len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; MIB];
    let mut left = len;
    while left > 0 {
        for byte in &mut block {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state.to_le_bytes()[0];
        }
        let n = left.min(block.len());
        file.write_all(&block[..n]).unwrap();
        left -= n;
    }
    (path.clone(), sha256_file(&path))
}

fn sha256_file(path: &Path) -> Vec<u8> {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(&std::fs::read(path).unwrap());
    ctx.finish().as_ref().to_vec()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Put, get, exists, delete and refusals: the same story on every backend.
async fn round_trip(store: &ObjectStore, len: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (source, digest) = random_file(dir.path(), "upload.bin", len);
    let key = format!("practice-1/attachments/{}", uuid::Uuid::new_v4());

    assert!(!store.exists(&key).await.unwrap());
    assert_eq!(store.put_file(&key, &source).await.unwrap(), len as u64);
    assert!(store.exists(&key).await.unwrap());

    let back = dir.path().join("download.bin");
    assert_eq!(store.get_to_file(&key, &back).await.unwrap(), len as u64);
    assert_eq!(sha256_file(&back), digest);
    assert_eq!(mode(&back), 0o600);

    store.delete(&key).await.unwrap();
    assert!(!store.exists(&key).await.unwrap());
    assert!(matches!(
        store.get_to_file(&key, &dir.path().join("gone.bin")).await,
        Err(ObjectError::NotFound)
    ));
    assert!(!dir.path().join("gone.bin").exists());
    // Deleting again is not an error: the goal is already met.
    store.delete(&key).await.unwrap();

    for bad in ["../escape", "/etc/passwd", "a//b", "Upper", "a/./b", "a/"] {
        assert!(
            matches!(
                store.put_file(bad, &source).await,
                Err(ObjectError::InvalidKey(_))
            ),
            "{bad}"
        );
        assert!(matches!(
            store.get_to_file(bad, &back).await,
            Err(ObjectError::InvalidKey(_))
        ));
    }
}

#[tokio::test]
async fn files_round_trip_through_the_file_system_store_with_private_modes() {
    let root = tempfile::tempdir().unwrap();
    let store = ObjectStore::file_system(root.path().join("objects"));
    assert!(store.vendor().is_none());
    round_trip(&store, 3 * MIB + 17).await;

    let dir = tempfile::tempdir().unwrap();
    let (source, _) = random_file(dir.path(), "kept.bin", 1000);
    store.put_file("p/kept", &source).await.unwrap();
    let stored = root.path().join("objects/p/kept");
    assert_eq!(mode(&stored), 0o600);
    // Nothing but the object itself is left in its directory (no temporary files).
    let names: Vec<_> = std::fs::read_dir(root.path().join("objects/p"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("kept")]);
}

#[tokio::test]
async fn a_file_system_key_cannot_reach_outside_the_root() {
    let root = tempfile::tempdir().unwrap();
    let store = ObjectStore::file_system(root.path().join("objects"));
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = random_file(dir.path(), "x.bin", 10);
    for bad in ["../outside", "../../tmp/x", "/tmp/x", "a/../../x"] {
        assert!(store.put_file(bad, &source).await.is_err(), "{bad}");
    }
    assert!(!root.path().join("outside").exists());
    assert!(!root.path().join("objects").exists());
}

/// moto accepts any credentials; a fresh bucket per test keeps tests apart. Returns
/// the store and the bucket's URL.
async fn s3_store() -> Option<(ObjectStore, String)> {
    let endpoint = enamel_testkit::setting(ENDPOINT_VAR, "S3 (moto)")?;
    let bucket = format!("enamel-test-{}", uuid::Uuid::new_v4().simple());
    let bucket_url = format!("{}/{bucket}", endpoint.trim_end_matches('/'));
    let created = reqwest::Client::new()
        .put(&bucket_url)
        .send()
        .await
        .expect("moto is reachable");
    assert!(
        created.status().is_success(),
        "CreateBucket: {}",
        created.status()
    );
    let store = ObjectStore::s3(S3Settings {
        bucket,
        region: "us-east-1".to_owned(),
        endpoint: Some(endpoint),
        path_style: true,
        credentials: S3Credentials::Explicit {
            access_key_id: "test".to_owned(),
            secret_access_key: SecretString::from("test"),
            session_token: None,
        },
        vendor: VendorName::parse("aws-s3").unwrap(),
    })
    .await
    .unwrap();
    Some((store, bucket_url))
}

#[tokio::test]
async fn a_twelve_mib_file_round_trips_through_s3_in_parts() {
    let Some((store, bucket_url)) = s3_store().await else {
        return;
    };
    assert_eq!(store.vendor().map(VendorName::as_str), Some("aws-s3"));
    round_trip(&store, 12 * MIB + 5).await;

    // A multipart object's ETag ends in `-<parts>`: 12 MiB in 5 MiB parts is three.
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = random_file(dir.path(), "parts.bin", 12 * MIB + 5);
    store.put_file("p/parts", &source).await.unwrap();
    let head = reqwest::Client::new()
        .head(format!("{bucket_url}/p/parts"))
        .send()
        .await
        .unwrap();
    let etag = head.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.trim_matches('"').ends_with("-3"), "{etag}");
}

#[tokio::test]
async fn a_small_file_round_trips_through_s3_in_one_put() {
    let Some((store, _)) = s3_store().await else {
        return;
    };
    round_trip(&store, 4096).await;
}

#[tokio::test]
async fn a_missing_source_file_is_a_local_error_and_nothing_is_stored() {
    let Some((store, _)) = s3_store().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let err = store
        .put_file("p/missing", &dir.path().join("absent.bin"))
        .await
        .unwrap_err();
    assert!(matches!(err, ObjectError::Local { .. }), "{err:?}");
    assert!(!store.exists("p/missing").await.unwrap());
}
