//! Drawing: the avatar to pick, the style/prompt screen, its settings, and what comes
//! under the pictures.

use super::super::callback::Callback;
use super::super::texts::Texts;
use super::{Keyboard, Screen, status_icon};
use crate::domain::{
    AspectRatio, Avatar, AvatarId, Credits, Generation, GenerationDefaults, GenerationId,
    ImageCount, Style, UpscaleFactor, WorkKind,
};

/// What reached the user of a finished generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Flagged NSFW by fal.ai and not sent.
    pub filtered: usize,
    /// Could not be fetched from fal.ai.
    pub unavailable: usize,
    /// Kept, but Telegram refused them for good (as photos and as documents).
    pub refused: usize,
}

/// The summary under a generation's pictures: what came, what was hidden, what was lost.
pub fn generation_result(t: &dyn Texts, name: &str, r: DeliveryReport) -> String {
    let mut s = if r.sent > 0 {
        format!("✅ {}", t.result_sent(&t.btn_images(r.sent as u8), name))
    } else {
        t.result_empty(name)
    };
    if r.filtered > 0 {
        s.push_str(&format!("\n🙈 {}", t.result_filtered(r.filtered)));
    }
    if r.unavailable > 0 {
        s.push_str(&format!("\n⚠️ {}", t.result_unavailable(r.unavailable)));
    }
    if r.refused > 0 {
        s.push_str(&format!("\n⚠️ {}", t.result_refused(r.refused)));
    }
    s
}

/// The trained avatars to pick from for /generate.
pub fn pick_avatar_to_generate(t: &dyn Texts, trained: &[Avatar]) -> Screen {
    let mut keyboard = Keyboard::default();
    for avatar in trained.iter().rev() {
        keyboard = keyboard.button(
            format!("{} {}", status_icon(avatar.status()), avatar.name.as_str()),
            Callback::Generate(avatar.id),
        );
    }
    Screen::new(
        t.pick_avatar_to_generate(),
        keyboard.button(t.btn_menu(), Callback::Menu),
    )
}

/// Styles (two a row), settings, back: the user may also just type a prompt.
/// The style/prompt screen; in a paying bot with the price of the chosen number of pictures
/// and the balance.
pub fn generate(
    t: &dyn Texts,
    avatar: &Avatar,
    defaults: GenerationDefaults,
    price: Option<(Credits, Credits)>,
) -> Screen {
    let styles: Vec<(String, Callback)> = Style::for_kind(avatar.kind)
        .iter()
        .map(|s| {
            (
                t.style_name(*s).to_owned(),
                Callback::Style(avatar.id, s.index()),
            )
        })
        .collect();
    let mut keyboard = Keyboard::default();
    for pair in styles.chunks(2) {
        keyboard = keyboard.row(pair.to_vec());
    }
    let mut text = t.generate_intro(avatar.name.as_str(), defaults);
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n{}", t.generation_price(price, balance)));
    }
    Screen::new(
        text,
        keyboard
            .button(
                t.btn_generation_settings(),
                Callback::GenerationSettings(avatar.id),
            )
            .button(t.btn_back_to_avatar(), Callback::Card(avatar.id)),
    )
}

/// Aspect ratio and image count, the current ones ticked.
pub fn generation_settings(t: &dyn Texts, avatar: AvatarId, d: GenerationDefaults) -> Screen {
    let tick = |on: bool, label: String| if on { format!("✓ {label}") } else { label };
    let ratios = AspectRatio::ALL.map(|r| {
        (
            tick(r == d.aspect_ratio, r.as_str().to_owned()),
            Callback::SetRatio(avatar, r),
        )
    });
    let counts = ImageCount::ALL.map(|n| {
        (
            tick(n == d.num_images, n.get().to_string()),
            Callback::SetCount(avatar, n),
        )
    });
    Screen::new(
        t.generation_settings(d),
        Keyboard::default()
            .row(ratios)
            .row(counts)
            .button(t.btn_back(), Callback::Generate(avatar)),
    )
}

/// Under every result: each kept picture to upscale, the same again, another prompt, or
/// back to the avatar.
pub fn after_generation(t: &dyn Texts, generation: &Generation) -> Keyboard {
    let kept = generation.kept_pictures();
    // Numbered as the album shows them (a withheld picture is not in it).
    let upscale: Vec<(String, Callback)> = kept
        .iter()
        .enumerate()
        .map(|(shown, (i, _))| {
            let label = match kept.len() {
                1 => t.btn_upscale(None),
                _ => t.btn_upscale(Some(shown as u8 + 1)),
            };
            (
                label,
                Callback::Upscale(generation.avatar_id, generation.id, *i),
            )
        })
        .collect();
    let keyboard = if upscale.is_empty() {
        Keyboard::default()
    } else {
        Keyboard::default().row(upscale)
    };
    if generation.kind() == WorkKind::Restyle {
        // The photo is gone once redrawn: another photo, rather than the same again.
        return keyboard
            .button(t.btn_restyle(), Callback::Restyle(generation.avatar_id))
            .button(t.btn_back_to_avatar(), Callback::Card(generation.avatar_id));
    }
    keyboard
        .row([
            (
                t.btn_again().to_owned(),
                Callback::Again(generation.avatar_id, generation.id),
            ),
            (
                t.btn_new_prompt().to_owned(),
                Callback::Generate(generation.avatar_id),
            ),
        ])
        .button(t.btn_back_to_avatar(), Callback::Card(generation.avatar_id))
}

/// Under an upscale's outcome: back to the avatar.
pub fn after_upscale(t: &dyn Texts, upscale: &Generation) -> Keyboard {
    Keyboard::default().button(t.btn_back_to_avatar(), Callback::Card(upscale.avatar_id))
}

/// What upscaling picture `picture` (0-based) of `generation` gives, and in a paying bot
/// its price and the balance, before the tap that pays for it.
pub fn upscale_offer(
    t: &dyn Texts,
    name: &str,
    generation: &Generation,
    picture: u8,
    factor: UpscaleFactor,
    price: Option<(Credits, Credits)>,
) -> Screen {
    // Numbered as the album shows it.
    let shown = generation
        .kept_pictures()
        .iter()
        .position(|(i, _)| *i == picture)
        .unwrap_or(usize::from(picture));
    let mut text = t.upscale_offer(name, shown as u8 + 1, factor);
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n{}", t.upscale_price(price, balance)));
    }
    Screen::new(
        text,
        Keyboard::default()
            .button(
                t.btn_upscale_confirm(factor),
                Callback::ConfirmUpscale(generation.avatar_id, generation.id, picture),
            )
            .button(t.btn_back_to_avatar(), Callback::Card(generation.avatar_id)),
    )
}

/// Asks for the photo `avatar` is to redraw, or to pick one of the user's newest pictures
/// (`pictures`: a generation, the picture's place in it, its prompt).
pub fn restyle_ask_photo(
    t: &dyn Texts,
    avatar: &Avatar,
    pictures: &[(GenerationId, u8, &str)],
) -> Screen {
    let mut keyboard = Keyboard::default();
    for (generation, picture, prompt) in pictures {
        keyboard = keyboard.button(
            t.btn_restyle_picture(prompt),
            Callback::RestylePicture(avatar.id, *generation, *picture),
        );
    }
    Screen::new(
        t.restyle_ask_photo(avatar.name.as_str()),
        keyboard.button(t.btn_back_to_avatar(), Callback::Card(avatar.id)),
    )
}

/// The styles to redraw the photo in (two a row); the user may also type a prompt. In a
/// paying bot with the price of the one picture and the balance.
pub fn restyle_styles(t: &dyn Texts, avatar: &Avatar, price: Option<(Credits, Credits)>) -> Screen {
    let styles: Vec<(String, Callback)> = Style::for_kind(avatar.kind)
        .iter()
        .map(|s| {
            (
                t.style_name(*s).to_owned(),
                Callback::RestyleStyle(avatar.id, s.index()),
            )
        })
        .collect();
    let mut keyboard = Keyboard::default();
    for pair in styles.chunks(2) {
        keyboard = keyboard.row(pair.to_vec());
    }
    let mut text = t.restyle_intro(avatar.name.as_str());
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n{}", t.generation_price(price, balance)));
    }
    Screen::new(
        text,
        keyboard.button(t.btn_back_to_avatar(), Callback::Card(avatar.id)),
    )
}
