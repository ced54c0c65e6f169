//! The conversation: what the bot does with each Telegram update. Runs inside the webhook
//! function (and the local runner's long-polling loop); works only through the ports and the
//! Telegram client, so it behaves the same on AWS and on the embedded backend.
//!
//! Updates arrive at least once; [`Conversation::process`] records each `update_id` before
//! acting so a retry changes nothing, and forgets it again only when a transient failure
//! means Telegram's retry should run the step anew.

mod commit;
mod creation;
mod credits;
mod first_look;
mod gallery;
mod generation;
mod photo_pack;
mod photos;
mod privacy;
mod restyle;
mod settings;
mod training;
mod upscale;

use restyle::RestyleSource;

use std::sync::Arc;
use std::time::Duration;

use teloxide_core::types::Update;

use crate::backend::Backend;
use crate::domain::Limits;
use crate::domain::{DialogueState, Language, MessageRef, Timestamp, UserProfile};
use crate::metrics;
use crate::pipeline::PipelineError;
use crate::ports::{
    BlobError, BlobStore, JobQueue, QueueError, RecordStore, StoreError, UpdateClaim,
};
use crate::telegram::callback::Callback;
use crate::telegram::client::{CallbackAnswer, TelegramClient, TelegramError, WebhookAnswer};
use crate::telegram::incoming::{Command, Incoming, Sender};
use crate::telegram::screens::{self, Screen};
use crate::telegram::texts::{Texts, texts};

/// How long a processed `update_id` is remembered: Telegram keeps undelivered updates 24 h.
pub const UPDATE_MEMORY: Duration = Duration::from_secs(24 * 3600);
/// How long an update is held by the invocation processing it: longer than the webhook
/// function's timeout (25 s), so only a crashed invocation's claim runs out.
pub const UPDATE_LEASE: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    /// A use case shared with the pipeline (deleting an avatar).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl BotError {
    /// Whether running the update again later may succeed. Corrupt records and refusals will
    /// not get better by retrying, so they are logged and acknowledged instead.
    pub fn is_transient(&self) -> bool {
        match self {
            BotError::Store(e) => e.is_transient(),
            BotError::Queue(_) => true,
            BotError::Blob(BlobError::InvalidKey(_)) => false,
            BotError::Blob(_) => true,
            BotError::Telegram(e) => e.is_transient(),
            BotError::Pipeline(e) => e.is_transient(),
        }
    }
}

pub type BotResult<T> = Result<T, BotError>;

/// Everything the conversation needs, built once per cold start.
#[derive(Clone)]
pub struct Conversation {
    pub store: Arc<dyn RecordStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub launches: Arc<dyn JobQueue>,
    pub telegram: TelegramClient,
    pub limits: Limits,
}

/// The result of one update, for the transport: a method to put in the webhook response
/// (a callback or pre-checkout answer), if any.
pub type Reply = Option<WebhookAnswer>;

/// What became of an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Handled now.
    Done(Reply),
    /// Handled before: acknowledge and do nothing.
    Duplicate,
    /// Being handled by another invocation: ask Telegram to come back later.
    InProgress,
}

impl Conversation {
    /// The conversation on `backend`.
    pub fn new(backend: &Backend, telegram: TelegramClient, limits: Limits) -> Self {
        Self {
            store: backend.store.clone(),
            blobs: backend.blobs.clone(),
            launches: backend.launches.clone(),
            telegram,
            limits,
        }
    }

    /// Processes one update at most once: claimed (with a lease) before the step runs,
    /// marked done after. A retry while the step runs gets [`Processed::InProgress`] (the
    /// transport answers non-2xx so Telegram tries again later), after it `Duplicate`. A
    /// transient failure forgets the claim, so Telegram's retry runs the step anew; so does a
    /// crash, once the lease runs out.
    pub async fn process(&self, update: &Update) -> BotResult<Processed> {
        let update_id = i64::from(update.id.0);
        let now = Timestamp::now();
        let incoming = Incoming::from_update(update);
        if let Incoming::PreCheckout {
            from,
            query_id,
            currency,
            total_amount,
            payload,
        } = &incoming
        {
            // Answered at once, nothing written: a repeat gets the same answer.
            return Ok(Processed::Done(Some(self.pre_checkout(
                from,
                query_id,
                currency,
                *total_amount,
                payload,
            ))));
        }
        if let Some(stranger) = self.stranger(&incoming) {
            // Nothing is written for a stranger, not even the update id.
            return Ok(Processed::Done(
                self.refuse_stranger(stranger, &incoming).await,
            ));
        }
        match self
            .store
            .claim_update(update_id, now, now.plus(UPDATE_LEASE))
            .await?
        {
            UpdateClaim::Fresh => {}
            UpdateClaim::Done => {
                tracing::info!(update_id, "update already processed; ignoring the repeat");
                return Ok(Processed::Duplicate);
            }
            UpdateClaim::InProgress => {
                tracing::info!(update_id, "update is being processed by another invocation");
                return Ok(Processed::InProgress);
            }
        }
        let outcome = match self.handle(incoming, Some(update_id), now).await {
            Ok(reply) => Processed::Done(reply),
            Err(e) if e.is_transient() => {
                tracing::warn!(update_id, error = %e, "transient failure; Telegram will retry");
                if let Err(forget) = self.store.forget_update(update_id).await {
                    tracing::error!(update_id, error = %forget, "could not release the update; its retry runs once the lease ends");
                }
                return Err(e);
            }
            Err(e) => {
                tracing::error!(update_id, error = %e, "update failed permanently; acknowledged");
                Processed::Done(None)
            }
        };
        if let Err(e) = self
            .store
            .complete_update(update_id, now.plus(UPDATE_MEMORY))
            .await
        {
            // The step is done and Telegram gets its 200: no retry will come for it.
            tracing::warn!(update_id, error = %e, "could not mark the update done");
        }
        Ok(outcome)
    }

    /// The sender, if the bot is private and they are not on its list.
    fn stranger<'i>(&self, incoming: &'i Incoming) -> Option<&'i Sender> {
        incoming
            .sender()
            .filter(|from| !self.limits.access.admits(from.user))
    }

    /// Tells a stranger the bot is private: an alert for a button, a message otherwise.
    async fn refuse_stranger(&self, from: &Sender, incoming: &Incoming) -> Reply {
        tracing::info!(user = %from.user, "stranger refused by the allow-list");
        metrics::count("StrangersRefused", &[]);
        let t = texts(Language::from_telegram(from.language_code.as_deref()));
        if let Incoming::Callback { query_id, .. } = incoming {
            return Some(WebhookAnswer::Callback(CallbackAnswer {
                query_id: query_id.clone(),
                text: Some(t.private_bot().to_owned()),
                alert: true,
            }));
        }
        if let Err(e) = self
            .telegram
            .send(from.chat, &Screen::text(t.private_bot()))
            .await
        {
            tracing::info!(error = %e, "could not tell a stranger the bot is private");
        }
        None
    }

    /// Handles one claimed update of an admitted user (strangers and pre-checkout queries
    /// were answered by [`Self::process`] before anything was written). `update_id` makes
    /// steps that create records idempotent under Telegram's retries.
    async fn handle(
        &self,
        incoming: Incoming,
        update_id: Option<i64>,
        now: Timestamp,
    ) -> BotResult<Reply> {
        let from = match incoming.sender() {
            Some(from) => from.clone(),
            None => {
                if let Incoming::Ignored { why } = &incoming {
                    tracing::debug!(why, "update ignored");
                }
                return Ok(None);
            }
        };
        let mut turn = Turn::begin(self, from, update_id, now).await?;
        let reply = turn.dispatch(incoming).await;
        let committed = turn.committed;
        // The profile is saved even when the step failed: a blocked user stays marked.
        match turn.finish().await {
            Ok(()) => {}
            Err(e) if committed => {
                // Raising would make Telegram repeat a step that must happen once.
                tracing::warn!(error = %e, "profile not saved after a committed step; kept going");
            }
            Err(e) => return Err(e),
        }
        reply
    }
}

/// One update being handled for one user: their profile as loaded, and as it becomes.
pub(crate) struct Turn<'a> {
    bot: &'a Conversation,
    from: Sender,
    user: UserProfile,
    loaded: UserProfile,
    now: Timestamp,
    /// The update being processed, when known.
    update_id: Option<i64>,
    /// The step did something a retry must not repeat (a generation was recorded): from then
    /// on a failure to save the profile is logged, not raised.
    committed: bool,
    /// The button tapped, when the update is a tap: its message and data.
    tap: Option<(i32, String)>,
    /// The step forgot the user: nothing of theirs is saved after it.
    forgotten: bool,
}

impl<'a> Turn<'a> {
    async fn begin(
        bot: &'a Conversation,
        from: Sender,
        update_id: Option<i64>,
        now: Timestamp,
    ) -> BotResult<Self> {
        let mut user = match bot.store.get_user(from.user).await? {
            Some(user) => user,
            None => UserProfile::new(from.user, from.chat, from.language_code.as_deref(), now),
        };
        let loaded = user.clone();
        if !user.language_chosen {
            user.language = crate::domain::Language::from_telegram(from.language_code.as_deref());
        }
        // Writing to us again means they are reachable again.
        user.active = true;
        user.chat_id = from.chat;
        Ok(Self {
            bot,
            from,
            user,
            loaded,
            now,
            update_id,
            committed: false,
            tap: None,
            forgotten: false,
        })
    }

    /// Saves the profile if this turn changed it. Another update of the same user may have
    /// saved it meanwhile (a double tap): then this turn's changes are applied to theirs,
    /// rather than failing a step whose effects (a recorded generation) already happened.
    async fn finish(self) -> BotResult<()> {
        if self.forgotten || (self.user == self.loaded && self.user.version != 0) {
            return Ok(());
        }
        let mut user = self.user.clone();
        user.updated_at = self.now;
        for _ in 0..3 {
            match self.bot.store.save_user(&user).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict(_)) => {
                    let Some(theirs) = self.bot.store.get_user(user.id).await? else {
                        continue;
                    };
                    user = merge_profile(&self.loaded, &self.user, theirs);
                    user.updated_at = self.now;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(format!("user {} kept changing", self.user.id)).into())
    }

    fn t(&self) -> &'static dyn Texts {
        texts(self.user.language)
    }

    fn set_dialogue(&mut self, dialogue: DialogueState) {
        self.user.dialogue = dialogue;
    }

    /// Shows a screen (editing `at` when given). Telegram failures here are logged, not
    /// raised: the step's state change has happened and must not be repeated by a retry.
    async fn show(&mut self, at: Option<MessageRef>, screen: &Screen) -> Option<MessageRef> {
        match self.bot.telegram.show(self.from.chat, at, screen).await {
            Ok(shown) => Some(shown),
            Err(e) => {
                self.note_failure(&e);
                None
            }
        }
    }

    async fn send(&mut self, screen: &Screen) -> Option<MessageRef> {
        self.show(None, screen).await
    }

    fn note_failure(&mut self, e: &TelegramError) {
        if let TelegramError::Blocked(_) = e {
            tracing::info!(user = %self.user.id, "user blocked the bot; marked inactive");
            self.user.active = false;
        }
    }

    async fn dispatch(&mut self, incoming: Incoming) -> BotResult<Reply> {
        match incoming {
            Incoming::Command {
                command, payload, ..
            } => self
                .command(command, payload.as_deref())
                .await
                .map(|()| None),
            Incoming::UnknownCommand { .. } => {
                let t = self.t();
                self.send(&Screen::new(t.unknown_command(), screens::back_to_menu(t)))
                    .await;
                Ok(None)
            }
            Incoming::Text { text, .. } => self.text(&text).await.map(|()| None),
            Incoming::Image { image, .. } => self.image(image).await.map(|()| None),
            Incoming::OtherMedia { .. } => {
                let t = self.t();
                self.send(&Screen::text(t.other_media())).await;
                Ok(None)
            }
            Incoming::Callback {
                query_id,
                data,
                message,
                ..
            } => {
                self.tap = message.zip(data.clone()).map(|(m, d)| (m.message_id, d));
                let answer = match data.as_deref().and_then(Callback::parse) {
                    Some(callback) => self.callback(callback, message).await?,
                    None => Answer::Toast(self.t().outdated()),
                };
                Ok(Some(WebhookAnswer::Callback(
                    answer.into_callback_answer(query_id),
                )))
            }
            Incoming::PreCheckout {
                from,
                query_id,
                currency,
                total_amount,
                payload,
            } => Ok(Some(self.bot.pre_checkout(
                &from,
                &query_id,
                &currency,
                total_amount,
                &payload,
            ))),
            Incoming::Payment {
                charge_id,
                currency,
                total_amount,
                payload,
                ..
            } => self
                .payment_received(&charge_id, &currency, total_amount, &payload)
                .await
                .map(|()| None),
            Incoming::Ignored { .. } => Ok(None),
        }
    }

    async fn command(&mut self, command: Command, payload: Option<&str>) -> BotResult<()> {
        let t = self.t();
        match command {
            Command::Start => {
                self.set_dialogue(DialogueState::Idle);
                // Deep links: t.me/<bot>?start=create | avatars | balance.
                match payload {
                    Some("create") => self.begin_creation(None).await,
                    Some("avatars") => self.show_avatars(None, 0).await?,
                    // A forwarded invoice's link.
                    Some(crate::telegram::client::INVOICE_START_PARAMETER) => {
                        self.show_balance(None).await?
                    }
                    _ => {
                        self.send(&screens::main_menu(t, &self.bot.limits.money.billing))
                            .await;
                    }
                }
            }
            Command::Help => {
                self.send(&self.help_screen()).await;
            }
            Command::Language => {
                self.send(&screens::language_picker(t)).await;
            }
            Command::Create => self.begin_creation(None).await,
            Command::Avatars => self.show_avatars(None, 0).await?,
            Command::Generate => self.choose_for_generation(None).await?,
            Command::Cancel => self.cancel().await?,
            Command::Balance => self.show_balance(None).await?,
            Command::Privacy => self.show_privacy(None).await,
            Command::Terms => self.terms(false).await,
            Command::PaySupport => self.terms(true).await,
        }
        Ok(())
    }

    fn help_screen(&self) -> Screen {
        let (t, l) = (self.t(), &self.bot.limits);
        Screen::new(
            t.help(
                l.quotas.min_photos_portrait,
                l.quotas.min_photos_style,
                l.quotas.max_photos,
            ),
            screens::Keyboard::default()
                .button(t.btn_privacy(), Callback::Privacy)
                .button(t.btn_menu(), Callback::Menu),
        )
    }

    async fn text(&mut self, text: &str) -> BotResult<()> {
        match self.user.dialogue.clone() {
            DialogueState::EnteringName { kind, gender } => {
                self.name_entered(kind, gender, text).await;
            }
            DialogueState::SendingPhotos { .. } | DialogueState::ConfirmingTraining { .. } => {
                let t = self.t();
                self.send(&Screen::text(t.text_while_collecting())).await;
            }
            DialogueState::EnteringPrompt { avatar_id } => {
                self.prompt_entered(avatar_id, text).await?;
            }
            DialogueState::Restyling { avatar_id, photo } => {
                self.restyle_prompt(avatar_id, RestyleSource::Photo(photo), text)
                    .await?;
            }
            DialogueState::RestylingPicture {
                avatar_id,
                generation,
                picture,
            } => {
                let source = RestyleSource::Picture {
                    generation,
                    picture,
                };
                self.restyle_prompt(avatar_id, source, text).await?;
            }
            DialogueState::SendingRestylePhoto { avatar_id } => {
                if let Some(avatar) = self.bot.store.get_avatar(self.user.id, avatar_id).await? {
                    let pictures = self.restylable_pictures(&avatar).await?;
                    let pictures: Vec<_> = pictures
                        .iter()
                        .map(|(g, i, prompt)| (*g, *i, prompt.as_str()))
                        .collect();
                    let screen = screens::restyle_ask_photo(self.t(), &avatar, &pictures);
                    self.send(&screen).await;
                }
            }
            _ => {
                let t = self.t();
                self.send(&Screen::new(
                    t.fallback(),
                    screens::menu_keyboard(t, &self.bot.limits.money.billing),
                ))
                .await;
            }
        }
        Ok(())
    }

    async fn callback(&mut self, callback: Callback, at: Option<MessageRef>) -> BotResult<Answer> {
        let t = self.t();
        match callback {
            Callback::Menu => {
                if !matches!(
                    self.user.dialogue,
                    DialogueState::SendingPhotos { .. } | DialogueState::ConfirmingTraining { .. }
                ) {
                    self.set_dialogue(DialogueState::Idle);
                }
                self.show(at, &screens::main_menu(t, &self.bot.limits.money.billing))
                    .await;
                Ok(Answer::Silent)
            }
            Callback::Help => {
                let screen = self.help_screen();
                self.show(at, &screen).await;
                Ok(Answer::Silent)
            }
            Callback::ChooseLanguage => {
                self.show(at, &screens::language_picker(t)).await;
                Ok(Answer::Silent)
            }
            Callback::SetLanguage(language) => {
                self.user.language = language;
                self.user.language_chosen = true;
                let t = self.t();
                self.show(at, &screens::main_menu(t, &self.bot.limits.money.billing))
                    .await;
                Ok(Answer::Toast(t.language_set()))
            }
            Callback::Create => {
                self.begin_creation(at).await;
                Ok(Answer::Silent)
            }
            Callback::Kind(kind) => self.kind_chosen(kind, at).await,
            Callback::Gender(gender) => self.gender_chosen(gender, at).await,
            Callback::Preset(preset) => self.preset_chosen(preset, at).await,
            Callback::Avatars(page) => {
                self.show_avatars(at, usize::from(page)).await?;
                Ok(Answer::Silent)
            }
            Callback::Card(id) => self.show_card(id, at).await,
            Callback::Continue(id) => self.continue_photos(id, at).await,
            Callback::Consent(id) => self.consent_given(id, at).await,
            Callback::StartTraining(id) => self.start_training(id, at).await,
            Callback::ConfirmTraining(id) => self.confirm_training(id, at).await,
            Callback::Delete(id) => self.ask_delete(id, at).await,
            Callback::ConfirmDelete(id) => self.delete(id, at).await,
            Callback::ChooseForGeneration => {
                self.choose_for_generation(at).await?;
                Ok(Answer::Silent)
            }
            Callback::Generate(id) => self.open_generate(id, at).await,
            Callback::Style(id, index) => self.style_chosen(id, index, at).await,
            Callback::GenerationSettings(id) => self.open_generation_settings(id, at).await,
            Callback::SetRatio(id, ratio) => {
                self.change_generation_settings(id, |d| d.aspect_ratio = ratio, at)
                    .await
            }
            Callback::SetCount(id, count) => {
                self.change_generation_settings(id, |d| d.num_images = count, at)
                    .await
            }
            Callback::Again(id, previous) => self.generate_again(id, previous).await,
            Callback::Upscale(id, generation, picture) => {
                self.offer_upscale(id, generation, picture).await
            }
            Callback::ConfirmUpscale(id, generation, picture) => {
                self.confirm_upscale(id, generation, picture, at).await
            }
            Callback::Restyle(id) => self.ask_restyle_photo(id, at).await,
            Callback::RestyleStyle(id, index) => self.restyle_style(id, index, at).await,
            Callback::RestylePicture(id, generation, picture) => {
                self.restyle_picture_chosen(id, generation, picture, at)
                    .await
            }
            Callback::Packs(id) => self.open_packs(id, at).await,
            Callback::PackOffer(id, index) => self.offer_pack(id, index, at).await,
            Callback::RunPack(id, index, fingerprint) => {
                self.run_pack(id, index, fingerprint, at).await
            }
            Callback::Privacy => {
                self.show_privacy(at).await;
                Ok(Answer::Silent)
            }
            Callback::ForgetMe => self.ask_forget(at).await,
            Callback::ConfirmForgetMe => self.forget(at).await,
            Callback::Balance => {
                self.show_balance(at).await?;
                Ok(Answer::Silent)
            }
            Callback::Buy(pack) => self.buy(pack).await,
        }
    }
}

/// `theirs` (stored meanwhile) with the fields this turn changed from `loaded` to `ours`.
fn merge_profile(loaded: &UserProfile, ours: &UserProfile, theirs: UserProfile) -> UserProfile {
    let mut merged = theirs;
    if ours.dialogue != loaded.dialogue {
        merged.dialogue = ours.dialogue.clone();
    }
    if ours.language != loaded.language || ours.language_chosen != loaded.language_chosen {
        merged.language = ours.language;
        merged.language_chosen = ours.language_chosen;
    }
    if ours.generation != loaded.generation {
        merged.generation = ours.generation;
    }
    // Reachability and chat are facts of this update: the latest word wins.
    merged.active = ours.active;
    merged.chat_id = ours.chat_id;
    merged
}

/// How a callback query is answered: silently (the screen changed), with a short toast, or
/// with an alert the user must dismiss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    Silent,
    Toast(&'static str),
    Alert(String),
}

impl Answer {
    /// The words of a toast or alert, for when the same answer goes out as a message.
    fn text(&self) -> String {
        match self {
            Answer::Silent => String::new(),
            Answer::Toast(text) => (*text).to_owned(),
            Answer::Alert(text) => text.clone(),
        }
    }

    fn into_callback_answer(self, query_id: String) -> CallbackAnswer {
        let (text, alert) = match self {
            Answer::Silent => (None, false),
            Answer::Toast(text) => (Some(text.to_owned()), false),
            Answer::Alert(text) => (Some(text), true),
        };
        CallbackAnswer {
            query_id,
            text,
            alert,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AvatarId, ChatId, GenerationDefaults, ImageCount, Language, UserId};

    #[test]
    fn a_concurrent_save_keeps_both_turns_changes() {
        let loaded = UserProfile::new(UserId(1), ChatId(1), Some("en"), Timestamp(0));
        // This turn opened the prompt screen...
        let mut ours = loaded.clone();
        ours.dialogue = DialogueState::EnteringPrompt {
            avatar_id: AvatarId::new(),
        };
        // ...while another update of the same user changed the image count and language.
        let mut theirs = loaded.clone();
        theirs.generation = GenerationDefaults {
            num_images: ImageCount::try_from(4).unwrap(),
            ..GenerationDefaults::default()
        };
        theirs.language = Language::Ru;
        theirs.language_chosen = true;
        theirs.version = 7;
        let merged = merge_profile(&loaded, &ours, theirs.clone());
        assert_eq!(merged.dialogue, ours.dialogue);
        assert_eq!(merged.generation, theirs.generation);
        assert_eq!(merged.language, Language::Ru);
        assert_eq!(merged.version, 7, "written over the version stored now");
    }
}
