//! The first look: when a portrait avatar's training is confirmed, and the operator turned it
//! on (`INSTANT_PREVIEW`), one or two pictures drawn at once from the user's best photo,
//! committed beside the training as picture work of its own (its own price, the daily cap,
//! causes scoped to it, so a redelivered Confirm commits it once). The training never waits
//! for it and is never refused because of it.

use super::generation::PictureOrder;
use super::{BotResult, Turn};
use crate::domain::{Avatar, Generation, Priced};
use crate::fal::first_look::suits;
use crate::telegram::screens::Screen;

/// The causes' scope of a first look: beside the Confirm's training, not instead of it.
const SCOPE: &str = "first-look";

impl Turn<'_> {
    /// Commits the first look of `avatar`, whose training this update committed.
    pub(super) async fn first_look(&mut self, avatar: &Avatar) -> BotResult<()> {
        let pictures = self.bot.limits.money.first_look.pictures;
        if pictures == 0 || !suits(avatar.kind) {
            return Ok(());
        }
        let t = self.t();
        let records = Generation::first_look(avatar, pictures, self.now);
        let order = PictureOrder {
            priced: Priced::FirstLook,
            status: Screen::text(t.first_look_started(avatar.name.as_str(), pictures)),
            already: t.first_look_already_started(),
            limited: false,
            scope: Some(SCOPE),
        };
        // Refused (the daily cap, the balance) it says so in its own message; the training
        // goes on either way.
        self.commit_pictures(avatar, records, order, None).await?;
        Ok(())
    }
}
