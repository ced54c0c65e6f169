use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{Credits, LedgerEntry, NotEnoughCredits, Timestamp, UserId};

/// What applying a ledger entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Applied now; the balance after it.
    New(Credits),
    /// An entry with this key was applied before: nothing changed. The balance now.
    Repeat(Credits),
}

impl Applied {
    pub fn balance(self) -> Credits {
        match self {
            Applied::New(b) | Applied::Repeat(b) => b,
        }
    }
}

/// Each user's credits and the entries that made them. An entry and the balance change in one
/// conditional write: an entry's key applies at most once, and a balance never goes below
/// zero. Debits for work are applied only with the work's commit
/// (`AvatarStore::enqueue_avatar`, `GenerationStore::start_generation`).
#[async_trait]
pub trait CreditLedger: Send + Sync {
    async fn balance(&self, owner: UserId) -> StoreResult<Credits>;
    /// The owner's entries, newest first, at most `limit`.
    async fn ledger(&self, owner: UserId, limit: usize) -> StoreResult<Vec<LedgerEntry>>;
    async fn ledger_entry(&self, owner: UserId, key: &str) -> StoreResult<Option<LedgerEntry>>;
    /// Every user's payment entries (purchases, payment refunds and their reversals) made at
    /// or after `since`, in no particular order: a full read of the books, for the operator's
    /// reconciliation only, never on a user's path.
    async fn payment_entries(&self, since: Timestamp) -> StoreResult<Vec<LedgerEntry>>;
    /// Applies `entry` once. An entry that would take the balance below zero writes nothing:
    /// `Ok(Err(_))`.
    async fn apply_entry(
        &self,
        entry: &LedgerEntry,
    ) -> StoreResult<Result<Applied, NotEnoughCredits>>;
}
