//! /privacy and "delete everything about me" (`pipeline::erasure`): asked with everything
//! that will go listed, then done. The turn that forgets the user saves no profile after it,
//! so the next update (a `/start`) meets a new user.

use super::{Answer, BotResult, Turn};
use crate::domain::MessageRef;
use crate::pipeline::erasure;
use crate::telegram::screens;

impl Turn<'_> {
    pub(super) async fn show_privacy(&mut self, at: Option<MessageRef>) {
        let screen = screens::privacy(self.t(), self.bot.limits.retention_days);
        self.show(at, &screen).await;
    }

    pub(super) async fn ask_forget(&mut self, at: Option<MessageRef>) -> BotResult<Answer> {
        let inventory = erasure::inventory(self.bot.store.as_ref(), self.user.id).await?;
        self.show(at, &screens::forget_question(self.t(), &inventory))
            .await;
        Ok(Answer::Silent)
    }

    /// Forgets the user. Safe to repeat (a redelivery, a second tap): what is gone stays
    /// gone, and nothing is refunded twice.
    pub(super) async fn forget(&mut self, at: Option<MessageRef>) -> BotResult<Answer> {
        let bot = self.bot;
        let done = erasure::forget_user(
            bot.store.as_ref(),
            bot.blobs.as_ref(),
            bot.launches.as_ref(),
            self.user.id,
            self.now,
        )
        .await?;
        self.forgotten = true;
        self.show(at, &screens::forgotten(self.t(), done)).await;
        Ok(Answer::Silent)
    }
}
