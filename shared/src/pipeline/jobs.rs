//! The launch queue's jobs, dispatched to the engine by the kind of work they name.

use super::{FalBackend, Pipeline, PipelineResult, kinds};
use crate::domain::{FalRequest, Timestamp};
use crate::fal::queue::CancelOutcome;
use crate::jobs::Job;

/// What the queue should do with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// Done (or nothing to do): delete the message.
    Done,
    /// Not now: leave the message to come back after its visibility timeout.
    RetryLater(String),
    /// It cannot succeed (see [`super::PipelineError::is_transient`]): delete the message, loudly.
    Abandoned(String),
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
            Ok(
                outcome @ (CancelOutcome::Requested
                | CancelOutcome::AlreadyCompleted
                | CancelOutcome::NotFound),
            ) => {
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
            Job::Launch(work) => kinds::driver(work.kind).launch(self, work, now).await,
            Job::FinishTest {
                work,
                attempt,
                request_id,
                endpoint,
            } => {
                let request = FalRequest {
                    request_id,
                    endpoint,
                };
                kinds::driver(work.kind)
                    .finish_test(self, &work, attempt, &request, now)
                    .await
                    .map(|completion| {
                        tracing::info!(%work, ?completion, "TEST MODE: simulated work finished");
                        JobOutcome::Done
                    })
            }
            Job::CancelFalRequest {
                endpoint,
                request_id,
            } => self.cancel_fal_request(&endpoint, &request_id).await,
        };
        result.unwrap_or_else(|e| {
            if e.is_transient() {
                tracing::warn!(error = %e, "job failed; it will be retried");
                JobOutcome::RetryLater(e.to_string())
            } else {
                tracing::error!(error = %e, "job cannot succeed; abandoned (the sweep ends its record)");
                crate::metrics::count("JobsAbandoned", &[]);
                JobOutcome::Abandoned(e.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::PipelineError;
    use crate::domain::InvalidBlobKey;
    use crate::fal::FalError;
    use crate::ports::{BlobError, StoreError};

    #[test]
    fn corrupt_records_and_refusals_are_not_retried_like_timeouts() {
        let corrupt = PipelineError::Store(StoreError::Corrupt {
            key: "AVATAR#1".into(),
            reason: "missing field".into(),
        });
        assert!(!corrupt.is_transient());
        assert!(
            !PipelineError::Blob(BlobError::InvalidKey(InvalidBlobKey("..".into()))).is_transient()
        );
        assert!(
            !PipelineError::Fal(FalError::Rejected {
                status: 422,
                details: vec!["bad input".into()]
            })
            .is_transient()
        );
        assert!(PipelineError::Store(StoreError::Conflict("avatar".into())).is_transient());
        assert!(
            PipelineError::Store(StoreError::backend(std::io::Error::other("throttled")))
                .is_transient()
        );
        assert!(PipelineError::Contended("avatar 1".into()).is_transient());
        assert!(PipelineError::ImageFetch("reset".into()).is_transient());
    }
}
