use async_trait::async_trait;

use super::{OverBudget, StoreResult};
use crate::domain::{AvatarId, Charge, Generation, GenerationId};

/// Generations, kept under their avatar.
#[async_trait]
pub trait GenerationStore: Send + Sync {
    async fn create_generation(&self, generation: &Generation) -> StoreResult<Generation>;
    /// [`Self::create_generation`] and `charge` added to its day's spend, in one
    /// transaction: `Ok(Err(_))`, and nothing written, when the charge would pass the cap.
    async fn create_generation_charged(
        &self,
        generation: &Generation,
        charge: &Charge,
    ) -> StoreResult<Result<Generation, OverBudget>>;
    async fn get_generation(
        &self,
        avatar_id: AvatarId,
        id: GenerationId,
    ) -> StoreResult<Option<Generation>>;
    /// Writes `generation` if the stored one is still at its version. Keeps the in-flight
    /// index in step with its state.
    async fn update_generation(&self, generation: &Generation) -> StoreResult<Generation>;
    /// An avatar's generations, newest first, at most `limit`.
    async fn list_generations(
        &self,
        avatar_id: AvatarId,
        limit: u32,
    ) -> StoreResult<Vec<Generation>>;
}
