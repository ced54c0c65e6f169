//! Inline-button callback data: ids and choices only (never names or other user data), at
//! most 64 bytes as Telegram requires. Whatever a button claims is re-checked on arrival:
//! ownership by looking the avatar up under the caller, the step against the dialogue state.

use crate::domain::{AvatarId, AvatarKind, Gender, Language, Preset};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The main menu.
    Menu,
    Help,
    /// Language picker, or a language picked.
    ChooseLanguage,
    SetLanguage(Language),
    /// Avatar creation: start, then kind, gender and preset.
    Create,
    Kind(AvatarKind),
    Gender(Gender),
    Preset(Preset),
    /// The avatar list, page `n` (0-based).
    Avatars(u16),
    /// An avatar's card.
    Card(AvatarId),
    /// Go on adding photos to a half-made avatar.
    Continue(AvatarId),
    /// Show the training summary; then confirm it.
    StartTraining(AvatarId),
    ConfirmTraining(AvatarId),
    /// Ask to delete; then confirm it.
    Delete(AvatarId),
    ConfirmDelete(AvatarId),
}

impl Callback {
    pub fn encode(self) -> String {
        match self {
            Callback::Menu => "m".into(),
            Callback::Help => "h".into(),
            Callback::ChooseLanguage => "lang".into(),
            Callback::SetLanguage(l) => format!("lang:{}", language_code(l)),
            Callback::Create => "c".into(),
            Callback::Kind(k) => format!("k:{}", k.as_str()),
            Callback::Gender(g) => format!("g:{}", g.as_str()),
            Callback::Preset(p) => format!("p:{}", p.as_str()),
            Callback::Avatars(page) => format!("l:{page}"),
            Callback::Card(id) => format!("a:{id}"),
            Callback::Continue(id) => format!("ct:{id}"),
            Callback::StartTraining(id) => format!("ts:{id}"),
            Callback::ConfirmTraining(id) => format!("tc:{id}"),
            Callback::Delete(id) => format!("d:{id}"),
            Callback::ConfirmDelete(id) => format!("dy:{id}"),
        }
    }

    /// `None` for anything this bot did not produce (or no longer understands).
    pub fn parse(data: &str) -> Option<Self> {
        let (tag, arg) = match data.split_once(':') {
            Some((tag, arg)) => (tag, Some(arg)),
            None => (data, None),
        };
        let id = || arg.and_then(|a| a.parse::<AvatarId>().ok());
        Some(match (tag, arg) {
            ("m", None) => Callback::Menu,
            ("h", None) => Callback::Help,
            ("lang", None) => Callback::ChooseLanguage,
            ("lang", Some("ru")) => Callback::SetLanguage(Language::Ru),
            ("lang", Some("en")) => Callback::SetLanguage(Language::En),
            ("c", None) => Callback::Create,
            ("k", Some(a)) => Callback::Kind(*AvatarKind::ALL.iter().find(|k| k.as_str() == a)?),
            ("g", Some(a)) => Callback::Gender(*Gender::ALL.iter().find(|g| g.as_str() == a)?),
            ("p", Some(a)) => Callback::Preset(*Preset::ALL.iter().find(|p| p.as_str() == a)?),
            ("l", Some(a)) => Callback::Avatars(a.parse().ok()?),
            ("a", Some(_)) => Callback::Card(id()?),
            ("ct", Some(_)) => Callback::Continue(id()?),
            ("ts", Some(_)) => Callback::StartTraining(id()?),
            ("tc", Some(_)) => Callback::ConfirmTraining(id()?),
            ("d", Some(_)) => Callback::Delete(id()?),
            ("dy", Some(_)) => Callback::ConfirmDelete(id()?),
            _ => return None,
        })
    }
}

fn language_code(l: Language) -> &'static str {
    match l {
        Language::Ru => "ru",
        Language::En => "en",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_samples() -> Vec<Callback> {
        let id = AvatarId::new();
        let mut v = vec![
            Callback::Menu,
            Callback::Help,
            Callback::ChooseLanguage,
            Callback::SetLanguage(Language::Ru),
            Callback::SetLanguage(Language::En),
            Callback::Create,
            Callback::Avatars(0),
            Callback::Avatars(u16::MAX),
            Callback::Card(id),
            Callback::Continue(id),
            Callback::StartTraining(id),
            Callback::ConfirmTraining(id),
            Callback::Delete(id),
            Callback::ConfirmDelete(id),
        ];
        v.extend(AvatarKind::ALL.map(Callback::Kind));
        v.extend(Gender::ALL.map(Callback::Gender));
        v.extend(Preset::ALL.map(Callback::Preset));
        v
    }

    #[test]
    fn every_callback_round_trips_within_64_bytes() {
        for cb in all_samples() {
            let data = cb.encode();
            assert!(data.len() <= 64, "{data} is {} bytes", data.len());
            assert_eq!(Callback::parse(&data), Some(cb), "{data}");
        }
    }

    #[test]
    fn foreign_or_damaged_data_is_refused() {
        for data in [
            "",
            "x",
            "a:",
            "a:not-an-id",
            "a:0123",
            "k:dog",
            "l:-1",
            "lang:de",
            "m:extra",
            "dy:../../etc",
        ] {
            assert_eq!(Callback::parse(data), None, "{data:?}");
        }
    }
}
