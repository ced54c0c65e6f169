//! Starting training and its end: the summary before Confirm and the outcome message.

use super::super::callback::Callback;
use super::super::texts::{Texts, escape};
use super::{Keyboard, Screen};
use crate::domain::{Avatar, AvatarKind, Credits, Preset, WorkState};

/// The training summary shown before Confirm.
pub fn summary_text(
    t: &dyn Texts,
    name: &str,
    kind: AvatarKind,
    preset: Preset,
    photos: u32,
) -> String {
    format!(
        "<b>{}</b>\n\n{}: <b>{}</b>\n{}: {}\n{}: {}\n{}: {photos}\n{}: {}\n\n{}",
        t.summary_heading(),
        t.label_name(),
        escape(name),
        t.label_kind(),
        t.kind_name(kind),
        t.label_quality(),
        t.preset_name(preset),
        t.label_photos(),
        t.label_expected_time(),
        t.minutes(preset.expected_minutes(kind)),
        t.summary_question(),
    )
}

/// The summary before Confirm; in a paying bot with the price and the balance, and Top up
/// in place of Confirm when the balance is short.
pub fn training_summary(
    t: &dyn Texts,
    avatar: &Avatar,
    price: Option<(Credits, Credits)>,
) -> Screen {
    let mut text = summary_text(
        t,
        avatar.name.as_str(),
        avatar.kind,
        avatar.preset,
        avatar.photo_count,
    );
    let mut go = (
        t.btn_confirm_training().to_owned(),
        Callback::ConfirmTraining(avatar.id),
    );
    if let Some((price, balance)) = price {
        text.push_str(&format!("\n\n{}", t.training_price(price, balance)));
        if balance < price {
            go = (t.btn_top_up().to_owned(), Callback::Balance);
        }
    }
    Screen::new(
        text,
        Keyboard::default().row([go, (t.btn_back().to_owned(), Callback::Continue(avatar.id))]),
    )
}

/// The message that tells a training's outcome: a trained avatar is one tap from drawing.
/// The message that ends a training; a failed one says if its credits went back.
pub fn training_outcome(
    t: &dyn Texts,
    avatar: &Avatar,
    refunded: Option<Credits>,
) -> Option<Screen> {
    let name = avatar.name.as_str();
    let (text, keyboard) = match avatar.state.training()? {
        WorkState::Completed { .. } => (
            t.training_done(name),
            Keyboard::default().button(t.btn_generate(), Callback::Generate(avatar.id)),
        ),
        WorkState::Failed { reason, .. } => {
            let mut text = t.training_failed(name, reason);
            if let Some(credits) = refunded {
                text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
            }
            (text, Keyboard::default())
        }
        _ => return None,
    };
    Some(Screen::new(
        text,
        keyboard
            .button(t.btn_open_avatar(), Callback::Card(avatar.id))
            .button(t.btn_menu(), Callback::Menu),
    ))
}
