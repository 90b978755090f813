//! Attachment storage: opaque ciphertext moved between local files and a store.
//!
//! Bodies are encrypted before they reach this layer; it never sees plaintext and
//! never reads a whole object into memory (S3 uploads go in parts, downloads are
//! streamed). Keys are checked before any use (see [`check_key`]), so no key can
//! reach outside the store's root or bucket prefix.

mod fs;
mod s3;

use std::path::Path;

use enamel_domain::VendorName;

pub use fs::FsStore;
pub use s3::{S3Credentials, S3Settings, S3Store};

/// The longest key accepted.
const MAX_KEY_LEN: usize = 512;

/// Where attachments live.
#[derive(Debug, Clone)]
pub enum ObjectStore {
    /// Files under a root directory on this machine (the embedded default).
    FileSystem(FsStore),
    /// An S3-compatible bucket (AWS S3, Cloudflare R2, moto in tests).
    S3(S3Store),
}

/// A storage operation that failed. Messages name the operation, never a file's
/// content.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The key is not of the accepted form.
    #[error("invalid object key: {0}")]
    InvalidKey(&'static str),
    /// No object under this key.
    #[error("no such object")]
    NotFound,
    /// Reading or writing a local file failed.
    #[error("local file I/O failed while {doing}")]
    Local {
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The store refused or could not be reached.
    #[error("object store {operation} failed")]
    Backend {
        operation: &'static str,
        #[source]
        source: anyhow::Error,
    },
}

impl ObjectError {
    pub(crate) fn local(doing: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |source| Self::Local { doing, source }
    }
}

/// Checks a key: 1 to 512 characters of `a-z`, `0-9`, `-` and `/`, with no empty
/// segment (so no leading or trailing `/`, no `//`) and no `..`.
pub fn check_key(key: &str) -> Result<&str, ObjectError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(ObjectError::InvalidKey("must be 1 to 512 characters"));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/')
    {
        return Err(ObjectError::InvalidKey(
            "only a-z, 0-9, - and / are allowed",
        ));
    }
    // `.` is not allowed at all, so `..` cannot occur; empty segments are the rest.
    if key.split('/').any(str::is_empty) {
        return Err(ObjectError::InvalidKey("no empty path segment"));
    }
    Ok(key)
}

impl ObjectStore {
    /// A store under `root` on the local file system.
    #[must_use]
    pub fn file_system(root: impl Into<std::path::PathBuf>) -> Self {
        Self::FileSystem(FsStore::new(root))
    }

    /// A store in an S3-compatible bucket.
    pub async fn s3(settings: S3Settings) -> Result<Self, ObjectError> {
        S3Store::connect(settings).await.map(Self::S3)
    }

    /// The vendor holding the objects, for the BAA gate; `None` for the local file
    /// system.
    #[must_use]
    pub fn vendor(&self) -> Option<&VendorName> {
        match self {
            Self::FileSystem(_) => None,
            Self::S3(s3) => Some(s3.vendor()),
        }
    }

    /// Stores the file at `path` under `key`, replacing any object there, and returns
    /// its size. The object appears whole or not at all.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<u64, ObjectError> {
        let key = check_key(key)?;
        match self {
            Self::FileSystem(fs) => fs.put_file(key, path).await,
            Self::S3(s3) => s3.put_file(key, path).await,
        }
    }

    /// Writes the object under `key` to `path` (mode 0600, replacing it whole once the
    /// download is complete) and returns its size.
    pub async fn get_to_file(&self, key: &str, path: &Path) -> Result<u64, ObjectError> {
        let key = check_key(key)?;
        match self {
            Self::FileSystem(fs) => fs.get_to_file(key, path).await,
            Self::S3(s3) => s3.get_to_file(key, path).await,
        }
    }

    /// Deletes the object under `key`. Deleting a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let key = check_key(key)?;
        match self {
            Self::FileSystem(fs) => fs.delete(key).await,
            Self::S3(s3) => s3.delete(key).await,
        }
    }

    /// Whether an object is stored under `key`.
    pub async fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        let key = check_key(key)?;
        match self {
            Self::FileSystem(fs) => fs.exists(key).await,
            Self::S3(s3) => s3.exists(key).await,
        }
    }
}

/// A temporary file next to `path` (same directory, so the final rename is atomic),
/// created with mode 0600.
pub(crate) fn temp_next_to(path: &Path) -> Result<tempfile::NamedTempFile, ObjectError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".enamel-")
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(ObjectError::local("creating a temporary file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_could_escape_or_confuse_are_refused() {
        for good in ["a", "practice-1/attachments/0f3c-9", "x/y/z"] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "", "/abs", "a/", "a//b", "../x", "a/../b", "a/./b", "A", "a b", "a\\b", "é", ".hidden",
        ] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
        assert!(check_key(&"a".repeat(513)).is_err());
    }
}
