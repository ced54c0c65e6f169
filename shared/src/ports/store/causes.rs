use async_trait::async_trait;

use super::{Cause, StoreResult};
use crate::domain::WorkRef;

/// What caused each commit to paid work (a Telegram update, a tapped button), written with the
/// commit itself (`CommitCost::causes`) and remembered until it expires.
#[async_trait]
pub trait CauseLog: Send + Sync {
    /// The work `cause` committed, while it is remembered.
    async fn committed_by(&self, cause: &Cause) -> StoreResult<Option<WorkRef>>;
}
