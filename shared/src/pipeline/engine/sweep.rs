//! The sweep's care of one piece of paid work, whatever its kind:
//!
//! - `queued`, or `submitting` with a lapsed lease: the launch is sent again (duplicates are
//!   harmless: the claim is conditional); one that used up its claims, or waited past
//!   `FAL_LAUNCH_TIMEOUT`, fails and the user is told (and refunded);
//! - `sending` (a submit of unknown outcome): left alone, never resubmitted; past its timeout
//!   plus fal's webhook retry window it fails as unconfirmed;
//! - `running`: fal.ai is asked first. Finished: the result goes through the completion path,
//!   even past the timeout. Still running past the kind's timeout: cancelled at fal.ai,
//!   unless fal answers that it completed meanwhile (then its result is taken), then failed;
//!   otherwise its kind shows progress;
//! - an outcome the user has not been told of (the sender crashed or Telegram failed): told;
//!   files a finished piece of work left behind: deleted.

use super::super::sweep::SweepReport;
use super::super::{FalBackend, LAUNCH_LEASE, Pipeline, PipelineResult};
use super::{Completion, PaidKind, Payload, Progress};
use crate::domain::work::PaidRecord;
use crate::domain::{
    AttemptId, FailureReason, FalRequest, MAX_LAUNCH_CLAIMS, Timestamp, WorkEvent, WorkRef,
    WorkState,
};
use crate::fal::queue::CancelOutcome;
use crate::fal::{FalClient, FalError, QueueStatus};
use crate::jobs::Job;
use crate::ports::QueueDelay;

impl Pipeline {
    pub(super) async fn sweep_work<K: PaidKind>(
        &self,
        kind: &K,
        work: &WorkRef,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        debug_assert_eq!(work.kind, K::KIND, "work dispatched to another kind");
        let Some(record) = kind.load(self, work).await? else {
            return Ok(());
        };
        report.checked += 1;
        let Some(state) = record.state() else {
            return kind.sweep_unpaid(self, &record, now, report).await;
        };
        let settings = &self.fal_settings;
        match state {
            WorkState::Queued { .. } | WorkState::Submitting { .. }
                if state.launch_given_up(now) =>
            {
                let detail = format!("{MAX_LAUNCH_CLAIMS} attempts to start it failed");
                self.fail(kind, &record, FailureReason::NotStarted { detail }, now)
                    .await?;
                report.failed += 1;
            }
            WorkState::Queued { queued_at, .. }
                if now.since(*queued_at) > settings.launch_timeout =>
            {
                let detail = "it could not be started in time".to_owned();
                self.fail(kind, &record, FailureReason::NotStarted { detail }, now)
                    .await?;
                report.failed += 1;
            }
            WorkState::Queued { .. } | WorkState::Submitting { .. } => {
                // Sent again only if a worker could claim it now (not while a lease runs).
                let claim = WorkEvent::Claim {
                    attempt: AttemptId::new(),
                    lease: LAUNCH_LEASE,
                };
                if record.apply_work(claim, now).is_ok() {
                    self.launches
                        .send(&Job::Launch(*work).to_body(), QueueDelay::NONE)
                        .await?;
                    tracing::info!(%work, status = state.status().as_str(), "launch sent again");
                    report.relaunched += 1;
                }
            }
            WorkState::Sending { sent_at, .. } => {
                if now.since(*sent_at) > kind.timeout(self) + settings.webhook_retry_window {
                    tracing::error!(%work, "a submit of unknown outcome was never confirmed; failing it (never resubmitted)");
                    self.fail(kind, &record, FailureReason::Unconfirmed, now)
                        .await?;
                    report.failed += 1;
                }
            }
            WorkState::Running {
                request,
                submitted_at,
                attempt,
            } => {
                let timed_out = now.since(*submitted_at) > kind.timeout(self);
                self.check_running(kind, &record, request, *attempt, timed_out, now, report)
                    .await?;
            }
            WorkState::Completed { .. } | WorkState::Failed { .. } => {
                if self.retry_notice(kind, &record, now).await? {
                    report.notices_sent += 1;
                }
                // The notice may have moved the record on: tidy what is stored now.
                if let Some(current) = kind.load(self, work).await?
                    && self.tidy(kind, &current).await?
                {
                    report.tidied += 1;
                }
            }
            WorkState::Cancelled { .. } => {}
        }
        Ok(())
    }

    /// Asks fal.ai about running work and acts on the answer.
    #[allow(clippy::too_many_arguments)]
    async fn check_running<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
        request: &FalRequest,
        attempt: AttemptId,
        timed_out: bool,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        let work = record.work_ref();
        let complete = |result| self.complete(kind, &work, request, Some(attempt), result, now);
        let FalBackend::Live(client) = &self.fal else {
            // Test mode: the result comes by the queue; past the timeout it is given up.
            if timed_out {
                complete(Err(FailureReason::TimedOut)).await?;
                report.timed_out += 1;
            } else if kind.progress(self, record, Progress::Elapsed, now).await? {
                report.progress_shown += 1;
            }
            return Ok(());
        };
        let status = match client
            .status(&request.endpoint, &request.request_id, kind.wants_logs())
            .await
        {
            Ok(status) => status,
            Err(FalError::NotFound) => {
                let lost = FailureReason::ProviderError {
                    detail: "fal.ai no longer knows this request".into(),
                };
                let done = complete(Err(lost)).await?;
                tracing::warn!(%work, ?done, "fal.ai lost the request");
                report.failed += 1;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let outcome = match status {
            QueueStatus::Completed { error: None, .. } => {
                Some(fetch_result(client, request).await?)
            }
            QueueStatus::Completed {
                error: Some(detail),
                ..
            } => Some(Err(FailureReason::ProviderError { detail })),
            _ if timed_out => {
                // fal may finish it while we cancel: a finished result is honoured.
                match client.cancel(&request.endpoint, &request.request_id).await {
                    Ok(CancelOutcome::AlreadyCompleted) => {
                        tracing::info!(%work, "completed while being cancelled; its result is taken");
                        Some(fetch_result(client, request).await?)
                    }
                    Ok(_) => {
                        report.timed_out += 1;
                        Some(Err(FailureReason::TimedOut))
                    }
                    Err(e) => {
                        tracing::warn!(%work, error = %e, "cancel at fal.ai failed; failing it anyway");
                        report.timed_out += 1;
                        Some(Err(FailureReason::TimedOut))
                    }
                }
            }
            QueueStatus::InQueue { position } => {
                if kind
                    .progress(self, record, Progress::InQueue { position }, now)
                    .await?
                {
                    report.progress_shown += 1;
                }
                None
            }
            QueueStatus::InProgress { logs } => {
                if kind
                    .progress(self, record, Progress::Running { logs }, now)
                    .await?
                {
                    report.progress_shown += 1;
                }
                None
            }
        };
        if let Some(result) = outcome {
            let failed = result.is_err();
            if complete(result).await? == Completion::Applied {
                tracing::info!(%work, "sweep recovered a finished piece of work");
                if failed {
                    report.failed += 1;
                } else {
                    report.completed += 1;
                }
            }
        }
        Ok(())
    }
}

/// A finished request's result from fal.ai's result endpoint.
async fn fetch_result(
    client: &FalClient,
    request: &FalRequest,
) -> PipelineResult<Result<Payload, FailureReason>> {
    let raw = client
        .result(&request.endpoint, &request.request_id)
        .await?;
    Ok(match serde_json::from_str(&raw) {
        Ok(json) => Ok(Payload { json, raw }),
        Err(e) => Err(FailureReason::ProviderError {
            detail: format!("unreadable result: {e}"),
        }),
    })
}
