//! Starting training: a summary to confirm, then the avatar is queued and a launch message
//! goes to the training-launch worker. The avatar is marked `queued` before the message is
//! sent; confirming a `queued` avatar again re-sends the message, so a failed send is healed
//! by Telegram's retry of the same update (and duplicates are harmless: the worker's claim
//! is conditional).

use super::{Answer, BotResult, Turn};
use crate::domain::policy::{self, TrainingRefusal};
use crate::domain::{Avatar, AvatarEvent, AvatarId, AvatarStatus, DialogueState, MessageRef};
use crate::jobs::Job;
use crate::ports::QueueDelay;
use crate::telegram::screens::{self, Screen};

impl Turn<'_> {
    /// Shows the summary with Confirm / Back.
    pub(super) async fn start_training(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            return Ok(Answer::Alert(t.not_found().to_owned()));
        };
        if let Some(refusal) = self.refusal(&avatar).await? {
            return Ok(Answer::Alert(t.training_refused(refusal)));
        }
        self.set_dialogue(DialogueState::ConfirmingTraining { avatar_id: id });
        self.show(at, &screens::training_summary(t, &avatar)).await;
        Ok(Answer::Silent)
    }

    pub(super) async fn confirm_training(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(mut avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            return Ok(Answer::Alert(t.not_found().to_owned()));
        };
        if avatar.status() != AvatarStatus::Queued {
            if let Some(refusal) = self.refusal(&avatar).await? {
                return Ok(Answer::Alert(t.training_refused(refusal)));
            }
            avatar = match self.enqueue(avatar, at).await? {
                Ok(queued) => queued,
                Err(refusal) => return Ok(Answer::Alert(t.training_refused(refusal))),
            };
        }
        let message = Job::LaunchTraining {
            owner: avatar.owner,
            avatar_id: avatar.id,
        };
        // Transient failure: the error makes Telegram retry this update, which lands in the
        // `queued` branch above and sends again.
        let message_id = self
            .bot
            .launches
            .send(&message.to_body(), QueueDelay::NONE)
            .await?;
        tracing::info!(avatar = %avatar.id, %message_id, "training launch enqueued");
        if matches!(self.user.dialogue, DialogueState::ConfirmingTraining { avatar_id } | DialogueState::SendingPhotos { avatar_id, .. } if avatar_id == id)
        {
            self.set_dialogue(DialogueState::Idle);
        }
        let expected = avatar.preset.expected_minutes(avatar.kind);
        let screen = Screen::new(
            t.training_queued(avatar.name.as_str(), expected),
            screens::back_to_menu(t),
        );
        self.show(avatar.status_message.or(at), &screen).await;
        Ok(Answer::Silent)
    }

    /// Why this avatar cannot start training now, if it cannot (`domain::policy`).
    async fn refusal(&self, avatar: &Avatar) -> BotResult<Option<TrainingRefusal>> {
        let owners = self.bot.store.list_avatars(avatar.owner).await?;
        Ok(policy::training_refusal(avatar, &owners, &self.bot.limits))
    }

    /// `ready` (reaching it first if the count allows) -> `queued`, remembering the message
    /// that will show training progress. With a spend cap the training's estimated cost is
    /// added to the day in the same write; past the cap nothing is written.
    async fn enqueue(
        &self,
        avatar: Avatar,
        at: Option<MessageRef>,
    ) -> BotResult<Result<Avatar, TrainingRefusal>> {
        let mut avatar = avatar;
        if avatar.status() == AvatarStatus::CollectingPhotos {
            avatar = avatar
                .apply(AvatarEvent::MinimumReached, self.now)
                .expect("checked: collecting photos with enough of them");
        }
        let mut queued = avatar
            .apply(AvatarEvent::Enqueue, self.now)
            .expect("checked: ready avatars can be queued");
        queued.status_message = at.or(queued.status_message);
        let limits = &self.bot.limits;
        let cost = limits.costs.training(queued.preset);
        // A conflict (a photo landed meanwhile) fails the update: Telegram's retry re-reads
        // and confirms again.
        match limits.spend_cap.charge(cost, self.now) {
            None => Ok(Ok(self.bot.store.update_avatar(&queued).await?)),
            Some(charge) => match self
                .bot
                .store
                .update_avatar_charged(&queued, &charge)
                .await?
            {
                Ok(stored) => Ok(Ok(stored)),
                Err(over) => {
                    tracing::warn!(avatar = %queued.id, spent = %over.spent, cap = %charge.cap, "daily spend cap reached; training refused");
                    crate::metrics::count("SpendCapReached", &[]);
                    Ok(Err(TrainingRefusal::DailyBudget {
                        resets_in_minutes: policy::budget_resets_in_minutes(self.now),
                    }))
                }
            },
        }
    }
}
