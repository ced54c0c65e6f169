use async_trait::async_trait;

use super::{CommitCost, CommitRefused, StoreResult};
use crate::domain::{Avatar, AvatarId, AvatarStatus, UserId};

/// Avatars, always addressed through their owner: another user's avatar is simply absent.
#[async_trait]
pub trait AvatarStore: Send + Sync {
    async fn create_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar>;
    async fn get_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<Option<Avatar>>;
    /// The owner's avatars, oldest first.
    async fn list_avatars(&self, owner: UserId) -> StoreResult<Vec<Avatar>>;
    /// Writes `avatar` if the stored one is still at `avatar.version`. Keeps the in-flight
    /// index in step with the avatar's state.
    async fn update_avatar(&self, avatar: &Avatar) -> StoreResult<Avatar>;
    /// How many trainings the owner has queued so far: read before the owner's limits are
    /// checked, and handed back to [`Self::enqueue_avatar`].
    async fn launch_count(&self, owner: UserId) -> StoreResult<u64>;
    /// The avatar's move to `queued`, all or nothing: written if still at its version and
    /// the owner's launch count is still `launches_seen` (another of their trainings queued
    /// in between is a `Conflict`: check the limits again), with `cost` (the day's spend and
    /// the owner's debit). Past the spend cap or the owner's balance nothing is written:
    /// `Ok(Err(_))`; a debit applied before (the same work) is not applied again.
    async fn enqueue_avatar(
        &self,
        avatar: &Avatar,
        launches_seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Avatar, CommitRefused>>;
    /// Removes the avatar with its photos and generations. Idempotent.
    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()>;
    /// How many avatars are in each status (all users): a full read of the avatars, for
    /// operators only, never on a user's path.
    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>>;
}
