//! The launch worker's jobs (trainings here; generations in `generate`).
//!
//! Launching a training: claim the avatar (`queued -> submitting`, conditional, with a lease
//! and a fresh attempt id), stream its photos into a zip in blob storage, presign it, submit
//! it to fal.ai with a webhook URL that names the avatar and the attempt, record the request
//! id, move to `training`, and tell the user.
//!
//! At most one paid submission per avatar: a duplicate or redelivered message finds the
//! avatar claimed or past `submitting` and does nothing. A worker that dies after fal.ai
//! accepted the submit but before the request id was recorded leaves the avatar claimed; the
//! result then arrives with the attempt id in its webhook URL and is adopted. Only if that
//! webhook never comes and the lease (10 min) runs out can the avatar be claimed and
//! submitted again: the one case of a second payment, which needs a crash in a window of
//! milliseconds plus a lost webhook.

use serde_json::json;
use url::Url;

use super::{FalBackend, LAUNCH_LEASE, Pipeline, PipelineResult};
use crate::domain::{
    AttemptId, Avatar, AvatarEvent, AvatarId, AvatarState, FailureReason, FalRequest, Photo,
    Timestamp, UserId, blob_keys,
};
use crate::fal::FalError;
use crate::fal::training::PRO_TRAINER;
use crate::jobs::Job;
use crate::ports::{FalRequestOwner, FalTarget, StoreError, ZipSource};

use super::complete::Outcome;

/// What the queue should do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done (or nothing to do): delete the message.
    Done,
    /// Not now: leave the message to come back after its visibility timeout.
    RetryLater(String),
}

impl Pipeline {
    pub async fn run_job(&self, job: Job, now: Timestamp) -> JobOutcome {
        let result = match job {
            Job::LaunchTraining { owner, avatar_id } => self.launch(owner, avatar_id, now).await,
            Job::FinishTestTraining {
                owner,
                avatar_id,
                attempt,
                request_id,
                endpoint,
            } => {
                self.finish_test_training(owner, avatar_id, attempt, request_id, endpoint, now)
                    .await
            }
            Job::LaunchGeneration {
                owner,
                avatar_id,
                generation_id,
            } => {
                self.launch_generation(owner, avatar_id, generation_id, now)
                    .await
            }
            Job::FinishTestGeneration {
                avatar_id,
                generation_id,
                request_id,
                endpoint,
                ..
            } => {
                let request = FalRequest {
                    request_id,
                    endpoint,
                };
                self.finish_test_generation(avatar_id, generation_id, request, now)
                    .await
            }
        };
        result.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "job failed; it will be retried");
            JobOutcome::RetryLater(e.to_string())
        })
    }

    async fn launch(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let Some(avatar) = self.store.get_avatar(owner, avatar_id).await? else {
            tracing::info!(avatar = %avatar_id, "launch for a deleted avatar dropped");
            return Ok(JobOutcome::Done);
        };
        let attempt = AttemptId::new();
        let claimable = match &avatar.state {
            AvatarState::Queued { .. } => true,
            AvatarState::Submitting { lease_until, .. } => *lease_until <= now,
            _ => false,
        };
        if !claimable {
            tracing::info!(avatar = %avatar_id, status = avatar.status().as_str(), "launch not needed (duplicate or already running)");
            return Ok(JobOutcome::Done);
        }
        let claimed = avatar
            .apply(
                AvatarEvent::Claim {
                    attempt,
                    lease: LAUNCH_LEASE,
                },
                now,
            )
            .expect("checked: the avatar is claimable");
        let claimed = match self.store.update_avatar(&claimed).await {
            Ok(stored) => stored,
            Err(StoreError::Conflict(_)) => {
                // Another worker claimed it first: the launch is theirs.
                tracing::info!(avatar = %avatar_id, "another worker claimed the avatar");
                return Ok(JobOutcome::Done);
            }
            Err(StoreError::NotFound(_)) => return Ok(JobOutcome::Done),
            Err(e) => return Err(e.into()),
        };
        tracing::info!(avatar = %avatar_id, %attempt, "avatar claimed for launch");
        match self.submit(&claimed, attempt, now).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                // Nothing was submitted: hand the avatar back so the retry can claim it.
                self.release(&claimed, attempt, now).await;
                Err(e)
            }
        }
    }

    /// Archive, presign and submit (or simulate). Errors mean nothing was submitted.
    async fn submit(
        &self,
        avatar: &Avatar,
        attempt: AttemptId,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let photos = self.store.list_photos(avatar.id).await?;
        if photos.is_empty() {
            self.fail_before_training(
                avatar.clone(),
                FailureReason::Rejected {
                    detail: "no photos".into(),
                },
                now,
            )
            .await?;
            return Ok(JobOutcome::Done);
        }
        let archive = blob_keys::archive(avatar.owner, avatar.id, attempt);
        let summary = self.blobs.zip_into(&zip_sources(&photos), &archive).await?;
        tracing::info!(avatar = %avatar.id, entries = summary.entries, bytes = summary.archive_bytes, "photo archive written");
        let archive_url = self
            .blobs
            .presign_get(&archive, self.fal_settings.archive_url_ttl)
            .await?;
        let training = self.training.request_for(avatar, &archive_url);
        let request_id = match &self.fal {
            FalBackend::Live(client) => {
                let webhook = self.webhook_url(avatar, attempt, training.endpoint);
                match client
                    .submit(training.endpoint, &training.input, webhook.as_ref())
                    .await
                {
                    Ok(submitted) => submitted.request_id,
                    Err(FalError::SubmitOutcomeUnknown) => {
                        // Maybe queued: keep the claim; the webhook will adopt the result, or
                        // the lease runs out and a later attempt tries again.
                        tracing::warn!(avatar = %avatar.id, %attempt, "submit outcome unknown; keeping the claim");
                        return Ok(JobOutcome::RetryLater("submit outcome unknown".into()));
                    }
                    Err(e) if e.is_permanent() => {
                        let reason = match e {
                            FalError::Unauthorized { .. } => FailureReason::Unauthorized,
                            other => FailureReason::Rejected {
                                detail: other.to_string(),
                            },
                        };
                        self.fail_before_training(avatar.clone(), reason, now)
                            .await?;
                        return Ok(JobOutcome::Done);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            FalBackend::Test { mock_duration, .. } => {
                let request_id = format!("test_{}", AttemptId::new());
                tracing::info!(avatar = %avatar.id, %request_id, delay_s = mock_duration.as_secs(), "TEST MODE: no fal.ai call; the result arrives after the mock duration");
                let finish = Job::FinishTestTraining {
                    owner: avatar.owner,
                    avatar_id: avatar.id,
                    attempt,
                    request_id: request_id.clone(),
                    endpoint: training.endpoint.to_owned(),
                };
                self.queue.send(&finish.to_body(), *mock_duration).await?;
                request_id
            }
        };
        let request = FalRequest {
            request_id,
            endpoint: training.endpoint.to_owned(),
        };
        tracing::info!(avatar = %avatar.id, request = %request.request_id, endpoint = %request.endpoint, "training submitted");
        // From here on a failure must not release the claim: the training is paid for.
        if let Err(e) = self.record_submission(avatar, attempt, &request, now).await {
            tracing::error!(avatar = %avatar.id, request = %request.request_id, error = %e, "submitted but not recorded; the result will be adopted by its attempt id");
            return Ok(JobOutcome::RetryLater(e.to_string()));
        }
        Ok(JobOutcome::Done)
    }

    async fn record_submission(
        &self,
        avatar: &Avatar,
        attempt: AttemptId,
        request: &FalRequest,
        now: Timestamp,
    ) -> PipelineResult<()> {
        self.store
            .put_fal_request(&FalRequestOwner {
                request_id: request.request_id.clone(),
                target: FalTarget::Training {
                    owner: avatar.owner,
                    avatar_id: avatar.id,
                },
                created_at: now,
            })
            .await?;
        let submitted = self
            .update_with(avatar.clone(), |current| {
                // Declines when a fast webhook adopted the result already.
                current
                    .apply(
                        AvatarEvent::Submitted {
                            attempt,
                            request: request.clone(),
                        },
                        now,
                    )
                    .ok()
            })
            .await?;
        if let Some(training) = submitted {
            crate::metrics::count("TrainingsStarted", &[("Kind", training.kind.as_str())]);
            self.announce_start(&training).await?;
        }
        Ok(())
    }

    async fn release(&self, avatar: &Avatar, attempt: AttemptId, now: Timestamp) {
        if let Ok(released) = avatar.apply(AvatarEvent::Release { attempt }, now)
            && let Err(e) = self.store.update_avatar(&released).await
        {
            tracing::warn!(avatar = %avatar.id, error = %e, "claim not released; it lapses with its lease");
        }
    }

    /// The webhook URL for this attempt: the route plus what routes a result even when its
    /// request id was never recorded.
    fn webhook_url(&self, avatar: &Avatar, attempt: AttemptId, endpoint: &str) -> Option<Url> {
        let mut url = self.training.webhook_url.clone()?;
        url.query_pairs_mut()
            .append_pair("owner", &avatar.owner.to_string())
            .append_pair("avatar", &avatar.id.to_string())
            .append_pair("attempt", &attempt.to_string())
            .append_pair("endpoint", endpoint);
        Some(url)
    }

    async fn finish_test_training(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        attempt: AttemptId,
        request_id: String,
        endpoint: String,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let raw = test_result(&request_id, &endpoint);
        let request = FalRequest {
            request_id,
            endpoint: endpoint.clone(),
        };
        let completion = self
            .complete(
                owner,
                avatar_id,
                &request,
                Some(attempt),
                Outcome::from_result(&endpoint, &raw),
                now,
            )
            .await?;
        tracing::info!(avatar = %avatar_id, ?completion, "TEST MODE: simulated training finished");
        Ok(JobOutcome::Done)
    }
}

/// Zip entries named by position, so fal sees `01.jpg`, `02.png`...
fn zip_sources(photos: &[Photo]) -> Vec<ZipSource> {
    photos
        .iter()
        .enumerate()
        .map(|(i, p)| ZipSource {
            key: p.blob_key.clone(),
            name: format!("{:02}.{}", i + 1, p.format.extension()),
        })
        .collect()
}

/// What fal.ai would return for this trainer, with URLs that say they are not real.
fn test_result(request_id: &str, endpoint: &str) -> String {
    let payload = if endpoint == PRO_TRAINER {
        json!({"finetune_id": format!("test-finetune-{request_id}")})
    } else {
        json!({
            "diffusers_lora_file": {
                "url": format!("https://v3.fal.media/files/test-mode/{request_id}/pytorch_lora_weights.safetensors"),
                "content_type": "application/octet-stream",
                "file_name": "pytorch_lora_weights.safetensors",
                "file_size": 89_745_224
            },
            "config_file": {
                "url": format!("https://v3.fal.media/files/test-mode/{request_id}/config.json"),
                "content_type": "application/octet-stream",
                "file_name": "config.json",
                "file_size": 1254
            }
        })
    };
    payload.to_string()
}
