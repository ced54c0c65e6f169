//! The one completion path: a training's outcome, from the fal-webhook, the sweep or test
//! mode, applied to the avatar by a conditional write. Whoever wins the write also takes the
//! claim on the user's notice, so exactly one of them tells the user.

use serde_json::Value;

use super::{NOTICE_CLAIM, Pipeline, PipelineError, PipelineResult};
use crate::domain::{
    AttemptId, Avatar, AvatarEvent, AvatarId, AvatarState, FailureReason, FalRequest,
    OutcomeNotice, Timestamp, TrainingOutput, UserId, blob_keys,
};
use crate::fal::training::trained_model;
use crate::ports::StoreError;

/// How a training ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded(TrainingOutput),
    Failed(FailureReason),
}

impl Outcome {
    /// From a trainer's output JSON (`raw`): the model it produced, or why there is none.
    pub fn from_result(endpoint: &str, raw: &str) -> Outcome {
        let parsed: Result<Value, _> = serde_json::from_str(raw);
        match parsed
            .map_err(|e| e.to_string())
            .and_then(|json| trained_model(endpoint, &json))
        {
            Ok(model) => Outcome::Succeeded(TrainingOutput {
                model,
                raw_response: raw.to_owned(),
            }),
            Err(problem) => Outcome::Failed(FailureReason::ProviderError { detail: problem }),
        }
    }

    fn event(self) -> AvatarEvent {
        match self {
            Outcome::Succeeded(output) => AvatarEvent::Succeed { output },
            Outcome::Failed(reason) => AvatarEvent::Fail { reason },
        }
    }
}

/// What became of a reported outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Applied now (and the user told, or the sweep will).
    Applied,
    /// The avatar already has an outcome: a duplicate or a late report.
    AlreadyDone,
    /// The avatar was deleted meanwhile.
    AvatarGone,
    /// The avatar is not waiting for this request (an older attempt's late result).
    NotAwaited,
}

impl Pipeline {
    /// Applies `outcome` of `request` to the avatar. `attempt`, when known (from the webhook
    /// URL or a test-mode job), lets a result be adopted by an avatar whose worker crashed
    /// between submitting and recording the request.
    pub async fn complete(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        request: &FalRequest,
        attempt: Option<AttemptId>,
        outcome: Outcome,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        for _ in 0..5 {
            let Some(avatar) = self.store.get_avatar(owner, avatar_id).await? else {
                tracing::info!(avatar = %avatar_id, request = %request.request_id, "result for a deleted avatar ignored");
                return Ok(Completion::AvatarGone);
            };
            let next = match &avatar.state {
                AvatarState::Training {
                    request: awaited, ..
                } if awaited.request_id == request.request_id => {
                    avatar.apply(outcome.clone().event(), now)
                }
                AvatarState::Submitting {
                    attempt: holder, ..
                } if Some(*holder) == attempt => {
                    tracing::info!(avatar = %avatar_id, request = %request.request_id, "adopting a result whose submission was never recorded");
                    avatar
                        .apply(
                            AvatarEvent::Submitted {
                                attempt: *holder,
                                request: request.clone(),
                            },
                            now,
                        )
                        .and_then(|a| a.apply(outcome.clone().event(), now))
                }
                AvatarState::Completed { .. } | AvatarState::Failed { .. } => {
                    return Ok(Completion::AlreadyDone);
                }
                _ => {
                    tracing::warn!(avatar = %avatar_id, request = %request.request_id, status = avatar.status().as_str(), "result the avatar is not waiting for; ignored");
                    return Ok(Completion::NotAwaited);
                }
            };
            let mut next = next.expect("checked: the avatar awaits this request");
            next.notice = OutcomeNotice::Due {
                claimed_until: now.plus(NOTICE_CLAIM),
            };
            match self.store.update_avatar(&next).await {
                Ok(stored) => {
                    tracing::info!(avatar = %avatar_id, request = %request.request_id, status = stored.status().as_str(), "training outcome recorded");
                    self.after_outcome(&stored).await;
                    return Ok(Completion::Applied);
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(StoreError::NotFound(_)) => return Ok(Completion::AvatarGone),
                Err(e) => return Err(e.into()),
            }
        }
        Err(PipelineError::Contended(avatar_id.to_string()))
    }

    /// Fails an avatar that never reached fal.ai (a refused submit) and tells the user.
    pub(super) async fn fail_before_training(
        &self,
        avatar: Avatar,
        reason: FailureReason,
        now: Timestamp,
    ) -> PipelineResult<()> {
        let failed = self
            .update_with(avatar, |current| {
                let mut next = current
                    .apply(
                        AvatarEvent::Fail {
                            reason: reason.clone(),
                        },
                        now,
                    )
                    .ok()?;
                next.notice = OutcomeNotice::Due {
                    claimed_until: now.plus(NOTICE_CLAIM),
                };
                Some(next)
            })
            .await?;
        if let Some(stored) = failed {
            tracing::warn!(avatar = %stored.id, reason = ?reason, "training failed before it started");
            self.after_outcome(&stored).await;
        }
        Ok(())
    }

    /// Notice (the caller holds its claim) and clean-up. Failures here are logged: the
    /// outcome is recorded, the sweep retries the notice, and the bucket's lifecycle rule
    /// expires archives regardless.
    async fn after_outcome(&self, avatar: &Avatar) {
        let kind = [("Kind", avatar.kind.as_str())];
        match &avatar.state {
            AvatarState::Completed {
                submitted_at,
                completed_at,
                ..
            } => {
                crate::metrics::count("TrainingsCompleted", &kind);
                crate::metrics::seconds(
                    "TrainingDuration",
                    completed_at.since(*submitted_at).as_secs_f64(),
                    &kind,
                );
            }
            AvatarState::Failed { reason, .. } => {
                crate::metrics::count("TrainingsFailed", &kind);
                if *reason == FailureReason::TimedOut {
                    crate::metrics::count("TrainingsTimedOut", &[]);
                }
            }
            _ => {}
        }
        if let Err(e) = self.send_notice(avatar).await {
            tracing::warn!(avatar = %avatar.id, error = %e, "notice not sent now; the sweep will retry");
        }
        let [photos, archives, _generations] = blob_keys::avatar_prefixes(avatar.owner, avatar.id);
        let mut prefixes = vec![archives];
        if matches!(avatar.state, AvatarState::Completed { .. })
            && self.training.delete_photos_after_training
        {
            prefixes.push(photos);
        }
        for prefix in prefixes {
            if let Err(e) = self.blobs.delete_prefix(&prefix).await {
                tracing::warn!(avatar = %avatar.id, %prefix, error = %e, "clean-up after training failed");
            }
        }
    }
}
