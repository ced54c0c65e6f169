//! A training photo, recorded once per Telegram `file_unique_id` and once per content hash.

use serde::{Deserialize, Serialize};

use super::blob_key::BlobKey;
use super::ids::{AvatarId, Timestamp, UserId};

/// The image formats fal.ai trainers accept and we keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    Jpeg,
    Png,
    Webp,
}

impl ImageFormat {
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }
}

/// SHA-256 of a photo's bytes, lowercase hex: catches the same picture sent as a new file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(hex::encode(sha2::Sha256::digest(bytes)))
    }

    pub fn from_digest(digest: [u8; 32]) -> Self {
        Self(hex::encode(digest))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Photo {
    pub avatar_id: AvatarId,
    pub owner: UserId,
    /// Telegram's stable id of the file: the dedupe key.
    pub file_unique_id: String,
    /// Telegram's download handle, kept so the photo can be re-fetched or re-sent.
    pub file_id: String,
    pub blob_key: BlobKey,
    pub content_hash: ContentHash,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub size_bytes: u64,
    pub added_at: Timestamp,
}

/// Where photos and archives of an avatar live in blob storage. Photos and archives have
/// separate top-level prefixes so lifecycle rules can expire archives alone.
pub mod blob_keys {
    use super::*;
    use crate::domain::ids::AttemptId;

    pub fn photo(
        owner: UserId,
        avatar: AvatarId,
        file_unique_id: &str,
        format: ImageFormat,
    ) -> BlobKey {
        // file_unique_id is Telegram's [A-Za-z0-9_-] token; hashing keeps the key safe regardless.
        let name = ContentHash::of(file_unique_id.as_bytes());
        BlobKey::new(format!(
            "photos/{owner}/{avatar}/{}.{}",
            &name.as_str()[..32],
            format.extension()
        ))
        .expect("generated photo keys are valid")
    }

    pub fn archive(owner: UserId, avatar: AvatarId, attempt: AttemptId) -> BlobKey {
        BlobKey::new(format!("archives/{owner}/{avatar}/{attempt}.zip"))
            .expect("generated archive keys are valid")
    }

    /// Image `index` (0-based) of a generation's result.
    pub fn generated_image(
        owner: UserId,
        avatar: AvatarId,
        generation: crate::domain::GenerationId,
        index: usize,
        format: ImageFormat,
    ) -> BlobKey {
        BlobKey::new(format!(
            "generations/{owner}/{avatar}/{generation}/{}.{}",
            index + 1,
            format.extension()
        ))
        .expect("generated image keys are valid")
    }

    /// The user's own photo a restyle redraws: under the avatar's photos (deleted with it),
    /// and deleted as soon as the restyle is over.
    pub fn restyle_source(
        owner: UserId,
        avatar: AvatarId,
        restyle: crate::domain::GenerationId,
        format: ImageFormat,
    ) -> BlobKey {
        BlobKey::new(format!(
            "photos/{owner}/{avatar}/restyle-{restyle}.{}",
            format.extension()
        ))
        .expect("generated restyle keys are valid")
    }

    /// Every picture kept of one generation.
    pub fn generation_prefix(
        owner: UserId,
        avatar: AvatarId,
        generation: crate::domain::GenerationId,
    ) -> String {
        format!("generations/{owner}/{avatar}/{generation}/")
    }

    /// Our copy of a file training produced (`lora.safetensors`, `config.json`): what we
    /// paid for, kept until the avatar is deleted.
    pub fn model_file(owner: UserId, avatar: AvatarId, name: &str) -> BlobKey {
        BlobKey::new(format!("models/{owner}/{avatar}/{name}"))
            .expect("generated model keys are valid")
    }

    /// Every prefix under which this user has blobs, whatever avatar they belong to:
    /// deleting them all leaves no file of theirs.
    pub fn user_prefixes(owner: UserId) -> [String; 4] {
        [
            format!("photos/{owner}/"),
            format!("archives/{owner}/"),
            format!("generations/{owner}/"),
            format!("models/{owner}/"),
        ]
    }

    /// Every prefix under which this avatar has blobs; deleting them all removes its files.
    pub fn avatar_prefixes(owner: UserId, avatar: AvatarId) -> [String; 4] {
        [
            format!("photos/{owner}/{avatar}/"),
            format!("archives/{owner}/{avatar}/"),
            format!("generations/{owner}/{avatar}/"),
            format!("models/{owner}/{avatar}/"),
        ]
    }
}

/// Why an incoming image was not taken. Nothing is recorded for a rejected image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhotoRejection {
    /// HEIC/HEIF (iPhone "High Efficiency"): trainers do not take it.
    Heic,
    /// Not JPEG, PNG or WebP (by declared type or by content).
    UnsupportedFormat,
    /// Over Telegram's 20 MB download limit for bots.
    TooLarge { max_mb: u32 },
    /// The shortest side is under the minimum.
    TooSmall {
        width: u32,
        height: u32,
        min_side: u32,
    },
    /// The bytes are not a readable image of the declared kind.
    Unreadable,
}

impl PhotoRejection {
    pub fn code(&self) -> &'static str {
        match self {
            PhotoRejection::Heic => "heic",
            PhotoRejection::UnsupportedFormat => "unsupported_format",
            PhotoRejection::TooLarge { .. } => "too_large",
            PhotoRejection::TooSmall { .. } => "too_small",
            PhotoRejection::Unreadable => "unreadable",
        }
    }
}
