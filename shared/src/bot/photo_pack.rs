//! Photo packs: the packs a trained avatar can run (under its card), a pack's offer (what it
//! draws and, in a paying bot, its price and the balance before the tap that pays), and the
//! tap that runs it: the pack's pictures committed together through `commit_pictures`, one
//! debit each (so each is refunded on its own), keyed by the update and the tap.

use super::generation::PictureOrder;
use super::{Answer, BotResult, Turn};
use crate::domain::{
    Avatar, AvatarId, Catalogue, Credits, ImageCount, MessageRef, PhotoPack, Priced,
};
use crate::telegram::screens::{self, Screen};

/// What each picture of a pack is priced as: one picture of a generation.
const EACH: Priced = Priced::Pictures(ImageCount::ONE);

impl Turn<'_> {
    /// "📸 Photo packs" on a trained avatar's card.
    pub(super) async fn open_packs(
        &mut self,
        id: AvatarId,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let avatar = match self.trained_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(answer),
        };
        let screen = screens::packs(self.t(), &avatar, Catalogue::shipped());
        self.show(at, &screen).await;
        Ok(Answer::Silent)
    }

    /// One pack: what it draws, and its price before the tap that pays for it.
    pub(super) async fn offer_pack(
        &mut self,
        id: AvatarId,
        index: u8,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let (avatar, pack) = match self.pack_for(id, index, None).await? {
            Ok(found) => found,
            Err(answer) => return Ok(answer),
        };
        let price = match self.bot.limits.money.quote(EACH).price {
            Some(each) => Some((
                Credits(each.0 * u64::from(pack.size())),
                self.bot.store.balance(self.user.id).await?,
            )),
            None => None,
        };
        let screen = screens::pack_offer(self.t(), avatar.id, index, pack, price);
        self.show(at, &screen).await;
        Ok(Answer::Silent)
    }

    /// The offer's tap: the whole pack, in place of the offer.
    pub(super) async fn run_pack(
        &mut self,
        id: AvatarId,
        index: u8,
        fingerprint: u16,
        at: Option<MessageRef>,
    ) -> BotResult<Answer> {
        let (avatar, pack) = match self.pack_for(id, index, Some(fingerprint)).await? {
            Ok(found) => found,
            Err(answer) => return Ok(answer),
        };
        let t = self.t();
        let records = pack.records(&avatar, self.now);
        let order = PictureOrder {
            priced: EACH,
            status: Screen::text(t.pack_started(
                avatar.name.as_str(),
                t.local(&pack.name),
                pack.size(),
            )),
            already: t.pack_already_started(),
            limited: true,
            scope: None,
        };
        self.commit_pictures(&avatar, records, order, at).await
    }

    /// The caller's trained avatar and the pack at `index` for its kind (still the one
    /// fingerprinted, when a fingerprint is given); otherwise how to answer.
    async fn pack_for(
        &self,
        id: AvatarId,
        index: u8,
        fingerprint: Option<u16>,
    ) -> BotResult<Result<(Avatar, &'static PhotoPack), Answer>> {
        let avatar = match self.trained_avatar(id).await? {
            Ok(avatar) => avatar,
            Err(answer) => return Ok(Err(answer)),
        };
        let pack = Catalogue::shipped()
            .get(index, fingerprint)
            .filter(|p| p.avatar_kinds.contains(&avatar.kind));
        Ok(match pack {
            Some(pack) => Ok((avatar, pack)),
            None => Err(Answer::Toast(self.t().outdated())),
        })
    }
}
