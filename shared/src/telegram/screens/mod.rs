//! Screens: a text plus its inline keyboard, built from the texts of the user's language.
//! Pure functions, so every screen can be checked without Telegram. Grouped by feature:
//! the menus here, then creation, training, the gallery, generation and credits.

mod creation;
mod credits;
mod gallery;
mod generation;
mod packs;
mod privacy;
mod training;

pub use creation::*;
pub use credits::*;
pub use gallery::*;
pub use generation::*;
pub use packs::*;
pub use privacy::*;
pub use training::*;

use super::callback::Callback;
use super::texts::Texts;
use crate::domain::{AvatarStatus, Billing, Language};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub callback: Callback,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keyboard(pub Vec<Vec<Button>>);

impl Keyboard {
    pub fn row(mut self, buttons: impl IntoIterator<Item = (String, Callback)>) -> Self {
        let row: Vec<Button> = buttons
            .into_iter()
            .map(|(label, callback)| Button { label, callback })
            .collect();
        if !row.is_empty() {
            self.0.push(row);
        }
        self
    }

    pub fn button(self, label: impl Into<String>, callback: Callback) -> Self {
        self.row([(label.into(), callback)])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A message as the bot shows it: HTML text and buttons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub text: String,
    pub keyboard: Keyboard,
}

impl Screen {
    pub fn new(text: impl Into<String>, keyboard: Keyboard) -> Self {
        Self {
            text: text.into(),
            keyboard,
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        Self::new(text, Keyboard::default())
    }

    /// The same screen with a note above it (a refusal, a confirmation).
    pub fn with_note(mut self, note: &str) -> Self {
        self.text = format!("{note}\n\n{}", self.text);
        self
    }
}

pub fn main_menu(t: &dyn Texts, billing: &Billing) -> Screen {
    Screen::new(t.welcome(), menu_keyboard(t, billing))
}

/// The main menu's buttons; a paying bot adds Balance.
pub fn menu_keyboard(t: &dyn Texts, billing: &Billing) -> Keyboard {
    let keyboard = Keyboard::default()
        .button(t.btn_generate(), Callback::ChooseForGeneration)
        .row([
            (t.btn_create().into(), Callback::Create),
            (t.btn_avatars().into(), Callback::Avatars(0)),
        ]);
    let keyboard = match billing {
        Billing::Free => keyboard,
        Billing::Stars { .. } => keyboard.button(t.btn_balance(), Callback::Balance),
    };
    keyboard.row([
        (t.btn_language().into(), Callback::ChooseLanguage),
        (t.btn_help().into(), Callback::Help),
        (t.btn_privacy().into(), Callback::Privacy),
    ])
}

pub fn back_to_menu(t: &dyn Texts) -> Keyboard {
    Keyboard::default().button(t.btn_menu(), Callback::Menu)
}

pub fn language_picker(t: &dyn Texts) -> Screen {
    Screen::new(
        t.choose_language(),
        Keyboard::default()
            .row([
                ("🇷🇺 Русский".to_owned(), Callback::SetLanguage(Language::Ru)),
                ("🇬🇧 English".to_owned(), Callback::SetLanguage(Language::En)),
            ])
            .button(t.btn_back(), Callback::Menu),
    )
}

/// The icon of an avatar's status, in lists and on its card.
pub fn status_icon(status: AvatarStatus) -> &'static str {
    match status {
        AvatarStatus::Draft | AvatarStatus::CollectingPhotos => "📥",
        AvatarStatus::Ready => "🟢",
        AvatarStatus::Queued | AvatarStatus::Submitting | AvatarStatus::Sending => "⏳",
        AvatarStatus::Training => "🧠",
        AvatarStatus::Completed => "✅",
        AvatarStatus::Failed => "❌",
        AvatarStatus::Cancelled => "🚫",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Avatar, AvatarId, AvatarKind, AvatarName, Gender, Language, Preset, Timestamp, UserId,
    };
    use crate::telegram::texts::texts;

    fn avatar(n: usize) -> Avatar {
        Avatar::draft(
            UserId(1),
            AvatarKind::Portrait,
            Gender::Male,
            AvatarName::parse(&format!("a{n}")).unwrap(),
            Preset::Fast,
            Timestamp(0),
        )
    }

    #[test]
    fn list_pages_beyond_eight_newest_first() {
        let t = texts(Language::En);
        let avatars: Vec<Avatar> = (0..11).map(avatar).collect();
        let first = avatar_list(t, &avatars, 0);
        assert_eq!(first.keyboard.0.len(), 8 + 2, "8 avatars, pager, back");
        assert_eq!(
            first.keyboard.0[0][0].callback,
            Callback::Card(avatars[10].id)
        );
        assert_eq!(first.keyboard.0[8][0].callback, Callback::Avatars(1));
        let second = avatar_list(t, &avatars, 1);
        assert_eq!(second.keyboard.0.len(), 3 + 2);
        assert_eq!(second.keyboard.0[3][0].callback, Callback::Avatars(0));
        assert!(second.text.contains("2/2"));
        // A page past the end (a stale button after deletions) shows the last page.
        assert_eq!(avatar_list(t, &avatars, 7), second);
    }

    #[test]
    fn start_button_only_once_the_minimum_is_reached() {
        let t = texts(Language::Ru);
        let id = AvatarId::new();
        assert!(photo_progress(t, id, 9, 10, 20, false).keyboard.is_empty());
        assert_eq!(
            photo_progress(t, id, 10, 10, 20, false).keyboard.0[0][0].callback,
            Callback::StartTraining(id)
        );
    }
}
