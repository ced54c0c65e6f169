//! Curated style presets: one tap instead of a prompt. Eight per avatar kind. The prompt sent
//! to FLUX is English (what it was trained on); the button titles are localised in the texts.

use serde::{Deserialize, Serialize};

use super::avatar::AvatarKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Style {
    // For portraits: the avatar is the person in the picture.
    Business,
    Cinematic,
    Anime,
    Watercolour,
    Fashion,
    Fantasy,
    VintageFilm,
    Studio,
    // For styles: the avatar is how the picture looks.
    Landscape,
    CityStreet,
    StillLife,
    Character,
    Animal,
    Architecture,
    Poster,
    Interior,
}

impl Style {
    pub(super) const PORTRAIT: [Style; 8] = [
        Style::Business,
        Style::Cinematic,
        Style::Anime,
        Style::Watercolour,
        Style::Fashion,
        Style::Fantasy,
        Style::VintageFilm,
        Style::Studio,
    ];
    pub(super) const STYLE: [Style; 8] = [
        Style::Landscape,
        Style::CityStreet,
        Style::StillLife,
        Style::Character,
        Style::Animal,
        Style::Architecture,
        Style::Poster,
        Style::Interior,
    ];

    /// The presets offered for an avatar of this kind, in display order.
    pub fn for_kind(kind: AvatarKind) -> &'static [Style; 8] {
        kind.profile().styles
    }

    /// Position within its kind's list: what the button carries.
    pub fn index(self) -> u8 {
        Self::PORTRAIT
            .iter()
            .chain(Self::STYLE.iter())
            .position(|s| *s == self)
            .map(|i| (i % 8) as u8)
            .expect("every style is in one list")
    }

    pub fn kind(self) -> AvatarKind {
        if Self::PORTRAIT.contains(&self) {
            AvatarKind::Portrait
        } else {
            AvatarKind::Style
        }
    }

    /// The prompt sent to FLUX (after the trigger phrase).
    pub fn prompt(self) -> &'static str {
        match self {
            Style::Business => {
                "professional business portrait, tailored suit, modern glass office in the background, soft window light, sharp focus, 85mm lens"
            }
            Style::Cinematic => {
                "cinematic film still, dramatic rim lighting, moody teal and orange colour grade, shallow depth of field, anamorphic lens flare"
            }
            Style::Anime => {
                "anime illustration, clean line art, vibrant cel shading, expressive eyes, detailed background, studio quality key visual"
            }
            Style::Watercolour => {
                "delicate watercolour painting, soft bleeding pigments, textured cold-press paper, loose expressive brush strokes"
            }
            Style::Fashion => {
                "high fashion editorial photo, designer outfit, bold studio lighting, magazine cover composition, confident pose"
            }
            Style::Fantasy => {
                "epic fantasy hero portrait, ornate armour, glowing magical light, misty mountains behind, highly detailed digital painting"
            }
            Style::VintageFilm => {
                "1970s vintage film photograph, warm faded colours, natural grain, golden hour, candid moment"
            }
            Style::Studio => {
                "clean studio headshot, solid pastel background, even softbox lighting, friendly expression, high resolution"
            }
            Style::Landscape => "a wide mountain landscape with a lake at sunrise",
            Style::CityStreet => "a busy city street at night with neon signs and rain reflections",
            Style::StillLife => {
                "a still life of fruit, flowers and a ceramic jug on a wooden table"
            }
            Style::Character => "a portrait of a young woman with a hat, looking over her shoulder",
            Style::Animal => "a fox sitting in a snowy forest clearing",
            Style::Architecture => "an old European town square with a clock tower",
            Style::Poster => "a bold travel poster of a seaside town with a lighthouse",
            Style::Interior => "a cosy living room with a fireplace, armchair and bookshelves",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Prompt;

    #[test]
    fn each_kind_has_eight_distinct_presets_with_valid_prompts() {
        for kind in AvatarKind::ALL {
            let styles = Style::for_kind(kind);
            for (i, style) in styles.iter().enumerate() {
                assert_eq!(style.kind(), kind);
                assert_eq!(usize::from(style.index()), i);
                assert!(Prompt::parse(style.prompt()).is_ok());
            }
        }
    }
}
