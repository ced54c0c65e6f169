//! Photo packs: themed sets of prompts a trained avatar runs in one go, kept as data
//! (`shared/photo_packs.json`) that an operator edits or extends without touching code. The
//! prompts are English (what FLUX was trained on) and go after the avatar's trigger phrase,
//! as a style's do; names and descriptions are in both languages.

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::avatar::{Avatar, AvatarKind};
use super::generation::{AspectRatio, Generation, GenerationDefaults, ImageCount, Order, Prompt};
use super::ids::{GenerationId, Timestamp};
use super::user::Language;

/// The most pictures a pack may hold: one album (Telegram's media groups take 2-10).
pub const MAX_PICTURES: usize = 10;

/// The packs the repository ships.
const SHIPPED: &str = include_str!("../../photo_packs.json");

/// A text in both of the bot's languages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub ru: String,
    pub en: String,
}

impl Localized {
    pub fn get(&self, language: Language) -> &str {
        match language {
            Language::Ru => &self.ru,
            Language::En => &self.en,
        }
    }
}

/// One picture of a pack: its prompt and format.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackPicture {
    pub prompt: Prompt,
    pub aspect_ratio: AspectRatio,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoPack {
    /// Short, stable, lowercase: kept on the pack's records.
    pub id: String,
    pub name: Localized,
    pub description: Localized,
    /// The avatars it suits (a person, or a style).
    pub avatar_kinds: Vec<AvatarKind>,
    pub pictures: Vec<PackPicture>,
}

impl PhotoPack {
    /// A short digest of what the pack draws: a button that names a pack by its place in the
    /// list also carries this, so an edited catalogue never runs a pack the user was not shown.
    pub fn fingerprint(&self) -> u16 {
        let mut hash = Sha256::new();
        hash.update(self.id.as_bytes());
        for picture in &self.pictures {
            hash.update([0]);
            hash.update(picture.prompt.as_str().as_bytes());
            hash.update(picture.aspect_ratio.as_str().as_bytes());
        }
        let digest = hash.finalize();
        u16::from_be_bytes([digest[0], digest[1]])
    }

    pub fn size(&self) -> u8 {
        // At most MAX_PICTURES (checked when the catalogue is read).
        self.pictures.len() as u8
    }

    /// The pack's pictures for `avatar`, one record each, committed together: the first (the
    /// pack's leader) names the pack, and the others' ids follow from it
    /// ([`GenerationId::member`]), so any of them finds the rest.
    pub fn records(&self, avatar: &Avatar, now: Timestamp) -> Vec<Generation> {
        let leader = GenerationId::new();
        let size = self.size();
        self.pictures
            .iter()
            .enumerate()
            .map(|(index, picture)| {
                let index = index as u8;
                let defaults = GenerationDefaults {
                    aspect_ratio: picture.aspect_ratio,
                    num_images: ImageCount::ONE,
                };
                Generation {
                    id: leader.member(index),
                    order: Order::Pack {
                        pack: leader,
                        index,
                        size,
                        theme: self.id.clone(),
                    },
                    ..Generation::queued(avatar, picture.prompt.clone(), None, defaults, now)
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogueError {
    #[error("the photo packs are not valid JSON of the documented shape: {0}")]
    Shape(String),
    #[error("photo pack {id:?}: {problem}")]
    Pack { id: String, problem: String },
}

/// Every pack, in the order the bot lists them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    packs: Vec<PhotoPack>,
}

impl Catalogue {
    /// Reads and checks a catalogue: ids unique and short, every text present, 2 to 10
    /// pictures (an album), at least one avatar kind.
    pub fn parse(json: &str) -> Result<Self, CatalogueError> {
        let catalogue: Catalogue =
            serde_json::from_str(json).map_err(|e| CatalogueError::Shape(e.to_string()))?;
        let mut ids = HashSet::new();
        for pack in &catalogue.packs {
            let problem = |problem: &str| CatalogueError::Pack {
                id: pack.id.clone(),
                problem: problem.to_owned(),
            };
            let id_ok = !pack.id.is_empty()
                && pack.id.len() <= 24
                && pack
                    .id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !id_ok {
                return Err(problem("the id must be 1-24 of a-z, 0-9 and -"));
            }
            if !ids.insert(pack.id.as_str()) {
                return Err(problem("the id is used twice"));
            }
            let texts = [&pack.name, &pack.description];
            if texts
                .iter()
                .any(|t| t.ru.trim().is_empty() || t.en.trim().is_empty())
            {
                return Err(problem("a name or description is empty"));
            }
            if !(2..=MAX_PICTURES).contains(&pack.pictures.len()) {
                return Err(problem("a pack has 2 to 10 pictures (one album)"));
            }
            if pack.avatar_kinds.is_empty() {
                return Err(problem("no avatar kind is named"));
            }
        }
        Ok(catalogue)
    }

    /// The packs the repository ships (checked by the tests, so reading them cannot fail in
    /// a build that passed them).
    pub fn shipped() -> &'static Catalogue {
        static SHIPPED_PACKS: OnceLock<Catalogue> = OnceLock::new();
        SHIPPED_PACKS.get_or_init(|| {
            Catalogue::parse(SHIPPED).unwrap_or_else(|e| {
                tracing::error!(error = %e, "the shipped photo packs are invalid; none offered");
                Catalogue { packs: Vec::new() }
            })
        })
    }

    /// The packs an avatar of `kind` can run, with their place in the list (what a button
    /// carries).
    pub fn for_kind(&self, kind: AvatarKind) -> Vec<(u8, &PhotoPack)> {
        self.packs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.avatar_kinds.contains(&kind))
            .filter_map(|(i, p)| Some((u8::try_from(i).ok()?, p)))
            .collect()
    }

    /// The pack at `index`, if it is still the one fingerprinted `fingerprint` (when given).
    pub fn get(&self, index: u8, fingerprint: Option<u16>) -> Option<&PhotoPack> {
        self.packs
            .get(usize::from(index))
            .filter(|p| fingerprint.is_none_or(|f| p.fingerprint() == f))
    }

    /// The pack named `id`.
    pub fn by_id(&self, id: &str) -> Option<&PhotoPack> {
        self.packs.iter().find(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_packs_are_valid_and_cover_both_kinds() {
        let catalogue = Catalogue::parse(SHIPPED).expect("shipped packs parse");
        assert!(catalogue.packs.len() >= 4);
        assert!(catalogue.for_kind(AvatarKind::Portrait).len() >= 4);
        assert!(!catalogue.for_kind(AvatarKind::Style).is_empty());
        assert_eq!(Catalogue::shipped(), &catalogue);
    }

    #[test]
    fn a_bad_catalogue_says_which_pack_and_why() {
        let pack = |id: &str, pictures: usize| {
            let picture = r#"{"prompt": "a", "aspect_ratio": "1:1"}"#;
            format!(
                r#"{{"id": "{id}", "name": {{"ru": "а", "en": "a"}}, "description": {{"ru": "б", "en": "b"}}, "avatar_kinds": ["portrait"], "pictures": [{}]}}"#,
                vec![picture; pictures].join(",")
            )
        };
        let of = |packs: &[String]| format!(r#"{{"packs": [{}]}}"#, packs.join(","));
        assert!(Catalogue::parse(&of(&[pack("ok", 2)])).is_ok());
        let too_big = Catalogue::parse(&of(&[pack("big", 11)])).unwrap_err();
        assert!(matches!(too_big, CatalogueError::Pack { ref id, .. } if id == "big"));
        assert!(Catalogue::parse(&of(&[pack("one", 1)])).is_err());
        assert!(Catalogue::parse(&of(&[pack("Bad Id", 2)])).is_err());
        assert!(Catalogue::parse(&of(&[pack("twice", 2), pack("twice", 3)])).is_err());
        let bad_ratio = of(&[pack("r", 2).replace("1:1", "2:1")]);
        assert!(matches!(
            Catalogue::parse(&bad_ratio),
            Err(CatalogueError::Shape(_))
        ));
        let empty_prompt = of(&[pack("p", 2).replace(r#""prompt": "a""#, r#""prompt": " ""#)]);
        assert!(Catalogue::parse(&empty_prompt).is_err());
    }

    #[test]
    fn a_button_names_a_pack_only_while_it_is_unchanged() {
        let catalogue = Catalogue::shipped();
        let (index, pack) = catalogue.for_kind(AvatarKind::Portrait)[0];
        assert_eq!(
            catalogue
                .get(index, Some(pack.fingerprint()))
                .map(|p| &p.id),
            Some(&pack.id)
        );
        assert!(
            catalogue
                .get(index, Some(pack.fingerprint().wrapping_add(1)))
                .is_none()
        );
    }
}
