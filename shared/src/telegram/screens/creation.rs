//! The creation dialogue's screens: kind, gender, name, preset, and the photo progress.

use super::super::callback::Callback;
use super::super::texts::Texts;
use super::{Keyboard, Screen};
use crate::domain::{AvatarId, AvatarKind, Gender, Preset};

pub fn choose_kind(t: &dyn Texts, min_portrait: u32, min_style: u32) -> Screen {
    Screen::new(
        t.choose_kind(min_portrait, min_style),
        Keyboard::default()
            .row(AvatarKind::ALL.map(|k| (t.btn_kind(k).to_owned(), Callback::Kind(k))))
            .button(t.btn_back(), Callback::Menu),
    )
}

pub fn choose_gender(t: &dyn Texts, kind: AvatarKind) -> Screen {
    Screen::new(
        t.choose_gender(kind),
        Keyboard::default()
            .row(Gender::ALL.map(|g| (t.btn_gender(g).to_owned(), Callback::Gender(g))))
            .button(t.btn_back(), Callback::Create),
    )
}

pub fn enter_name(t: &dyn Texts, kind: AvatarKind) -> Screen {
    Screen::new(
        t.enter_name(kind),
        Keyboard::default().button(t.btn_back(), Callback::Kind(kind)),
    )
}

pub fn choose_preset(t: &dyn Texts, kind: AvatarKind, gender: Gender, name: &str) -> Screen {
    let mut keyboard = Keyboard::default();
    for preset in Preset::ALL {
        keyboard = keyboard.button(t.btn_preset(kind, preset), Callback::Preset(preset));
    }
    Screen::new(
        t.choose_preset(name),
        keyboard.button(t.btn_back(), Callback::Gender(gender)),
    )
}

/// The one progress message of photo collection, edited as photos arrive.
pub fn photo_progress(
    t: &dyn Texts,
    avatar: AvatarId,
    count: u32,
    min: u32,
    max: u32,
    duplicate_skipped: bool,
) -> Screen {
    let keyboard = if count >= min {
        Keyboard::default().button(t.btn_start_training(), Callback::StartTraining(avatar))
    } else {
        Keyboard::default()
    };
    Screen::new(
        t.photo_progress(count, min, max, duplicate_skipped),
        keyboard,
    )
}
