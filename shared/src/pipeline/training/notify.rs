//! Telling the user about a training: started, progress, and the outcome (exactly once).

use super::super::notice::settles_notice;
use super::super::{PROGRESS_EVERY, Pipeline, PipelineResult};
use crate::domain::{Avatar, AvatarStatus, NoticeEvent, Timestamp, Work};
use crate::ports::StoreError;
use crate::telegram::screens::{self, Keyboard, Screen};
use crate::telegram::texts::{TrainingProgress, texts};

impl Pipeline {
    /// Edits the avatar's status message (the one that said "queued"), if it has one.
    async fn show_status(&self, avatar: &Avatar, text: String) {
        let Some(at) = avatar.status_message else {
            return;
        };
        let screen = Screen::new(text, Keyboard::default());
        if let Err(e) = self.telegram.edit(at, &screen).await {
            tracing::info!(avatar = %avatar.id, error = %e, "status message not updated");
        }
    }

    pub(in crate::pipeline) async fn announce_start(&self, avatar: &Avatar) -> PipelineResult<()> {
        let (_, language) = self.audience(avatar.owner).await?;
        let text = texts(language).training_started(
            avatar.name.as_str(),
            avatar.preset.expected_minutes(avatar.kind),
        );
        self.show_status(avatar, text).await;
        Ok(())
    }

    /// Edits the status message with progress, at most once a minute; records when.
    pub(in crate::pipeline) async fn show_progress(
        &self,
        avatar: &Avatar,
        progress: TrainingProgress,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        if avatar.status_message.is_none()
            || avatar
                .progress_shown_at
                .is_some_and(|at| now.since(at) < PROGRESS_EVERY)
        {
            return Ok(false);
        }
        let (_, language) = self.audience(avatar.owner).await?;
        self.show_status(
            avatar,
            texts(language).training_progress(avatar.name.as_str(), progress),
        )
        .await;
        let mut next = avatar.clone();
        next.progress_shown_at = Some(now);
        match self.store.update_avatar(&next).await {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(true),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends the outcome notice of an avatar whose claim the caller holds, then marks it
    /// sent. A transient failure leaves it due: the sweep sends it once the claim lapses.
    pub(in crate::pipeline) async fn send_notice(&self, avatar: &Avatar) -> PipelineResult<()> {
        let (chat, language) = self.audience(avatar.owner).await?;
        let t = texts(language);
        let refunded = match avatar.status() {
            AvatarStatus::Failed => self.refund(avatar.owner, Work::Training(avatar.id)).await?,
            _ => None,
        };
        let Some(screen) = screens::training_outcome(t, avatar, refunded) else {
            return Ok(());
        };
        // A new message rather than an edit: edits do not notify the user.
        let sent = self.telegram.send(chat, &screen).await.map(|_| ());
        if !settles_notice(sent, &format!("avatar {}", avatar.id)) {
            return Ok(());
        }
        let now = Timestamp::now();
        let marked = self
            .update_persistently(avatar.clone(), |current| {
                current.apply_notice(NoticeEvent::Sent, now)
            })
            .await?;
        if marked.is_some() {
            tracing::info!(avatar = %avatar.id, status = avatar.status().as_str(), "user told of the outcome");
        }
        Ok(())
    }

    /// For the sweep: takes over a due notice whose sender's claim has lapsed, and sends it.
    pub(in crate::pipeline) async fn retry_notice(
        &self,
        avatar: &Avatar,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        let Some(claimed) = avatar.apply_notice(NoticeEvent::TakeOver, now) else {
            return Ok(false);
        };
        let claimed = match self.store.update_avatar(&claimed).await {
            Ok(stored) => stored,
            // Someone else took it (or the avatar is gone): theirs to send.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        self.send_notice(&claimed).await?;
        Ok(true)
    }
}
