//! Objects as files under a root directory.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::{ObjectError, temp_next_to};

/// Objects under `root/<key>`, written through a temporary file and a rename, with
/// mode 0600 (directories 0700).
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

impl FsStore {
    /// A store under `root`, created on first write.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `key` must have passed [`super::check_key`]: it is then a relative path of
    /// plain segments, which cannot leave the root.
    fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    pub(super) async fn put_file(&self, key: &str, source: &Path) -> Result<u64, ObjectError> {
        let target = self.path_of(key);
        let source = source.to_owned();
        blocking(move || {
            if let Some(dir) = target.parent() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(dir)
                    .map_err(ObjectError::local("creating the object's directory"))?;
            }
            copy_into_place(&source, &target, false)
        })
        .await
    }

    pub(super) async fn get_to_file(&self, key: &str, target: &Path) -> Result<u64, ObjectError> {
        let source = self.path_of(key);
        let target = target.to_owned();
        blocking(move || copy_into_place(&source, &target, true)).await
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(ObjectError::local("deleting the object")(err)),
        }
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        match tokio::fs::metadata(self.path_of(key)).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(ObjectError::local("looking up the object")(err)),
        }
    }
}

/// Copies `source` to `target` through a 0600 temporary file in the target's
/// directory, synced before the rename, so `target` is whole or untouched. A missing
/// `source` is [`ObjectError::NotFound`] when it is the stored object.
fn copy_into_place(
    source: &Path,
    target: &Path,
    source_is_object: bool,
) -> Result<u64, ObjectError> {
    let mut input = std::fs::File::open(source)
        .and_then(|file| {
            if file.metadata()?.is_file() {
                Ok(file)
            } else {
                Err(std::io::ErrorKind::NotFound.into())
            }
        })
        .map_err(|err| {
            if source_is_object && err.kind() == std::io::ErrorKind::NotFound {
                ObjectError::NotFound
            } else {
                ObjectError::local("opening the source file")(err)
            }
        })?;
    let mut temp = temp_next_to(target)?;
    let copied = std::io::copy(&mut input, temp.as_file_mut())
        .map_err(ObjectError::local("copying the object"))?;
    temp.as_file_mut()
        .flush()
        .and_then(|()| temp.as_file().sync_all())
        .map_err(ObjectError::local("syncing the object"))?;
    temp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(ObjectError::local("setting the object's mode"))?;
    temp.persist(target)
        .map_err(|err| ObjectError::local("moving the object into place")(err.error))?;
    if let Some(dir) = target.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        // Makes the rename durable; a failure here leaves a complete file, so it is
        // not reported.
        let _ = dir.sync_all();
    }
    Ok(copied)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ObjectError> + Send + 'static,
) -> Result<T, ObjectError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ObjectError::Backend {
            operation: "file system task",
            source: err.into(),
        })?
}
