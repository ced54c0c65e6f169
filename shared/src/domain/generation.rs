//! A request to generate images with a completed avatar.

use serde::{Deserialize, Serialize};

use super::avatar::{Avatar, OutcomeNotice};
use super::ids::{AvatarId, GenerationId, MessageRef, Timestamp, UserId};
use super::lifecycle::{FailureReason, FalRequest};
use super::styles::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AspectRatio {
    #[serde(rename = "1:1")]
    Square,
    #[serde(rename = "3:4")]
    Portrait3x4,
    #[serde(rename = "4:3")]
    Landscape4x3,
    #[serde(rename = "9:16")]
    Portrait9x16,
    #[serde(rename = "16:9")]
    Landscape16x9,
}

/// A prompt as the user wrote it: trimmed, control characters removed, 1..=1000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Prompt(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("the prompt is empty")]
    Empty,
    #[error("the prompt has {length} characters; at most {max} are allowed")]
    TooLong { length: usize, max: usize },
}

impl Prompt {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, PromptError> {
        // Line breaks and tabs separate words; other control characters are dropped.
        let cleaned: String = raw
            .chars()
            .filter_map(|c| match c {
                c if c.is_whitespace() => Some(if c.is_control() { ' ' } else { c }),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect();
        let trimmed = cleaned.trim();
        if trimmed.is_empty() {
            return Err(PromptError::Empty);
        }
        let length = trimmed.chars().count();
        if length > Self::MAX_CHARS {
            return Err(PromptError::TooLong {
                length,
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Prompt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Prompt::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The number of images in one generation: 1 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct ImageCount(u8);

impl ImageCount {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for ImageCount {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        if (1..=4).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!("image count must be 1 to 4, got {n}"))
        }
    }
}

impl From<ImageCount> for u8 {
    fn from(c: ImageCount) -> u8 {
        c.0
    }
}

/// What became of one image fal.ai returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "image", rename_all = "snake_case")]
pub enum GeneratedImage {
    /// Kept in blob storage under `key` (the user's copy; deleted with the avatar).
    Stored {
        key: String,
        width: Option<u32>,
        height: Option<u32>,
    },
    /// Flagged NSFW by fal.ai: neither kept nor sent.
    Filtered,
    /// fal.ai named it but it could not be fetched (gone, too big, not an image).
    Unavailable { detail: String },
}

/// The user's choices for the next generation, remembered between generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationDefaults {
    pub aspect_ratio: AspectRatio,
    pub num_images: ImageCount,
}

impl Default for GenerationDefaults {
    fn default() -> Self {
        Self {
            aspect_ratio: AspectRatio::Portrait3x4,
            num_images: ImageCount(2),
        }
    }
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 5] = [
        AspectRatio::Square,
        AspectRatio::Portrait3x4,
        AspectRatio::Landscape4x3,
        AspectRatio::Portrait9x16,
        AspectRatio::Landscape16x9,
    ];

    /// As fal.ai and people write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AspectRatio::Square => "1:1",
            AspectRatio::Portrait3x4 => "3:4",
            AspectRatio::Landscape4x3 => "4:3",
            AspectRatio::Portrait9x16 => "9:16",
            AspectRatio::Landscape16x9 => "16:9",
        }
    }

    /// Width and height in parts (3:4 -> (3, 4)).
    pub fn parts(self) -> (u32, u32) {
        match self {
            AspectRatio::Square => (1, 1),
            AspectRatio::Portrait3x4 => (3, 4),
            AspectRatio::Landscape4x3 => (4, 3),
            AspectRatio::Portrait9x16 => (9, 16),
            AspectRatio::Landscape16x9 => (16, 9),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl ImageCount {
    pub const ALL: [ImageCount; 4] = [ImageCount(1), ImageCount(2), ImageCount(3), ImageCount(4)];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GenerationState {
    /// Recorded; the launch job is on its way.
    Pending,
    /// A launch worker is submitting it; another may take over once the lease lapses.
    Submitting { lease_until: Timestamp },
    InProgress {
        request: FalRequest,
        submitted_at: Timestamp,
    },
    Completed {
        request: FalRequest,
        images: Vec<GeneratedImage>,
        completed_at: Timestamp,
    },
    Failed {
        reason: FailureReason,
        failed_at: Timestamp,
    },
}

impl GenerationState {
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            GenerationState::Completed { .. } | GenerationState::Failed { .. }
        )
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            GenerationState::Pending => "pending",
            GenerationState::Submitting { .. } => "submitting",
            GenerationState::InProgress { .. } => "in_progress",
            GenerationState::Completed { .. } => "completed",
            GenerationState::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub id: GenerationId,
    pub avatar_id: AvatarId,
    pub owner: UserId,
    /// The user's prompt, or the chosen style's prompt.
    pub prompt: Prompt,
    /// The style preset the prompt came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Style>,
    pub aspect_ratio: AspectRatio,
    pub num_images: ImageCount,
    pub state: GenerationState,
    /// The "generating..." message, edited when the images arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<MessageRef>,
    /// Whether the user has been sent the result.
    #[serde(default)]
    pub notice: OutcomeNotice,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Generation {
    /// A new generation in `pending`, not yet stored.
    pub fn pending(
        avatar: &Avatar,
        prompt: Prompt,
        style: Option<Style>,
        defaults: GenerationDefaults,
        now: Timestamp,
    ) -> Self {
        Self {
            id: GenerationId::new(),
            avatar_id: avatar.id,
            owner: avatar.owner,
            prompt,
            style,
            aspect_ratio: defaults.aspect_ratio,
            num_images: defaults.num_images,
            state: GenerationState::Pending,
            status_message: None,
            notice: OutcomeNotice::NotDue,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Waiting on a launch worker or fal.ai.
    pub fn is_running(&self) -> bool {
        !self.state.is_finished()
    }

    /// Since when the sweep should look after it: while it runs, and after it finished
    /// until the user has the result. This is what puts it into the in-flight index.
    pub fn in_flight_since(&self) -> Option<Timestamp> {
        match &self.state {
            GenerationState::Pending | GenerationState::Submitting { .. } => Some(self.created_at),
            GenerationState::InProgress { submitted_at, .. } => Some(*submitted_at),
            GenerationState::Completed { completed_at, .. }
                if self.notice != OutcomeNotice::Sent =>
            {
                Some(*completed_at)
            }
            GenerationState::Failed { failed_at, .. } if self.notice != OutcomeNotice::Sent => {
                Some(*failed_at)
            }
            _ => None,
        }
    }

    /// The next version with `state`, to be written conditionally on `version`.
    pub fn with_state(&self, state: GenerationState, now: Timestamp) -> Generation {
        Generation {
            state,
            updated_at: now,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_cleaned_and_bounded() {
        assert_eq!(Prompt::parse("  a\tcat\u{0}  ").unwrap().as_str(), "a cat");
        assert_eq!(Prompt::parse("a\u{7}b\nc").unwrap().as_str(), "ab c");
        assert_eq!(Prompt::parse(" \n "), Err(PromptError::Empty));
        assert!(Prompt::parse(&"я".repeat(1000)).is_ok());
        assert_eq!(
            Prompt::parse(&"x".repeat(1001)),
            Err(PromptError::TooLong {
                length: 1001,
                max: 1000
            })
        );
    }

    #[test]
    fn image_count_is_bounded() {
        assert!(ImageCount::try_from(0).is_err());
        assert!(ImageCount::try_from(5).is_err());
        assert_eq!(serde_json::from_str::<ImageCount>("4").unwrap().get(), 4);
        assert!(serde_json::from_str::<ImageCount>("9").is_err());
    }

    #[test]
    fn aspect_ratios_serialise_as_fal_spells_them() {
        assert_eq!(
            serde_json::to_string(&AspectRatio::Portrait9x16).unwrap(),
            "\"9:16\""
        );
    }
}
