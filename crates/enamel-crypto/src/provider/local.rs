//! KEKs in a local key file: one line per KEK, the practice's last line current.
//!
//! ```text
//! kek v1 <practice uuid> <kek id> <64 hex digits>
//! ```
//!
//! The file is created with mode 0600 (its directory 0700) and refused if group or
//! others can read it. Changes are made under an exclusive lock on `<file>.lock`,
//! after re-reading the file (another process may have added a KEK), by writing a
//! new file and renaming it over the old one, so a crash leaves the old or the new
//! file, never half of one.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, anyhow};
use enamel_domain::PracticeId;
use uuid::Uuid;

use super::{KeyProvider, ProviderFuture, WrappedKey};
use crate::CryptoError;
use crate::keys::{Kek, KeyBinding, KeyMaterial};

const HEADER: &str = "# Enamel key-encryption keys: one line per key, the last of a practice current.\n\
# Keep this file secret (mode 0600) and back it up apart from the database.\n";

/// The practices' KEKs, in order of creation.
type Keks = HashMap<PracticeId, Vec<(String, KeyMaterial)>>;

/// Everything the file holds: the practices' KEKs and the audit signing seed.
#[derive(Default)]
struct Contents {
    keks: Keks,
    signing: Option<KeyMaterial>,
}

/// A key file on local disk.
pub struct LocalKeyFile {
    path: PathBuf,
    contents: Mutex<Contents>,
}

impl std::fmt::Debug for LocalKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalKeyFile({})", self.path.display())
    }
}

impl LocalKeyFile {
    /// Opens the key file at `path`, creating it (mode 0600) if it does not exist.
    ///
    /// Refuses a file that group or others may read, with the command that fixes it.
    pub fn open_or_create(path: &Path) -> Result<Self, CryptoError> {
        if !path.exists() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .with_context(|| format!("creating the key directory {}", dir.display()))?;
            }
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
            {
                Ok(mut file) => {
                    file.write_all(HEADER.as_bytes())
                        .and_then(|()| file.sync_all())
                        .with_context(|| format!("writing the key file {}", path.display()))?;
                }
                // Another process created it first: use theirs.
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => {
                    return Err(anyhow!(err)
                        .context(format!("creating the key file {}", path.display()))
                        .into());
                }
            }
        }
        let contents = read(path)?;
        Ok(Self {
            path: path.to_owned(),
            contents: Mutex::new(contents),
        })
    }

    /// Where the file is.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn current(&self, practice: PracticeId) -> Result<(String, Kek), CryptoError> {
        let known = self
            .contents
            .lock()
            .expect("key cache")
            .keks
            .get(&practice)
            .and_then(|v| v.last())
            .map(|(id, m)| (id.clone(), Kek::new(id.clone(), m)));
        if let Some(found) = known {
            return Ok(found);
        }
        let id = self.modify(|keks| {
            let versions = keks.entry(practice).or_default();
            if versions.is_empty() {
                versions.push((new_kek_id(), KeyMaterial::generate()));
            }
            Ok(versions.last().expect("just ensured").0.clone())
        })?;
        let contents = self.contents.lock().expect("key cache");
        let material = &contents.keks[&practice]
            .iter()
            .find(|(k, _)| *k == id)
            .expect("just written")
            .1;
        Ok((id.clone(), Kek::new(id, material)))
    }

    fn find(&self, practice: PracticeId, kek_id: &str) -> Option<Kek> {
        self.contents
            .lock()
            .expect("key cache")
            .keks
            .get(&practice)?
            .iter()
            .find(|(id, _)| id == kek_id)
            .map(|(id, m)| Kek::new(id.clone(), m))
    }

    fn wrap_now(
        &self,
        binding: &KeyBinding,
        material: &KeyMaterial,
    ) -> Result<WrappedKey, CryptoError> {
        let (kek_id, kek) = self.current(binding.practice)?;
        Ok(WrappedKey {
            kek_id,
            bytes: kek.wrap(binding, material),
        })
    }

    fn unwrap_now(
        &self,
        binding: &KeyBinding,
        wrapped: &WrappedKey,
    ) -> Result<KeyMaterial, CryptoError> {
        let kek = if let Some(kek) = self.find(binding.practice, &wrapped.kek_id) {
            kek
        } else {
            // Another process may have added it since we read the file.
            *self.contents.lock().expect("key cache") = read(&self.path)?;
            self.find(binding.practice, &wrapped.kek_id)
                .ok_or(CryptoError::Shredded)?
        };
        kek.unwrap(binding, &wrapped.bytes)
    }

    fn rotate_now(&self, practice: PracticeId) -> Result<String, CryptoError> {
        self.modify(|keks| {
            let id = new_kek_id();
            keks.entry(practice)
                .or_default()
                .push((id.clone(), KeyMaterial::generate()));
            Ok(id)
        })
    }

    fn retire_now(&self, practice: PracticeId, kek_ids: &[String]) -> Result<(), CryptoError> {
        self.modify(|keks| {
            let versions = keks.entry(practice).or_default();
            versions.retain(|(id, _)| !kek_ids.contains(id));
            if versions.is_empty() {
                return Err(CryptoError::Provider(anyhow!(
                    "refusing to retire a practice's only key-encryption key"
                )));
            }
            Ok(())
        })
    }

    fn destroy_now(&self, practice: PracticeId) -> Result<(), CryptoError> {
        self.modify(|keks| {
            keks.remove(&practice);
            Ok(())
        })
    }

    /// Re-reads the file under an exclusive lock, applies `change`, writes the
    /// result atomically, and keeps it as the in-memory copy.
    fn modify<T>(
        &self,
        change: impl FnOnce(&mut Keks) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        self.modify_contents(|contents| change(&mut contents.keks))
    }

    /// [`LocalKeyFile::modify`] over everything the file holds.
    fn modify_contents<T>(
        &self,
        change: impl FnOnce(&mut Contents) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        let lock_path = self.path.with_extension("lock");
        let lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let mut contents = read(&self.path)?;
        let result = change(&mut contents)?;
        write(&self.path, &contents)?;
        *self.contents.lock().expect("key cache") = contents;
        drop(lock);
        Ok(result)
    }
}

impl LocalKeyFile {
    fn signing_seed_now(&self) -> Result<KeyMaterial, CryptoError> {
        if let Some(seed) = self.contents.lock().expect("key cache").signing.clone() {
            return Ok(seed);
        }
        self.modify_contents(|contents| {
            Ok(contents
                .signing
                .get_or_insert_with(KeyMaterial::generate)
                .clone())
        })
    }
}

/// The file's operations are short local I/O under a lock; they run inline.
impl KeyProvider for LocalKeyFile {
    fn audit_signing_seed(&self) -> ProviderFuture<'_, KeyMaterial> {
        Box::pin(std::future::ready(self.signing_seed_now()))
    }

    fn kind(&self) -> &'static str {
        "local key file"
    }

    fn generate(&self, binding: KeyBinding) -> ProviderFuture<'_, (KeyMaterial, WrappedKey)> {
        let material = KeyMaterial::generate();
        Box::pin(std::future::ready(
            self.wrap_now(&binding, &material).map(|w| (material, w)),
        ))
    }

    fn wrap<'a>(
        &'a self,
        binding: KeyBinding,
        material: &'a KeyMaterial,
    ) -> ProviderFuture<'a, WrappedKey> {
        Box::pin(std::future::ready(self.wrap_now(&binding, material)))
    }

    fn unwrap<'a>(
        &'a self,
        binding: KeyBinding,
        wrapped: &'a WrappedKey,
    ) -> ProviderFuture<'a, KeyMaterial> {
        Box::pin(std::future::ready(self.unwrap_now(&binding, wrapped)))
    }

    fn rotate(&self, practice: PracticeId) -> ProviderFuture<'_, String> {
        Box::pin(std::future::ready(self.rotate_now(practice)))
    }

    fn retire(&self, practice: PracticeId, kek_ids: Vec<String>) -> ProviderFuture<'_, ()> {
        Box::pin(std::future::ready(self.retire_now(practice, &kek_ids)))
    }

    fn destroy(&self, practice: PracticeId, _known: Vec<String>) -> ProviderFuture<'_, ()> {
        Box::pin(std::future::ready(self.destroy_now(practice)))
    }
}

fn new_kek_id() -> String {
    format!("local-{}", Uuid::new_v4().simple())
}

/// Reads and checks the key file.
fn read(path: &Path) -> Result<Contents, CryptoError> {
    let metadata =
        fs::metadata(path).with_context(|| format!("reading the key file {}", path.display()))?;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(anyhow!(
            "refusing to use the key file {} because group or others can read it (mode {mode:04o}); restrict it with `chmod 600 {}`",
            path.display(),
            path.display()
        )
        .into());
    }
    let text = fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    let mut contents = Contents::default();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            anyhow!(
                "the key file {} is malformed at line {}",
                path.display(),
                number + 1
            )
        };
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let ["signing", "v1", hex] = parts[..] {
            let seed = decode_hex(hex).ok_or_else(bad)?;
            contents.signing = Some(KeyMaterial::from_slice(&seed).map_err(|_| bad())?);
            continue;
        }
        let ["kek", "v1", practice, id, hex] = parts[..] else {
            return Err(bad().into());
        };
        let practice: PracticeId = practice.parse().map_err(|_| bad())?;
        let material =
            KeyMaterial::from_slice(&decode_hex(hex).ok_or_else(bad)?).map_err(|_| bad())?;
        contents
            .keks
            .entry(practice)
            .or_default()
            .push((id.to_owned(), material));
    }
    Ok(contents)
}

/// Writes `keks` to a new file beside `path` (mode 0600), then renames it over `path`.
fn write(path: &Path, contents: &Contents) -> Result<(), CryptoError> {
    let keks = &contents.keks;
    let mut text = String::from(HEADER);
    if let Some(seed) = &contents.signing {
        let _ = writeln!(text, "signing v1 {}", encode_hex(seed.expose()));
    }
    let mut practices: Vec<_> = keks.keys().collect();
    practices.sort();
    for practice in practices {
        for (id, material) in &keks[practice] {
            let _ = writeln!(
                text,
                "kek v1 {practice} {id} {}",
                encode_hex(material.expose())
            );
        }
    }
    let temporary = path.with_extension("tmp");
    let result = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    // The text held key material in the clear.
    zeroize::Zeroize::zeroize(&mut text);
    result.with_context(|| format!("writing the key file {}", path.display()))?;
    Ok(())
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyId, KeyPurpose};

    fn binding(practice: PracticeId) -> KeyBinding {
        KeyBinding {
            practice,
            key: KeyId::generate(),
            purpose: KeyPurpose::Data,
        }
    }

    #[test]
    fn the_file_is_created_with_mode_0600_and_keys_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/enamel.keys");
        let file = LocalKeyFile::open_or_create(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        let practice = PracticeId::generate();
        let (binding, material) = (binding(practice), KeyMaterial::generate());
        let wrapped = file.wrap_now(&binding, &material).unwrap();
        let reopened = LocalKeyFile::open_or_create(&path).unwrap();
        assert_eq!(
            reopened.unwrap_now(&binding, &wrapped).unwrap().expose(),
            material.expose()
        );
    }

    #[test]
    fn a_file_readable_by_group_or_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("enamel.keys");
        LocalKeyFile::open_or_create(&path).unwrap();
        for mode in [0o640, 0o604, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = LocalKeyFile::open_or_create(&path).unwrap_err().to_string();
            assert!(err.contains("group or others can read it"), "{err}");
            assert!(err.contains("chmod 600"), "{err}");
        }
    }

    #[test]
    fn a_rotated_kek_wraps_new_keys_and_the_old_one_still_unwraps() {
        let dir = tempfile::tempdir().unwrap();
        let file = LocalKeyFile::open_or_create(&dir.path().join("k")).unwrap();
        let practice = PracticeId::generate();
        let (old_binding, old) = (binding(practice), KeyMaterial::generate());
        let old_wrapped = file.wrap_now(&old_binding, &old).unwrap();
        let new_id = file.rotate_now(practice).unwrap();
        let new_wrapped = file
            .wrap_now(&binding(practice), &KeyMaterial::generate())
            .unwrap();
        assert_eq!(new_wrapped.kek_id, new_id);
        assert_ne!(old_wrapped.kek_id, new_id);
        assert!(file.unwrap_now(&old_binding, &old_wrapped).is_ok());
        file.retire_now(practice, std::slice::from_ref(&old_wrapped.kek_id))
            .unwrap();
        assert!(matches!(
            file.unwrap_now(&old_binding, &old_wrapped),
            Err(CryptoError::Shredded)
        ));
    }

    #[test]
    fn destroying_a_practice_leaves_the_others_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let file = LocalKeyFile::open_or_create(&path).unwrap();
        let (gone, kept) = (
            binding(PracticeId::generate()),
            binding(PracticeId::generate()),
        );
        let gone_wrapped = file.wrap_now(&gone, &KeyMaterial::generate()).unwrap();
        let kept_wrapped = file.wrap_now(&kept, &KeyMaterial::generate()).unwrap();
        file.destroy_now(gone.practice).unwrap();
        let reopened = LocalKeyFile::open_or_create(&path).unwrap();
        assert!(matches!(
            reopened.unwrap_now(&gone, &gone_wrapped),
            Err(CryptoError::Shredded)
        ));
        assert!(reopened.unwrap_now(&kept, &kept_wrapped).is_ok());
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&gone.practice.to_string()));
    }

    #[test]
    fn two_handles_on_one_file_see_each_others_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let (first, second) = (
            LocalKeyFile::open_or_create(&path).unwrap(),
            LocalKeyFile::open_or_create(&path).unwrap(),
        );
        let practices: Vec<PracticeId> = (0..4).map(|_| PracticeId::generate()).collect();
        let wrapped: Vec<_> = practices
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let handle = if i % 2 == 0 { &first } else { &second };
                let b = binding(*p);
                (b, handle.wrap_now(&b, &KeyMaterial::generate()).unwrap())
            })
            .collect();
        for (b, w) in &wrapped {
            assert!(first.unwrap_now(b, w).is_ok());
            assert!(second.unwrap_now(b, w).is_ok());
        }
    }

    #[test]
    fn the_audit_signing_seed_is_created_once_and_kept_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let file = LocalKeyFile::open_or_create(&path).unwrap();
        let seed = file.signing_seed_now().unwrap();
        file.rotate_now(PracticeId::generate()).unwrap();
        let reopened = LocalKeyFile::open_or_create(&path).unwrap();
        assert_eq!(reopened.signing_seed_now().unwrap().expose(), seed.expose());
        assert!(fs::read_to_string(&path).unwrap().contains("signing v1 "));
    }

    #[test]
    fn a_malformed_line_is_reported_by_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        LocalKeyFile::open_or_create(&path).unwrap();
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("kek v1 nonsense\n");
        fs::write(&path, text).unwrap();
        let err = LocalKeyFile::open_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("malformed at line 3"), "{err}");
    }
}
