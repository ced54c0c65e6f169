//! Launching paid work: claim the record (`queued -> submitting`, a lease with a fresh attempt
//! id), let its kind prepare the call (an archive, presigned URLs), record the intent
//! (`submitting -> sending`) and only then call fal.ai, with a webhook URL whose token binds
//! it to this work and attempt; record the request id (`sending -> running`).
//!
//! Paid at most once: a `sending` record is never claimed again, so no duplicate, redelivered
//! or relaunched message can submit a second time, however long fal takes. A submit whose
//! answer is unclear stays `sending` until its result arrives (webhook or sweep) or the wait
//! window ends; only a provable non-submit (refused connection, 429) goes back to `queued`.

use super::super::{
    FalBackend, JobOutcome, LAUNCH_LEASE, Pipeline, PipelineError, PipelineResult, Updatable,
};
use super::submit::SubmitOutcome;
use super::{FalCall, PaidKind, labels};
use crate::domain::work::PaidRecord;
use crate::domain::{
    AttemptId, FailureReason, FalRequest, MAX_LAUNCH_CLAIMS, Timestamp, WorkEvent, WorkRef,
};
use crate::fal::webhook_token::WebhookRoute;
use crate::jobs::Job;
use crate::ports::{FalRequestOwner, StoreError};

/// Why a launch stopped before anything was sent.
pub(crate) enum NotLaunched {
    /// No retry will help (a photo gone, a record unreadable): the work fails.
    Permanent(FailureReason),
    /// Try again later (the claim is released).
    Transient(PipelineError),
    /// What the work belongs to is gone (its avatar deleted): cancelled, refunded, forgotten.
    Vanished,
}

impl From<PipelineError> for NotLaunched {
    fn from(e: PipelineError) -> Self {
        NotLaunched::Transient(e)
    }
}

impl Pipeline {
    pub(super) async fn launch<K: PaidKind>(
        &self,
        kind: &K,
        work: WorkRef,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        debug_assert_eq!(work.kind, K::KIND, "work dispatched to another kind");
        let Some(record) = kind.load(self, &work).await? else {
            tracing::info!(%work, "launch of deleted work dropped");
            return Ok(JobOutcome::Done);
        };
        let attempt = AttemptId::new();
        let claim = WorkEvent::Claim {
            attempt,
            lease: LAUNCH_LEASE,
        };
        let claimed = match record.apply_work(claim, now) {
            Ok(claimed) => claimed,
            Err(_) if record.state().is_some_and(|s| s.launch_given_up(now)) => {
                let detail = format!("{MAX_LAUNCH_CLAIMS} attempts to start it failed");
                self.fail(kind, &record, FailureReason::NotStarted { detail }, now)
                    .await?;
                return Ok(JobOutcome::Done);
            }
            Err(_) => {
                tracing::info!(%work, "launch not needed (duplicate or already running)");
                return Ok(JobOutcome::Done);
            }
        };
        let claimed = match claimed.write(self.store.as_ref()).await {
            Ok(stored) => stored,
            // Another worker claimed it first, or it is gone: nothing to do here.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(JobOutcome::Done),
            Err(e) => {
                // Every attempt of the write failed, yet one may have been applied: hand the
                // claim back, so the job's retry launches now instead of after the lease.
                self.release(&claimed, attempt, now).await;
                return Err(e.into());
            }
        };
        tracing::info!(%work, %attempt, "claimed for launch");
        let call = match kind.prepare(self, &claimed, attempt).await {
            Ok(call) => call,
            Err(NotLaunched::Permanent(reason)) => {
                tracing::error!(%work, ?reason, "work cannot be started");
                self.fail(kind, &claimed, reason, now).await?;
                return Ok(JobOutcome::Done);
            }
            Err(NotLaunched::Vanished) => {
                self.vanish(kind, &claimed, now).await?;
                return Ok(JobOutcome::Done);
            }
            Err(NotLaunched::Transient(e)) => {
                self.release(&claimed, attempt, now).await;
                return Err(e);
            }
        };
        self.submit(kind, &claimed, attempt, call, now).await
    }

    /// Records the intent, submits once, and acts on what the answer means.
    async fn submit<K: PaidKind>(
        &self,
        kind: &K,
        claimed: &K::Record,
        attempt: AttemptId,
        call: FalCall,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let work = claimed.work_ref();
        let endpoint = call.endpoint.clone();
        let begin = WorkEvent::BeginSubmit {
            attempt,
            endpoint: endpoint.clone(),
        };
        let begun = self.advance(claimed, begin, now).await;
        let begun = match begun {
            Ok(begun) => begun,
            Err(e) => {
                // Nothing went to fal.ai (whether or not `sending` was written): hand the work
                // back so the job's retry launches it now, not after the lease.
                self.release(claimed, attempt, now).await;
                return Err(e);
            }
        };
        let Some(sending) = begun else {
            // The lease lapsed and another attempt holds it, or it was cancelled: not ours.
            tracing::warn!(%work, %attempt, "claim lost before the submit; not submitting");
            return Ok(JobOutcome::Done);
        };
        let outcome = match &self.fal {
            FalBackend::Live(client) => {
                let route = WebhookRoute {
                    work,
                    attempt,
                    endpoint: endpoint.clone(),
                };
                let webhook = self.webhook_url(&route);
                SubmitOutcome::of(
                    client
                        .submit(&endpoint, &call.input, webhook.as_ref())
                        .await,
                )
            }
            FalBackend::Test { .. } => {
                let request_id = format!("test_{}", AttemptId::new());
                let finish = Job::FinishTest {
                    work,
                    attempt,
                    request_id: request_id.clone(),
                    endpoint: endpoint.clone(),
                };
                let delay = kind.test_delay(self);
                tracing::info!(%work, %request_id, delay_s = delay.as_secs(), "TEST MODE: no fal.ai call; the result arrives after the mock duration");
                match self.launches.send(&finish.to_body(), delay).await {
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
                tracing::info!(%work, request = %request.request_id, endpoint = %request.endpoint, "submitted");
                self.record_submission(kind, &sending, attempt, &request, now)
                    .await;
                Ok(JobOutcome::Done)
            }
            SubmitOutcome::NotSent(why) => {
                tracing::warn!(%work, %why, "submit provably not received; back to the queue");
                self.release(&sending, attempt, now).await;
                Ok(JobOutcome::RetryLater(why))
            }
            SubmitOutcome::Refused(reason) => {
                self.fail(kind, &sending, reason, now).await?;
                Ok(JobOutcome::Done)
            }
            SubmitOutcome::Unknown(why) => {
                // Maybe queued and paid: never again. The result (its webhook names this
                // attempt) or the wait window ends it.
                tracing::warn!(%work, %attempt, %why, "submit outcome unknown; waiting for the result, never resubmitting");
                crate::metrics::count("SubmissionsUnclear", &[]);
                Ok(JobOutcome::Done)
            }
        }
    }

    /// Paid for from here: failures are logged and retried a little, never released. A
    /// record that still fails stays `sending`: the webhook (whose token names the attempt)
    /// completes it; without one it fails as unconfirmed once the wait window has passed.
    async fn record_submission<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
        attempt: AttemptId,
        request: &FalRequest,
        now: Timestamp,
    ) {
        for try_number in 1..=3 {
            match self.try_record(kind, record, attempt, request, now).await {
                Ok(()) => return,
                Err(e) if try_number < 3 => {
                    tracing::warn!(work = %record.work_ref(), error = %e, "recording the submission failed; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(200 * try_number)).await;
                }
                Err(e) => {
                    tracing::error!(work = %record.work_ref(), request = %request.request_id, error = %e, "submitted but not recorded; its result will be adopted");
                }
            }
        }
    }

    async fn try_record<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
        attempt: AttemptId,
        request: &FalRequest,
        now: Timestamp,
    ) -> PipelineResult<()> {
        self.store
            .put_fal_request(&FalRequestOwner {
                request_id: request.request_id.clone(),
                work: record.work_ref(),
                created_at: now,
            })
            .await?;
        let submitted = WorkEvent::Submitted {
            attempt,
            request: request.clone(),
        };
        // Declines when a fast result completed it already.
        let running = self.advance(record, submitted, now).await?;
        if let Some(running) = running {
            let dimensions = kind.dimensions(&running, Some(request));
            crate::metrics::count(&format!("{}Started", K::METRICS), &labels(&dimensions));
            kind.started(self, &running).await?;
        }
        Ok(())
    }

    /// Hands the work back to the queue: nothing of this attempt reached fal.ai.
    pub(super) async fn release<R: PaidRecord + super::Updatable>(
        &self,
        record: &R,
        attempt: AttemptId,
        now: Timestamp,
    ) {
        let release = WorkEvent::Release { attempt };
        if let Err(e) = self.advance(record, release, now).await {
            tracing::warn!(work = %record.work_ref(), error = %e, "claim not released; it lapses with its lease");
        }
    }
}
