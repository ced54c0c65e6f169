//! The sweep's care of one in-flight generation: pending or lapsed claims relaunched (failed
//! once their claims are used up or `FAL_LAUNCH_TIMEOUT` passed); a submit of unknown
//! outcome left alone, failed as unconfirmed after the generation timeout plus fal's webhook
//! retry window; running ones asked about (results fetched and delivered, past
//! `FAL_GENERATION_TIMEOUT` cancelled and failed); undelivered results sent.

use serde_json::Value;

use super::super::sweep::SweepReport;
use super::super::{FalBackend, LAUNCH_LEASE, Pipeline, PipelineResult};
use super::GenerationOutcome;
use crate::domain::{
    FailureReason, Generation, GenerationEvent, GenerationState, NoticeEvent, Timestamp,
};
use crate::fal::{FalError, QueueStatus};
use crate::jobs::Job;
use crate::ports::{QueueDelay, StoreError};

impl Pipeline {
    pub(in crate::pipeline) async fn sweep_generation(
        &self,
        generation: &Generation,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        let settings = &self.fal_settings;
        match &generation.state {
            GenerationState::Pending { .. } | GenerationState::Submitting { .. }
                if generation.state.launch_given_up(now)
                    || now.since(generation.created_at) > settings.launch_timeout =>
            {
                let detail = "it could not be started".to_owned();
                self.fail_generation(generation, FailureReason::NotStarted { detail }, now)
                    .await?;
                report.failed += 1;
                Ok(())
            }
            GenerationState::Pending { .. } | GenerationState::Submitting { .. } => {
                // Sent again only if a worker could claim it now (not while a lease runs).
                let claim = GenerationEvent::Claim {
                    lease: LAUNCH_LEASE,
                };
                if generation.apply(claim, now).is_ok() {
                    self.relaunch_generation(generation, report).await?;
                }
                Ok(())
            }
            GenerationState::Sending { sent_at, .. } => {
                if now.since(*sent_at) > settings.generation_timeout + settings.webhook_retry_window
                {
                    tracing::error!(generation = %generation.id, "a submit of unknown outcome was never confirmed; failing it (never resubmitted)");
                    self.fail_generation(generation, FailureReason::Unconfirmed, now)
                        .await?;
                    report.failed += 1;
                }
                Ok(())
            }
            GenerationState::InProgress {
                request,
                submitted_at,
            } => {
                if now.since(*submitted_at) > settings.generation_timeout {
                    if let FalBackend::Live(client) = &self.fal
                        && let Err(e) = client.cancel(&request.endpoint, &request.request_id).await
                    {
                        tracing::warn!(generation = %generation.id, error = %e, "cancel at fal.ai failed; failing the generation anyway");
                    }
                    self.complete_generation(
                        generation,
                        request,
                        GenerationOutcome::Failed(FailureReason::TimedOut),
                        now,
                    )
                    .await?;
                    report.timed_out += 1;
                    return Ok(());
                }
                let FalBackend::Live(client) = &self.fal else {
                    return Ok(()); // Test mode: the placeholder job is on its way.
                };
                let outcome = match client
                    .status(&request.endpoint, &request.request_id, false)
                    .await
                {
                    Ok(QueueStatus::Completed { error: None, .. }) => {
                        let raw = client
                            .result(&request.endpoint, &request.request_id)
                            .await?;
                        match serde_json::from_str::<Value>(&raw) {
                            Ok(payload) => GenerationOutcome::from_payload(&payload, generation),
                            Err(e) => GenerationOutcome::Failed(FailureReason::ProviderError {
                                detail: format!("unreadable result: {e}"),
                            }),
                        }
                    }
                    Ok(QueueStatus::Completed {
                        error: Some(detail),
                        ..
                    }) => GenerationOutcome::Failed(FailureReason::ProviderError { detail }),
                    Ok(_) => return Ok(()), // Still queued or running.
                    Err(FalError::NotFound) => {
                        GenerationOutcome::Failed(FailureReason::ProviderError {
                            detail: "fal.ai no longer knows this request".into(),
                        })
                    }
                    Err(e) => return Err(e.into()),
                };
                let failed = matches!(outcome, GenerationOutcome::Failed(_));
                self.complete_generation(generation, request, outcome, now)
                    .await?;
                tracing::info!(generation = %generation.id, "sweep recovered a finished generation");
                if failed {
                    report.failed += 1;
                } else {
                    report.completed += 1;
                }
                Ok(())
            }
            GenerationState::Completed { .. } | GenerationState::Failed { .. } => {
                let Some(claimed) = generation.apply_notice(NoticeEvent::TakeOver, now) else {
                    return Ok(());
                };
                let claimed = match self.store.update_generation(&claimed).await {
                    Ok(stored) => stored,
                    Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                Box::pin(self.deliver(&claimed)).await?;
                report.notices_sent += 1;
                Ok(())
            }
        }
    }

    async fn relaunch_generation(
        &self,
        generation: &Generation,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        let job = Job::LaunchGeneration {
            owner: generation.owner,
            avatar_id: generation.avatar_id,
            generation_id: generation.id,
        };
        self.queue.send(&job.to_body(), QueueDelay::NONE).await?;
        tracing::info!(generation = %generation.id, status = generation.state.as_str(), "generation launch sent again");
        report.relaunched += 1;
        Ok(())
    }
}
