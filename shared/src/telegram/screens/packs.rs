//! Photo packs: the packs an avatar can run, one pack's offer (what it draws, and in a
//! paying bot its price before the tap that pays), and the summary above the album.

use super::{DeliveryReport, Keyboard, Screen};
use crate::domain::{Avatar, AvatarId, Catalogue, Credits, GenerationId, PhotoPack};
use crate::telegram::callback::Callback;
use crate::telegram::texts::Texts;

/// The packs for this avatar's kind, one a row.
pub fn packs(t: &dyn Texts, avatar: &Avatar, catalogue: &Catalogue) -> Screen {
    let mut keyboard = Keyboard::default();
    for (index, pack) in catalogue.for_kind(avatar.kind) {
        keyboard = keyboard.button(
            t.btn_pack(t.local(&pack.name), pack.size()),
            Callback::PackOffer(avatar.id, index),
        );
    }
    Screen::new(
        t.packs_intro(avatar.name.as_str()),
        keyboard.button(t.btn_back_to_avatar(), Callback::Card(avatar.id)),
    )
}

/// One pack: what it is, how many pictures, in a paying bot the price and the balance.
pub fn pack_offer(
    t: &dyn Texts,
    avatar: AvatarId,
    index: u8,
    pack: &PhotoPack,
    price: Option<(Credits, Credits)>,
) -> Screen {
    let mut text = t.pack_offer(t.local(&pack.name), t.local(&pack.description), pack.size());
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n{}", t.pack_price(price, balance)));
    }
    Screen::new(
        text,
        Keyboard::default()
            .button(
                t.btn_run_pack(pack.size()),
                Callback::RunPack(avatar, index, pack.fingerprint()),
            )
            .button(t.btn_more_packs(), Callback::Packs(avatar)),
    )
}

/// The summary above a pack's album: what came of how many, what was withheld or lost.
pub fn pack_result(
    t: &dyn Texts,
    name: &str,
    title: &str,
    r: DeliveryReport,
    failed: usize,
) -> String {
    let total = r.sent + r.filtered + r.unavailable + r.refused + failed;
    let mut s = t.pack_result(name, title, r.sent, total);
    if r.filtered > 0 {
        s.push_str(&format!("\n🙈 {}", t.result_filtered(r.filtered)));
    }
    if r.unavailable > 0 {
        s.push_str(&format!("\n⚠️ {}", t.result_unavailable(r.unavailable)));
    }
    if r.refused > 0 {
        s.push_str(&format!("\n⚠️ {}", t.result_refused(r.refused)));
    }
    if failed > 0 {
        s.push_str(&format!("\n⚠️ {}", t.pack_failed(failed)));
    }
    s
}

/// The summary above a first look's album, with what was withheld or lost.
pub fn first_look_result(t: &dyn Texts, name: &str, r: DeliveryReport, failed: usize) -> String {
    let total = r.sent + r.filtered + r.unavailable + r.refused + failed;
    let mut s = t.first_look_result(name, r.sent, total);
    if r.filtered > 0 {
        s.push_str(&format!("\n🙈 {}", t.result_filtered(r.filtered)));
    }
    s
}

/// Under a pack's summary: upscale any picture of the album (numbered as it shows them),
/// another pack, back to the avatar.
pub fn after_pack(t: &dyn Texts, avatar: AvatarId, shown: &[GenerationId]) -> Keyboard {
    let upscale: Vec<(String, Callback)> = shown
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                t.btn_upscale(Some(i as u8 + 1)),
                Callback::Upscale(avatar, *id, 0),
            )
        })
        .collect();
    let mut keyboard = Keyboard::default();
    for row in upscale.chunks(5) {
        keyboard = keyboard.row(row.to_vec());
    }
    keyboard
        .button(t.btn_more_packs(), Callback::Packs(avatar))
        .button(t.btn_back_to_avatar(), Callback::Card(avatar))
}
