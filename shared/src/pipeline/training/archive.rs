//! What fal.ai trains on: the avatar's photos streamed from blob storage into one zip (bounded
//! memory), at `archives/<owner>/<avatar>/<attempt>.zip`, and a URL fal can read it from.

use url::Url;

use super::super::engine::NotLaunched;
use super::super::{Pipeline, PipelineError};
use crate::domain::{AttemptId, Avatar, FailureReason, Photo, blob_keys};
use crate::ports::{BlobError, StoreError, ZipSource};
use crate::zip_stream::zip_blobs;

/// Why an archive cannot be made: no retry helps these, anything else is tried again.
fn not_launched(e: PipelineError) -> NotLaunched {
    let permanent = |detail: &str| {
        NotLaunched::Permanent(FailureReason::NotStarted {
            detail: detail.to_owned(),
        })
    };
    match e {
        PipelineError::Blob(BlobError::NotFound(_)) => permanent("a photo is missing from storage"),
        PipelineError::Blob(BlobError::InvalidKey(_))
        | PipelineError::Store(StoreError::Corrupt { .. }) => {
            permanent("a photo record is unreadable")
        }
        PipelineError::Fal(e) if e.is_permanent() => {
            permanent(&format!("the photo archive was refused: {e}"))
        }
        other => NotLaunched::Transient(other),
    }
}

impl Pipeline {
    /// The avatar's photos in a new archive for `attempt`, and where fal.ai reads it.
    pub(super) async fn archive(
        &self,
        avatar: &Avatar,
        attempt: AttemptId,
    ) -> Result<Url, NotLaunched> {
        let photos = self
            .store
            .list_photos(avatar.id)
            .await
            .map_err(|e| not_launched(e.into()))?;
        if photos.is_empty() {
            return Err(NotLaunched::Permanent(FailureReason::NotStarted {
                detail: "no photos".into(),
            }));
        }
        let archive = blob_keys::archive(avatar.owner, avatar.id, attempt);
        let summary = zip_blobs(self.blobs.as_ref(), &zip_sources(&photos), &archive)
            .await
            .map_err(|e| not_launched(e.into()))?;
        tracing::info!(avatar = %avatar.id, entries = summary.entries, bytes = summary.archive_bytes, "photo archive written");
        let ttl = self.fal_settings.archive_url_ttl;
        self.url_for_fal(&archive, "photos.zip", "application/zip", ttl)
            .await
            .map_err(not_launched)
    }
}

/// Zip entries named by position, so fal sees `01.jpg`, `02.png`...
fn zip_sources(photos: &[Photo]) -> Vec<ZipSource> {
    photos
        .iter()
        .enumerate()
        .map(|(i, p)| ZipSource {
            key: p.blob_key.clone(),
            name: format!("{:02}.{}", i + 1, p.format.extension()),
        })
        .collect()
}
