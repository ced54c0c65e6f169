//! What fal.ai draws with: the avatar's trained model (our copy of a LoRA, presigned afresh
//! for every generation, so the URL outlives no session; or a FLUX Pro finetune at fal) and
//! the generation's prompt and settings.

use super::super::engine::{FalCall, NotLaunched};
use super::super::{Pipeline, PipelineError, PipelineResult};
use crate::domain::{Avatar, FailureReason, Generation, TrainedModel};
use crate::ports::{BlobError, BlobKey};

impl Pipeline {
    /// The fal.ai call for a claimed generation; its avatar must still be there and trained.
    pub(super) async fn generation_call(
        &self,
        generation: &Generation,
    ) -> Result<FalCall, NotLaunched> {
        let (avatar, model) = self.model_of(generation).await?;
        let request = self.generation.request_for(&avatar, &model, generation);
        Ok(FalCall {
            endpoint: request.endpoint.to_owned(),
            input: request.input,
        })
    }

    /// The avatar picture work draws with and its trained model as fal.ai should read it:
    /// the avatar must still be there, not being deleted, and trained.
    pub(in crate::pipeline) async fn model_of(
        &self,
        work: &Generation,
    ) -> Result<(Avatar, TrainedModel), NotLaunched> {
        let avatar = self
            .store
            .get_avatar(work.owner, work.avatar_id)
            .await
            .map_err(PipelineError::from)?;
        let Some(avatar) = avatar.filter(|a| a.deleting_since.is_none()) else {
            return Err(NotLaunched::Vanished);
        };
        let Some(output) = avatar.state.trained() else {
            return Err(NotLaunched::Permanent(FailureReason::Rejected {
                detail: "the avatar is not trained".into(),
            }));
        };
        match self.model_for_fal(&output.model).await {
            Ok(model) => Ok((avatar, model)),
            Err(PipelineError::Blob(BlobError::NotFound(_) | BlobError::InvalidKey(_))) => {
                Err(NotLaunched::Permanent(FailureReason::NotStarted {
                    detail: "the avatar's trained model is missing from storage".into(),
                }))
            }
            Err(e) => Err(NotLaunched::Transient(e)),
        }
    }

    /// The trained model as fal.ai should read it: our copy of a LoRA, presigned now (so
    /// the URL is always fresh, whatever the age of the avatar).
    async fn model_for_fal(&self, model: &TrainedModel) -> PipelineResult<TrainedModel> {
        match model {
            TrainedModel::Lora {
                stored_key: Some(key),
                config_url,
                ..
            } => {
                let key = BlobKey::new(key.clone()).map_err(BlobError::from)?;
                if self.blobs.size(&key).await?.is_none() {
                    return Err(BlobError::NotFound(key.as_str().to_owned()).into());
                }
                let url = self
                    .url_for_fal(
                        &key,
                        "lora.safetensors",
                        "application/octet-stream",
                        self.fal_settings.model_url_ttl,
                    )
                    .await?;
                Ok(TrainedModel::Lora {
                    lora_url: url.to_string(),
                    config_url: config_url.clone(),
                    stored_key: Some(key.as_str().to_owned()),
                })
            }
            other => Ok(other.clone()),
        }
    }
}
