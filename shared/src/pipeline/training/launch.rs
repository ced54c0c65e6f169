//! Launching a training: claim the avatar (`queued -> submitting`, a lease with a fresh
//! attempt id), stream its photos into a zip in blob storage, presign it, record the intent
//! (`submitting -> sending`) and only then call fal.ai, with a webhook URL whose token binds
//! it to this avatar and attempt; record the request id (`sending -> training`), tell the user.
//!
//! Paid at most once: a `sending` avatar is never claimed again, so no duplicate, redelivered
//! or relaunched message can submit a second time, however long fal takes. A submit whose
//! answer is unclear stays `sending` until its result arrives (webhook or sweep) or the wait
//! window ends; only a provable non-submit (refused connection, 429) goes back to `queued`.

use super::super::submit::SubmitOutcome;
use super::super::{FalBackend, JobOutcome, LAUNCH_LEASE, Pipeline, PipelineError, PipelineResult};
use crate::domain::{
    AttemptId, Avatar, AvatarEvent, AvatarId, FailureReason, FalRequest, MAX_LAUNCH_CLAIMS, Photo,
    Timestamp, UserId, blob_keys,
};
use crate::fal::training::TrainingRequest;
use crate::fal::webhook_token::WebhookRoute;
use crate::jobs::Job;
use crate::ports::{BlobError, FalRequestOwner, FalTarget, StoreError, ZipSource};
use crate::zip_stream::zip_blobs;

/// Why a launch stopped before anything was sent.
enum NotLaunched {
    /// No retry will help (a photo gone, a record unreadable): the avatar fails.
    Permanent(String),
    /// Try again later (the claim is released).
    Transient(PipelineError),
}

impl From<PipelineError> for NotLaunched {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Blob(BlobError::NotFound(_)) => {
                NotLaunched::Permanent("a photo is missing from storage".into())
            }
            PipelineError::Blob(BlobError::InvalidKey(_)) => {
                NotLaunched::Permanent("a photo record is unreadable".into())
            }
            PipelineError::Store(StoreError::Corrupt { .. }) => {
                NotLaunched::Permanent("a photo record is unreadable".into())
            }
            PipelineError::Fal(e) if e.is_permanent() => {
                NotLaunched::Permanent(format!("the photo archive was refused: {e}"))
            }
            other => NotLaunched::Transient(other),
        }
    }
}

impl Pipeline {
    pub(in crate::pipeline) async fn launch_training(
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
        let claim = AvatarEvent::Claim {
            attempt,
            lease: LAUNCH_LEASE,
        };
        let claimed = match avatar.apply(claim, now) {
            Ok(claimed) => claimed,
            Err(_) if avatar.state.launch_given_up(now) => {
                let detail = format!("{MAX_LAUNCH_CLAIMS} attempts to start it failed");
                self.fail_training(&avatar, FailureReason::NotStarted { detail }, now)
                    .await?;
                return Ok(JobOutcome::Done);
            }
            Err(_) => {
                tracing::info!(avatar = %avatar_id, status = avatar.status().as_str(), "launch not needed (duplicate or already running)");
                return Ok(JobOutcome::Done);
            }
        };
        let claimed = match self.store.update_avatar(&claimed).await {
            Ok(stored) => stored,
            // Another worker claimed it first, or it is gone: nothing to do here.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(JobOutcome::Done),
            Err(e) => {
                // The claim may have been written with its answer lost: hand it back, so the
                // job's retry launches now instead of after the lease.
                self.release(&claimed, attempt, now).await;
                return Err(e.into());
            }
        };
        tracing::info!(avatar = %avatar_id, %attempt, "avatar claimed for launch");
        let training = match self.prepare(&claimed, attempt).await {
            Ok(training) => training,
            Err(NotLaunched::Permanent(detail)) => {
                tracing::error!(avatar = %avatar_id, %detail, "training cannot be started");
                self.fail_training(&claimed, FailureReason::NotStarted { detail }, now)
                    .await?;
                return Ok(JobOutcome::Done);
            }
            Err(NotLaunched::Transient(e)) => {
                self.release(&claimed, attempt, now).await;
                return Err(e);
            }
        };
        self.submit_training(&claimed, attempt, training, now).await
    }

    /// The trainer request for a claimed avatar, its archive written and presigned.
    async fn prepare(
        &self,
        avatar: &Avatar,
        attempt: AttemptId,
    ) -> Result<TrainingRequest, NotLaunched> {
        let photos = self
            .store
            .list_photos(avatar.id)
            .await
            .map_err(PipelineError::from)?;
        if photos.is_empty() {
            return Err(NotLaunched::Permanent("no photos".into()));
        }
        let archive = blob_keys::archive(avatar.owner, avatar.id, attempt);
        let summary = zip_blobs(self.blobs.as_ref(), &zip_sources(&photos), &archive)
            .await
            .map_err(PipelineError::from)?;
        tracing::info!(avatar = %avatar.id, entries = summary.entries, bytes = summary.archive_bytes, "photo archive written");
        let ttl = self.fal_settings.archive_url_ttl;
        let archive_url = self
            .url_for_fal(&archive, "photos.zip", "application/zip", ttl)
            .await?;
        Ok(self.training.request_for(avatar, &archive_url))
    }

    /// Records the intent, submits once, and acts on what the answer means.
    async fn submit_training(
        &self,
        claimed: &Avatar,
        attempt: AttemptId,
        training: TrainingRequest,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let endpoint = training.endpoint.to_owned();
        let begin = AvatarEvent::BeginSubmit {
            attempt,
            endpoint: endpoint.clone(),
        };
        let begun = self
            .update_with(claimed.clone(), |current| {
                current.apply(begin.clone(), now).ok()
            })
            .await;
        let begun = match begun {
            Ok(begun) => begun,
            Err(e) => {
                // Nothing went to fal.ai (whether or not `sending` was written): hand the
                // avatar back so the job's retry launches it now, not after the lease.
                self.release(claimed, attempt, now).await;
                return Err(e);
            }
        };
        let Some(sending) = begun else {
            // The lease lapsed and another attempt holds the avatar: it is theirs to submit.
            tracing::warn!(avatar = %claimed.id, %attempt, "claim lost before the submit; not submitting");
            return Ok(JobOutcome::Done);
        };
        let outcome = match &self.fal {
            FalBackend::Live(client) => {
                let route = WebhookRoute::Training {
                    owner: sending.owner,
                    avatar_id: sending.id,
                    attempt,
                    endpoint: endpoint.clone(),
                };
                let webhook = self.webhook_url(&route);
                SubmitOutcome::of(
                    client
                        .submit(&endpoint, &training.input, webhook.as_ref())
                        .await,
                )
            }
            FalBackend::Test { mock_duration, .. } => {
                let request_id = format!("test_{}", AttemptId::new());
                let finish = Job::FinishTestTraining {
                    owner: sending.owner,
                    avatar_id: sending.id,
                    attempt,
                    request_id: request_id.clone(),
                    endpoint: endpoint.clone(),
                };
                tracing::info!(avatar = %sending.id, %request_id, delay_s = mock_duration.as_secs(), "TEST MODE: no fal.ai call; the result arrives after the mock duration");
                match self.queue.send(&finish.to_body(), *mock_duration).await {
                    Ok(_) => SubmitOutcome::Accepted(request_id),
                    Err(e) => SubmitOutcome::NotSent(e.to_string()),
                }
            }
        };
        match outcome {
            SubmitOutcome::Accepted(request_id) => {
                let request = FalRequest {
                    request_id,
                    endpoint,
                };
                tracing::info!(avatar = %sending.id, request = %request.request_id, endpoint = %request.endpoint, "training submitted");
                self.record_submission(&sending, attempt, &request, now)
                    .await;
                Ok(JobOutcome::Done)
            }
            SubmitOutcome::NotSent(why) => {
                tracing::warn!(avatar = %sending.id, %why, "submit provably not received; the avatar goes back to the queue");
                self.release(&sending, attempt, now).await;
                Ok(JobOutcome::RetryLater(why))
            }
            SubmitOutcome::Refused(reason) => {
                self.fail_training(&sending, reason, now).await?;
                Ok(JobOutcome::Done)
            }
            SubmitOutcome::Unknown(why) => {
                // Maybe queued and paid: never again. The result (its webhook names this
                // attempt) or the wait window ends it.
                tracing::warn!(avatar = %sending.id, %attempt, %why, "submit outcome unknown; waiting for the result, never resubmitting");
                crate::metrics::count("SubmissionsUnclear", &[]);
                Ok(JobOutcome::Done)
            }
        }
    }

    /// Paid for from here: failures are logged and retried a little, never released. A
    /// record that still fails leaves the avatar `sending`: the webhook (whose token names
    /// the attempt) adopts the result.
    async fn record_submission(
        &self,
        avatar: &Avatar,
        attempt: AttemptId,
        request: &FalRequest,
        now: Timestamp,
    ) {
        for try_number in 1..=3 {
            match self.try_record(avatar, attempt, request, now).await {
                Ok(()) => return,
                Err(e) if try_number < 3 => {
                    tracing::warn!(avatar = %avatar.id, error = %e, "recording the submission failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * try_number)).await;
                }
                Err(e) => {
                    tracing::error!(avatar = %avatar.id, request = %request.request_id, error = %e, "submitted but not recorded; the webhook will adopt the result");
                }
            }
        }
    }

    async fn try_record(
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
        let submitted = AvatarEvent::Submitted {
            attempt,
            request: request.clone(),
        };
        // Declines when a fast webhook adopted the result already.
        let training = self
            .update_with(avatar.clone(), |current| {
                current.apply(submitted.clone(), now).ok()
            })
            .await?;
        if let Some(training) = training {
            crate::metrics::count("TrainingsStarted", &[("Kind", training.kind.as_str())]);
            self.announce_start(&training).await?;
        }
        Ok(())
    }

    /// Hands the avatar back to the queue: nothing of this attempt reached fal.ai.
    async fn release(&self, avatar: &Avatar, attempt: AttemptId, now: Timestamp) {
        let release = AvatarEvent::Release { attempt };
        if let Err(e) = self
            .update_with(avatar.clone(), |current| {
                current.apply(release.clone(), now).ok()
            })
            .await
        {
            tracing::warn!(avatar = %avatar.id, error = %e, "claim not released; it lapses with its lease");
        }
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
