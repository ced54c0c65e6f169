//! Upscaling a kept picture: which upscaler, its exact input, and reading its result. The
//! shapes and prices are fal's own pages (`fal.ai/models/<endpoint id>/llms.txt`, read
//! 2026-12-06): SeedVR2 (`image_url`, `upscale_mode`, `upscale_factor` 1-10; $0.001 per
//! megapixel) by default, Clarity (`image_url`, `upscale_factor` 1-4; $0.03 per megapixel)
//! selectable. Both answer with one `image`.

use std::str::FromStr;

use serde::Deserialize;
use serde_json::{Value, json};

use super::generation::{RawImage, ResultImage};
use crate::config::{EnvReader, FromEnv};
use crate::domain::{UpscaleFactor, Usd};

pub const SEEDVR: &str = "fal-ai/seedvr/upscale/image";
pub const CLARITY: &str = "fal-ai/clarity-upscaler";

/// The upscalers the bot knows the input of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upscaler {
    SeedVr,
    Clarity,
}

impl Upscaler {
    pub const ALL: [Upscaler; 2] = [Upscaler::SeedVr, Upscaler::Clarity];

    pub fn endpoint(self) -> &'static str {
        match self {
            Upscaler::SeedVr => SEEDVR,
            Upscaler::Clarity => CLARITY,
        }
    }

    /// fal's list price per megapixel of output.
    pub fn usd_per_megapixel(self) -> Usd {
        match self {
            Upscaler::SeedVr => Usd(1_000),
            Upscaler::Clarity => Usd(30_000),
        }
    }

    /// The exact input for `image_url` made `factor` times bigger.
    pub fn input(self, image_url: &str, factor: UpscaleFactor) -> Value {
        match self {
            Upscaler::SeedVr => json!({
                "image_url": image_url,
                "upscale_mode": "factor",
                "upscale_factor": factor.get(),
            }),
            Upscaler::Clarity => json!({
                "image_url": image_url,
                "upscale_factor": factor.get(),
            }),
        }
    }
}

impl FromStr for Upscaler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|u| u.endpoint() == s.trim())
            .ok_or_else(|| format!("not an upscaler this bot knows ({SEEDVR} or {CLARITY})"))
    }
}

/// `UPSCALE_ENDPOINT` and `UPSCALE_FACTOR`: which upscaler, and how much bigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpscaleSettings {
    pub upscaler: Upscaler,
    pub factor: UpscaleFactor,
}

impl Default for UpscaleSettings {
    fn default() -> Self {
        Self {
            upscaler: Upscaler::SeedVr,
            factor: UpscaleFactor::TWO,
        }
    }
}

impl FromEnv for UpscaleSettings {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let d = Self::default();
        let upscaler = env.optional("UPSCALE_ENDPOINT", d.upscaler);
        let factor = env.optional::<u8>("UPSCALE_FACTOR", d.factor.get());
        let factor = match factor.map(UpscaleFactor::try_from) {
            Some(Ok(factor)) => Some(factor),
            Some(Err(e)) => {
                env.reject("UPSCALE_FACTOR", e);
                None
            }
            None => None,
        };
        Some(Self {
            upscaler: upscaler?,
            factor: factor?,
        })
    }
}

#[derive(Deserialize)]
struct RawResult {
    image: RawImage,
}

/// The one picture of an upscaler's result. The source passed fal's safety checker when it
/// was drawn; upscalers add no flag of their own.
pub fn result_image(payload: &Value) -> Result<ResultImage, String> {
    let raw: RawResult = serde_json::from_value(payload.clone())
        .map_err(|e| format!("unexpected upscale result: {e}"))?;
    Ok(raw.image.flagged(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn seedvr_at_2x_by_default_and_bad_choices_are_named() {
        assert_eq!(
            env(&[]).load::<UpscaleSettings>().unwrap(),
            UpscaleSettings::default()
        );
        let s = env(&[("UPSCALE_ENDPOINT", CLARITY), ("UPSCALE_FACTOR", "4")])
            .load::<UpscaleSettings>()
            .unwrap();
        assert_eq!(s.upscaler, Upscaler::Clarity);
        assert_eq!(s.factor.get(), 4);
        let err = env(&[
            ("UPSCALE_ENDPOINT", "fal-ai/esrgan"),
            ("UPSCALE_FACTOR", "8"),
        ])
        .load::<UpscaleSettings>()
        .unwrap_err();
        let names: Vec<_> = err.issues.iter().map(|i| i.variable).collect();
        assert_eq!(names, ["UPSCALE_ENDPOINT", "UPSCALE_FACTOR"]);
    }

    #[test]
    fn inputs_are_each_upscalers_own() {
        let two = UpscaleFactor::TWO;
        assert_eq!(
            Upscaler::SeedVr.input("https://b/p.jpg", two),
            json!({"image_url": "https://b/p.jpg", "upscale_mode": "factor", "upscale_factor": 2})
        );
        assert_eq!(
            Upscaler::Clarity.input("https://b/p.jpg", two),
            json!({"image_url": "https://b/p.jpg", "upscale_factor": 2})
        );
    }

    #[test]
    fn results_are_one_image() {
        let payload = json!({
            "image": {"url": "https://v3.fal.media/files/u.png", "width": 2048, "height": 2730,
                      "content_type": "image/png", "file_name": "u.png", "file_size": 9_000_000},
            "seed": 7
        });
        let image = result_image(&payload).unwrap();
        assert_eq!(image.url, "https://v3.fal.media/files/u.png");
        assert_eq!((image.width, image.height), (Some(2048), Some(2730)));
        assert!(!image.nsfw);
        assert!(result_image(&json!({"images": []})).is_err());
    }
}
