//! Telling the user: training started, progress, and the outcome (exactly once).

use super::{NOTICE_CLAIM, Pipeline, PipelineResult};
use crate::domain::{Avatar, AvatarState, ChatId, Language, OutcomeNotice, Timestamp, UserId};
use crate::ports::StoreError;
use crate::telegram::callback::Callback;
use crate::telegram::client::TelegramError;
use crate::telegram::screens::{Keyboard, Screen};
use crate::telegram::texts::{TrainingProgress, texts};

impl Pipeline {
    /// The user's chat and language (a private chat's id is the user's id).
    pub(super) async fn audience(&self, owner: UserId) -> PipelineResult<(ChatId, Language)> {
        Ok(match self.store.get_user(owner).await? {
            Some(user) => (user.chat_id, user.language),
            None => (ChatId(owner.0), Language::Ru),
        })
    }

    /// Edits the avatar's status message (the one that said "queued"), if it has one.
    pub(super) async fn show_status(&self, avatar: &Avatar, text: String) {
        let Some(at) = avatar.status_message else {
            return;
        };
        let screen = Screen::new(text, Keyboard::default());
        if let Err(e) = self.telegram.edit(at, &screen).await {
            tracing::info!(avatar = %avatar.id, error = %e, "status message not updated");
        }
    }

    pub(super) async fn announce_start(&self, avatar: &Avatar) -> PipelineResult<()> {
        let (_, language) = self.audience(avatar.owner).await?;
        let text = texts(language).training_started(
            avatar.name.as_str(),
            avatar.preset.expected_minutes(avatar.kind),
        );
        self.show_status(avatar, text).await;
        Ok(())
    }

    /// Edits the status message with progress, at most once a minute; records when.
    pub(super) async fn show_progress(
        &self,
        avatar: &Avatar,
        progress: TrainingProgress,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        if avatar.status_message.is_none()
            || avatar
                .progress_shown_at
                .is_some_and(|at| now.since(at) < super::PROGRESS_EVERY)
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
    pub(super) async fn send_notice(&self, avatar: &Avatar) -> PipelineResult<()> {
        let (chat, language) = self.audience(avatar.owner).await?;
        let t = texts(language);
        let text = match &avatar.state {
            AvatarState::Completed { .. } => t.training_done(avatar.name.as_str()),
            AvatarState::Failed { reason, .. } => t.training_failed(avatar.name.as_str(), reason),
            _ => return Ok(()),
        };
        let screen = Screen::new(
            text,
            Keyboard::default()
                .button(t.btn_open_avatar(), Callback::Card(avatar.id))
                .button(t.btn_menu(), Callback::Menu),
        );
        // A new message rather than an edit: edits do not notify the user.
        let sent = self.telegram.send(chat, &screen).await.map(|_| ());
        if !settles_notice(sent, &format!("avatar {}", avatar.id)) {
            return Ok(());
        }
        self.mark_notice_sent(avatar).await
    }

    async fn mark_notice_sent(&self, avatar: &Avatar) -> PipelineResult<()> {
        let marked = self
            .update_with(avatar.clone(), |current| {
                (current.notice != OutcomeNotice::Sent).then(|| Avatar {
                    notice: OutcomeNotice::Sent,
                    ..current.clone()
                })
            })
            .await?;
        if marked.is_some() {
            tracing::info!(avatar = %avatar.id, status = avatar.status().as_str(), "user told of the outcome");
        }
        Ok(())
    }

    /// For the sweep: takes over a due notice whose sender's claim has lapsed, and sends it.
    pub(super) async fn retry_notice(
        &self,
        avatar: &Avatar,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        let OutcomeNotice::Due { claimed_until } = avatar.notice else {
            return Ok(false);
        };
        if claimed_until > now {
            return Ok(false);
        }
        let mut claimed = avatar.clone();
        claimed.notice = OutcomeNotice::Due {
            claimed_until: now.plus(NOTICE_CLAIM),
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

/// Whether an attempt to tell the user settles the notice: sent, or never sendable (blocked,
/// refused). A transient failure leaves it due for the sweep.
pub(super) fn settles_notice(sent: Result<(), TelegramError>, subject: &str) -> bool {
    match sent {
        Ok(()) => true,
        Err(TelegramError::Blocked(_)) => {
            tracing::info!(%subject, "user blocked the bot; notice dropped");
            true
        }
        Err(e) if e.is_transient() => {
            tracing::warn!(%subject, error = %e, "notice not sent; the sweep will retry");
            false
        }
        Err(e) => {
            tracing::error!(%subject, error = %e, "notice refused by Telegram; not retried");
            true
        }
    }
}
