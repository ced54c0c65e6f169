//! The record store: every durable record the functions share. Writes of versioned records are
//! conditional on the version read (optimistic locking), so two workers racing on one item
//! cannot both win: the loser gets [`StoreError::Conflict`] and re-reads.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Avatar, AvatarId, AvatarStatus, ContentHash, Generation, GenerationId, Photo, Timestamp,
    UserId, UserProfile,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the record changed (or appeared) since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to update does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored record could not be decoded.
    #[error("corrupt record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// The backend failed; retrying later may help.
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The outcome of recording a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoAdded {
    /// Recorded; the avatar now has this many photos.
    Added { photo_count: u32 },
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

/// Where an update id stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateClaim {
    /// Claimed now by the caller: process it.
    Fresh,
    /// Another invocation is processing it (or crashed less than a lease ago).
    InProgress,
    /// Processed already.
    Done,
}

/// What a fal.ai request id belongs to; written before the request is submitted so every
/// result, however late, can be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum FalTarget {
    Training {
        owner: UserId,
        avatar_id: AvatarId,
    },
    Generation {
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FalRequestOwner {
    pub request_id: String,
    #[serde(flatten)]
    pub target: FalTarget,
    pub created_at: Timestamp,
}

/// One entry of the in-flight index: enough to load the item, nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightItem {
    pub since: Timestamp,
    pub target: FalTarget,
}

/// Where the next page of the in-flight listing starts; opaque to callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightCursor(pub(crate) String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightPage {
    pub items: Vec<InFlightItem>,
    pub next: Option<InFlightCursor>,
}

/// The sort key of the in-flight index: chronological, then unique per item. Shared by both
/// backends so their order and cursors agree.
pub(crate) fn in_flight_sort_key(since: Timestamp, target: &FalTarget) -> String {
    match target {
        FalTarget::Training { owner, avatar_id } => {
            format!("{}#T#{owner}#{avatar_id}", since.sortable())
        }
        FalTarget::Generation {
            owner,
            avatar_id,
            generation_id,
        } => {
            format!("{}#G#{owner}#{avatar_id}#{generation_id}", since.sortable())
        }
    }
}

pub(crate) fn parse_in_flight_sort_key(key: &str) -> Option<InFlightItem> {
    let mut parts = key.split('#');
    let since = Timestamp(parts.next()?.parse().ok()?);
    let kind = parts.next()?;
    let owner = UserId(parts.next()?.parse().ok()?);
    let avatar_id = parts.next()?.parse().ok()?;
    let target = match kind {
        "T" => FalTarget::Training { owner, avatar_id },
        "G" => FalTarget::Generation {
            owner,
            avatar_id,
            generation_id: parts.next()?.parse().ok()?,
        },
        _ => return None,
    };
    parts
        .next()
        .is_none()
        .then_some(InFlightItem { since, target })
}

#[async_trait]
pub trait RecordStore: Send + Sync {
    // Users and dialogue state.
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>>;
    /// Creates the profile when `version` is 0, else updates it if still at `version`.
    /// Returns the stored profile (version incremented).
    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile>;

    // Avatars, always addressed through their owner: another user's avatar is simply absent.
    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar>;
    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>>;
    /// The owner's avatars, oldest first.
    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>>;
    /// Writes `avatar` if the stored one is still at `avatar.version`. Keeps the in-flight
    /// index in step with the avatar's state.
    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar>;
    /// Removes the avatar with its photos and generations. Idempotent.
    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()>;

    // Photos.
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

    // Generations.
    async fn create_generation(&self, generation: &Generation) -> StoreResult<Generation>;
    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>>;
    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation>;
    /// An avatar's generations, newest first, at most `limit`.
    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>>;

    // fal.ai request id -> owner.
    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()>;
    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>>;
    /// Forgets a request id (its avatar is being deleted). Idempotent.
    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()>;

    // Telegram update ids.
    /// Claims `update_id` for processing until `lease_until`. `Fresh` when nobody has it (or
    /// a previous claim's lease ran out: that worker crashed); otherwise whether it is still
    /// being processed or already done.
    async fn claim_update(
        &self,
        update_id: i64,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<UpdateClaim>;
    /// Marks a claimed update as processed, remembered until `expires_at`.
    async fn complete_update(&self, update_id: i64, expires_at: Timestamp) -> StoreResult<()>;
    async fn forget_update(&self, update_id: i64) -> StoreResult<()>;

    // Operations.
    /// How many avatars are in each status (all users): a full read of the avatars, for
    /// operators only, never on a user's path.
    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>>;

    // In-flight work, oldest first.
    /// Items in flight since before `older_than`, oldest first, at most `limit` per page.
    async fn list_in_flight(
        &self,
        older_than: Timestamp,
        limit: u32,
        cursor: Option<InFlightCursor>,
    ) -> StoreResult<InFlightPage>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AvatarId, GenerationId};

    #[test]
    fn in_flight_keys_round_trip_and_sort_by_time() {
        let t = FalTarget::Generation {
            owner: UserId(-5),
            avatar_id: AvatarId::new(),
            generation_id: GenerationId::new(),
        };
        let key = in_flight_sort_key(Timestamp(42), &t);
        assert_eq!(
            parse_in_flight_sort_key(&key),
            Some(InFlightItem {
                since: Timestamp(42),
                target: t
            })
        );
        let a = FalTarget::Training {
            owner: UserId(9),
            avatar_id: AvatarId::new(),
        };
        assert!(in_flight_sort_key(Timestamp(99), &a) < in_flight_sort_key(Timestamp(100), &a));
        assert_eq!(parse_in_flight_sort_key("12#X#1#2"), None);
    }
}
