//! Image generation with a trained avatar: which endpoint, the exact input, and reading the
//! result. LoRA avatars go to `fal-ai/flux-lora` with the LoRA file; FLUX Pro finetunes to
//! `fal-ai/flux-pro/v1.1-ultra-finetuned` with the finetune id. The avatar's trigger phrase
//! is put in front of the prompt either way, so the model draws *this* person or style.

use serde::Deserialize;
use serde_json::{Value, json};

use super::upscale::UpscaleSettings;
use crate::config::{EnvReader, FromEnv};
use crate::domain::{AspectRatio, Avatar, AvatarKind, Gender, Generation, TrainedModel};

pub const FLUX_LORA: &str = "fal-ai/flux-lora";
pub const ULTRA_FINETUNED: &str = "fal-ai/flux-pro/v1.1-ultra-finetuned";
/// A user's photo redrawn with a LoRA (`prompt`, `image_url`, `strength`, `loras`).
pub const FLUX_LORA_IMAGE_TO_IMAGE: &str = "fal-ai/flux-lora/image-to-image";

/// How strongly the trained model is applied, and how strict fal.ai's safety checks are.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationSettings {
    /// `loras[].scale` for flux-lora (fal's default is 1).
    pub lora_scale: f64,
    /// `finetune_strength` for portraits (recommended 0.8-1.2) and styles (1.0-1.5).
    pub finetune_strength_portrait: f64,
    pub finetune_strength_style: f64,
    /// `safety_tolerance` for ultra-finetuned, "1" (strictest) to "6"; fal's default is "2".
    pub safety_tolerance: u8,
    /// How a kept picture is made bigger.
    pub upscale: UpscaleSettings,
    /// `strength` of a restyle: how far the picture may move from the user's photo (fal's
    /// default is 0.85; lower keeps more of the photo).
    pub restyle_strength: f64,
}

impl Default for GenerationSettings {
    fn default() -> Self {
        Self {
            lora_scale: 1.0,
            finetune_strength_portrait: 1.0,
            finetune_strength_style: 1.2,
            safety_tolerance: 2,
            upscale: UpscaleSettings::default(),
            restyle_strength: 0.85,
        }
    }
}

impl FromEnv for GenerationSettings {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let d = Self::default();
        let lora_scale = env.optional("GENERATION_LORA_SCALE", d.lora_scale);
        let portrait = env.optional(
            "GENERATION_FINETUNE_STRENGTH_PORTRAIT",
            d.finetune_strength_portrait,
        );
        let style = env.optional(
            "GENERATION_FINETUNE_STRENGTH_STYLE",
            d.finetune_strength_style,
        );
        let tolerance = env.optional("GENERATION_SAFETY_TOLERANCE", d.safety_tolerance);
        let upscale = UpscaleSettings::read(env);
        let restyle_strength = env.optional("RESTYLE_STRENGTH", d.restyle_strength);
        let mut ok = true;
        for (name, value, range) in [
            ("GENERATION_LORA_SCALE", lora_scale, 0.0..=4.0),
            ("GENERATION_FINETUNE_STRENGTH_PORTRAIT", portrait, 0.0..=2.0),
            ("GENERATION_FINETUNE_STRENGTH_STYLE", style, 0.0..=2.0),
            ("RESTYLE_STRENGTH", restyle_strength, 0.01..=1.0),
        ] {
            if value.is_some_and(|v| !range.contains(&v)) {
                env.reject(
                    name,
                    format!("must be between {} and {}", range.start(), range.end()),
                );
                ok = false;
            }
        }
        if tolerance.is_some_and(|t| !(1..=6).contains(&t)) {
            env.reject("GENERATION_SAFETY_TOLERANCE", "must be 1 to 6");
            ok = false;
        }
        let settings = Self {
            lora_scale: lora_scale?,
            finetune_strength_portrait: portrait?,
            finetune_strength_style: style?,
            safety_tolerance: tolerance?,
            upscale: upscale?,
            restyle_strength: restyle_strength?,
        };
        ok.then_some(settings)
    }
}

/// One submission: the endpoint and its exact input.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub endpoint: &'static str,
    pub input: Value,
}

impl GenerationSettings {
    /// The request for `generation` with `avatar`'s trained `model`.
    pub fn request_for(
        &self,
        avatar: &Avatar,
        model: &TrainedModel,
        generation: &Generation,
    ) -> GenerationRequest {
        let prompt = full_prompt(avatar, generation.prompt.as_str());
        let num_images = generation.num_images.get();
        match model {
            TrainedModel::Lora { lora_url, .. } => GenerationRequest {
                endpoint: FLUX_LORA,
                input: json!({
                    "prompt": prompt,
                    "loras": [{"path": lora_url, "scale": self.lora_scale}],
                    "image_size": image_size(generation.aspect_ratio),
                    "num_images": num_images,
                    "output_format": "jpeg",
                    "enable_safety_checker": true,
                }),
            },
            TrainedModel::Finetune { finetune_id } => GenerationRequest {
                endpoint: ULTRA_FINETUNED,
                input: json!({
                    "prompt": prompt,
                    "finetune_id": finetune_id,
                    "finetune_strength": match avatar.kind {
                        AvatarKind::Portrait => self.finetune_strength_portrait,
                        AvatarKind::Style => self.finetune_strength_style,
                    },
                    "aspect_ratio": generation.aspect_ratio.as_str(),
                    "num_images": num_images,
                    "output_format": "jpeg",
                    "enable_safety_checker": true,
                    "safety_tolerance": self.safety_tolerance.to_string(),
                }),
            },
        }
    }
}

impl GenerationSettings {
    /// The request redrawing the photo at `image_url` as `avatar` from `restyle`'s prompt;
    /// `None` for a FLUX Pro finetune, which has no image-to-image endpoint.
    pub fn restyle_request_for(
        &self,
        avatar: &Avatar,
        model: &TrainedModel,
        restyle: &Generation,
        image_url: &str,
    ) -> Option<GenerationRequest> {
        let TrainedModel::Lora { lora_url, .. } = model else {
            return None;
        };
        Some(GenerationRequest {
            endpoint: FLUX_LORA_IMAGE_TO_IMAGE,
            input: json!({
                "prompt": full_prompt(avatar, restyle.prompt.as_str()),
                "image_url": image_url,
                "strength": self.restyle_strength,
                "loras": [{"path": lora_url, "scale": self.lora_scale}],
                "num_images": 1,
                "output_format": "jpeg",
                "enable_safety_checker": true,
            }),
        })
    }
}

/// The trigger phrase, what it stands for, then the user's words:
/// "TOK_1a2b3c4d5e woman, business portrait..." or "TOK_1a2b3c4d5e style, a fox...".
pub fn full_prompt(avatar: &Avatar, prompt: &str) -> String {
    let subject = match (avatar.kind, avatar.gender) {
        (AvatarKind::Style, _) => "style",
        (AvatarKind::Portrait, Gender::Male) => "man",
        (AvatarKind::Portrait, Gender::Female) => "woman",
        (AvatarKind::Portrait, Gender::Other) => "person",
    };
    format!("{} {subject}, {prompt}", avatar.trigger_phrase().as_str())
}

/// flux-lora's named sizes for our ratios (`*_16_9` are 9:16 and 16:9 respectively).
pub fn image_size(ratio: AspectRatio) -> &'static str {
    match ratio {
        AspectRatio::Square => "square_hd",
        AspectRatio::Portrait3x4 => "portrait_4_3",
        AspectRatio::Landscape4x3 => "landscape_4_3",
        AspectRatio::Portrait9x16 => "portrait_16_9",
        AspectRatio::Landscape16x9 => "landscape_16_9",
    }
}

/// One image in a result, as fal.ai describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultImage {
    /// An https URL on fal's CDN, or a `data:` URI (sync mode).
    pub url: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub nsfw: bool,
}

/// One image as fal's results describe it (`url`, `width`, `height`; more we do not read).
#[derive(Deserialize)]
pub(crate) struct RawImage {
    url: String,
    width: Option<u32>,
    height: Option<u32>,
}

impl RawImage {
    pub(crate) fn flagged(self, nsfw: bool) -> ResultImage {
        ResultImage {
            url: self.url,
            width: self.width,
            height: self.height,
            nsfw,
        }
    }
}

#[derive(Deserialize)]
struct RawResult {
    images: Vec<RawImage>,
    #[serde(default)]
    has_nsfw_concepts: Vec<bool>,
}

/// The images of a flux-lora / ultra-finetuned result, at most `max` (what we asked for),
/// each with its NSFW flag `has_nsfw_concepts[i]`. We always ask for the safety checker, so
/// a missing or short list is not "clean": an image without its flag counts as flagged.
pub fn result_images(payload: &Value, max: usize) -> Result<Vec<ResultImage>, String> {
    let raw: RawResult = serde_json::from_value(payload.clone())
        .map_err(|e| format!("unexpected generation result: {e}"))?;
    if raw.images.is_empty() {
        return Err("fal.ai returned no images".into());
    }
    Ok(raw
        .images
        .into_iter()
        .take(max)
        .enumerate()
        .map(|(i, image)| image.flagged(raw.has_nsfw_concepts.get(i).copied().unwrap_or(true)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn settings_default_inside_the_recommended_ranges_and_refuse_outside() {
        let s = env(&[]).load::<GenerationSettings>().unwrap();
        assert_eq!(s, GenerationSettings::default());
        assert!((0.8..=1.2).contains(&s.finetune_strength_portrait));
        assert!((1.0..=1.5).contains(&s.finetune_strength_style));
        let err = env(&[
            ("GENERATION_FINETUNE_STRENGTH_STYLE", "2.5"),
            ("GENERATION_SAFETY_TOLERANCE", "9"),
        ])
        .load::<GenerationSettings>()
        .unwrap_err();
        let names: Vec<_> = err.issues.iter().map(|i| i.variable).collect();
        assert_eq!(
            names,
            [
                "GENERATION_FINETUNE_STRENGTH_STYLE",
                "GENERATION_SAFETY_TOLERANCE"
            ]
        );
    }

    #[test]
    fn results_carry_their_nsfw_flags() {
        let payload = json!({
            "images": [
                {"url": "https://v3.fal.media/files/a.jpg", "width": 768, "height": 1024, "content_type": "image/jpeg"},
                {"url": "https://v3.fal.media/files/b.jpg", "width": 768, "height": 1024, "content_type": "image/jpeg"}
            ],
            "timings": {"inference": 2.1}, "seed": 42, "has_nsfw_concepts": [false, true], "prompt": "x"
        });
        let images = result_images(&payload, 4).unwrap();
        assert_eq!(images.len(), 2);
        assert!(!images[0].nsfw && images[1].nsfw);
        assert_eq!(images[0].width, Some(768));
        assert_eq!(
            result_images(&payload, 1).unwrap().len(),
            1,
            "no more than asked for"
        );
        assert!(result_images(&json!({"images": []}), 4).is_err());
        assert!(result_images(&json!({"finetune_id": "x"}), 4).is_err());
    }

    #[test]
    fn images_without_their_flag_count_as_flagged() {
        let image = json!({"url": "https://v3.fal.media/files/a.jpg"});
        let short = json!({"images": [image, image], "has_nsfw_concepts": [false]});
        let flags: Vec<bool> = result_images(&short, 4)
            .unwrap()
            .iter()
            .map(|i| i.nsfw)
            .collect();
        assert_eq!(flags, [false, true]);
        let missing = json!({"images": [image]});
        assert!(result_images(&missing, 4).unwrap()[0].nsfw);
    }
}
