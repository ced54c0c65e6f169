//! Upscaling a delivered picture: "🔍" under a result offers it (in a paying bot with its
//! price and the balance, so the tap that pays knows what it costs; in a free bot the tap
//! upscales at once), and the confirmation commits it like any picture work, keyed by its
//! update and its tap.

use super::generation::PictureOrder;
use super::{Answer, BotResult, Turn};
use crate::domain::{Avatar, AvatarId, Generation, GenerationId, KeptPicture, MessageRef, Priced};
use crate::telegram::screens::{self, Screen};

/// A picture's size when fal.ai did not say (FLUX's largest standard picture, 1024 x 1024
/// or so): the estimate charged against the daily cap errs high rather than low.
const ASSUMED_PIXELS: u64 = 1024 * 1365;

impl Turn<'_> {
    /// "🔍" under a result: the offer, or in a free bot the upscale itself (its status as a
    /// new message either way: the result's summary keeps its buttons).
    pub(super) async fn offer_upscale(
        &mut self,
        avatar: AvatarId,
        generation: GenerationId,
        picture: u8,
    ) -> BotResult<Answer> {
        let (avatar, source) = match self.upscale_source(avatar, generation, picture).await? {
            Ok(found) => found,
            Err(answer) => return Ok(answer),
        };
        let money = &self.bot.limits.money;
        let Some(price) = money.quote(priced(&source, picture)).price else {
            return self.upscale(&avatar, &source, picture, None).await;
        };
        let balance = self.bot.store.balance(self.user.id).await?;
        let screen = screens::upscale_offer(
            self.t(),
            avatar.name.as_str(),
            &source,
            picture,
            money.upscale_factor,
            Some((price, balance)),
        );
        // A new message: the result's summary keeps its buttons.
        self.send(&screen).await;
        Ok(Answer::Silent)
    }

    /// The offer's confirmation: the upscale, in place of the offer.
    pub(super) async fn confirm_upscale(
        &mut self,
        avatar: AvatarId,
        generation: GenerationId,
        picture: u8,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let (avatar, source) = match self.upscale_source(avatar, generation, picture).await? {
            Ok(found) => found,
            Err(answer) => return Ok(answer),
        };
        self.upscale(&avatar, &source, picture, at).await
    }

    async fn upscale(
        &mut self,
        avatar: &Avatar,
        source: &Generation,
        picture: u8,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let t = self.t();
        let factor = self.bot.limits.money.upscale_factor;
        let record = Generation::upscale(source, picture, factor, self.now);
        let order = PictureOrder {
            priced: priced(source, picture),
            status: Screen::text(t.upscale_started(avatar.name.as_str(), factor)),
            already: t.upscale_already_started(),
            limited: true,
            scope: None,
        };
        self.commit_pictures(avatar, vec![record], order, at).await
    }

    /// The caller's trained avatar and its finished generation whose picture `picture` is
    /// kept; otherwise how to answer.
    async fn upscale_source(
        &self,
        avatar: AvatarId,
        generation: GenerationId,
        picture: u8,
    ) -> BotResult<Result<(Avatar, Generation), Answer>> {
        let t = self.t();
        let avatar = match self.trained_avatar(avatar).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(Err(answer)),
        };
        // Looked up under the caller's avatar: another user's generation is not found.
        let Some(source) = self.generation(avatar.id, generation).await? else {
            return Ok(Err(Answer::Alert(t.not_found().to_owned())));
        };
        if source.kept_picture(picture).is_none() {
            return Ok(Err(Answer::Alert(t.upscale_unavailable().to_owned())));
        }
        Ok(Ok((avatar, source)))
    }
}

/// What upscaling picture `picture` of `source` is priced as: its size, as fal.ai reported it.
fn priced(source: &Generation, picture: u8) -> Priced {
    let pixels = match source.kept_picture(picture) {
        Some(KeptPicture {
            width: Some(w),
            height: Some(h),
            ..
        }) => u64::from(w) * u64::from(h),
        _ => ASSUMED_PIXELS,
    };
    Priced::Upscale { pixels }
}
