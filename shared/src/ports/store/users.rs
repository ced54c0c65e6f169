use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{UserId, UserProfile};

/// User profiles: language, dialogue state, quotas' counters.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn get_user(&self, id: UserId) -> StoreResult<Option<UserProfile>>;
    /// Creates the profile when `version` is 0, else updates it if still at `version`.
    /// Returns the stored profile (version incremented).
    async fn save_user(&self, user: &UserProfile) -> StoreResult<UserProfile>;
    /// Forgets the user: the profile and dialogue state, their limits' counters, what caused
    /// their commits, their chat's send pace. Not their avatars (each is deleted first, with
    /// its work settled: `pipeline::erasure`), and not their books (the balance and the ledger
    /// entries, kept for payment disputes and refunds). Idempotent.
    async fn forget_user(&self, id: UserId) -> StoreResult<()>;
}
