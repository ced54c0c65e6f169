//! Asking a trained avatar for pictures: the style/prompt screen, format and count (the last
//! choices are the next defaults), the per-user limits, and the hand-over to the launch worker.
//!
//! The generation record is the commit point, written with its causes (this update, the
//! tapped button): Telegram's redelivery of the update, or a second tap, finds the generation
//! it committed instead of paying for another (`commit.rs`). Nothing after the commit fails
//! the update (a lost launch message is re-sent by the sweep; a profile that cannot be saved
//! is logged).

use super::commit::Refused;
use super::{Answer, BotResult, Turn};
use crate::domain::policy::{self, GenerationRefusal};
use crate::domain::{
    Avatar, AvatarId, AvatarStatus, DialogueState, Generation, GenerationDefaults, GenerationId,
    MessageRef, Priced, Prompt, Style,
};
use crate::ports::StoreError;
use crate::telegram::callback::Callback;
use crate::telegram::screens::{self, Keyboard, Screen};

/// How often picture work that raced another of the same user checks and tries again.
const COMMIT_ATTEMPTS: u32 = 3;

/// What a kind of picture work commits with: its price (each record's), the status message
/// shown while it runs, and what a second ask for it is answered.
pub(super) struct PictureOrder {
    pub priced: Priced,
    pub status: Screen,
    pub already: &'static str,
    /// Work the user asked for outright is held to the per-user generation limits; work that
    /// comes with another commit (a first look beside its training) is not.
    pub limited: bool,
    /// The causes' scope, for work committed beside other work by the same update.
    pub scope: Option<&'static str>,
}

impl Turn<'_> {
    /// /generate or the menu's button: straight to the only trained avatar, a choice of several, or a nudge to
    /// create one.
    pub(super) async fn choose_for_generation(&mut self, at: Option<MessageRef>) -> BotResult<()> {
        let t = self.t();
        let trained: Vec<Avatar> = self
            .bot
            .store
            .list_avatars(self.user.id)
            .await?
            .into_iter()
            .filter(|a| a.status() == AvatarStatus::Completed)
            .collect();
        match trained.as_slice() {
            [] => {
                let keyboard = Keyboard::default()
                    .button(t.btn_create(), Callback::Create)
                    .button(t.btn_menu(), Callback::Menu);
                self.show(at, &Screen::new(t.no_trained_avatars(), keyboard))
                    .await;
            }
            [only] => {
                let only = only.clone();
                self.show_generate(&only, at).await?;
            }
            several => {
                let screen = screens::pick_avatar_to_generate(t, several);
                self.show(at, &screen).await;
            }
        }
        Ok(())
    }

    /// The caller's avatar if it can draw; otherwise how to answer.
    pub(super) async fn trained_avatar(&self, id: AvatarId) -> BotResult<Result<Avatar, Answer>> {
        let t = self.t();
        Ok(match self.bot.store.get_avatar(self.user.id, id).await? {
            None => Err(Answer::Alert(t.not_found().to_owned())),
            Some(a) if a.status() != AvatarStatus::Completed => Err(Answer::Alert(
                t.generation_refused(GenerationRefusal::NotTrained),
            )),
            Some(a) => Ok(a),
        })
    }

    async fn show_generate(&mut self, avatar: &Avatar, at: Option<MessageRef>) -> BotResult<()> {
        self.set_dialogue(DialogueState::EnteringPrompt {
            avatar_id: avatar.id,
        });
        let count = self.user.generation.num_images;
        let price = match self.bot.limits.money.quote(Priced::Pictures(count)).price {
            Some(price) => Some((price, self.bot.store.balance(self.user.id).await?)),
            None => None,
        };
        let screen = screens::generate(self.t(), avatar, self.user.generation, price);
        self.show(at, &screen).await;
        Ok(())
    }

    pub(super) async fn open_generate(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let avatar = match self.trained_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        self.show_generate(&avatar, at).await?;
        Ok(Answer::Silent)
    }

    pub(super) async fn open_generation_settings(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        if let Err(answer) = self.trained_avatar(id).await? {
            return Ok(answer);
        }
        let screen = screens::generation_settings(self.t(), id, self.user.generation);
        self.show(at, &screen).await;
        Ok(Answer::Silent)
    }

    /// Format or count changed: remembered as the default, the settings screen redrawn.
    pub(super) async fn change_generation_settings(
        &mut self,
        id: AvatarId,
        change: impl FnOnce(&mut GenerationDefaults),
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        change(&mut self.user.generation);
        self.open_generation_settings(id, at).await
    }

    pub(super) async fn style_chosen(
        &mut self,
        id: AvatarId,
        index: u8,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let avatar = match self.trained_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        let Some(style) = Style::for_kind(avatar.kind)
            .get(usize::from(index))
            .copied()
        else {
            return Ok(Answer::Toast(self.t().outdated()));
        };
        let prompt = Prompt::parse(style.prompt()).expect("style prompts are valid");
        let defaults = self.user.generation;
        self.start_generation(&avatar, prompt, Some(style), defaults, at)
            .await
    }

    /// "Again" under a result: the same prompt, style, format and count, as a new message.
    pub(super) async fn generate_again(
        &mut self,
        id: AvatarId,
        previous: GenerationId,
    ) -> BotResult<Answer> {
        let avatar = match self.trained_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        // Looked up under the caller's avatar: another user's generation is not found.
        let Some(previous) = self.generation(avatar.id, previous).await? else {
            return Ok(Answer::Alert(self.t().not_found().to_owned()));
        };
        let settings = GenerationDefaults {
            aspect_ratio: previous.aspect_ratio,
            num_images: previous.num_images,
        };
        self.start_generation(&avatar, previous.prompt, previous.style, settings, None)
            .await
    }

    /// A message while the prompt screen is open: the prompt.
    pub(super) async fn prompt_entered(&mut self, id: AvatarId, text: &str) -> BotResult<()> {
        let t = self.t();
        let prompt = match Prompt::parse(text) {
            Ok(prompt) => prompt,
            Err(e) => {
                self.send(&Screen::text(t.prompt_refused(&e))).await;
                return Ok(());
            }
        };
        let avatar = match self.trained_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => {
                self.leave_with(answer).await;
                return Ok(());
            }
        };
        let defaults = self.user.generation;
        if let Answer::Alert(refusal) = self
            .start_generation(&avatar, prompt, None, defaults, None)
            .await?
        {
            // Typed, so answered by a message rather than a popup.
            self.send(&Screen::text(refusal)).await;
        }
        Ok(())
    }

    /// Checks the limits, records the generation and sends it to the launch worker. The
    /// "drawing..." message is shown first so the record knows which message to update.
    async fn start_generation(
        &mut self,
        avatar: &Avatar,
        prompt: Prompt,
        style: Option<Style>,
        settings: GenerationDefaults,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let generation = Generation::queued(avatar, prompt, style, settings, self.now);
        let order = PictureOrder {
            priced: Priced::Pictures(settings.num_images),
            status: Screen::text(t.generation_started(avatar.name.as_str(), settings)),
            already: t.generation_already_started(),
            limited: true,
            scope: None,
        };
        let answer = self
            .commit_pictures(avatar, vec![generation], order, at)
            .await?;
        if self.committed {
            self.user.generation = settings;
        }
        Ok(answer)
    }

    /// Commits picture work of any kind (a generation, an upscale, a photo pack's pictures):
    /// checks the limits, shows its status message first (so the records know which message
    /// to update), records them with their price (each record `order.priced`), the estimate
    /// and the causes, and hands them to the launch worker. A refusal is said in place of the
    /// status message.
    pub(super) async fn commit_pictures(
        &mut self,
        avatar: &Avatar,
        mut records: Vec<Generation>,
        order: PictureOrder,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let bot = self.bot;
        let Some(first) = records.first().map(Generation::work) else {
            return Ok(Answer::Silent);
        };
        // Telegram's redelivery of a committed update, or a second tap: the same work.
        if let Some(work) = self.committed_already(order.scope).await? {
            self.committed = true;
            self.hand_over(work).await;
            return Ok(Answer::Toast(order.already));
        }
        // Read before the limits are checked: the records are written only if no other
        // picture work of this user was started in between (else the limits are checked again).
        let mut seen = bot.store.generation_count(self.user.id).await?;
        if order.limited
            && let Some(refusal) = self.generation_refusal(avatar).await?
        {
            return Ok(Answer::Alert(t.generation_refused(refusal)));
        }
        let status_message = self.show(at, &order.status).await;
        let retention = bot.limits.retention_days;
        for record in &mut records {
            record.status_message = status_message;
            record.keep_until = retention.map(|days| {
                record
                    .created_at
                    .plus(std::time::Duration::from_secs(u64::from(days) * 86_400))
            });
        }
        let quote = bot.limits.money.quote(order.priced);
        let works: Vec<_> = records.iter().map(Generation::work).collect();
        let cost = self.cost_of(&works, quote, order.scope);
        let mut attempt = 1;
        let refusal = loop {
            let why = match bot.store.start_generations(&records, seen, &cost).await {
                Ok(Ok(stored)) => {
                    self.committed = true;
                    for record in stored {
                        self.hand_over(record.work()).await;
                    }
                    return Ok(Answer::Silent);
                }
                Ok(Err(why)) => why,
                Err(StoreError::Conflict(why)) if attempt < COMMIT_ATTEMPTS => {
                    tracing::info!(%why, "picture work raced another of this user; checking again");
                    attempt += 1;
                    seen = bot.store.generation_count(self.user.id).await?;
                    if !order.limited {
                        continue;
                    }
                    match self.generation_refusal(avatar).await? {
                        None => continue,
                        Some(refusal) => break refusal,
                    }
                }
                Err(e) => return Err(e.into()),
            };
            break match self.refused(why, &first) {
                Refused::DailyBudget { resets_in_minutes } => {
                    GenerationRefusal::DailyBudget { resets_in_minutes }
                }
                Refused::NotEnoughCredits(short) => GenerationRefusal::NotEnoughCredits(short),
                Refused::Duplicate(work) => {
                    // A second tap that raced the first: the first's work runs.
                    self.committed = true;
                    self.hand_over(work).await;
                    if status_message != at {
                        self.show(status_message, &Screen::text(order.already))
                            .await;
                    }
                    return Ok(Answer::Toast(order.already));
                }
                Refused::Gone => return Ok(Answer::Alert(t.not_found().to_owned())),
            };
        };
        // Told in place of the status message; short of credits, with Top up.
        let keyboard = match refusal {
            GenerationRefusal::NotEnoughCredits(_) => Keyboard::default()
                .button(t.btn_top_up(), Callback::Balance)
                .button(t.btn_menu(), Callback::Menu),
            _ => screens::back_to_menu(t),
        };
        let refused = Screen::new(t.generation_refused(refusal), keyboard);
        self.show(status_message, &refused).await;
        Ok(Answer::Silent)
    }

    /// Ends the dialogue step a typed message (or a photo) came for, saying why.
    pub(super) async fn leave_with(&mut self, answer: Answer) {
        let t = self.t();
        self.set_dialogue(DialogueState::Idle);
        self.send(&Screen::new(answer.text(), screens::back_to_menu(t)))
            .await;
    }

    /// Why this user cannot start another generation now, if they cannot (`domain::policy`).
    async fn generation_refusal(&self, avatar: &Avatar) -> BotResult<Option<GenerationRefusal>> {
        let limits = &self.bot.limits;
        let mut recent = Vec::new();
        if avatar.status() == AvatarStatus::Completed {
            for a in self.bot.store.list_avatars(self.user.id).await? {
                if a.status() == AvatarStatus::Completed {
                    let window = limits.quotas.generation_window();
                    recent.extend(self.bot.store.list_generations(a.id, window).await?);
                }
            }
        }
        Ok(policy::generation_refusal(
            avatar, &recent, limits, self.now,
        ))
    }
}
