//! Avatar creation: kind, gender, name, preset; then the avatar exists and collects photos,
//! a person's only once the user confirmed they may be used (once per avatar, its time kept
//! on the avatar). Nothing is stored before the preset is chosen, so abandoning the dialogue
//! early leaves nothing behind; `/cancel` afterwards removes the half-made avatar and its
//! photos.

use super::{Answer, BotResult, Turn};
use crate::domain::{
    Avatar, AvatarEvent, AvatarId, AvatarKind, AvatarName, AvatarStatus, DialogueState, Gender,
    MessageRef, Preset,
};
use crate::pipeline::deletion::{self, Settlement};
use crate::ports::StoreError;
use crate::telegram::callback::Callback;
use crate::telegram::screens::{self, Screen};

impl Turn<'_> {
    pub(super) async fn begin_creation(&mut self, at: Option<MessageRef>) {
        let (t, l) = (self.t(), &self.bot.limits);
        let screen =
            screens::choose_kind(t, l.quotas.min_photos_portrait, l.quotas.min_photos_style);
        self.set_dialogue(DialogueState::ChoosingKind);
        self.show(at, &screen).await;
    }

    /// The kind can be (re)chosen anywhere before the avatar exists: Back buttons lead here.
    pub(super) async fn kind_chosen(
        &mut self,
        kind: AvatarKind,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        match self.user.dialogue {
            DialogueState::ChoosingKind
            | DialogueState::ChoosingGender { .. }
            | DialogueState::EnteringName { .. }
            | DialogueState::ChoosingPreset { .. } => {
                self.set_dialogue(DialogueState::ChoosingGender { kind });
                let t = self.t();
                self.show(at, &screens::choose_gender(t, kind)).await;
                Ok(Answer::Silent)
            }
            _ => Ok(Answer::Toast(self.t().outdated())),
        }
    }

    pub(super) async fn gender_chosen(
        &mut self,
        gender: Gender,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let kind = match self.user.dialogue {
            DialogueState::ChoosingGender { kind }
            | DialogueState::EnteringName { kind, .. }
            | DialogueState::ChoosingPreset { kind, .. } => kind,
            _ => return Ok(Answer::Toast(self.t().outdated())),
        };
        self.set_dialogue(DialogueState::EnteringName { kind, gender });
        let t = self.t();
        self.show(at, &screens::enter_name(t, kind)).await;
        Ok(Answer::Silent)
    }

    pub(super) async fn name_entered(&mut self, kind: AvatarKind, gender: Gender, raw: &str) {
        let t = self.t();
        match AvatarName::parse(raw) {
            Err(e) => {
                // The step stays; the user just sends another name.
                self.send(&screens::enter_name(t, kind).with_note(&t.name_refused(&e)))
                    .await;
            }
            Ok(name) => {
                let screen = screens::choose_preset(t, kind, gender, name.as_str());
                self.set_dialogue(DialogueState::ChoosingPreset { kind, gender, name });
                self.send(&screen).await;
            }
        }
    }

    /// The last choice: the avatar is created, ready for photos. A second tap on the same
    /// menu finds the dialogue moved on and creates nothing.
    pub(super) async fn preset_chosen(
        &mut self,
        preset: Preset,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let DialogueState::ChoosingPreset { kind, gender, name } = self.user.dialogue.clone()
        else {
            return Ok(Answer::Toast(self.t().outdated()));
        };
        // Telegram's retry of this very update (its profile save failed after the avatar was
        // made) finds the avatar it made instead of making a second one.
        let made_by_this_update = match self.update_id {
            Some(update) => self
                .bot
                .store
                .list_avatars(self.user.id)
                .await?
                .into_iter()
                .find(|a| a.created_by_update == Some(update)),
            None => None,
        };
        let avatar = match made_by_this_update {
            Some(avatar) => avatar,
            None => {
                let mut draft = Avatar::draft(self.user.id, kind, gender, name, preset, self.now);
                draft.created_by_update = self.update_id;
                let avatar = draft
                    .apply(AvatarEvent::BeginPhotos, self.now)
                    .expect("a new draft always begins collecting photos");
                let avatar = self.bot.store.create_avatar(&avatar).await?;
                tracing::info!(avatar = %avatar.id, kind = kind.as_str(), preset = preset.as_str(), "avatar created");
                avatar
            }
        };
        let screen = self.photos_screen(&avatar, false);
        self.set_dialogue(DialogueState::SendingPhotos {
            avatar_id: avatar.id,
            progress_message: None,
        });
        let shown = self.show(at, &screen).await;
        self.set_dialogue(DialogueState::SendingPhotos {
            avatar_id: avatar.id,
            progress_message: shown,
        });
        Ok(Answer::Silent)
    }

    /// The photo screen: instructions plus the running count, the message edited in place
    /// as photos arrive.
    /// Until a person's avatar has the user's consent, the consent question instead.
    pub(super) fn photos_screen(&self, avatar: &Avatar, duplicate_skipped: bool) -> Screen {
        let (t, l) = (self.t(), &self.bot.limits);
        if avatar.needs_consent() {
            let text = l
                .consent_text
                .clone()
                .unwrap_or_else(|| t.consent(avatar.name.as_str()));
            let keyboard = screens::Keyboard::default()
                .button(t.btn_consent(), Callback::Consent(avatar.id))
                .button(t.btn_back_to_avatar(), Callback::Card(avatar.id));
            return Screen::new(text, keyboard);
        }
        let min = l.quotas.min_photos(avatar.kind);
        let progress = screens::photo_progress(
            t,
            avatar.id,
            avatar.photo_count,
            min,
            l.quotas.max_photos,
            duplicate_skipped,
        );
        Screen::new(
            format!(
                "{}\n\n{}",
                t.send_photos(avatar.name.as_str(), avatar.kind, min, l.quotas.max_photos),
                progress.text
            ),
            progress.keyboard,
        )
    }

    /// "I confirm" under the consent question: recorded on the avatar (once), then the photo
    /// screen in its place.
    pub(super) async fn consent_given(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let Some(mut avatar) = self.bot.store.get_avatar(self.user.id, id).await? else {
            return Ok(Answer::Alert(t.not_found().to_owned()));
        };
        while avatar.needs_consent() {
            let consented = Avatar {
                consented_at: Some(self.now),
                updated_at: self.now,
                ..avatar.clone()
            };
            match self.bot.store.update_avatar(&consented).await {
                Ok(stored) => {
                    tracing::info!(avatar = %id, "consent to a person's photos recorded");
                    avatar = stored;
                }
                // Written meanwhile (a double tap, a photo): look again.
                Err(StoreError::Conflict(_)) => {
                    match self.bot.store.get_avatar(self.user.id, id).await? {
                        Some(current) => avatar = current,
                        None => return Ok(Answer::Alert(t.not_found().to_owned())),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
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

    /// `/cancel`: leaves any step; a half-made avatar (not yet sent to training) is removed
    /// with its photos.
    pub(super) async fn cancel(&mut self) -> BotResult<()> {
        let t = self.t();
        let text = match self.user.dialogue.clone() {
            DialogueState::Idle => t.nothing_to_cancel().to_owned(),
            DialogueState::SendingPhotos { avatar_id, .. }
            | DialogueState::ConfirmingTraining { avatar_id }
            | DialogueState::EnteringPrompt { avatar_id } => {
                let removed = match self.bot.store.get_avatar(self.user.id, avatar_id).await? {
                    Some(avatar)
                        if matches!(
                            avatar.status(),
                            AvatarStatus::Draft
                                | AvatarStatus::CollectingPhotos
                                | AvatarStatus::Ready
                        ) =>
                    {
                        self.remove_avatar(&avatar).await?;
                        Some(avatar.name)
                    }
                    _ => None,
                };
                t.cancelled(removed.as_ref().map(AvatarName::as_str))
            }
            _ => t.cancelled(None),
        };
        self.set_dialogue(DialogueState::Idle);
        self.send(&Screen::new(
            text,
            screens::menu_keyboard(t, &self.bot.limits.money.billing),
        ))
        .await;
        Ok(())
    }

    /// Removes everything that names an avatar, its paid work settled first (see
    /// `pipeline::deletion`): what never reached fal.ai is refunded, what runs there is
    /// cancelled. A retry after a partial failure finishes the job.
    pub(super) async fn remove_avatar(&mut self, avatar: &Avatar) -> BotResult<Settlement> {
        let bot = self.bot;
        let done = deletion::delete_avatar(
            bot.store.as_ref(),
            bot.blobs.as_ref(),
            bot.launches.as_ref(),
            avatar.owner,
            avatar.id,
            self.now,
        )
        .await?
        .unwrap_or_default();
        let points_here = match &self.user.dialogue {
            DialogueState::SendingPhotos { avatar_id, .. }
            | DialogueState::ConfirmingTraining { avatar_id }
            | DialogueState::EnteringPrompt { avatar_id }
            | DialogueState::SendingRestylePhoto { avatar_id }
            | DialogueState::Restyling { avatar_id, .. }
            | DialogueState::RestylingPicture { avatar_id, .. } => *avatar_id == avatar.id,
            _ => false,
        };
        if points_here {
            self.set_dialogue(DialogueState::Idle);
        }
        Ok(done)
    }
}
