//! The launch queue's jobs, dispatched to trainings and generations.

use super::{FalBackend, Pipeline, PipelineResult};
use crate::domain::{FalRequest, Timestamp};
use crate::jobs::Job;

/// What the queue should do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done (or nothing to do): delete the message.
    Done,
    /// Not now: leave the message to come back after its visibility timeout.
    RetryLater(String),
}

impl Pipeline {
    /// Cancels a request at fal.ai (its avatar is gone); done whatever fal answers but a
    /// transient failure.
    async fn cancel_fal_request(
        &self,
        endpoint: &str,
        request_id: &str,
    ) -> PipelineResult<JobOutcome> {
        let FalBackend::Live(client) = &self.fal else {
            return Ok(JobOutcome::Done);
        };
        match client.cancel(endpoint, request_id).await {
            Ok(outcome) => {
                tracing::info!(request = %request_id, ?outcome, "fal.ai request of a deleted avatar cancelled");
                Ok(JobOutcome::Done)
            }
            Err(e) if e.is_permanent() => {
                tracing::warn!(request = %request_id, error = %e, "fal.ai refused the cancel");
                Ok(JobOutcome::Done)
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn run_job(&self, job: Job, now: Timestamp) -> JobOutcome {
        let result = match job {
            Job::LaunchTraining { owner, avatar_id } => {
                self.launch_training(owner, avatar_id, now).await
            }
            Job::FinishTestTraining {
                owner,
                avatar_id,
                attempt,
                request_id,
                endpoint,
            } => {
                let request = FalRequest {
                    request_id,
                    endpoint,
                };
                self.finish_test_training(owner, avatar_id, attempt, request, now)
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
            Job::CancelFalRequest {
                endpoint,
                request_id,
            } => self.cancel_fal_request(&endpoint, &request_id).await,
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
}
