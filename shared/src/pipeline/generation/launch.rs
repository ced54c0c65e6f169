//! Launching a generation: claim it (`pending -> submitting`, a lease), build the request
//! with a fresh presigned URL of our copy of the avatar's LoRA, record the intent
//! (`submitting -> sending`), submit once with a webhook URL whose token binds it to this
//! generation, record the request id (`in_progress`). In test mode a delayed job brings
//! placeholder images instead. Paid at most once, as trainings are: a `sending` generation
//! is never claimed again.

use super::super::submit::SubmitOutcome;
use super::super::{FalBackend, JobOutcome, LAUNCH_LEASE, Pipeline, PipelineError, PipelineResult};
use crate::domain::{
    AvatarId, AvatarState, FailureReason, FalRequest, Generation, GenerationEvent, GenerationId,
    MAX_LAUNCH_CLAIMS, Timestamp, TrainedModel, UserId,
};
use crate::fal::webhook_token::WebhookRoute;
use crate::jobs::Job;
use crate::ports::{BlobError, BlobKey, FalRequestOwner, FalTarget, StoreError};

impl Pipeline {
    pub(in crate::pipeline) async fn launch_generation(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let Some(generation) = self.store.get_generation(avatar_id, generation_id).await? else {
            tracing::info!(generation = %generation_id, "launch for a deleted generation dropped");
            return Ok(JobOutcome::Done);
        };
        if generation.owner != owner {
            return Ok(JobOutcome::Done);
        }
        let claimed = match generation.apply(
            GenerationEvent::Claim {
                lease: LAUNCH_LEASE,
            },
            now,
        ) {
            Ok(claimed) => claimed,
            Err(_) if generation.state.launch_given_up(now) => {
                let detail = format!("{MAX_LAUNCH_CLAIMS} attempts to start it failed");
                self.fail_generation(&generation, FailureReason::NotStarted { detail }, now)
                    .await?;
                return Ok(JobOutcome::Done);
            }
            Err(_) => {
                tracing::info!(generation = %generation_id, status = generation.state.as_str(), "generation launch not needed (duplicate or already running)");
                return Ok(JobOutcome::Done);
            }
        };
        let claimed = match self.store.update_generation(&claimed).await {
            Ok(stored) => stored,
            // Another worker claimed it first, or it is gone: nothing to do here.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(JobOutcome::Done),
            Err(e) => {
                // The claim may have been written with its answer lost: hand it back, so the
                // job's retry starts it now instead of after the lease.
                self.release_generation(&claimed, now).await;
                return Err(e.into());
            }
        };
        let avatar = match self.store.get_avatar(owner, avatar_id).await {
            Ok(Some(avatar)) => avatar,
            Ok(None) => return Ok(JobOutcome::Done),
            Err(e) => {
                self.release_generation(&claimed, now).await;
                return Err(e.into());
            }
        };
        let AvatarState::Completed { output, .. } = &avatar.state else {
            let reason = FailureReason::Rejected {
                detail: "the avatar is not trained".into(),
            };
            self.fail_generation(&claimed, reason, now).await?;
            return Ok(JobOutcome::Done);
        };
        let model = match self.model_for_fal(&output.model).await {
            Ok(model) => model,
            Err(PipelineError::Blob(BlobError::NotFound(_) | BlobError::InvalidKey(_))) => {
                let reason = FailureReason::NotStarted {
                    detail: "the avatar's trained model is missing from storage".into(),
                };
                self.fail_generation(&claimed, reason, now).await?;
                return Ok(JobOutcome::Done);
            }
            Err(e) => {
                self.release_generation(&claimed, now).await;
                return Err(e);
            }
        };
        let request = self.generation.request_for(&avatar, &model, &claimed);
        let begun = self
            .update_with(claimed.clone(), |current| {
                current.apply(GenerationEvent::BeginSubmit, now).ok()
            })
            .await;
        let begun = match begun {
            Ok(begun) => begun,
            Err(e) => {
                // Nothing went to fal.ai (whether or not `sending` was written): hand it back.
                self.release_generation(&claimed, now).await;
                return Err(e);
            }
        };
        let Some(sending) = begun else {
            return Ok(JobOutcome::Done); // The lease lapsed and another worker has it.
        };
        let outcome = match &self.fal {
            FalBackend::Live(client) => {
                let route = WebhookRoute::Generation {
                    owner,
                    avatar_id,
                    generation_id,
                    endpoint: request.endpoint.to_owned(),
                };
                let webhook = self.webhook_url(&route);
                SubmitOutcome::of(
                    client
                        .submit(request.endpoint, &request.input, webhook.as_ref())
                        .await,
                )
            }
            FalBackend::Test {
                mock_generation, ..
            } => {
                let request_id = format!("test_{}", GenerationId::new());
                let finish = Job::FinishTestGeneration {
                    owner,
                    avatar_id,
                    generation_id,
                    request_id: request_id.clone(),
                    endpoint: request.endpoint.to_owned(),
                };
                tracing::info!(generation = %generation_id, %request_id, "TEST MODE: no fal.ai call; placeholder images follow");
                match self.queue.send(&finish.to_body(), *mock_generation).await {
                    Ok(_) => SubmitOutcome::Accepted(request_id),
                    Err(e) => SubmitOutcome::NotSent(e.to_string()),
                }
            }
        };
        match outcome {
            SubmitOutcome::Accepted(request_id) => {
                let request = FalRequest {
                    request_id,
                    endpoint: request.endpoint.to_owned(),
                };
                tracing::info!(generation = %generation_id, request = %request.request_id, endpoint = %request.endpoint, "generation submitted");
                crate::metrics::count(
                    "GenerationsStarted",
                    &[("Endpoint", request.endpoint.as_str())],
                );
                // Paid for from here on: failures are logged, never released for a resubmit.
                if let Err(e) = self.record_generation(&sending, &request, now).await {
                    tracing::error!(generation = %generation_id, error = %e, "submitted but not recorded; the webhook will adopt the result");
                }
                Ok(JobOutcome::Done)
            }
            SubmitOutcome::NotSent(why) => {
                tracing::warn!(generation = %generation_id, %why, "submit provably not received; back to pending");
                self.release_generation(&sending, now).await;
                Ok(JobOutcome::RetryLater(why))
            }
            SubmitOutcome::Refused(reason) => {
                self.fail_generation(&sending, reason, now).await?;
                Ok(JobOutcome::Done)
            }
            SubmitOutcome::Unknown(why) => {
                tracing::warn!(generation = %generation_id, %why, "submit outcome unknown; waiting for the result, never resubmitting");
                crate::metrics::count("SubmissionsUnclear", &[]);
                Ok(JobOutcome::Done)
            }
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

    async fn record_generation(
        &self,
        generation: &Generation,
        request: &FalRequest,
        now: Timestamp,
    ) -> PipelineResult<()> {
        self.store
            .put_fal_request(&FalRequestOwner {
                request_id: request.request_id.clone(),
                target: FalTarget::Generation {
                    owner: generation.owner,
                    avatar_id: generation.avatar_id,
                    generation_id: generation.id,
                },
                created_at: now,
            })
            .await?;
        let submitted = GenerationEvent::Submitted {
            request: request.clone(),
        };
        // Declines when a fast result finished it already.
        self.update_with(generation.clone(), |current| {
            current.apply(submitted.clone(), now).ok()
        })
        .await?;
        Ok(())
    }

    /// Back to pending: nothing of this claim reached fal.ai.
    async fn release_generation(&self, generation: &Generation, now: Timestamp) {
        if let Err(e) = self
            .update_with(generation.clone(), |current| {
                current.apply(GenerationEvent::Release, now).ok()
            })
            .await
        {
            tracing::warn!(generation = %generation.id, error = %e, "claim not released; it lapses with its lease");
        }
    }
}
