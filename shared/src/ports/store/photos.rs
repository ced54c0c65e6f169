use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{Avatar, AvatarId, ContentHash, Photo, UserId};

/// The outcome of recording a photo.
#[derive(Debug, Clone, PartialEq)]
pub enum PhotoAdded {
    /// Recorded; the avatar as it is now, this photo counted (so the caller need not read it).
    Added(Box<Avatar>),
    /// A photo with the same `file_unique_id` is already recorded for this avatar.
    DuplicateFile,
    /// A photo with the same bytes is already recorded for this avatar.
    DuplicateContent,
    /// The avatar already has the maximum number of photos.
    Full { max: u32 },
    /// The avatar is not collecting photos (any more).
    NotAccepting,
    /// The avatar does not exist (deleted meanwhile).
    AvatarMissing,
}

impl PhotoAdded {
    /// The avatar's photo count with this photo, when it was recorded.
    pub fn photo_count(&self) -> Option<u32> {
        match self {
            PhotoAdded::Added(avatar) => Some(avatar.photo_count),
            _ => None,
        }
    }
}

/// An avatar's photo records (the files are in the blob store).
#[async_trait]
pub trait PhotoStore: Send + Sync {
    /// Records a photo and bumps the avatar's photo count atomically, refusing duplicates
    /// (by `file_unique_id` or content hash), a full avatar, or one not accepting photos.
    /// Under contention (an album arriving at once) it may return `Conflict`: retry it.
    async fn add_photo(&self, photo: &Photo, max_photos: u32) -> StoreResult<PhotoAdded>;
    async fn list_photos(&self, avatar_id: AvatarId) -> StoreResult<Vec<Photo>>;
    /// Removes the avatar's photo records (and their content-hash markers), not the avatar:
    /// once the files are gone after training, nothing should keep Telegram's file ids.
    /// Idempotent; another owner's avatar is left alone.
    async fn forget_photos(&self, owner: UserId, avatar_id: AvatarId) -> StoreResult<()>;
    async fn find_photo_by_hash(
        &self,
        avatar_id: AvatarId,
        hash: &ContentHash,
    ) -> StoreResult<Option<Photo>>;
}
