//! The first look's input for `fal-ai/flux-pulid` (training-free identity from one reference
//! photo; shape from fal's llms.txt page and fal-js's generated types, 2026-12-06): `prompt`
//! and `reference_image_url` required; `image_size`, `num_inference_steps` (1-50),
//! `guidance_scale` (0-20), `negative_prompt`, `enable_safety_checker` optional. It draws one
//! image a request and answers `images`, `has_nsfw_concepts`, `seed`, `prompt`, `timings`.

use serde_json::{Value, json};

use super::generation::image_size;
use crate::domain::{AvatarKind, Gender, Generation};

/// fal.ai's PuLID on FLUX.
pub const FIRST_LOOK_ENDPOINT: &str = "fal-ai/flux-pulid";

/// The input that draws `picture` (a first look's record) of the person in the photo at
/// `reference_url`.
pub fn first_look_input(picture: &Generation, gender: Gender, reference_url: &str) -> Value {
    let subject = match gender {
        Gender::Male => "man",
        Gender::Female => "woman",
        Gender::Other => "person",
    };
    json!({
        "prompt": format!("a photo of a {subject}, {}", picture.prompt.as_str()),
        "reference_image_url": reference_url,
        "image_size": image_size(picture.aspect_ratio),
        "num_inference_steps": 20,
        "guidance_scale": 4,
        "negative_prompt": "bad quality, worst quality, text, signature, watermark, extra limbs",
        "enable_safety_checker": true,
    })
}

/// Whether an avatar of this kind gets a first look: a person, not a style.
pub fn suits(kind: AvatarKind) -> bool {
    kind == AvatarKind::Portrait
}
