//! A Telegram user's profile and where they are in the conversation.

use serde::{Deserialize, Serialize};

use super::avatar::{AvatarKind, AvatarName, Gender};
use super::generation::GenerationDefaults;
use super::ids::{AvatarId, ChatId, GenerationId, MessageRef, Timestamp, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ru,
    En,
}

impl Language {
    /// Russian by default, as the original product; English for `en*` language codes.
    pub fn from_telegram(language_code: Option<&str>) -> Self {
        match language_code {
            Some(code) if code.to_ascii_lowercase().starts_with("en") => Language::En,
            _ => Language::Ru,
        }
    }
}

/// The dialogue step a user is at. Each step carries exactly the choices made so far, so a
/// half-made avatar cannot exist without its kind, or a name without a gender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum DialogueState {
    Idle,
    ChoosingKind,
    ChoosingGender {
        kind: AvatarKind,
    },
    EnteringName {
        kind: AvatarKind,
        gender: Gender,
    },
    ChoosingPreset {
        kind: AvatarKind,
        gender: Gender,
        name: AvatarName,
    },
    /// The avatar exists (draft or collecting photos); photos go to it.
    SendingPhotos {
        avatar_id: AvatarId,
        progress_message: Option<MessageRef>,
    },
    ConfirmingTraining {
        avatar_id: AvatarId,
    },
    EnteringPrompt {
        avatar_id: AvatarId,
    },
    /// Waiting for the photo the avatar is to redraw.
    SendingRestylePhoto {
        avatar_id: AvatarId,
    },
    /// The photo is in; a style or a typed prompt redraws it.
    Restyling {
        avatar_id: AvatarId,
        photo: TelegramPhoto,
    },
    /// One of the user's own pictures (kept picture `picture` of `generation`, under the
    /// same avatar) is picked; a style or a typed prompt redraws it.
    RestylingPicture {
        avatar_id: AvatarId,
        generation: GenerationId,
        picture: u8,
    },
}

/// A photo the user sent, as Telegram names it: downloaded only when it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramPhoto {
    pub file_id: String,
    pub file_unique_id: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub id: UserId,
    pub chat_id: ChatId,
    pub language: Language,
    /// The user picked the language with /language; Telegram's hint no longer overrides it.
    pub language_chosen: bool,
    pub dialogue: DialogueState,
    /// False once Telegram told us the user blocked the bot (403).
    pub active: bool,
    /// Aspect ratio and image count of the last generation: the next one's defaults.
    #[serde(default)]
    pub generation: GenerationDefaults,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl UserProfile {
    pub fn new(id: UserId, chat_id: ChatId, language_code: Option<&str>, now: Timestamp) -> Self {
        Self {
            id,
            chat_id,
            language: Language::from_telegram(language_code),
            language_chosen: false,
            dialogue: DialogueState::Idle,
            active: true,
            generation: GenerationDefaults::default(),
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_defaults_to_russian() {
        assert_eq!(Language::from_telegram(None), Language::Ru);
        assert_eq!(Language::from_telegram(Some("de")), Language::Ru);
        assert_eq!(Language::from_telegram(Some("en-GB")), Language::En);
        assert_eq!(Language::from_telegram(Some("EN")), Language::En);
    }

    #[test]
    fn dialogue_state_round_trips() {
        let state = DialogueState::ChoosingPreset {
            kind: AvatarKind::Style,
            gender: Gender::Other,
            name: AvatarName::parse("Watercolour").unwrap(),
        };
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(serde_json::from_str::<DialogueState>(&json).unwrap(), state);
    }
}
