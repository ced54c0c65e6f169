use async_trait::async_trait;

use super::StoreResult;
use crate::domain::Timestamp;

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

/// Telegram update ids seen, so an update delivered again changes nothing.
#[async_trait]
pub trait UpdateLog: Send + Sync {
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
}
