//! Objects in an S3-compatible bucket through `object_store` (reqwest 0.13, rustls on
//! aws-lc-rs).
//!
//! Files up to one part are sent in one `PUT`; larger ones as a multipart upload
//! read part by part from disk, with at most two parts in flight, and aborted on
//! failure. Downloads are streamed to a temporary file.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use enamel_domain::VendorName;
use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder, AwsCredential};
use object_store::path::Path as StorePath;
use object_store::{CredentialProvider, ObjectStoreExt as _, PutPayload, WriteMultipart};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{ObjectError, temp_next_to};

/// S3's smallest part (except the last).
const MIN_PART: u64 = 5 * 1024 * 1024;
/// S3's most parts in one upload.
const MAX_PARTS: u64 = 10_000;
/// Parts uploading at once: bounds memory to about three parts.
const PARTS_IN_FLIGHT: usize = 2;
/// Cached chain credentials are refreshed this long before they expire.
const REFRESH_MARGIN: Duration = Duration::from_mins(5);

/// Where the credentials come from.
#[derive(Debug, Clone)]
pub enum S3Credentials {
    /// The standard AWS chain (environment, profile, web identity, container,
    /// instance role), as for KMS.
    DefaultChain,
    /// A fixed key pair (R2 API tokens, test servers).
    Explicit {
        access_key_id: String,
        secret_access_key: SecretString,
        session_token: Option<SecretString>,
    },
}

/// Which bucket, where.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// e.g. `us-east-1`; `auto` for R2.
    pub region: String,
    /// An S3-compatible endpoint (R2, moto); unset means AWS's own.
    pub endpoint: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`. With
    /// virtual-hosted style and a custom endpoint, the endpoint must already name the
    /// bucket's host.
    pub path_style: bool,
    pub credentials: S3Credentials,
    /// The store's vendor for the BAA registry, e.g. `aws-s3` or `cloudflare-r2`.
    pub vendor: VendorName,
}

/// An S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    store: Arc<AmazonS3>,
    vendor: VendorName,
}

fn backend(operation: &'static str) -> impl FnOnce(object_store::Error) -> ObjectError {
    move |err| match err {
        object_store::Error::NotFound { .. } => ObjectError::NotFound,
        other => ObjectError::Backend {
            operation,
            source: other.into(),
        },
    }
}

impl S3Store {
    /// Builds the client (no request is made until first use).
    pub async fn connect(settings: S3Settings) -> Result<Self, ObjectError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_virtual_hosted_style_request(!settings.path_style);
        if let Some(endpoint) = &settings.endpoint {
            let plain = endpoint.starts_with("http://");
            let host = url::Url::parse(endpoint)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            if plain && !crate::notify::is_loopback(&host) {
                return Err(ObjectError::Backend {
                    operation: "setup",
                    source: anyhow::anyhow!("plain http endpoints are allowed only on loopback"),
                });
            }
            builder = builder.with_endpoint(endpoint).with_allow_http(plain);
        }
        builder = match settings.credentials {
            S3Credentials::Explicit {
                access_key_id,
                secret_access_key,
                session_token,
            } => {
                let builder = builder
                    .with_access_key_id(access_key_id)
                    .with_secret_access_key(secret_access_key.expose_secret());
                match session_token {
                    Some(token) => builder.with_token(token.expose_secret()),
                    None => builder,
                }
            }
            S3Credentials::DefaultChain => {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new(settings.region.clone()))
                    .load()
                    .await;
                let chain = config
                    .credentials_provider()
                    .ok_or_else(|| ObjectError::Backend {
                        operation: "setup",
                        source: anyhow::anyhow!("the AWS credential chain is empty"),
                    })?;
                builder.with_credentials(Arc::new(ChainCredentials {
                    chain,
                    cached: tokio::sync::Mutex::new(None),
                }))
            }
        };
        let store = builder.build().map_err(backend("setup"))?;
        Ok(Self {
            store: Arc::new(store),
            vendor: settings.vendor,
        })
    }

    pub(super) fn vendor(&self) -> &VendorName {
        &self.vendor
    }

    pub(super) async fn put_file(&self, key: &str, source: &Path) -> Result<u64, ObjectError> {
        let location = StorePath::from(key);
        let mut file = tokio::fs::File::open(source)
            .await
            .map_err(ObjectError::local("opening the source file"))?;
        let len = file
            .metadata()
            .await
            .map_err(ObjectError::local("reading the source file's size"))?
            .len();
        let part = part_size(len);
        if len <= part {
            let body = read_part(&mut file, part).await?;
            let sent = body.len() as u64;
            self.store
                .put(&location, PutPayload::from(body))
                .await
                .map_err(backend("put"))?;
            return Ok(sent);
        }
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(backend("multipart start"))?;
        let mut writer = WriteMultipart::new_with_chunk_size(
            upload,
            usize::try_from(part).unwrap_or(usize::MAX),
        );
        let mut sent = 0u64;
        let outcome: Result<(), ObjectError> = async {
            loop {
                writer
                    .wait_for_capacity(PARTS_IN_FLIGHT)
                    .await
                    .map_err(backend("multipart part"))?;
                let chunk = read_part(&mut file, part).await?;
                if chunk.is_empty() {
                    return Ok(());
                }
                sent += chunk.len() as u64;
                writer.put(chunk);
            }
        }
        .await;
        match outcome {
            Ok(()) => {
                writer.finish().await.map_err(backend("multipart finish"))?;
                Ok(sent)
            }
            Err(err) => {
                if writer.abort().await.is_err() {
                    tracing::warn!("aborting a failed multipart upload failed too");
                }
                Err(err)
            }
        }
    }

    pub(super) async fn get_to_file(&self, key: &str, target: &Path) -> Result<u64, ObjectError> {
        let location = StorePath::from(key);
        let result = self.store.get(&location).await.map_err(backend("get"))?;
        let temp = temp_next_to(target)?;
        let mut out = tokio::fs::File::from_std(
            temp.as_file()
                .try_clone()
                .map_err(ObjectError::local("opening the temporary file"))?,
        );
        let mut stream = result.into_stream();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(backend("get body"))?;
            out.write_all(&chunk)
                .await
                .map_err(ObjectError::local("writing the download"))?;
            written += chunk.len() as u64;
        }
        out.flush()
            .await
            .map_err(ObjectError::local("writing the download"))?;
        out.sync_all()
            .await
            .map_err(ObjectError::local("syncing the download"))?;
        drop(out);
        let target = target.to_owned();
        tokio::task::spawn_blocking(move || temp.persist(target))
            .await
            .map_err(|err| ObjectError::Backend {
                operation: "file system task",
                source: err.into(),
            })?
            .map_err(|err| ObjectError::local("moving the download into place")(err.error))?;
        Ok(written)
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match self.store.delete(&StorePath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(backend("delete")(err)),
        }
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        match self.store.head(&StorePath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(backend("head")(err)),
        }
    }
}

/// The part size for a file of `len` bytes: S3's 5 MiB minimum, larger when that
/// would take more than S3's 10,000 parts.
fn part_size(len: u64) -> u64 {
    MIN_PART.max(len.div_ceil(MAX_PARTS))
}

/// Reads up to `limit` bytes (fewer only at the end of the file).
async fn read_part(file: &mut tokio::fs::File, limit: u64) -> Result<bytes::Bytes, ObjectError> {
    let mut buf = Vec::with_capacity(usize::try_from(limit).unwrap_or(usize::MAX));
    file.take(limit)
        .read_to_end(&mut buf)
        .await
        .map_err(ObjectError::local("reading the source file"))?;
    Ok(buf.into())
}

/// The standard AWS credential chain (from aws-config, as for KMS) as an
/// `object_store` credential provider, cached until shortly before expiry.
#[derive(Debug)]
struct ChainCredentials {
    chain: SharedCredentialsProvider,
    cached: tokio::sync::Mutex<Option<(Arc<AwsCredential>, Option<SystemTime>)>>,
}

#[async_trait::async_trait]
impl CredentialProvider for ChainCredentials {
    type Credential = AwsCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AwsCredential>> {
        let mut cached = self.cached.lock().await;
        if let Some((credential, expiry)) = cached.as_ref()
            && expiry.is_none_or(|at| at > SystemTime::now() + REFRESH_MARGIN)
        {
            return Ok(Arc::clone(credential));
        }
        let fresh =
            self.chain
                .provide_credentials()
                .await
                .map_err(|err| object_store::Error::Generic {
                    store: "S3",
                    source: Box::new(err),
                })?;
        let credential = Arc::new(AwsCredential {
            key_id: fresh.access_key_id().to_owned(),
            secret_key: fresh.secret_access_key().to_owned(),
            token: fresh.session_token().map(str::to_owned),
        });
        *cached = Some((Arc::clone(&credential), fresh.expiry()));
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_at_least_five_mib_and_at_most_ten_thousand() {
        assert_eq!(part_size(12 * 1024 * 1024), MIN_PART);
        let huge: u64 = 100 * 1024 * 1024 * 1024;
        assert!(huge.div_ceil(part_size(huge)) <= MAX_PARTS);
    }
}
