use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::{AvatarId, GenerationId, Timestamp, UserId};

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

/// fal.ai request id -> the record it belongs to.
#[async_trait]
pub trait FalRequests: Send + Sync {
    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()>;
    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>>;
    /// Forgets a request id (its avatar is being deleted). Idempotent.
    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()>;
}
