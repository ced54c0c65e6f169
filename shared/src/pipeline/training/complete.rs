//! The one completion path of a training: its outcome, from the fal-webhook, the sweep or
//! test mode, applied to the avatar by a conditional write that also hands the user's notice
//! to the writer, so exactly one of them tells the user. A success is kept first: the LoRA
//! (and its config) are copied into our bucket before the avatar says `completed`, because
//! fal's copies expire.

use serde_json::Value;

use super::super::{Pipeline, PipelineResult};
use crate::domain::{
    AttemptId, Avatar, AvatarEvent, AvatarId, AvatarState, FailureReason, FalRequest, Timestamp,
    TrainedModel, TrainingOutput, UserId, blob_keys,
};
use crate::fal::training::trained_model;

/// LoRA files are tens to hundreds of MB; nothing a trainer produces comes near this.
const MAX_LORA_BYTES: u64 = 2 * 1024 * 1024 * 1024;
const MAX_CONFIG_BYTES: u64 = 10 * 1024 * 1024;

/// How a training ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrainingOutcome {
    Succeeded(TrainingOutput),
    Failed(FailureReason),
}

impl TrainingOutcome {
    /// From a trainer's output JSON (`raw`): the model it produced, or why there is none.
    pub fn from_result(endpoint: &str, raw: &str) -> TrainingOutcome {
        let parsed: Result<Value, _> = serde_json::from_str(raw);
        match parsed
            .map_err(|e| e.to_string())
            .and_then(|json| trained_model(endpoint, &json))
        {
            Ok(model) => TrainingOutcome::Succeeded(TrainingOutput {
                model,
                raw_response: raw.to_owned(),
            }),
            Err(problem) => {
                TrainingOutcome::Failed(FailureReason::ProviderError { detail: problem })
            }
        }
    }
}

/// What became of a reported outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Applied now (and the user told, or the sweep will).
    Applied,
    /// The record already has an outcome: a duplicate or a late report.
    AlreadyDone,
    /// The record (avatar or generation) was deleted meanwhile.
    Gone,
    /// The record is not waiting for this result (and it is not one to adopt).
    NotAwaited,
}

impl Pipeline {
    /// Applies `outcome` of `request` to the avatar. `attempt` is set when the result is
    /// known to be this avatar's (our webhook token, our record, or the avatar's own
    /// request): a success of any such attempt is adopted rather than dropped, and a result
    /// whose request id was never recorded completes the `sending` attempt it names.
    pub async fn complete_training(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        request: &FalRequest,
        attempt: Option<AttemptId>,
        outcome: TrainingOutcome,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        let Some(avatar) = self.store.get_avatar(owner, avatar_id).await? else {
            tracing::info!(avatar = %avatar_id, request = %request.request_id, "result for a deleted avatar ignored");
            return Ok(Completion::Gone);
        };
        if matches!(avatar.state, AvatarState::Completed { .. }) {
            return Ok(Completion::AlreadyDone);
        }
        // Keep what we paid for before anyone is told it exists.
        let outcome = match outcome {
            TrainingOutcome::Succeeded(output) => match self.keep_model(&avatar, output).await? {
                Ok(kept) => TrainingOutcome::Succeeded(kept),
                Err(reason) => TrainingOutcome::Failed(reason),
            },
            failed => failed,
        };
        let written = self
            .update_with(avatar, |current| {
                outcome_of(current, request, attempt, &outcome, now)
            })
            .await?;
        let Some(stored) = written else {
            return Ok(match self.store.get_avatar(owner, avatar_id).await? {
                None => Completion::Gone,
                Some(a)
                    if matches!(
                        a.state,
                        AvatarState::Completed { .. } | AvatarState::Failed { .. }
                    ) =>
                {
                    Completion::AlreadyDone
                }
                Some(a) => {
                    tracing::warn!(avatar = %avatar_id, request = %request.request_id, status = a.status().as_str(), "result the avatar is not waiting for; ignored");
                    Completion::NotAwaited
                }
            });
        };
        tracing::info!(avatar = %avatar_id, request = %request.request_id, status = stored.status().as_str(), "training outcome recorded");
        self.after_outcome(&stored).await;
        Ok(Completion::Applied)
    }

    /// Fails an avatar whose training never got going (or can no longer end well) and tells
    /// the user.
    pub(in crate::pipeline) async fn fail_training(
        &self,
        avatar: &Avatar,
        reason: FailureReason,
        now: Timestamp,
    ) -> PipelineResult<()> {
        let fail = AvatarEvent::Fail {
            reason: reason.clone(),
        };
        let failed = self
            .update_with(avatar.clone(), |current| {
                current.apply(fail.clone(), now).ok()
            })
            .await?;
        if let Some(stored) = failed {
            tracing::warn!(avatar = %stored.id, reason = ?reason, "training failed");
            self.after_outcome(&stored).await;
        }
        Ok(())
    }

    /// Copies the LoRA and its config into our bucket. `Err(reason)` when fal's files can
    /// never be had (gone, too big, not on fal's CDN): the training cannot be used.
    async fn keep_model(
        &self,
        avatar: &Avatar,
        output: TrainingOutput,
    ) -> PipelineResult<Result<TrainingOutput, FailureReason>> {
        let TrainedModel::Lora {
            lora_url,
            config_url,
            stored_key: None,
        } = &output.model
        else {
            return Ok(Ok(output)); // A finetune lives at fal; or kept already.
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
            match self
                .fetcher
                .copy_into(
                    config_url,
                    MAX_CONFIG_BYTES,
                    self.blobs.as_ref(),
                    &config_key,
                    "application/json",
                )
                .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(unavailable)) => {
                    tracing::warn!(avatar = %avatar.id, why = %unavailable.0, "training config not kept");
                }
                Err(e) => return Err(e),
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
            raw_response: output.raw_response,
        }))
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
                match reason {
                    FailureReason::TimedOut => crate::metrics::count("TrainingsTimedOut", &[]),
                    FailureReason::Unconfirmed => {
                        crate::metrics::count("SubmissionsUnconfirmed", &[])
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if let Err(e) = self.send_notice(avatar).await {
            tracing::warn!(avatar = %avatar.id, error = %e, "notice not sent now; the sweep will retry");
        }
        let [photos, archives, _generations, _models] =
            blob_keys::avatar_prefixes(avatar.owner, avatar.id);
        let photos_go = matches!(avatar.state, AvatarState::Completed { .. })
            && self.training.delete_photos_after_training;
        let prefixes = if photos_go {
            vec![archives, photos]
        } else {
            vec![archives]
        };
        // The files (one batch), then the records naming the photos (with Telegram's file ids).
        let cleaned = match self.blobs.delete_prefixes(&prefixes).await {
            Ok(_) if photos_go => self
                .store
                .forget_photos(avatar.owner, avatar.id)
                .await
                .map_err(|e| e.to_string()),
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = cleaned {
            tracing::warn!(avatar = %avatar.id, error = %e, photos = photos_go, "training's files not deleted; the bucket's lifecycle rule expires the archive, photos go with the avatar");
        }
    }
}

/// The avatar after `outcome` of `request`, or `None` when it is not one to apply:
/// - training for exactly this request: the outcome;
/// - `sending` the attempt the result names (its request id never recorded): the request,
///   then the outcome;
/// - any other state that can end well, for a success known to be this avatar's: adopted;
/// - anything else (already done, a failure of an attempt it no longer waits for): nothing.
fn outcome_of(
    avatar: &Avatar,
    request: &FalRequest,
    attempt: Option<AttemptId>,
    outcome: &TrainingOutcome,
    now: Timestamp,
) -> Option<Avatar> {
    let outcome_event = || match outcome.clone() {
        TrainingOutcome::Succeeded(output) => AvatarEvent::Succeed { output },
        TrainingOutcome::Failed(reason) => AvatarEvent::Fail { reason },
    };
    match &avatar.state {
        AvatarState::Training {
            request: awaited, ..
        } if awaited.request_id == request.request_id => avatar.apply(outcome_event(), now).ok(),
        AvatarState::Sending {
            attempt: holder, ..
        } if Some(*holder) == attempt => {
            tracing::info!(avatar = %avatar.id, request = %request.request_id, "adopting a result whose submission was never recorded");
            let submitted = AvatarEvent::Submitted {
                attempt: *holder,
                request: request.clone(),
            };
            avatar
                .apply(submitted, now)
                .and_then(|a| a.apply(outcome_event(), now))
                .ok()
        }
        _ => match (outcome, attempt) {
            (TrainingOutcome::Succeeded(output), Some(_)) => {
                let adopt = AvatarEvent::Adopt {
                    request: request.clone(),
                    output: output.clone(),
                };
                let adopted = avatar.apply(adopt, now).ok();
                if adopted.is_some() {
                    tracing::warn!(avatar = %avatar.id, request = %request.request_id, status = avatar.status().as_str(), "adopting a late result of an earlier attempt");
                }
                adopted
            }
            _ => None,
        },
    }
}
