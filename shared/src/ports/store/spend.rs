use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{SpendDay, Usd};

/// Estimated fal.ai spend per UTC day. Charges are added only together with the record that
/// commits to the work (`AvatarStore::enqueue_avatar`, `GenerationStore::start_generation`),
/// in one transaction.
#[async_trait]
pub trait SpendLedger: Send + Sync {
    async fn spent_on(&self, day: &SpendDay) -> StoreResult<Usd>;
}
