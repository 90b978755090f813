//! AWS KMS as the store's key provider: each operation of `KeyProvider` on the
//! practice's customer-managed key.

use super::{AwsKms, KMS_VENDOR, bare_key_id, means_destroyed, provider_error};
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use enamel_crypto::keys::{KeyBinding, KeyMaterial};
use enamel_crypto::{CryptoError, KeyProvider, ProviderFuture, WrappedKey};
use enamel_domain::PracticeId;
use zeroize::Zeroizing;

impl KeyProvider for AwsKms {
    fn kind(&self) -> &'static str {
        "AWS KMS"
    }

    fn vendor(&self) -> Option<&'static str> {
        Some(KMS_VENDOR)
    }

    fn generate(&self, binding: KeyBinding) -> ProviderFuture<'_, (KeyMaterial, WrappedKey)> {
        Box::pin(async move {
            self.current(binding.practice).await?;
            let mut generated = self
                .client
                .generate_data_key()
                .key_id(self.alias(binding.practice))
                .key_spec(DataKeySpec::Aes256)
                .set_encryption_context(Some(Self::context(&binding)))
                .send()
                .await
                .map_err(|e| provider_error("GenerateDataKey", &e))?;
            let plain = Zeroizing::new(
                generated
                    .plaintext
                    .take()
                    .map(Blob::into_inner)
                    .unwrap_or_default(),
            );
            let material = KeyMaterial::from_slice(&plain)?;
            let wrapped = WrappedKey {
                kek_id: generated.key_id().unwrap_or_default().to_owned(),
                bytes: generated
                    .ciphertext_blob
                    .take()
                    .map(Blob::into_inner)
                    .unwrap_or_default(),
            };
            Ok((material, wrapped))
        })
    }

    fn wrap<'a>(
        &'a self,
        binding: KeyBinding,
        material: &'a KeyMaterial,
    ) -> ProviderFuture<'a, WrappedKey> {
        Box::pin(async move {
            self.current(binding.practice).await?;
            let encrypted = self
                .client
                .encrypt()
                .key_id(self.alias(binding.practice))
                .plaintext(Blob::new(material.expose().to_vec()))
                .set_encryption_context(Some(Self::context(&binding)))
                .send()
                .await
                .map_err(|e| provider_error("Encrypt", &e))?;
            Ok(WrappedKey {
                kek_id: encrypted.key_id().unwrap_or_default().to_owned(),
                bytes: encrypted
                    .ciphertext_blob()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default(),
            })
        })
    }

    fn unwrap<'a>(
        &'a self,
        binding: KeyBinding,
        wrapped: &'a WrappedKey,
    ) -> ProviderFuture<'a, KeyMaterial> {
        Box::pin(async move {
            let decrypted = self
                .client
                .decrypt()
                .key_id(&wrapped.kek_id)
                .ciphertext_blob(Blob::new(wrapped.bytes.clone()))
                .set_encryption_context(Some(Self::context(&binding)))
                .send()
                .await;
            match decrypted {
                Ok(mut out) => {
                    let plain = Zeroizing::new(
                        out.plaintext
                            .take()
                            .map(Blob::into_inner)
                            .unwrap_or_default(),
                    );
                    KeyMaterial::from_slice(&plain)
                }
                Err(err) if means_destroyed(err.code()) => Err(CryptoError::Shredded),
                Err(err)
                    if matches!(
                        err.code(),
                        Some("InvalidCiphertextException" | "IncorrectKeyException")
                    ) =>
                {
                    Err(CryptoError::Authentication)
                }
                Err(err) => Err(provider_error("Decrypt", &err)),
            }
        })
    }

    fn rotate(&self, practice: PracticeId) -> ProviderFuture<'_, String> {
        Box::pin(async move {
            self.current(practice).await?;
            let arn = self.create(practice, false).await?;
            self.client
                .update_alias()
                .alias_name(self.alias(practice))
                .target_key_id(&arn)
                .send()
                .await
                .map_err(|e| provider_error("UpdateAlias", &e))?;
            Ok(arn)
        })
    }

    fn retire(&self, _practice: PracticeId, kek_ids: Vec<String>) -> ProviderFuture<'_, ()> {
        Box::pin(async move {
            for key in kek_ids {
                self.schedule_deletion(&key).await?;
            }
            Ok(())
        })
    }

    fn audit_signing_seed(&self) -> ProviderFuture<'_, KeyMaterial> {
        Box::pin(self.signing_seed())
    }

    fn destroy(&self, practice: PracticeId, known: Vec<String>) -> ProviderFuture<'_, ()> {
        Box::pin(async move {
            let mut keys = known;
            if let Ok(described) = self
                .client
                .describe_key()
                .key_id(self.alias(practice))
                .send()
                .await
                && let Some(meta) = described.key_metadata()
            {
                keys.push(meta.arn().unwrap_or(meta.key_id()).to_owned());
            }
            for key in &keys {
                match self
                    .client
                    .disable_key()
                    .key_id(bare_key_id(key))
                    .send()
                    .await
                {
                    Ok(_) => {}
                    Err(err) if means_destroyed(err.code()) => {}
                    Err(err) => return Err(provider_error("DisableKey", &err)),
                }
                self.schedule_deletion(key).await?;
            }
            match self
                .client
                .delete_alias()
                .alias_name(self.alias(practice))
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(err) if err.code() == Some("NotFoundException") => Ok(()),
                Err(err) => Err(provider_error("DeleteAlias", &err)),
            }
        })
    }
}
