use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::BufReader;
use url::Url;

use crate::domain::Timestamp;
use crate::ports::blob::{BlobError, BlobKey, BlobReader, BlobStore, validate_prefix};

const COPY_BUFFER: usize = 256 << 10;

/// Blobs as files under a directory. Writes go to a temporary file renamed into place, so a
/// reader never sees half an object. "Presigned" URLs point at the local runner's HTTP server
/// and carry an expiry and an HMAC it checks with [`LocalBlobs::verify_presigned`].
pub struct LocalBlobs {
    root: PathBuf,
    public_url: Url,
    signing_key: Vec<u8>,
}

impl LocalBlobs {
    /// Opens a blob directory; `public_url` is where the local runner serves `GET /blobs/<key>`.
    pub fn open(root: &Path, public_url: Url) -> io::Result<Self> {
        // Temporary files left by writes that never finished (the process stopped mid-put)
        // belong to no object: the directory has one owner, so they can go at open.
        let tmp = root.join(".tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let key_path = root.join(".signing-key");
        // One key per directory, kept so URLs stay valid across restarts.
        let signing_key = match std::fs::read(&key_path) {
            Ok(key) if key.len() >= 32 => key,
            _ => {
                let key: Vec<u8> = (0..4)
                    .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
                    .collect();
                write_private(&key_path, &key)?;
                key
            }
        };
        Ok(Self {
            root: root.to_owned(),
            public_url,
            signing_key,
        })
    }

    fn path(&self, key: &BlobKey) -> PathBuf {
        // BlobKey forbids `..`, absolute paths and empty segments, so this stays under root.
        self.root.join(key.as_str())
    }

    fn signature(&self, key: &str, expires: i64) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Checks a presigned request: the signature matches (in constant time) and has not expired.
    pub fn verify_presigned(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
        now: Timestamp,
    ) -> bool {
        let Ok(presented) = hex::decode(signature) else {
            return false;
        };
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.signing_key).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.verify_slice(&presented).is_ok() && now.as_secs() < expires
    }

    /// Removes the directory a (validated) prefix names, file by file.
    async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let dir = self.root.join(prefix.trim_end_matches('/'));
        let mut deleted = 0;
        let mut pending = vec![dir.clone()];
        while let Some(current) = pending.pop() {
            let mut entries = match tokio::fs::read_dir(&current).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            while let Some(entry) = entries.next_entry().await? {
                if entry.file_type().await?.is_dir() {
                    pending.push(entry.path());
                } else {
                    tokio::fs::remove_file(entry.path()).await?;
                    deleted += 1;
                }
            }
        }
        match tokio::fs::remove_dir_all(&dir).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        Ok(deleted)
    }
}

/// Writes a file only its owner can read (the signing key is a secret).
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

fn not_found_or(key: &BlobKey) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |e| {
        if e.kind() == io::ErrorKind::NotFound {
            BlobError::NotFound(key.to_string())
        } else {
            BlobError::Io(e)
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(
        &self,
        key: &BlobKey,
        body: BlobReader,
        _content_type: &str,
    ) -> Result<u64, BlobError> {
        let target = self.path(key);
        let temp = self
            .root
            .join(".tmp")
            .join(uuid::Uuid::now_v7().simple().to_string());
        let written = async {
            let mut file = tokio::fs::File::create(&temp).await?;
            let mut body = BufReader::with_capacity(COPY_BUFFER, body);
            let n = tokio::io::copy_buf(&mut body, &mut file).await?;
            file.sync_all().await?;
            if let Some(dir) = target.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::rename(&temp, &target).await?;
            Ok::<_, io::Error>(n)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        Ok(written?)
    }

    async fn get(&self, key: &BlobKey) -> Result<BlobReader, BlobError> {
        let file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(not_found_or(key))?;
        Ok(Box::pin(file))
    }

    async fn size(&self, key: &BlobKey) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn delete_prefixes(&self, prefixes: &[String]) -> Result<u64, BlobError> {
        for prefix in prefixes {
            validate_prefix(prefix)?;
        }
        let mut deleted = 0;
        for prefix in prefixes {
            deleted += self.delete_prefix(prefix).await?;
        }
        Ok(deleted)
    }

    async fn presign_get(&self, key: &BlobKey, ttl: Duration) -> Result<Url, BlobError> {
        let expires = Timestamp::now().plus(ttl).as_secs();
        let mut url = self
            .public_url
            .join(&format!("blobs/{key}"))
            .map_err(BlobError::backend)?;
        url.query_pairs_mut()
            .append_pair("expires", &expires.to_string())
            .append_pair("signature", &self.signature(key.as_str(), expires));
        Ok(url)
    }
}
