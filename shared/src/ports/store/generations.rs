use async_trait::async_trait;

use super::{CommitCost, CommitRefused, StoreResult};
use crate::domain::{AvatarId, Generation, GenerationId, Timestamp, UserId};

/// Generations, kept under their avatar.
#[async_trait]
pub trait GenerationStore: Send + Sync {
    /// How many generations the owner has started so far: read before the owner's limits
    /// are checked, and handed back to [`Self::start_generation`].
    async fn generation_count(&self, owner: UserId) -> StoreResult<u64>;
    /// Records new picture work, all or nothing with: the owner's generation count moving
    /// on from `seen` (another generation of theirs created in between is a `Conflict`: check
    /// the limits again), `cost` (the day's spend, the owner's debits, its causes, which name
    /// the first record), and a check that their avatar is there and not being deleted. Past
    /// the spend cap or the owner's balance, for a cause that committed work already, or for
    /// a vanished avatar, nothing is written: `Ok(Err(_))`. Several records are one photo
    /// pack's pictures, committed by one tap.
    async fn start_generations(
        &self,
        generations: &[Generation],
        seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Vec<Generation>, CommitRefused>>;
    /// [`Self::start_generations`] of one record.
    async fn start_generation(
        &self,
        generation: &Generation,
        seen: u64,
        cost: &CommitCost,
    ) -> StoreResult<Result<Generation, CommitRefused>> {
        Ok(self
            .start_generations(std::slice::from_ref(generation), seen, cost)
            .await?
            .map(|mut stored| stored.remove(0)))
    }
    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>>;
    /// Writes `generation` if the stored one is still at its version. Keeps the in-flight
    /// index in step with its state.
    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation>;
    /// An avatar's generations, newest first, at most `limit`. Neither this nor
    /// [`Self::get_generation`] returns a record whose retention is over.
    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>>;
    /// Records whose retention is over that this backend does not delete by itself, oldest
    /// first, at most `limit`: the sweep deletes them with their pictures. DynamoDB's TTL and
    /// the bucket's lifecycle rule do that on AWS, so it has none; the embedded backend
    /// relies on the sweep.
    async fn expired_generations(
        &self,
        _now: Timestamp,
        _limit: u32,
    ) -> StoreResult<Vec<Generation>> {
        Ok(Vec::new())
    }
    /// Removes one generation record (its avatar is gone). Idempotent; another owner's
    /// generation is left alone.
    async fn delete_generation(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<()>;
}
