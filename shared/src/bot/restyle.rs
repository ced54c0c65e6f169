//! Restyling a photo: "🖼 Restyle a photo" on a trained avatar's card asks for a photo; the
//! photo is checked as a training photo is (its declared size and type at once, its content
//! when used); a style or a typed prompt then redraws it, each a piece of picture work
//! committed like a generation (price, limits, causes). The photo is downloaded and kept only
//! for the restyle that uses it (a copy each), and deleted once that restyle is over. One of
//! the user's own pictures may be picked instead of a photo: it is copied the same way.

use super::generation::PictureOrder;
use super::photos::check_declared;
use super::{Answer, BotResult, Turn};
use crate::domain::{
    AspectRatio, Avatar, AvatarId, DialogueState, Generation, GenerationId, ImageCount,
    ImageFormat, MessageRef, Priced, Prompt, Style, TelegramPhoto, WorkKind, blob_keys,
};
use crate::ports::BlobKey;
use crate::telegram::incoming::{ImageOrigin, IncomingImage};
use crate::telegram::screens::{self, Screen};

/// How many of the user's newest pictures the photo question offers.
const PICTURES_OFFERED: usize = 4;

/// What a restyle redraws.
#[derive(Debug, Clone)]
pub(super) enum RestyleSource {
    /// A photo the user sent.
    Photo(TelegramPhoto),
    /// Kept picture `picture` of the user's `generation` under the same avatar.
    Picture {
        generation: GenerationId,
        picture: u8,
    },
}

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
        let pictures = self.restylable_pictures(&avatar).await?;
        let pictures: Vec<_> = pictures
            .iter()
            .map(|(g, i, prompt)| (*g, *i, prompt.as_str()))
            .collect();
        let screen = screens::restyle_ask_photo(self.t(), &avatar, &pictures);
        self.show(at, &screen).await;
        Ok(Answer::Silent)
    }

    /// The user's newest kept pictures of this avatar that can be redrawn (not upscales:
    /// files too big to redraw), with their prompts.
    pub(super) async fn restylable_pictures(
        &self,
        avatar: &Avatar,
    ) -> BotResult<Vec<(GenerationId, u8, String)>> {
        let mut pictures = Vec::new();
        for generation in self.generations(avatar.id, 10).await? {
            if generation.kind() == WorkKind::Upscale {
                continue;
            }
            for (i, _) in generation.kept_pictures() {
                pictures.push((generation.id, i, generation.prompt.as_str().to_owned()));
            }
        }
        pictures.truncate(PICTURES_OFFERED);
        Ok(pictures)
    }

    /// One of the user's pictures picked instead of a photo: the styles to redraw it in.
    pub(super) async fn restyle_picture_chosen(
        &mut self,
        id: AvatarId,
        generation: GenerationId,
        picture: u8,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let avatar = match self.restyle_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        // Looked up under the caller's avatar: another user's picture is not found.
        let kept = self
            .generation(avatar.id, generation)
            .await?
            .filter(|g| g.kept_picture(picture).is_some());
        if kept.is_none() {
            return Ok(Answer::Alert(t.not_found().to_owned()));
        }
        self.set_dialogue(DialogueState::RestylingPicture {
            avatar_id: avatar.id,
            generation,
            picture,
        });
        let price = self.restyle_price().await?;
        self.show(at, &screens::restyle_styles(t, &avatar, price))
            .await;
        Ok(Answer::Silent)
    }

    /// In a paying bot, the price of a restyle (one picture) and the balance.
    async fn restyle_price(
        &self,
    ) -> BotResult<Option<(crate::domain::Credits, crate::domain::Credits)>> {
        let quote = self
            .bot
            .limits
            .money
            .quote(Priced::Pictures(ImageCount::ONE));
        Ok(match quote.price {
            Some(price) => Some((price, self.bot.store.balance(self.user.id).await?)),
            None => None,
        })
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
        let price = self.restyle_price().await?;
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
        let (avatar_id, source) = match self.user.dialogue.clone() {
            DialogueState::Restyling { avatar_id, photo } => {
                (avatar_id, RestyleSource::Photo(photo))
            }
            DialogueState::RestylingPicture {
                avatar_id,
                generation,
                picture,
            } => (
                avatar_id,
                RestyleSource::Picture {
                    generation,
                    picture,
                },
            ),
            _ => return Ok(Answer::Toast(t.outdated())),
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
        self.restyle(&avatar, &source, prompt, Some(style), at)
            .await
    }

    /// A prompt typed under the photo.
    pub(super) async fn restyle_prompt(
        &mut self,
        avatar_id: AvatarId,
        source: RestyleSource,
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
        let answer = self.restyle(&avatar, &source, prompt, None, None).await?;
        if !matches!(answer, Answer::Silent) {
            self.send(&Screen::text(answer.text())).await;
        }
        Ok(())
    }

    /// Downloads the photo (or copies the picture) into its own copy for this restyle, then
    /// commits the restyle. The copy stays only if this restyle was recorded.
    async fn restyle(
        &mut self,
        avatar: &Avatar,
        source: &RestyleSource,
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
        let key_of = |format| blob_keys::restyle_source(owner, avatar_id, id, format);
        let (key, format, width, height) = match source {
            RestyleSource::Photo(photo) => {
                let stored = match self.fetch_and_store(&photo.file_id, key_of).await? {
                    Ok(stored) => stored,
                    Err(rejection) => return Ok(Answer::Alert(t.photo_rejected(&rejection))),
                };
                let (width, height) = match (photo.width, photo.height) {
                    (0, _) | (_, 0) => (stored.width, stored.height),
                    known => known,
                };
                (stored.key, stored.format, width, height)
            }
            RestyleSource::Picture {
                generation,
                picture,
            } => match self
                .copy_picture(avatar, *generation, *picture, key_of)
                .await?
            {
                Some(copied) => copied,
                None => return Ok(Answer::Alert(t.not_found().to_owned())),
            },
        };
        let record = Generation::restyle(
            id,
            avatar,
            prompt,
            style,
            format,
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
            && let Err(e) = self.bot.blobs.delete(&key).await
        {
            tracing::warn!(error = %e, "an unused restyle photo stays until its avatar is deleted");
        }
        answer
    }

    /// Copies kept picture `picture` of the caller's `generation` to `key_of(its format)`:
    /// the copy, its format and size; `None` when the picture is no longer kept.
    async fn copy_picture(
        &self,
        avatar: &Avatar,
        generation: GenerationId,
        picture: u8,
        key_of: impl FnOnce(ImageFormat) -> BlobKey,
    ) -> BotResult<Option<(BlobKey, ImageFormat, u32, u32)>> {
        let Some(generation) = self.generation(avatar.id, generation).await? else {
            return Ok(None);
        };
        let Some(kept) = generation.kept_picture(picture) else {
            return Ok(None);
        };
        let format = match kept.key.rsplit('.').next() {
            Some("png") => ImageFormat::Png,
            Some("webp") => ImageFormat::Webp,
            _ => ImageFormat::Jpeg,
        };
        let from = BlobKey::new(kept.key.to_owned()).map_err(crate::ports::BlobError::from)?;
        let body = match self.bot.blobs.get(&from).await {
            Ok(body) => body,
            Err(crate::ports::BlobError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let key = key_of(format);
        self.bot.blobs.put(&key, body, format.mime_type()).await?;
        let size = (kept.width.unwrap_or(0), kept.height.unwrap_or(0));
        Ok(Some((key, format, size.0, size.1)))
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
