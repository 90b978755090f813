//! The keyring: each practice's data and index keys, stored wrapped in
//! `practice_keys`, unwrapped through the key provider, and cached for a bounded
//! time so a busy practice does not cost a provider call per field.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use enamel_crypto::blind::IndexKey;
use enamel_crypto::keys::{KeyBinding, KeyMaterial};
use enamel_crypto::{CryptoError, DataKey, KeyId, KeyProvider, KeyPurpose, WrappedKey};
use enamel_domain::{PracticeId, VendorName};
use uuid::Uuid;

use crate::StoreError;
use crate::db::{Db, on_pool};

struct Entry<T> {
    value: Arc<T>,
    loaded: Instant,
}

#[derive(Default)]
struct Cache {
    data: HashMap<KeyId, Entry<DataKey>>,
    index: HashMap<PracticeId, Entry<IndexKey>>,
    current: HashMap<PracticeId, Entry<KeyId>>,
}

/// Unwrapped keys, held at most `ttl`; key objects are dropped (and aws-lc's key
/// schedules cleansed) when evicted.
pub(crate) struct Keyring {
    provider: Arc<dyn KeyProvider>,
    ttl: Duration,
    cache: Mutex<Cache>,
    clock: crate::pool::StoreClock,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({}, ttl {:?})", self.provider.kind(), self.ttl)
    }
}

fn fresh<K: std::hash::Hash + Eq, T>(
    map: &HashMap<K, Entry<T>>,
    key: &K,
    ttl: Duration,
) -> Option<Arc<T>> {
    map.get(key)
        .filter(|e| e.loaded.elapsed() < ttl)
        .map(|e| Arc::clone(&e.value))
}

impl From<CryptoError> for StoreError {
    fn from(err: CryptoError) -> Self {
        match err {
            CryptoError::Shredded => Self::Shredded,
            other => Self::Crypto(other),
        }
    }
}

type KeyRow = (Uuid, Option<Vec<u8>>, String);

impl Keyring {
    pub(crate) fn new(
        provider: Arc<dyn KeyProvider>,
        ttl: Duration,
        clock: crate::pool::StoreClock,
    ) -> Self {
        Self {
            provider,
            ttl,
            clock,
            cache: Mutex::new(Cache::default()),
        }
    }

    pub(crate) fn provider(&self) -> &dyn KeyProvider {
        self.provider.as_ref()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key new data of `practice` is sealed with, created on first use.
    pub(crate) async fn current_data_key(
        &self,
        db: &Db,
        practice: PracticeId,
    ) -> Result<Arc<DataKey>, StoreError> {
        let current = fresh(&self.cache().current, &practice, self.ttl);
        if let Some(id) = current {
            return self.data_key(db, practice, *id).await;
        }
        let latest = latest_key(db, practice, KeyPurpose::Data).await?;
        let (id, material) = match latest {
            Some((id, wrapped, kek_id)) => {
                let id = KeyId::from_uuid(id);
                let wrapped = wrapped.ok_or(StoreError::Shredded)?;
                (
                    id,
                    self.unwrap(practice, KeyPurpose::Data, id, wrapped, kek_id)
                        .await?,
                )
            }
            None => self.create(db, practice, KeyPurpose::Data).await?,
        };
        Ok(self.remember_data(practice, id, &material, true))
    }

    /// Makes a fresh data key the practice's current one.
    pub(crate) async fn rotate(&self, db: &Db, practice: PracticeId) -> Result<KeyId, StoreError> {
        let (id, material) = self.create(db, practice, KeyPurpose::Data).await?;
        self.remember_data(practice, id, &material, true);
        Ok(id)
    }

    fn remember_data(
        &self,
        practice: PracticeId,
        id: KeyId,
        material: &KeyMaterial,
        current: bool,
    ) -> Arc<DataKey> {
        let key = Arc::new(DataKey::new(id, practice, material));
        let mut cache = self.cache();
        let loaded = Instant::now();
        cache.data.insert(
            id,
            Entry {
                value: Arc::clone(&key),
                loaded,
            },
        );
        if current {
            cache.current.insert(
                practice,
                Entry {
                    value: Arc::new(id),
                    loaded,
                },
            );
        }
        key
    }

    /// The data key `id` of `practice` (named in a ciphertext's header).
    pub(crate) async fn data_key(
        &self,
        db: &Db,
        practice: PracticeId,
        id: KeyId,
    ) -> Result<Arc<DataKey>, StoreError> {
        if let Some(key) =
            fresh(&self.cache().data, &id, self.ttl).filter(|k| k.practice() == practice)
        {
            return Ok(key);
        }
        let row: Option<(Option<Vec<u8>>, String)> = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT wrapped, kek_id FROM practice_keys \
                 WHERE id = $1 AND practice_id = $2 AND purpose = 'data'",
            )
            .bind(id.as_uuid())
            .bind(practice.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading a data key")?;
        let (wrapped, kek_id) = row.ok_or(StoreError::Crypto(CryptoError::UnknownKey))?;
        let wrapped = wrapped.ok_or(StoreError::Shredded)?;
        let material = self
            .unwrap(practice, KeyPurpose::Data, id, wrapped, kek_id)
            .await?;
        Ok(self.remember_data(practice, id, &material, false))
    }

    /// The practice's blind-index key, created on first use. Index keys are not
    /// rotated: every stored index would have to be recomputed with the new one.
    pub(crate) async fn index_key(
        &self,
        db: &Db,
        practice: PracticeId,
    ) -> Result<Arc<IndexKey>, StoreError> {
        if let Some(key) = fresh(&self.cache().index, &practice, self.ttl) {
            return Ok(key);
        }
        let material = match latest_key(db, practice, KeyPurpose::Index).await? {
            Some((id, wrapped, kek_id)) => {
                let wrapped = wrapped.ok_or(StoreError::Shredded)?;
                self.unwrap(
                    practice,
                    KeyPurpose::Index,
                    KeyId::from_uuid(id),
                    wrapped,
                    kek_id,
                )
                .await?
            }
            None => self.create(db, practice, KeyPurpose::Index).await?.1,
        };
        let key = Arc::new(IndexKey::new(practice, &material));
        self.cache().index.insert(
            practice,
            Entry {
                value: Arc::clone(&key),
                loaded: Instant::now(),
            },
        );
        Ok(key)
    }

    async fn unwrap(
        &self,
        practice: PracticeId,
        purpose: KeyPurpose,
        id: KeyId,
        wrapped: Vec<u8>,
        kek_id: String,
    ) -> Result<KeyMaterial, StoreError> {
        let binding = KeyBinding {
            practice,
            key: id,
            purpose,
        };
        Ok(self
            .provider
            .unwrap(
                binding,
                &WrappedKey {
                    kek_id,
                    bytes: wrapped,
                },
            )
            .await?)
    }

    /// Generates, wraps and stores a new key, unless the practice was shredded.
    async fn create(
        &self,
        db: &Db,
        practice: PracticeId,
        purpose: KeyPurpose,
    ) -> Result<(KeyId, KeyMaterial), StoreError> {
        let destroyed: Option<bool> = on_pool!(db, pool => {
            sqlx::query_scalar("SELECT keys_destroyed_at IS NOT NULL FROM practices WHERE id = $1")
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("checking a practice's keys")?;
        match destroyed {
            None => return Err(StoreError::NotFound),
            Some(true) => return Err(StoreError::Shredded),
            Some(false) => {}
        }
        self.require_provider_baa(db, practice).await?;
        let id = KeyId::generate();
        let (material, wrapped) = self
            .provider
            .generate(KeyBinding {
                practice,
                key: id,
                purpose,
            })
            .await?;
        on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO practice_keys (id, practice_id, purpose, wrapped, kek_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.as_uuid())
            .bind(practice.as_uuid())
            .bind(purpose.as_str())
            .bind(&wrapped.bytes)
            .bind(&wrapped.kek_id)
            .bind(self.clock.now())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("storing a new practice key")?;
        tracing::info!(%practice, key = %id, purpose = purpose.as_str(), "practice key created");
        Ok((id, material))
    }

    /// The BAA gate for the key provider: a new key of `practice` is made at an
    /// outside vendor (a cloud KMS) only while the practice's registry holds an
    /// executed, unexpired BAA with it. Keys already made still unwrap: the vendor
    /// never sees PHI, only keys, and a lapsed agreement must not lock a practice out
    /// of its own records (availability is a safeguard too, 45 CFR 164.308(a)(7)).
    async fn require_provider_baa(&self, db: &Db, practice: PracticeId) -> Result<(), StoreError> {
        let Some(name) = self.provider.vendor() else {
            return Ok(());
        };
        let vendor = VendorName::parse(name)
            .map_err(|_| anyhow::anyhow!("the key provider's vendor name is not valid"))?;
        let today = self.clock.now().date();
        let allowed = crate::repos::vendors::vendor_in(db, practice, &vendor)
            .await?
            .is_some_and(|v| v.may_receive_phi(today));
        if allowed {
            Ok(())
        } else {
            Err(StoreError::NoBaa(vendor))
        }
    }

    /// Drops every cached key of `practice`.
    pub(crate) fn forget(&self, practice: PracticeId) {
        let mut cache = self.cache();
        cache.data.retain(|_, e| e.value.practice() != practice);
        cache.index.remove(&practice);
        cache.current.remove(&practice);
    }
}

/// The newest key of a purpose, destroyed or not.
async fn latest_key(
    db: &Db,
    practice: PracticeId,
    purpose: KeyPurpose,
) -> Result<Option<KeyRow>, StoreError> {
    let row = on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, wrapped, kek_id FROM practice_keys \
             WHERE practice_id = $1 AND purpose = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(practice.as_uuid())
        .bind(purpose.as_str())
        .fetch_optional(pool)
        .await
    })
    .context("reading a practice's newest key")?;
    Ok(row)
}

impl crate::Store {
    /// A keyed hash of `value` for an audit entry of `practice`'s log: what the log
    /// keeps of a recipient address, an email typed, or a filter text, so that the
    /// value can be confirmed later without the log (or its export) holding it.
    pub async fn audit_hash(
        &self,
        practice: PracticeId,
        kind: &str,
        value: &str,
    ) -> Result<enamel_audit::entry::Detail, StoreError> {
        match self.keys.index_key(&self.db, practice).await {
            Ok(key) => Ok(enamel_audit::entry::Detail::KeyedHash(
                key.audit_hash(kind, value),
            )),
            // A practice whose key service has no BAA yet has no index key to hash
            // with; the entry is still written (an audit entry must never be lost to
            // this), noting that the value was not kept.
            Err(StoreError::NoBaa(_)) => Ok(enamel_audit::entry::Detail::Code(
                "not_hashed_no_key".into(),
            )),
            Err(err) => Err(err),
        }
    }
}
