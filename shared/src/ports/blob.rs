//! Blob storage: photos and training archives. Bodies are streams so that no photo or archive
//! ever has to sit whole in memory.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncRead;
use url::Url;

use crate::zip_stream;

/// A streamed blob body.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object key: 1-512 bytes of `[A-Za-z0-9/._=-]`, relative, with no empty, `.` or `..`
/// segments, so it is equally safe as an S3 key and as a path under a local directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct BlobKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid blob key {0:?}")]
pub struct InvalidBlobKey(pub String);

impl BlobKey {
    pub fn new(key: impl Into<String>) -> Result<Self, InvalidBlobKey> {
        let key = key.into();
        let charset_ok = key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'=' | b'-'));
        let segments_ok = key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
        if key.is_empty() || key.len() > 512 || !charset_ok || !segments_ok {
            return Err(InvalidBlobKey(key));
        }
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for BlobKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BlobKey::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a prefix for `delete_prefix`: a key-shaped string ending in `/`, so a prefix can
/// never match a sibling (`photos/1/a` would also match `photos/1/ab`).
pub fn validate_prefix(prefix: &str) -> Result<(), InvalidBlobKey> {
    match prefix.strip_suffix('/') {
        Some(stem) if BlobKey::new(stem).is_ok() => Ok(()),
        _ => Err(InvalidBlobKey(prefix.to_owned())),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob not found: {0}")]
    NotFound(String),
    #[error(transparent)]
    InvalidKey(#[from] InvalidBlobKey),
    #[error("blob I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("zip error: {0}")]
    Zip(String),
    #[error("blob backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl BlobError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        BlobError::Backend(Box::new(e))
    }
}

/// One file of an archive: which blob, under which name inside the zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipSource {
    pub key: BlobKey,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipSummary {
    pub entries: u32,
    /// Bytes read from the sources.
    pub content_bytes: u64,
    /// Size of the archive written.
    pub archive_bytes: u64,
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Stores `body` under `key`, replacing any previous object, and returns its size. The
    /// object appears whole or not at all: a body that fails midway leaves nothing behind.
    async fn put(
        &self,
        key: &BlobKey,
        body: BlobReader,
        content_type: &str,
    ) -> Result<u64, BlobError>;
    /// Streams the object; [`BlobError::NotFound`] if there is none.
    async fn get(&self, key: &BlobKey) -> Result<BlobReader, BlobError>;
    /// The object's size, or `None` if there is none.
    async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError>;
    /// Deletes one object; deleting a missing object is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
    /// Deletes every object whose key starts with `prefix` (which must end in `/`); returns
    /// how many were deleted.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError>;
    /// A URL anyone holding it can GET the object from until `ttl` passes.
    async fn presign_get(&self, key: &BlobKey, ttl: Duration) -> Result<Url, BlobError>;

    /// Streams `sources` into one zip stored at `dest`, with memory bounded by a few buffers
    /// whatever the number and size of the sources.
    async fn zip_into(
        &self,
        sources: &[ZipSource],
        dest: &BlobKey,
    ) -> Result<ZipSummary, BlobError> {
        zip_stream::zip_blobs(self, sources, dest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_safe_as_paths() {
        assert!(BlobKey::new("photos/1/abc/x.jpg").is_ok());
        for bad in [
            "", "/abs", "a//b", "a/../b", "./a", "a/", "sp ace", "ü", "a\\b",
        ] {
            assert!(BlobKey::new(bad).is_err(), "{bad:?}");
        }
        assert!(BlobKey::new("a".repeat(513)).is_err());
    }

    #[test]
    fn prefixes_end_with_a_slash() {
        assert!(validate_prefix("photos/1/").is_ok());
        assert!(validate_prefix("photos/1").is_err());
        assert!(validate_prefix("/").is_err());
        assert!(validate_prefix("../").is_err());
    }
}
