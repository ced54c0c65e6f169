//! Restyling a photo: "🖼 Restyle a photo" on a trained avatar's card asks for a photo; the
//! photo is checked as a training photo is (its declared size and type at once, its content
//! when used); a style or a typed prompt then redraws it, each a piece of picture work
//! committed like a generation (price, limits, causes). The photo is downloaded and kept only
//! for the restyle that uses it (a copy each), and deleted once that restyle is over.

use super::generation::PictureOrder;
use super::photos::check_declared;
use super::{Answer, BotResult, Turn};
use crate::domain::{
    AspectRatio, Avatar, AvatarId, DialogueState, Generation, GenerationId, ImageCount, MessageRef,
    Priced, Prompt, Style, TelegramPhoto, blob_keys,
};
use crate::telegram::incoming::{ImageOrigin, IncomingImage};
use crate::telegram::screens::{self, Screen};

impl Turn<'_> {
    /// The card's "🖼 Restyle a photo": asks for the photo.
    pub(super) async fn ask_restyle_photo(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let avatar = match self.restyle_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        self.set_dialogue(DialogueState::SendingRestylePhoto {
            avatar_id: avatar.id,
        });
        self.show(at, &screens::restyle_ask_photo(self.t(), &avatar))
            .await;
        Ok(Answer::Silent)
    }

    /// A photo while restyling (a new one replaces the last): the styles to redraw it in.
    pub(super) async fn restyle_photo(
        &mut self,
        avatar_id: AvatarId,
        image: IncomingImage,
    ) -> BotResult<()> {
        let t = self.t();
        if let Err(rejection) = check_declared(&image) {
            self.send(&Screen::text(t.photo_rejected(&rejection))).await;
            return Ok(());
        }
        let avatar = match self.restyle_avatar(avatar_id).await? {
            Ok(avatar) => avatar,
            Err(answer) => {
                self.leave_with(answer).await;
                return Ok(());
            }
        };
        let (width, height) = match image.origin {
            ImageOrigin::Photo { width, height } => (width, height),
            ImageOrigin::Document { .. } => (0, 0),
        };
        self.set_dialogue(DialogueState::Restyling {
            avatar_id,
            photo: TelegramPhoto {
                file_id: image.file_id,
                file_unique_id: image.file_unique_id,
                width,
                height,
            },
        });
        let quote = self
            .bot
            .limits
            .money
            .quote(Priced::Pictures(ImageCount::ONE));
        let price = match quote.price {
            Some(price) => Some((price, self.bot.store.balance(self.user.id).await?)),
            None => None,
        };
        self.send(&screens::restyle_styles(t, &avatar, price)).await;
        Ok(())
    }

    /// A style tapped under the photo.
    pub(super) async fn restyle_style(
        &mut self,
        id: AvatarId,
        index: u8,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let DialogueState::Restyling { avatar_id, photo } = self.user.dialogue.clone() else {
            return Ok(Answer::Toast(t.outdated()));
        };
        if avatar_id != id {
            return Ok(Answer::Toast(t.outdated()));
        }
        let avatar = match self.restyle_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        let Some(style) = Style::for_kind(avatar.kind)
            .get(usize::from(index))
            .copied()
        else {
            return Ok(Answer::Toast(t.outdated()));
        };
        let prompt = Prompt::parse(style.prompt()).expect("style prompts are valid");
        self.restyle(&avatar, &photo, prompt, Some(style), at).await
    }

    /// A prompt typed under the photo.
    pub(super) async fn restyle_prompt(
        &mut self,
        avatar_id: AvatarId,
        photo: TelegramPhoto,
        text: &str,
    ) -> BotResult<()> {
        let t = self.t();
        let prompt = match Prompt::parse(text) {
            Ok(prompt) => prompt,
            Err(e) => {
                self.send(&Screen::text(t.prompt_refused(&e))).await;
                return Ok(());
            }
        };
        let avatar = match self.restyle_avatar(avatar_id).await? {
            Ok(avatar) => avatar,
            Err(answer) => {
                self.leave_with(answer).await;
                return Ok(());
            }
        };
        // Typed, so answered by a message rather than a popup.
        let answer = self.restyle(&avatar, &photo, prompt, None, None).await?;
        if !matches!(answer, Answer::Silent) {
            self.send(&Screen::text(answer.text())).await;
        }
        Ok(())
    }

    /// Downloads the photo into its own copy for this restyle, then commits the restyle. The
    /// copy stays only if this restyle was recorded.
    async fn restyle(
        &mut self,
        avatar: &Avatar,
        photo: &TelegramPhoto,
        prompt: Prompt,
        style: Option<Style>,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        // Telegram's redelivery of a committed update, or a second tap: nothing downloaded.
        if let Some(work) = self.committed_already(None).await? {
            self.committed = true;
            self.hand_over(work).await;
            return Ok(Answer::Toast(t.restyle_already_started()));
        }
        let id = GenerationId::new();
        let (owner, avatar_id) = (avatar.owner, avatar.id);
        let stored = match self
            .fetch_and_store(&photo.file_id, |format| {
                blob_keys::restyle_source(owner, avatar_id, id, format)
            })
            .await?
        {
            Ok(stored) => stored,
            Err(rejection) => return Ok(Answer::Alert(t.photo_rejected(&rejection))),
        };
        let (width, height) = match (photo.width, photo.height) {
            (0, _) | (_, 0) => (stored.width, stored.height),
            known => known,
        };
        let record = Generation::restyle(
            id,
            avatar,
            prompt,
            style,
            stored.format,
            AspectRatio::nearest(width, height),
            self.now,
        );
        let order = PictureOrder {
            priced: Priced::Pictures(ImageCount::ONE),
            status: Screen::text(t.restyle_started(avatar.name.as_str())),
            already: t.restyle_already_started(),
            limited: true,
            scope: None,
        };
        let answer = self.commit_pictures(avatar, vec![record], order, at).await;
        // Refused, a duplicate of a racing tap, or failed before it was written: the copy is
        // nobody's. When even that is unclear it stays (it goes with the avatar).
        if let Ok(None) = self.bot.store.get_generation(avatar.id, id).await
            && let Err(e) = self.bot.blobs.delete(&stored.key).await
        {
            tracing::warn!(error = %e, "an unused restyle photo stays until its avatar is deleted");
        }
        answer
    }

    /// The caller's trained avatar if its model can redraw photos; otherwise how to answer.
    async fn restyle_avatar(&self, id: AvatarId) -> BotResult<Result<Avatar, Answer>> {
        Ok(match self.trained_avatar(id).await? {
            Ok(avatar) if avatar.can_restyle() => Ok(avatar),
            Ok(_) => Err(Answer::Alert(self.t().restyle_not_available().to_owned())),
            Err(answer) => Err(answer),
        })
    }
}
