//! Object keys, valid by construction.

use serde::{Deserialize, Serialize};

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
}
