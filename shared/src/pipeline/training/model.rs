//! Keeping what a training produced: the LoRA (and its config) copied from fal's CDN into
//! `models/<owner>/<avatar>/` in our bucket before the avatar says `completed`, because fal's
//! copies expire. A FLUX Pro finetune lives at fal and has nothing to copy.

use super::super::{Pipeline, PipelineResult};
use crate::domain::{Avatar, FailureReason, TrainedModel, TrainingOutput, blob_keys};

/// LoRA files are tens to hundreds of MB; nothing a trainer produces comes near this.
const MAX_LORA_BYTES: u64 = 2 * 1024 * 1024 * 1024;
const MAX_CONFIG_BYTES: u64 = 10 * 1024 * 1024;

impl Pipeline {
    /// Copies the LoRA and its config into our bucket. `Err(reason)` when fal's files can
    /// never be had (gone, too big, not on fal's CDN): the training cannot be used.
    pub(super) async fn keep_model(
        &self,
        avatar: &Avatar,
        model: TrainedModel,
        raw_response: String,
    ) -> PipelineResult<Result<TrainingOutput, FailureReason>> {
        let TrainedModel::Lora {
            lora_url,
            config_url,
            stored_key: None,
        } = &model
        else {
            return Ok(Ok(TrainingOutput {
                model,
                raw_response,
            }));
        };
        let started = std::time::Instant::now();
        let key = blob_keys::model_file(avatar.owner, avatar.id, "lora.safetensors");
        let copied = self
            .fetcher
            .copy_into(
                lora_url,
                MAX_LORA_BYTES,
                self.blobs.as_ref(),
                &key,
                "application/octet-stream",
            )
            .await?;
        let size = match copied {
            Ok(size) => size,
            Err(unavailable) => {
                tracing::error!(avatar = %avatar.id, why = %unavailable.0, "the trained LoRA could not be kept");
                return Ok(Err(FailureReason::ProviderError {
                    detail: format!("the trained model could not be fetched ({})", unavailable.0),
                }));
            }
        };
        if let Some(config_url) = config_url {
            let config_key = blob_keys::model_file(avatar.owner, avatar.id, "config.json");
            // The config is for the record; its loss does not spoil the model.
            if let Err(unavailable) = self
                .fetcher
                .copy_into(
                    config_url,
                    MAX_CONFIG_BYTES,
                    self.blobs.as_ref(),
                    &config_key,
                    "application/json",
                )
                .await?
            {
                tracing::warn!(avatar = %avatar.id, why = %unavailable.0, "training config not kept");
            }
        }
        crate::metrics::seconds("ModelCopySeconds", started.elapsed().as_secs_f64(), &[]);
        tracing::info!(avatar = %avatar.id, bytes = size, ms = started.elapsed().as_millis() as u64, "trained LoRA kept in the bucket");
        Ok(Ok(TrainingOutput {
            model: TrainedModel::Lora {
                lora_url: lora_url.clone(),
                config_url: config_url.clone(),
                stored_key: Some(key.as_str().to_owned()),
            },
            raw_response,
        }))
    }
}
