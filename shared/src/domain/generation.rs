//! A request to generate images with a completed avatar.

use serde::{Deserialize, Serialize};

use super::ids::{AvatarId, GenerationId, Timestamp, UserId};
use super::lifecycle::{FailureReason, FalRequest};

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
        let cleaned: String = raw
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedImage {
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub nsfw: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GenerationState {
    /// Recorded, not yet accepted by fal.ai.
    Pending,
    InProgress {
        request: FalRequest,
        submitted_at: Timestamp,
    },
    Completed {
        images: Vec<GeneratedImage>,
        completed_at: Timestamp,
    },
    Failed {
        reason: FailureReason,
        failed_at: Timestamp,
    },
}

impl GenerationState {
    pub fn in_flight_since(&self) -> Option<Timestamp> {
        match self {
            GenerationState::InProgress { submitted_at, .. } => Some(*submitted_at),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub id: GenerationId,
    pub avatar_id: AvatarId,
    pub owner: UserId,
    pub prompt: Prompt,
    pub aspect_ratio: AspectRatio,
    pub num_images: ImageCount,
    pub state: GenerationState,
    pub created_at: Timestamp,
    pub version: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_are_cleaned_and_bounded() {
        assert_eq!(Prompt::parse("  a\tcat\u{0}  ").unwrap().as_str(), "a cat");
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
