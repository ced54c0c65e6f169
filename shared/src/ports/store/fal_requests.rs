use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::{AvatarId, Timestamp, UserId, WorkId, WorkKind, WorkRef};

/// fal.ai request id -> the paid work it belongs to; written before the request's result can
/// arrive, so every result, however late, can be routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredOwner", into = "StoredOwner")]
pub struct FalRequestOwner {
    pub request_id: String,
    pub work: WorkRef,
    pub created_at: Timestamp,
}

/// As stored: `target` is the kind; the work's own id is absent for a training (the avatar's)
/// and was `generation_id` for generations before other kinds had ids.
#[derive(Serialize, Deserialize)]
struct StoredOwner {
    request_id: String,
    target: WorkKind,
    owner: UserId,
    avatar_id: AvatarId,
    #[serde(
        default,
        alias = "generation_id",
        skip_serializing_if = "Option::is_none"
    )]
    work_id: Option<WorkId>,
    created_at: Timestamp,
}

impl From<StoredOwner> for FalRequestOwner {
    fn from(s: StoredOwner) -> Self {
        Self {
            request_id: s.request_id,
            work: WorkRef {
                kind: s.target,
                owner: s.owner,
                avatar_id: s.avatar_id,
                id: s.work_id.unwrap_or_else(|| s.avatar_id.into()),
            },
            created_at: s.created_at,
        }
    }
}

impl From<FalRequestOwner> for StoredOwner {
    fn from(o: FalRequestOwner) -> Self {
        let own_id = o.work.id != WorkId::from(o.work.avatar_id);
        Self {
            request_id: o.request_id,
            target: o.work.kind,
            owner: o.work.owner,
            avatar_id: o.work.avatar_id,
            work_id: own_id.then_some(o.work.id),
            created_at: o.created_at,
        }
    }
}

/// fal.ai request id -> the record it belongs to.
#[async_trait]
pub trait FalRequests: Send + Sync {
    async fn put_fal_request(&self, owner: &FalRequestOwner) -> StoreResult<()>;
    async fn get_fal_request(&self, request_id: &str) -> StoreResult<Option<FalRequestOwner>>;
    /// Forgets a request id (its avatar is being deleted). Idempotent.
    async fn delete_fal_request(&self, request_id: &str) -> StoreResult<()>;
    /// Forgets several request ids at once (an avatar's, when it is deleted). Idempotent.
    async fn delete_fal_requests(&self, request_ids: &[String]) -> StoreResult<()> {
        for id in request_ids {
            self.delete_fal_request(id).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::GenerationId;

    #[test]
    fn owners_of_the_first_release_read_back() {
        let (avatar, generation) = (AvatarId::new(), GenerationId::new());
        let old = serde_json::json!({"request_id": "r", "target": "generation", "owner": 3,
            "avatar_id": avatar.to_string(), "generation_id": generation.to_string(), "created_at": 1});
        let read: FalRequestOwner = serde_json::from_value(old).unwrap();
        assert_eq!(
            read.work,
            WorkRef::generation(UserId(3), avatar, generation)
        );
        let old = serde_json::json!({"request_id": "r", "target": "training", "owner": 3,
            "avatar_id": avatar.to_string(), "created_at": 1});
        let read: FalRequestOwner = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(read.work, WorkRef::training(UserId(3), avatar));
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            old,
            "a training is stored as before"
        );
    }
}
