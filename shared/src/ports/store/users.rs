use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{Timestamp, UserId, UserProfile};

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
    /// One page of every user's profile, from `cursor` on (`None`: the first page), in no
    /// particular order: the operator's broadcast reads them all, never a user's path.
    async fn list_users(&self, cursor: Option<String>, limit: u32) -> StoreResult<UserPage>;
    /// Notes that announcement `broadcast` goes to `user`, once: `true` when noted now,
    /// `false` when it was before (another run sent it). Remembered until `until`.
    async fn note_broadcast(
        &self,
        user: UserId,
        broadcast: &str,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Takes a note back (the message did not go out), so a later run sends it.
    async fn unnote_broadcast(&self, user: UserId, broadcast: &str) -> StoreResult<()>;
}

/// A page of profiles, and where the next begins (`None`: that was the last).
#[derive(Debug, Clone, PartialEq)]
pub struct UserPage {
    pub users: Vec<UserProfile>,
    pub next: Option<String>,
}
