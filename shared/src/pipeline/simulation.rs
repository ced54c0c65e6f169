//! Test mode's stand-in for fal.ai: no call is made and nothing is paid. A delayed job on the
//! launch queue brings what fal would have returned, through the same completion paths:
//! a trainer payload whose files are `data:` URIs (so keeping the model works as it does for
//! real), and placeholder JPEGs of the requested shape for generations and upscales.

use base64::Engine;
use serde_json::{Value, json};

use crate::domain::{AspectRatio, Generation, UpscaleFactor};
use crate::fal::training::PRO_TRAINER;

fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// What fal.ai would return for this trainer, with files that say they are not real.
pub(super) fn training_result(request_id: &str, endpoint: &str) -> Value {
    if endpoint == PRO_TRAINER {
        json!({"finetune_id": format!("test-finetune-{request_id}")})
    } else {
        let lora = format!("TEST MODE LoRA of {request_id}: not a real model");
        let config = json!({"test_mode": true, "request_id": request_id}).to_string();
        json!({
            "diffusers_lora_file": {
                "url": data_uri("application/octet-stream", lora.as_bytes()),
                "content_type": "application/octet-stream",
                "file_name": "pytorch_lora_weights.safetensors",
                "file_size": lora.len()
            },
            "config_file": {
                "url": data_uri("application/json", config.as_bytes()),
                "content_type": "application/octet-stream",
                "file_name": "config.json",
                "file_size": config.len()
            }
        })
    }
}

/// Test mode's result: what fal.ai returns, with placeholder JPEGs as data URIs (as fal does
/// in sync mode), sized to the requested aspect ratio.
pub(super) fn placeholder_result(generation: &Generation) -> Value {
    let (width, height) = sized(generation.aspect_ratio, 768);
    let seed = generation.id.to_bytes();
    let images: Vec<Value> = (0..generation.num_images.get())
        .map(|i| {
            let jpeg = placeholder_jpeg(
                width,
                height,
                [seed[0], seed[1].wrapping_add(i * 60), seed[2] ^ seed[15]],
            );
            json!({
                "url": data_uri("image/jpeg", &jpeg),
                "width": width,
                "height": height,
                "content_type": "image/jpeg"
            })
        })
        .collect();
    json!({
        "images": images,
        "timings": {"inference": 0.0},
        "seed": u32::from_be_bytes([seed[12], seed[13], seed[14], seed[15]]),
        "has_nsfw_concepts": vec![false; usize::from(generation.num_images.get())],
        "prompt": generation.prompt.as_str(),
    })
}

/// Test mode's upscale: one placeholder JPEG `factor` times a small test picture, as an
/// upscaler answers.
pub(super) fn upscale_result(generation: &Generation, factor: UpscaleFactor) -> Value {
    let (width, height) = sized(generation.aspect_ratio, 256 * u32::from(factor.get()));
    let seed = generation.id.to_bytes();
    let jpeg = placeholder_jpeg(width, height, [seed[0], seed[1], seed[2]]);
    json!({
        "image": {
            "url": data_uri("image/jpeg", &jpeg),
            "width": width,
            "height": height,
            "content_type": "image/jpeg"
        },
        "seed": u32::from_be_bytes([seed[12], seed[13], seed[14], seed[15]]),
    })
}

/// Width and height of `ratio` with its longer side `long`.
fn sized(ratio: AspectRatio, long: u32) -> (u32, u32) {
    let (w, h) = ratio.parts();
    if w >= h {
        (long, long * h / w)
    } else {
        (long * w / h, long)
    }
}

/// A diagonal gradient between two colours taken from `tint`.
fn placeholder_jpeg(width: u32, height: u32, tint: [u8; 3]) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let f = (x + y) as f32 / (width + height) as f32;
            for (c, t) in tint.iter().enumerate() {
                let other = 255 - *t / 2 - (c as u8) * 20;
                pixels.push((*t as f32 * (1.0 - f) + other as f32 * f) as u8);
            }
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(
            &pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encoding a small in-memory image cannot fail");
    jpeg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AspectRatio, Avatar, AvatarKind, AvatarName, Gender, GenerationDefaults, ImageCount,
        Preset, Prompt, Timestamp, TrainedModel, UserId,
    };
    use crate::fal::generation::result_images;
    use crate::fal::training::PORTRAIT_TRAINER;
    use crate::pipeline::ResultFetcher;

    fn fetcher() -> ResultFetcher {
        ResultFetcher::new("fal.media".parse().unwrap())
    }

    #[tokio::test]
    async fn placeholders_are_real_jpegs_of_the_requested_shape() {
        let avatar = Avatar::draft(
            UserId(1),
            AvatarKind::Portrait,
            Gender::Male,
            AvatarName::parse("A").unwrap(),
            Preset::Fast,
            Timestamp(0),
        );
        let generation = Generation::queued(
            &avatar,
            Prompt::parse("p").unwrap(),
            None,
            GenerationDefaults {
                aspect_ratio: AspectRatio::Portrait9x16,
                num_images: ImageCount::try_from(3).unwrap(),
            },
            Timestamp(0),
        );
        let payload = placeholder_result(&generation);
        let images = result_images(&payload, 3).expect("placeholder result must parse");
        assert_eq!(images.len(), 3);
        for image in images {
            let bytes = fetcher()
                .bytes(&image.url, 10 << 20)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                imagesize::image_type(&bytes).unwrap(),
                imagesize::ImageType::Jpeg
            );
            let size = imagesize::blob_size(&bytes).unwrap();
            assert_eq!((size.width, size.height), (432, 768));
        }
    }

    #[tokio::test]
    async fn the_simulated_lora_can_be_kept_like_a_real_one() {
        let payload = training_result("test_1", PORTRAIT_TRAINER);
        let model = crate::fal::training::trained_model(PORTRAIT_TRAINER, &payload)
            .expect("the simulated result must parse");
        let TrainedModel::Lora { lora_url, .. } = model else {
            panic!("portraits train a LoRA");
        };
        let bytes = fetcher().bytes(&lora_url, 1 << 20).await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&bytes).contains("TEST MODE"));
    }
}
