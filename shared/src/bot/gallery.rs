//! The user's avatars: the list, a card, adding more photos, deletion with confirmation.
//! Every id in a callback is looked up under the caller, so another user's avatar is simply
//! "not found".

use super::{Answer, BotResult, Turn};
use crate::domain::{AvatarId, AvatarStatus, DialogueState, Generation, GenerationId, MessageRef};
use crate::telegram::screens::{self, Screen};

/// Generations listed on a card.
const HISTORY: u32 = 5;

impl Turn<'_> {
    /// One of the avatar's generations, unless its retention is over.
    pub(super) async fn generation(
        &self,
        avatar: AvatarId,
        id: GenerationId,
    ) -> BotResult<Option<Generation>> {
        let found = self.bot.store.get_generation(avatar, id).await?;
        Ok(found.filter(|g| g.retained(self.now, self.bot.limits.retention_days)))
    }

    /// The avatar's newest generations, at most `limit`, but those whose retention is over.
    pub(super) async fn generations(
        &self,
        avatar: AvatarId,
        limit: u32,
    ) -> BotResult<Vec<Generation>> {
        let mut found = self.bot.store.list_generations(avatar, limit).await?;
        found.retain(|g| g.retained(self.now, self.bot.limits.retention_days));
        Ok(found)
    }

    pub(super) async fn show_avatars(
        &mut self,
        at: Option<MessageRef>,
        page: usize,
    ) -> BotResult<()> {
        let avatars = self.bot.store.list_avatars(self.user.id).await?;
        let t = self.t();
        self.show(at, &screens::avatar_list(t, &avatars, page))
            .await;
        Ok(())
    }

    pub(super) async fn show_card(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            self.show_avatars(at, 0).await?;
            return Ok(Answer::Toast(t.not_found()));
        };
        if matches!(self.user.dialogue, DialogueState::EnteringPrompt { .. }) {
            // Left the prompt screen: a message is no longer a prompt.
            self.set_dialogue(DialogueState::Idle);
        }
        let min = self.bot.limits.quotas.min_photos(avatar.kind);
        let history = if avatar.status() == AvatarStatus::Completed {
            self.generations(avatar.id, HISTORY).await?
        } else {
            Vec::new()
        };
        let mut card = screens::avatar_card(t, &avatar, &history, min, self.now);
        if let (Some(days), false) = (self.bot.limits.retention_days, history.is_empty()) {
            card.text
                .push_str(&format!("\n\n{}", t.retention_note(days)));
        }
        self.show(at, &card).await;
        Ok(Answer::Silent)
    }

    /// Back to collecting photos for a half-made avatar (also the Back of the summary).
    pub(super) async fn continue_photos(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            return Ok(Answer::Alert(t.not_found().to_owned()));
        };
        if !avatar.status().accepts_photos() {
            return Ok(Answer::Alert(t.photos_closed().to_owned()));
        }
        let screen = self.photos_screen(&avatar, false);
        let shown = self.show(at, &screen).await;
        self.set_dialogue(DialogueState::SendingPhotos {
            avatar_id: id,
            progress_message: shown,
        });
        Ok(Answer::Silent)
    }

    pub(super) async fn ask_delete(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            self.show_avatars(at, 0).await?;
            return Ok(Answer::Toast(t.not_found()));
        };
        let settlement =
            crate::pipeline::deletion::preview(self.bot.store.as_ref(), &avatar).await?;
        self.show(at, &screens::delete_question(t, &avatar, settlement))
            .await;
        Ok(Answer::Silent)
    }

    /// Deletes the avatar with its photos, archives and generations, whatever its state: a
    /// training avatar's late result then finds nothing and is ignored.
    pub(super) async fn delete(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            self.show_avatars(at, 0).await?;
            return Ok(Answer::Toast(t.not_found()));
        };
        if avatar.status() == AvatarStatus::Training {
            tracing::info!(avatar = %avatar.id, "deleting an avatar in training; its result will be ignored");
        }
        let done = self.remove_avatar(&avatar).await?;
        let avatars = self.bot.store.list_avatars(self.user.id).await?;
        let list = screens::avatar_list(t, &avatars, 0);
        let screen = Screen::new(
            format!(
                "{}\n\n{}",
                screens::deleted(t, avatar.name.as_str(), done),
                list.text
            ),
            list.keyboard,
        );
        self.show(at, &screen).await;
        Ok(Answer::Silent)
    }
}
