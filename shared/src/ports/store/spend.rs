use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{SpendDay, Usd};

/// The day's spend had no room for the charge: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    pub spent: Usd,
}

/// Estimated fal.ai spend per UTC day. Charges are added only together with the record that
/// commits to the work (`AvatarStore::update_avatar_charged`,
/// `GenerationStore::create_generation_charged`), in one transaction.
#[async_trait]
pub trait SpendLedger: Send + Sync {
    async fn spent_on(&self, day: &SpendDay) -> StoreResult<Usd>;
}
