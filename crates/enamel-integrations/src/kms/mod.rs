//! AWS KMS as the key provider: one customer-managed key (CMK) per practice.
//!
//! - A practice's current CMK is found through the alias `<prefix>/<practice id>`
//!   and created on first use.
//! - New data keys come from `GenerateDataKey` (AES-256); re-wrapping uses
//!   `Encrypt`, unwrapping `Decrypt`. Every call carries the encryption context
//!   `{enamel:practice, enamel:key, enamel:purpose}`, which KMS binds into the
//!   ciphertext and records in `CloudTrail`, so a wrapped key used for another
//!   practice, key or purpose fails.
//! - Rotation creates a new CMK and points the alias at it; retired CMKs are
//!   scheduled for deletion.
//! - Shredding disables every CMK of the practice at once (no decryption from that
//!   moment) and schedules its deletion after KMS's minimum window of 7 days.
//!
//! Works against AWS or any KMS-compatible endpoint (tests use moto's server).

use std::collections::HashMap;

use anyhow::anyhow;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, Tag};
use enamel_crypto::CryptoError;
use enamel_crypto::keys::{KeyBinding, KeyMaterial};
use enamel_domain::PracticeId;
use zeroize::Zeroizing;

mod provider;

/// The vendor name this adapter sends to, for the BAA registry.
pub const VENDOR: &str = "aws-kms";

/// Days before a scheduled CMK deletion takes effect: KMS's minimum.
const DELETION_WINDOW_DAYS: i32 = 7;

/// The vendor AWS KMS is in a practice's BAA registry.
pub const KMS_VENDOR: &str = "aws-kms";

/// AWS KMS, one CMK per practice.
#[derive(Debug, Clone)]
pub struct AwsKms {
    client: Client,
    alias_prefix: String,
    signing_seed_file: Option<std::path::PathBuf>,
}

/// Where to reach KMS.
#[derive(Debug, Clone)]
pub struct KmsSettings {
    pub region: String,
    /// A KMS-compatible endpoint; unset means AWS's own for the region.
    pub endpoint: Option<String>,
    /// Alias prefix for the practices' keys, e.g. `alias/enamel/practice`.
    pub alias_prefix: String,
    /// Where the KMS-wrapped audit signing seed is kept (outside the database).
    pub signing_seed_file: std::path::PathBuf,
}

/// An SDK failure as a provider error: the operation and the service's error code
/// (never a request's content, which may hold key material).
fn provider_error<
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
>(
    operation: &'static str,
    err: &SdkError<E, R>,
) -> CryptoError {
    let code = err.code().unwrap_or("unknown").to_owned();
    CryptoError::Provider(anyhow!("AWS KMS {operation} failed ({code})"))
}

/// Error codes meaning the CMK can no longer decrypt: disabled, pending deletion, gone.
fn means_destroyed(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("DisabledException" | "KMSInvalidStateException" | "NotFoundException")
    )
}

/// The key id inside a key ARN (`arn:aws:kms:...:key/<id>`), or the input as is.
/// AWS accepts either form for key management calls; some compatible services
/// (moto among them) accept only the id.
fn bare_key_id(key: &str) -> &str {
    key.rsplit_once(":key/").map_or(key, |(_, id)| id)
}

impl AwsKms {
    /// Connects with the standard AWS credential chain (environment, profile,
    /// instance role).
    pub async fn connect(settings: &KmsSettings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let config = loader.load().await;
        Self::with_client(Client::new(&config), &settings.alias_prefix)
            .with_signing_seed_file(settings.signing_seed_file.clone())
    }

    /// Keeps the KMS-wrapped audit signing seed at `path`.
    #[must_use]
    pub fn with_signing_seed_file(mut self, path: std::path::PathBuf) -> Self {
        self.signing_seed_file = Some(path);
        self
    }

    /// Uses an already configured client.
    #[must_use]
    pub fn with_client(client: Client, alias_prefix: &str) -> Self {
        Self {
            client,
            alias_prefix: alias_prefix.trim_end_matches('/').to_owned(),
            signing_seed_file: None,
        }
    }

    fn alias(&self, practice: PracticeId) -> String {
        format!("{}/{practice}", self.alias_prefix)
    }

    fn signing_alias(&self) -> String {
        format!("{}/audit-signing", self.alias_prefix)
    }

    /// The audit signing seed: 32 bytes from `GenerateDataKey` under the signing
    /// alias, kept KMS-wrapped in the seed file and unwrapped on each start.
    async fn signing_seed(&self) -> Result<KeyMaterial, CryptoError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self.signing_seed_file.as_ref().ok_or_else(|| {
            CryptoError::Provider(anyhow!("keys.kms_signing_seed_file is not set"))
        })?;
        let context = HashMap::from([("enamel:purpose".to_owned(), "audit-signing".to_owned())]);
        if !path.exists() {
            if let Err(err) = self
                .client
                .describe_key()
                .key_id(self.signing_alias())
                .send()
                .await
            {
                if err.code() != Some("NotFoundException") {
                    return Err(provider_error("DescribeKey", &err));
                }
                let created = self
                    .client
                    .create_key()
                    .description("Enamel audit checkpoint signing")
                    .send()
                    .await
                    .map_err(|e| provider_error("CreateKey", &e))?;
                let key = created
                    .key_metadata()
                    .map(|m| m.key_id().to_owned())
                    .unwrap_or_default();
                let aliased = self
                    .client
                    .create_alias()
                    .alias_name(self.signing_alias())
                    .target_key_id(&key)
                    .send()
                    .await;
                if let Err(err) = aliased {
                    if err.code() != Some("AlreadyExistsException") {
                        return Err(provider_error("CreateAlias", &err));
                    }
                    self.schedule_deletion(&key).await?;
                }
            }
            let generated = self
                .client
                .generate_data_key()
                .key_id(self.signing_alias())
                .key_spec(DataKeySpec::Aes256)
                .set_encryption_context(Some(context.clone()))
                .send()
                .await
                .map_err(|e| provider_error("GenerateDataKey", &e))?;
            let blob = generated
                .ciphertext_blob()
                .map(|b| b.as_ref().to_vec())
                .unwrap_or_default();
            // Its directory is made on first use, as the local key file's is: a KMS
            // deployment may have no other file in the data directory yet.
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .mode(0o600)
                        .open(path)
                })
                .and_then(|mut file| file.write_all(&blob).and_then(|()| file.sync_all()));
            match written {
                Ok(()) => {}
                // Another process wrote its seed first: use that one.
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => {
                    return Err(CryptoError::Provider(
                        anyhow!(err).context("writing the signing seed file"),
                    ));
                }
            }
        }
        let blob = std::fs::read(path).map_err(|e| {
            CryptoError::Provider(anyhow!(e).context("reading the signing seed file"))
        })?;
        let mut decrypted = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(blob))
            .set_encryption_context(Some(context))
            .send()
            .await
            .map_err(|e| provider_error("Decrypt", &e))?;
        let plain = Zeroizing::new(
            decrypted
                .plaintext
                .take()
                .map(Blob::into_inner)
                .unwrap_or_default(),
        );
        KeyMaterial::from_slice(&plain)
    }

    fn context(binding: &KeyBinding) -> HashMap<String, String> {
        HashMap::from([
            ("enamel:practice".to_owned(), binding.practice.to_string()),
            ("enamel:key".to_owned(), binding.key.to_string()),
            (
                "enamel:purpose".to_owned(),
                binding.purpose.as_str().to_owned(),
            ),
        ])
    }

    /// The ARN of the practice's current CMK, creating it on first use.
    async fn current(&self, practice: PracticeId) -> Result<String, CryptoError> {
        match self
            .client
            .describe_key()
            .key_id(self.alias(practice))
            .send()
            .await
        {
            Ok(described) => described
                .key_metadata()
                .map(|m| m.arn().unwrap_or(m.key_id()).to_owned())
                .ok_or_else(|| {
                    CryptoError::Provider(anyhow!("AWS KMS DescribeKey returned no key"))
                }),
            Err(err) if err.code() == Some("NotFoundException") => {
                self.create(practice, true).await
            }
            Err(err) => Err(provider_error("DescribeKey", &err)),
        }
    }

    /// Creates a CMK for the practice; `new_alias` creates the alias (first key),
    /// otherwise the caller points the existing alias at it.
    async fn create(&self, practice: PracticeId, new_alias: bool) -> Result<String, CryptoError> {
        let tag = Tag::builder()
            .tag_key("enamel:practice")
            .tag_value(practice.to_string())
            .build()
            .map_err(|e| CryptoError::Provider(anyhow!(e)))?;
        let created = self
            .client
            .create_key()
            .description(format!("Enamel key-encryption key for practice {practice}"))
            .tags(tag)
            .send()
            .await
            .map_err(|e| provider_error("CreateKey", &e))?;
        let meta = created
            .key_metadata()
            .ok_or_else(|| CryptoError::Provider(anyhow!("AWS KMS CreateKey returned no key")))?;
        let arn = meta.arn().unwrap_or(meta.key_id()).to_owned();
        if new_alias {
            let aliased = self
                .client
                .create_alias()
                .alias_name(self.alias(practice))
                .target_key_id(meta.key_id())
                .send()
                .await;
            if let Err(err) = aliased {
                if err.code() == Some("AlreadyExistsException") {
                    // Another process created the practice's key first: use theirs.
                    self.schedule_deletion(&arn).await?;
                    return Box::pin(self.current(practice)).await;
                }
                return Err(provider_error("CreateAlias", &err));
            }
            tracing::info!(%practice, "KMS key created for practice");
        }
        Ok(arn)
    }

    async fn schedule_deletion(&self, key: &str) -> Result<(), CryptoError> {
        match self
            .client
            .schedule_key_deletion()
            .key_id(bare_key_id(key))
            .pending_window_in_days(DELETION_WINDOW_DAYS)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already scheduled or gone: the goal is met.
            Err(err) if means_destroyed(err.code()) => Ok(()),
            Err(err) => Err(provider_error("ScheduleKeyDeletion", &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_pending_deletion_and_missing_keys_mean_destroyed() {
        for code in [
            "DisabledException",
            "KMSInvalidStateException",
            "NotFoundException",
        ] {
            assert!(means_destroyed(Some(code)), "{code}");
        }
        for code in [
            Some("AccessDeniedException"),
            Some("ThrottlingException"),
            None,
        ] {
            assert!(!means_destroyed(code), "{code:?}");
        }
    }

    #[test]
    fn key_arns_reduce_to_their_id() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/9dabd48a-6e23-406b-8276-57edfdca1820";
        assert_eq!(bare_key_id(arn), "9dabd48a-6e23-406b-8276-57edfdca1820");
        assert_eq!(bare_key_id("9dabd48a"), "9dabd48a");
    }
}
