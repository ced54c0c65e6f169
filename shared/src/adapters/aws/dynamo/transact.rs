//! TransactWriteItems, shared by the commits of paid work (`commit.rs`) and the ledger
//! (`credits.rs`): one call, and the jittered backoff before a transaction cancelled only by
//! concurrent ones is tried again.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::DynamoStore;
use crate::ports::store::StoreResult;

/// Transactions cancelled only by concurrent commits are tried this often.
pub(super) const CONFLICT_ATTEMPTS: u32 = 8;

/// A jittered pause before a transaction cancelled by concurrent ones is tried again.
pub(super) async fn backoff(attempt: u32) {
    let millis = 10 * (1 << attempt) + u64::from(rand::random::<u8>() % 20);
    tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
}

impl DynamoStore {
    /// Runs one TransactWriteItems: `true` written, `false` cancelled (a condition failed,
    /// or a concurrent transaction on one of its items: the caller finds out which).
    pub(super) async fn transact(&self, items: &[TransactWriteItem]) -> StoreResult<bool> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items.to_vec()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(super::sdk_err(e)),
        }
    }
}
