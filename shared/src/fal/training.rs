//! Which fal.ai trainer an avatar goes to, with exactly which input, and how its result maps
//! onto the trained model generation needs.
//!
//! | kind | trainer | preset knobs (env-overridable) |
//! |---|---|---|
//! | portrait | `fal-ai/flux-lora-portrait-trainer` | `steps`, `learning_rate` |
//! | style (default) | `fal-ai/flux-lora-fast-training` with `is_style` | iterations as `steps` (this trainer takes no learning rate) |
//! | style (`FAL_STYLE_TRAINER=flux-pro-trainer`) | `fal-ai/flux-pro-trainer` | `iterations`, `learning_rate`, `priority` |

use serde_json::{Value, json};
use url::Url;

use crate::config::{EnvReader, FromEnv};
use crate::domain::{Avatar, AvatarKind, PerPreset, Preset, TrainedModel};

pub const PORTRAIT_TRAINER: &str = "fal-ai/flux-lora-portrait-trainer";
pub const FAST_LORA_TRAINER: &str = "fal-ai/flux-lora-fast-training";
pub const PRO_TRAINER: &str = "fal-ai/flux-pro-trainer";

/// The trainer for style avatars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StyleTrainer {
    /// `fal-ai/flux-lora-fast-training` with `is_style: true`: a LoRA for `fal-ai/flux-lora`.
    FastLora,
    /// `fal-ai/flux-pro-trainer` (deprecated by fal, still selectable): a finetune id for
    /// `fal-ai/flux-pro/v1.1-ultra-finetuned`.
    Pro,
}

impl std::str::FromStr for StyleTrainer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "flux-lora-fast-training" | FAST_LORA_TRAINER => Ok(StyleTrainer::FastLora),
            "flux-pro-trainer" | PRO_TRAINER => Ok(StyleTrainer::Pro),
            other => Err(format!(
                "unknown trainer {other:?}: expected flux-lora-fast-training or flux-pro-trainer"
            )),
        }
    }
}

/// One preset's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PresetParams {
    /// Portrait `steps`; general `iterations` (the fast LoRA trainer's `steps`).
    pub steps: u32,
    pub learning_rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSettings {
    pub style_trainer: StyleTrainer,
    pub portrait: PerPreset<PresetParams>,
    pub general: PerPreset<PresetParams>,
    pub portrait_subject_crop: bool,
    pub portrait_create_masks: bool,
    pub portrait_multiresolution: bool,
    /// Delete the raw photos once training succeeded (`DELETE_PHOTOS_AFTER_TRAINING`).
    pub delete_photos_after_training: bool,
}

/// The original product's presets: (steps or iterations, learning rate), and the variables
/// that override them.
const PORTRAIT_DEFAULTS: PerPreset<(u32, f64)> = PerPreset {
    fast: (500, 0.0003),
    balanced: (1000, 0.0002),
    quality: (2500, 0.0001),
};
const GENERAL_DEFAULTS: PerPreset<(u32, f64)> = PerPreset {
    fast: (200, 2e-4),
    balanced: (500, 1e-4),
    quality: (1000, 5e-5),
};
const PORTRAIT_VARS: PerPreset<(&str, &str)> = PerPreset {
    fast: ("FAL_PORTRAIT_STEPS_FAST", "FAL_PORTRAIT_LR_FAST"),
    balanced: ("FAL_PORTRAIT_STEPS_BALANCED", "FAL_PORTRAIT_LR_BALANCED"),
    quality: ("FAL_PORTRAIT_STEPS_QUALITY", "FAL_PORTRAIT_LR_QUALITY"),
};
const GENERAL_VARS: PerPreset<(&str, &str)> = PerPreset {
    fast: ("FAL_GENERAL_ITERATIONS_FAST", "FAL_GENERAL_LR_FAST"),
    balanced: ("FAL_GENERAL_ITERATIONS_BALANCED", "FAL_GENERAL_LR_BALANCED"),
    quality: ("FAL_GENERAL_ITERATIONS_QUALITY", "FAL_GENERAL_LR_QUALITY"),
};

fn read_presets(
    env: &mut EnvReader,
    vars: PerPreset<(&'static str, &'static str)>,
    defaults: PerPreset<(u32, f64)>,
) -> Option<PerPreset<PresetParams>> {
    // Every preset is read before any `?`, so all problems are reported at once.
    PerPreset::from_fn(|preset| {
        let ((steps_var, lr_var), (steps, lr)) = (vars.get(preset), defaults.get(preset));
        let steps = match env.optional(steps_var, steps) {
            Some(s) if (1..=10_000).contains(&s) => Some(s),
            Some(_) => {
                env.reject(steps_var, "must be between 1 and 10000");
                None
            }
            None => None,
        };
        let learning_rate = match env.optional(lr_var, lr) {
            Some(l) if l > 0.0 && l <= 1e-3 => Some(l),
            Some(_) => {
                env.reject(lr_var, "must be above 0 and at most 0.001");
                None
            }
            None => None,
        };
        Some(PresetParams {
            steps: steps?,
            learning_rate: learning_rate?,
        })
    })
    .transpose()
}

impl FromEnv for TrainingSettings {
    fn read(env: &mut EnvReader) -> Option<Self> {
        let style_trainer = env.optional("FAL_STYLE_TRAINER", StyleTrainer::FastLora);
        let portrait = read_presets(env, PORTRAIT_VARS, PORTRAIT_DEFAULTS);
        let general = read_presets(env, GENERAL_VARS, GENERAL_DEFAULTS);
        let subject_crop = env.flag("FAL_PORTRAIT_SUBJECT_CROP", true);
        let create_masks = env.flag("FAL_PORTRAIT_CREATE_MASKS", false);
        let multiresolution = env.flag("FAL_PORTRAIT_MULTIRESOLUTION", true);
        let delete_photos = env.flag("DELETE_PHOTOS_AFTER_TRAINING", true);
        Some(Self {
            delete_photos_after_training: delete_photos?,
            style_trainer: style_trainer?,
            portrait: portrait?,
            general: general?,
            portrait_subject_crop: subject_crop?,
            portrait_create_masks: create_masks?,
            portrait_multiresolution: multiresolution?,
        })
    }
}

/// A training to submit: the model id and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRequest {
    pub endpoint: &'static str,
    pub input: Value,
}

impl TrainingSettings {
    /// The trainer and exact input for `avatar`, whose photos are zipped at `archive_url`.
    pub fn request_for(&self, avatar: &Avatar, archive_url: &Url) -> TrainingRequest {
        let trigger = avatar.trigger_phrase();
        match avatar.kind {
            AvatarKind::Portrait => {
                let p = self.portrait.get(avatar.preset);
                TrainingRequest {
                    endpoint: PORTRAIT_TRAINER,
                    input: json!({
                        "images_data_url": archive_url.as_str(),
                        "trigger_phrase": trigger.as_str(),
                        "steps": p.steps,
                        "learning_rate": p.learning_rate,
                        "multiresolution_training": self.portrait_multiresolution,
                        "subject_crop": self.portrait_subject_crop,
                        "create_masks": self.portrait_create_masks,
                        "data_archive_format": "zip",
                    }),
                }
            }
            AvatarKind::Style => {
                let g = self.general.get(avatar.preset);
                match self.style_trainer {
                    StyleTrainer::FastLora => TrainingRequest {
                        endpoint: FAST_LORA_TRAINER,
                        input: json!({
                            "images_data_url": archive_url.as_str(),
                            "trigger_word": trigger.as_str(),
                            "steps": g.steps,
                            "is_style": true,
                            "create_masks": false,
                            "data_archive_format": "zip",
                        }),
                    },
                    StyleTrainer::Pro => TrainingRequest {
                        endpoint: PRO_TRAINER,
                        input: json!({
                            "data_url": archive_url.as_str(),
                            "mode": "general",
                            "iterations": g.steps,
                            "learning_rate": g.learning_rate,
                            "priority": if avatar.preset == Preset::Fast { "speed" } else { "quality" },
                            "captioning": true,
                            "trigger_word": trigger.as_str(),
                            "finetune_comment": format!("{} ({})", avatar.name, avatar.id),
                            "finetune_type": "full",
                        }),
                    },
                }
            }
        }
    }
}

/// Maps a trainer's output onto the model generation uses. `Err` names what is missing.
pub fn trained_model(endpoint: &str, payload: &Value) -> Result<TrainedModel, String> {
    let url = |field: &str| payload[field]["url"].as_str().map(str::to_owned);
    match endpoint {
        PRO_TRAINER => payload["finetune_id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(|id| TrainedModel::Finetune {
                finetune_id: id.to_owned(),
            })
            .ok_or_else(|| "the result has no finetune_id".to_owned()),
        _ => url("diffusers_lora_file")
            .map(|lora_url| TrainedModel::Lora {
                stored_key: None,
                lora_url,
                config_url: url("config_file"),
            })
            .ok_or_else(|| "the result has no diffusers_lora_file.url".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AvatarName, Gender, Timestamp, UserId};

    fn settings(pairs: &[(&str, &str)]) -> Result<TrainingSettings, crate::config::ConfigError> {
        EnvReader::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .load::<TrainingSettings>()
    }

    fn avatar(kind: AvatarKind, preset: Preset) -> Avatar {
        Avatar::draft(
            UserId(1),
            kind,
            Gender::Female,
            AvatarName::parse("Anna").unwrap(),
            preset,
            Timestamp(0),
        )
    }

    const ZIP: &str =
        "https://media.s3.eu-central-1.amazonaws.com/archives/1/a/b.zip?X-Amz-Signature=f00";

    /// The exact JSON sent for every kind x preset (and both style trainers).
    #[test]
    fn exact_inputs_for_every_kind_and_preset() {
        let url: Url = ZIP.parse().unwrap();
        let fast = settings(&[]).unwrap();
        let pro = settings(&[("FAL_STYLE_TRAINER", "flux-pro-trainer")]).unwrap();
        let expected_portrait = PerPreset {
            fast: (500, "0.0003"),
            balanced: (1000, "0.0002"),
            quality: (2500, "0.0001"),
        };
        let expected_general = PerPreset {
            fast: (200, "0.0002"),
            balanced: (500, "0.0001"),
            quality: (1000, "0.00005"),
        };
        for preset in Preset::ALL {
            let a = avatar(AvatarKind::Portrait, preset);
            let trigger = a.trigger_phrase();
            let (steps, lr) = expected_portrait.get(preset);
            let r = fast.request_for(&a, &url);
            assert_eq!(r.endpoint, "fal-ai/flux-lora-portrait-trainer");
            assert_eq!(
                serde_json::to_string(&r.input).unwrap(),
                format!(
                    r#"{{"create_masks":false,"data_archive_format":"zip","images_data_url":"{ZIP}","learning_rate":{lr},"multiresolution_training":true,"steps":{steps},"subject_crop":true,"trigger_phrase":"{trigger}"}}"#
                )
            );

            let a = avatar(AvatarKind::Style, preset);
            let trigger = a.trigger_phrase();
            let (iterations, lr) = expected_general.get(preset);
            let r = fast.request_for(&a, &url);
            assert_eq!(r.endpoint, "fal-ai/flux-lora-fast-training");
            assert_eq!(
                serde_json::to_string(&r.input).unwrap(),
                format!(
                    r#"{{"create_masks":false,"data_archive_format":"zip","images_data_url":"{ZIP}","is_style":true,"steps":{iterations},"trigger_word":"{trigger}"}}"#
                )
            );
            let r = pro.request_for(&a, &url);
            assert_eq!(r.endpoint, "fal-ai/flux-pro-trainer");
            let priority = if preset == Preset::Fast {
                "speed"
            } else {
                "quality"
            };
            assert_eq!(
                serde_json::to_string(&r.input).unwrap(),
                format!(
                    r#"{{"captioning":true,"data_url":"{ZIP}","finetune_comment":"Anna ({})","finetune_type":"full","iterations":{iterations},"learning_rate":{lr},"mode":"general","priority":"{priority}","trigger_word":"{trigger}"}}"#,
                    a.id
                )
            );
        }
    }

    #[test]
    fn presets_are_overridable_and_validated() {
        let s = settings(&[
            ("FAL_PORTRAIT_STEPS_QUALITY", "3000"),
            ("FAL_PORTRAIT_LR_QUALITY", "0.00015"),
            ("FAL_GENERAL_ITERATIONS_FAST", "300"),
            ("FAL_PORTRAIT_CREATE_MASKS", "true"),
        ])
        .unwrap();
        assert_eq!(
            s.portrait.quality,
            PresetParams {
                steps: 3000,
                learning_rate: 0.00015
            }
        );
        assert_eq!(s.general.fast.steps, 300);
        assert!(s.portrait_create_masks);
        let err = settings(&[
            ("FAL_PORTRAIT_STEPS_FAST", "0"),
            ("FAL_GENERAL_LR_BALANCED", "0.5"),
            ("FAL_STYLE_TRAINER", "sdxl"),
        ])
        .unwrap_err()
        .to_string();
        for var in [
            "FAL_PORTRAIT_STEPS_FAST",
            "FAL_GENERAL_LR_BALANCED",
            "FAL_STYLE_TRAINER",
        ] {
            assert!(err.contains(var), "{err}");
        }
    }

    #[test]
    fn results_map_to_models() {
        let portrait = serde_json::json!({
            "diffusers_lora_file": {"url": "https://v3.fal.media/files/lora.safetensors", "content_type": "application/octet-stream", "file_name": "pytorch_lora_weights.safetensors", "file_size": 89745224},
            "config_file": {"url": "https://v3.fal.media/files/config.json", "content_type": "application/octet-stream", "file_name": "config.json", "file_size": 1254}
        });
        assert_eq!(
            trained_model(PORTRAIT_TRAINER, &portrait),
            Ok(TrainedModel::Lora {
                lora_url: "https://v3.fal.media/files/lora.safetensors".into(),
                config_url: Some("https://v3.fal.media/files/config.json".into()),
                stored_key: None,
            })
        );
        assert_eq!(
            trained_model(PRO_TRAINER, &serde_json::json!({"finetune_id": "ft-123"})),
            Ok(TrainedModel::Finetune {
                finetune_id: "ft-123".into()
            })
        );
        assert!(trained_model(FAST_LORA_TRAINER, &serde_json::json!({})).is_err());
        assert!(trained_model(PRO_TRAINER, &serde_json::json!({"finetune_id": ""})).is_err());
    }
}
