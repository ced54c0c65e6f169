//! Avatars the user never sent to training: removed with their photos by the sweep a week
//! after their last step ([`ABANDONED_AFTER`]), and the user told. Nothing of them was ever
//! given to fal.ai.

use super::super::{Pipeline, PipelineResult};
use crate::domain::{ABANDONED_AFTER, Avatar, Timestamp, blob_keys};
use crate::telegram::screens::{Keyboard, Screen};
use crate::telegram::texts::texts;

impl Pipeline {
    /// Removes the avatar if it was left alone long enough; `true` when it was.
    pub(super) async fn remove_if_abandoned(
        &self,
        avatar: &Avatar,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        if now.since(avatar.updated_at) < ABANDONED_AFTER {
            return Ok(false);
        }
        self.blobs
            .delete_prefixes(&blob_keys::avatar_prefixes(avatar.owner, avatar.id))
            .await?;
        self.store.delete_avatar(avatar.owner, avatar.id).await?;
        tracing::info!(avatar = %avatar.id, status = avatar.status().as_str(), "abandoned avatar removed with its photos");
        let (chat, language) = self.audience(avatar.owner).await?;
        let text = texts(language)
            .abandoned_avatar_removed(avatar.name.as_str(), ABANDONED_AFTER.as_secs() / 86_400);
        let screen = Screen::new(text, Keyboard::default());
        if let Err(e) = self.telegram.send(chat, &screen).await {
            tracing::info!(avatar = %avatar.id, error = %e, "removal not told");
        }
        Ok(true)
    }
}
