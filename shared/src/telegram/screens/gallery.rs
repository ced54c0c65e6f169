//! The user's avatars: the list, a card with its history, and the delete confirmation.

use super::super::callback::Callback;
use super::super::texts::{Texts, date, escape, preview};
use super::{Keyboard, Screen, status_icon};
use crate::domain::{
    Avatar, AvatarKind, AvatarStatus, Catalogue, FailureReason, Gender, GeneratedImage, Generation,
    Preset, Style, Timestamp, WorkState,
};
use crate::pipeline::deletion::Settlement;

/// Avatars per page of the list.
pub const PAGE_SIZE: usize = 8;

/// What an avatar card shows; gathered by the gallery, worded by the language.
#[derive(Debug, Clone)]
pub struct CardFacts<'a> {
    pub name: &'a str,
    pub kind: AvatarKind,
    pub gender: Gender,
    pub preset: Preset,
    pub status: AvatarStatus,
    pub photo_count: u32,
    pub min_photos: u32,
    pub created_at: Timestamp,
    /// Minutes since training was submitted or queued, while it runs.
    pub training_minutes: Option<u64>,
    pub failure: Option<&'a FailureReason>,
}

/// One line of an avatar's generation history.
#[derive(Debug, Clone)]
pub struct HistoryEntry<'a> {
    pub created_at: Timestamp,
    pub prompt: &'a str,
    pub style: Option<Style>,
    /// Images the user got; `None` while it runs, `Some(0)` when it failed.
    pub images: Option<usize>,
}

/// The card's text: the same lines in every language, worded by `t`.
pub fn card_text(t: &dyn Texts, f: &CardFacts<'_>) -> String {
    let mut s = format!(
        "<b>{}</b>\n{} · {} · {}\n{}: {} {}\n{}: {}\n{}: {}",
        escape(f.name),
        t.kind_name(f.kind),
        t.gender_name(f.gender),
        t.preset_name(f.preset),
        t.label_status(),
        status_icon(f.status),
        t.status_name(f.status),
        t.label_created(),
        date(f.created_at),
        t.label_photos(),
        f.photo_count,
    );
    match f.status {
        AvatarStatus::Draft | AvatarStatus::CollectingPhotos => {
            s.push(' ');
            s.push_str(&t.photos_needed(f.min_photos));
        }
        status if status.is_training_in_progress() => {
            let expected = t.minutes(f.preset.expected_minutes(f.kind));
            s.push('\n');
            s.push_str(&match f.training_minutes {
                Some(m) => t.running_for(m, &expected),
                None => t.usually_takes(&expected),
            });
        }
        AvatarStatus::Failed => {
            if let Some(reason) = f.failure {
                s.push_str(&format!(
                    "\n{}: {}",
                    t.label_reason(),
                    t.failure_reason(reason)
                ));
            }
        }
        AvatarStatus::Completed => {
            s.push('\n');
            s.push_str(t.card_trained());
        }
        _ => {}
    }
    s
}

/// The history lines under a card: date, what was asked, how many pictures came.
pub fn history_text(t: &dyn Texts, entries: &[HistoryEntry<'_>]) -> String {
    let mut s = format!("\n\n<b>{}</b>", t.history_heading());
    for e in entries {
        let what = match e.style {
            Some(style) => t.style_name(style).to_owned(),
            None => format!("«{}»", preview(e.prompt, 40)),
        };
        let status = match e.images {
            None => "⏳".to_owned(),
            Some(0) => "—".to_owned(),
            Some(n) => format!("🖼 {n}"),
        };
        s.push_str(&format!("\n{} · {what} · {status}", date(e.created_at)));
    }
    s
}

/// One page of the avatar list: a button per avatar with its status icon, a pager, Back.
pub fn avatar_list(t: &dyn Texts, avatars: &[Avatar], page: usize) -> Screen {
    if avatars.is_empty() {
        return Screen::new(
            t.no_avatars(),
            Keyboard::default()
                .button(t.btn_create(), Callback::Create)
                .button(t.btn_back(), Callback::Menu),
        );
    }
    let pages = avatars.len().div_ceil(PAGE_SIZE);
    let page = page.min(pages - 1);
    let mut keyboard = Keyboard::default();
    // Newest first: the one just created is on the first page.
    for avatar in avatars.iter().rev().skip(page * PAGE_SIZE).take(PAGE_SIZE) {
        keyboard = keyboard.button(
            format!("{} {}", status_icon(avatar.status()), avatar.name),
            Callback::Card(avatar.id),
        );
    }
    let mut pager = Vec::new();
    if page > 0 {
        pager.push((t.btn_prev().to_owned(), Callback::Avatars(page as u16 - 1)));
    }
    if page + 1 < pages {
        pager.push((t.btn_next().to_owned(), Callback::Avatars(page as u16 + 1)));
    }
    Screen::new(
        t.avatar_list(avatars.len(), page + 1, pages),
        keyboard.row(pager).button(t.btn_back(), Callback::Menu),
    )
}

/// An avatar's card: what it is, how it is doing, what it drew lately, and what can be done
/// with it. `history` is its latest generations, newest first.
pub fn avatar_card(
    t: &dyn Texts,
    avatar: &Avatar,
    history: &[Generation],
    min_photos: u32,
    now: Timestamp,
) -> Screen {
    let status = avatar.status();
    let training = avatar.state.training();
    let running_since = training.and_then(WorkState::due_at);
    let failure = match training {
        Some(WorkState::Failed { reason, .. }) => Some(reason),
        _ => None,
    };
    let facts = CardFacts {
        name: avatar.name.as_str(),
        kind: avatar.kind,
        gender: avatar.gender,
        preset: avatar.preset,
        status,
        photo_count: avatar.photo_count,
        min_photos,
        created_at: avatar.created_at,
        training_minutes: running_since.map(|since| now.since(since).as_secs() / 60),
        failure,
    };
    let mut keyboard = Keyboard::default();
    if status.accepts_photos() || status == AvatarStatus::Draft {
        keyboard = keyboard.button(t.btn_continue(), Callback::Continue(avatar.id));
    }
    if status == AvatarStatus::Ready {
        keyboard = keyboard.button(t.btn_start_training(), Callback::StartTraining(avatar.id));
    }
    if status == AvatarStatus::Completed {
        keyboard = keyboard.button(t.btn_generate(), Callback::Generate(avatar.id));
        if avatar.can_restyle() {
            keyboard = keyboard.button(t.btn_restyle(), Callback::Restyle(avatar.id));
        }
        if !Catalogue::shipped().for_kind(avatar.kind).is_empty() {
            keyboard = keyboard.button(t.btn_packs(), Callback::Packs(avatar.id));
        }
    }
    keyboard = keyboard.row([
        (t.btn_delete().to_owned(), Callback::Delete(avatar.id)),
        (t.btn_back().to_owned(), Callback::Avatars(0)),
    ]);
    let mut text = card_text(t, &facts);
    if !history.is_empty() {
        let entries: Vec<HistoryEntry<'_>> = history.iter().map(history_entry).collect();
        text.push_str(&history_text(t, &entries));
    }
    Screen::new(text, keyboard)
}

fn history_entry(g: &Generation) -> HistoryEntry<'_> {
    HistoryEntry {
        created_at: g.created_at,
        prompt: g.prompt.as_str(),
        style: g.style,
        images: match &g.state {
            WorkState::Completed { output: images, .. } => Some(
                images
                    .iter()
                    .filter(|i| matches!(i, GeneratedImage::Stored { .. }))
                    .count(),
            ),
            WorkState::Failed { .. } => Some(0),
            _ => None,
        },
    }
}

/// The delete confirmation, as the original product words it: heading, question, the
/// avatar's name and status, what will be lost, and a pause.
pub fn delete_question(t: &dyn Texts, avatar: &Avatar, settlement: Settlement) -> Screen {
    let status = avatar.status();
    let trained = status == AvatarStatus::Completed;
    let mut lost = Vec::new();
    if trained {
        lost.push(t.delete_item_model().to_owned());
    }
    lost.push(t.delete_item_photos(avatar.photo_count));
    if trained {
        lost.push(t.delete_item_history().to_owned());
    }
    let text = format!(
        "🗑 <b>{}</b>\n\n❓ {}\n\n🎭 <b>{}:</b> {}\n📊 <b>{}:</b> {} {}\n\n⚠️ {}\n{}\n\n🤔 {}",
        t.delete_heading(),
        t.delete_ask(),
        t.label_name(),
        escape(avatar.name.as_str()),
        t.label_status(),
        status_icon(status),
        t.status_name(status),
        t.delete_warning(),
        lost.iter()
            .map(|item| format!("• {item}"))
            .collect::<Vec<_>>()
            .join("\n"),
        t.delete_think_twice(),
    );
    let mut text = text;
    if settlement.refunded.0 > 0 {
        text.push_str(&format!("\n\n💳 {}", t.delete_refund(settlement.refunded)));
    }
    if settlement.cancelled_at_fal > 0 {
        text.push_str(&format!(
            "\n⏹ {}",
            t.delete_stops_running(settlement.cancelled_at_fal)
        ));
    }
    Screen::new(
        text,
        Keyboard::default().row([
            (
                t.btn_confirm_delete().to_owned(),
                Callback::ConfirmDelete(avatar.id),
            ),
            (t.btn_keep().to_owned(), Callback::Card(avatar.id)),
        ]),
    )
}

/// What deleting an avatar did: said, with what went back to the balance.
pub fn deleted(t: &dyn Texts, name: &str, settlement: Settlement) -> String {
    let mut text = t.deleted(name);
    if settlement.refunded.0 > 0 {
        text.push_str(&format!("\n{}", t.deleted_refunded(settlement.refunded)));
    }
    text
}
