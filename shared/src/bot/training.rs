//! Starting training: a summary to confirm, then the avatar is queued and a launch message
//! goes to the training-launch worker. The avatar is marked `queued` before the message is
//! sent; confirming a `queued` avatar again re-sends the message, so a failed send is healed
//! by Telegram's retry of the same update (and duplicates are harmless: the worker's claim
//! is conditional). The limits check and the move to `queued` are one step per user (guarded
//! by the user's launch count), so two Confirms at once cannot both pass a limit of one.

use super::commit::Refused;
use super::{Answer, BotError, BotResult, Turn};
use crate::domain::policy::{self, TrainingRefusal};
use crate::domain::{
    Avatar, AvatarEvent, AvatarId, AvatarStatus, DialogueState, MessageRef, Priced,
};
use crate::ports::StoreError;
use crate::telegram::screens::{self, Screen};

/// How often a Confirm that raced another write checks and tries again.
const COMMIT_ATTEMPTS: u32 = 3;

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
        let price = self.training_price(avatar.preset).await?;
        self.show(at, &screens::training_summary(t, &avatar, price))
            .await;
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
        // This update committed the training (now, or before a redelivery of it).
        let committed_here = if avatar.status() != AvatarStatus::Queued {
            avatar = match self.commit_training(avatar, at).await? {
                Ok(queued) => queued,
                Err(refusal) => return Ok(Answer::Alert(t.training_refused(refusal))),
            };
            true
        } else {
            self.committed_already(None).await? == Some(avatar.work())
        };
        // Sent again for a Confirm of a queued avatar: a lost send is healed by a second tap
        // (and by the sweep, which relaunches queued avatars).
        self.hand_over(avatar.work()).await;
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
        if committed_here && let Err(e) = self.first_look(&avatar).await {
            tracing::warn!(avatar = %avatar.id, error = %e, "first look not committed; training goes on");
        }
        Ok(Answer::Silent)
    }

    /// Why this avatar cannot start training now, if it cannot (`domain::policy`).
    async fn refusal(&self, avatar: &Avatar) -> BotResult<Option<TrainingRefusal>> {
        let owners = self.bot.store.list_avatars(avatar.owner).await?;
        Ok(policy::training_refusal(avatar, &owners, &self.bot.limits))
    }

    /// Checks the limits and queues the avatar, as one step per user: the launch count read
    /// first guards the write, so a Confirm of another of the user's avatars in between makes
    /// this one check again (and be refused if that one took the last slot).
    async fn commit_training(
        &self,
        avatar: Avatar,
        at: Option<MessageRef>,
    ) -> BotResult<Result<Avatar, TrainingRefusal>> {
        let mut avatar = avatar;
        for attempt in 1..=COMMIT_ATTEMPTS {
            let seen = self.bot.store.launch_count(avatar.owner).await?;
            if let Some(refusal) = self.refusal(&avatar).await? {
                return Ok(Err(refusal));
            }
            match self.enqueue(avatar.clone(), at, seen).await {
                Err(BotError::Store(StoreError::Conflict(why))) if attempt < COMMIT_ATTEMPTS => {
                    tracing::info!(avatar = %avatar.id, %why, "confirm raced another write; checking again");
                    let Some(fresh) = self.bot.store.get_avatar(avatar.owner, avatar.id).await?
                    else {
                        return Err(StoreError::NotFound(format!("avatar {}", avatar.id)).into());
                    };
                    if fresh.status() == AvatarStatus::Queued {
                        // The same Confirm, delivered twice at once: the other one queued it.
                        return Ok(Ok(fresh));
                    }
                    avatar = fresh;
                }
                other => return other,
            }
        }
        unreachable!("the last attempt returns")
    }

    /// `ready` (reaching it first if the count allows) -> `queued`, remembering the message
    /// that will show training progress. In the same write: the training's estimated cost
    /// added to the day (with a spend cap) and its price taken from the user's credits (in a
    /// paying bot); past the cap or the balance nothing is written.
    async fn enqueue(
        &self,
        avatar: Avatar,
        at: Option<MessageRef>,
        launches_seen: u64,
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
        let quote = self.bot.limits.money.quote(Priced::Training(queued.preset));
        let cost = self.cost_of(&[queued.work()], quote, None);
        let refused = match self
            .bot
            .store
            .enqueue_avatar(&queued, launches_seen, &cost)
            .await?
        {
            Ok(stored) => return Ok(Ok(stored)),
            Err(why) => self.refused(why, &queued.work()),
        };
        Ok(Err(match refused {
            Refused::DailyBudget { resets_in_minutes } => {
                TrainingRefusal::DailyBudget { resets_in_minutes }
            }
            Refused::NotEnoughCredits(short) => TrainingRefusal::NotEnoughCredits(short),
            // The avatar's own training, committed by this very tap or update: as queued.
            Refused::Duplicate(_) | Refused::Gone => {
                return Err(StoreError::Conflict(format!("avatar {} moved on", queued.id)).into());
            }
        }))
    }
}
