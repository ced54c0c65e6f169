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
}
