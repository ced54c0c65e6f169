use async_trait::async_trait;

use super::{OverBudget, StoreResult};
use crate::domain::{Avatar, AvatarId, AvatarStatus, Charge, UserId};

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
    /// [`Self::update_avatar`] and `charge` added to its day's spend, in one transaction:
    /// `Ok(Err(_))`, and nothing written, when the charge would pass the cap.
    async fn update_avatar_charged(
        &self,
        avatar: &Avatar,
        charge: &Charge,
    ) -> StoreResult<Result<Avatar, OverBudget>>;
    /// Removes the avatar with its photos and generations. Idempotent.
    async fn delete_avatar(&self, owner: UserId, id: AvatarId) -> StoreResult<()>;
    /// How many avatars are in each status (all users): a full read of the avatars, for
    /// operators only, never on a user's path.
    async fn count_avatars_by_status(&self) -> StoreResult<Vec<(AvatarStatus, u64)>>;
}
