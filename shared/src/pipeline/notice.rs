//! What every kind shares when telling the user: whom to tell, in which language, and
//! whether an attempt settles the notice.

use super::engine::Told;
use super::{Pipeline, PipelineResult};
use crate::domain::{ChatId, Language, UserId};
use crate::telegram::client::TelegramError;

impl Pipeline {
    /// The user's chat and language (a private chat's id is the user's id).
    pub(super) async fn audience(&self, owner: UserId) -> PipelineResult<(ChatId, Language)> {
        Ok(match self.store.get_user(owner).await? {
            Some(user) => (user.chat_id, user.language),
            None => (ChatId(owner.0), Language::Ru),
        })
    }
}

/// Whether an attempt to tell the user settles the notice: sent, or never sendable (blocked,
/// refused). A transient failure leaves it due for the sweep.
pub(super) fn told(sent: Result<(), TelegramError>, subject: &str) -> Told {
    match sent {
        Ok(()) => Told::Settled,
        Err(TelegramError::Blocked(_)) => {
            tracing::info!(%subject, "user blocked the bot; notice dropped");
            Told::Settled
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(%subject, error = %e, "notice not sent; the sweep will retry");
            Told::Later
        }
        Err(e) => {
            tracing::error!(%subject, error = %e, "notice refused by Telegram; not retried");
            Told::Settled
        }
    }
}
