//! Blob storage: photos and training archives. Bodies are streams so that no archive has to
//! sit whole in memory (a photo, at most 20 MB, is read whole once to strip its metadata).

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncRead;
use url::Url;

/// A streamed blob body.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

pub use crate::domain::blob_key::{BlobKey, InvalidBlobKey};

/// Validates a prefix for `delete_prefixes`: a key-shaped string ending in `/`, so a prefix can
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
    /// Deletes every object whose key starts with one of `prefixes` (each must end in `/`;
    /// nothing is deleted when one does not); returns how many were deleted. One call for
    /// several prefixes lets S3 delete them all in one batch.
    async fn delete_prefixes(&self, prefixes: &[String]) -> Result<u64, BlobError>;
    /// A URL anyone holding it can GET the object from until `ttl` passes.
    async fn presign_get(&self, key: &BlobKey, ttl: Duration) -> Result<Url, BlobError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_end_with_a_slash() {
        assert!(validate_prefix("photos/1/").is_ok());
        assert!(validate_prefix("photos/1").is_err());
        assert!(validate_prefix("/").is_err());
        assert!(validate_prefix("../").is_err());
    }
}
