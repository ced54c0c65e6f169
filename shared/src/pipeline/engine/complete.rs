//! The one completion path of paid work, for the webhook, the sweep and test mode: whether the
//! record takes the result at all is decided first (nothing is fetched for a result it would
//! not take), then its kind keeps what we paid for (a LoRA copied, pictures stored), then a
//! conditional write records the outcome and hands the user's notice to the writer, so exactly
//! one of them tells the user.

use super::super::{Pipeline, PipelineResult};
use super::{PaidKind, Payload, labels};
use crate::domain::work::{self, PaidRecord};
use crate::domain::{AttemptId, FailureReason, FalRequest, Timestamp, WorkRef, WorkState};

/// What became of a reported outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Applied now (and the user told, or the sweep will).
    Applied,
    /// The record already has an outcome: a duplicate or a late report.
    AlreadyDone,
    /// The record was deleted meanwhile.
    Gone,
    /// The record is not waiting for this result (and it is not one to adopt).
    NotAwaited,
}

impl Pipeline {
    /// Applies the result of `request` to `work`. `attempt` is set when the result is known
    /// to be of that attempt (our webhook token names it): a result whose request id was
    /// never recorded then completes the `sending` attempt; a success of this work that it
    /// no longer waits for is adopted rather than dropped (it was paid for).
    pub(super) async fn complete<K: PaidKind>(
        &self,
        kind: &K,
        work: &WorkRef,
        request: &FalRequest,
        attempt: Option<AttemptId>,
        result: Result<Payload, FailureReason>,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        debug_assert_eq!(work.kind, K::KIND, "work dispatched to another kind");
        let Some(record) = kind.load(self, work).await? else {
            tracing::info!(%work, request = %request.request_id, "result for deleted work ignored");
            return Ok(Completion::Gone);
        };
        let result = result.and_then(|payload| kind.read(&record, request, payload));
        let Some(state) = record.state() else {
            return Ok(Completion::NotAwaited);
        };
        if work::acceptance(state, request, attempt, result.is_ok()).is_none() {
            return Ok(settled_or_not_awaited(state, work, request));
        }
        // Keep what we paid for before anyone is told it exists.
        let outcome = match result {
            Ok(result) => kind.keep(self, &record, result).await?,
            Err(reason) => Err(reason),
        };
        let written = self
            .update_with(record, |current| {
                let state = current.state()?;
                let how = work::acceptance(state, request, attempt, outcome.is_ok())?;
                let events = work::outcome_events(state, how, request, outcome.clone());
                if events.is_empty() {
                    return None;
                }
                let mut next = current.clone();
                for event in events {
                    next = next.apply_work(event, now).ok()?;
                }
                Some(next)
            })
            .await?;
        let Some(stored) = written else {
            return Ok(match kind.load(self, work).await? {
                None => Completion::Gone,
                Some(now_stored) => match now_stored.state() {
                    Some(state) => settled_or_not_awaited(state, work, request),
                    None => Completion::NotAwaited,
                },
            });
        };
        tracing::info!(%work, request = %request.request_id, status = stored.state().map(|s| s.status().as_str()), "outcome recorded");
        self.after_outcome(kind, &stored).await;
        Ok(Completion::Applied)
    }

    /// Fails work that never got going (or can no longer end well), and tells the user.
    pub(crate) async fn fail<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
        reason: FailureReason,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        let fail = crate::domain::WorkEvent::Fail {
            reason: reason.clone(),
        };
        let failed = self.advance(record, fail, now).await?;
        let Some(stored) = failed else {
            return Ok(Completion::AlreadyDone);
        };
        tracing::warn!(work = %stored.work_ref(), ?reason, "work failed");
        self.after_outcome(kind, &stored).await;
        Ok(Completion::Applied)
    }

    /// Ends work whose avatar is gone: cancelled if nothing of it reached fal.ai (and
    /// refunded), then forgotten with its files. The caller holds its claim, or it is done.
    pub(super) async fn vanish<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
        now: Timestamp,
    ) -> PipelineResult<()> {
        let work = record.work_ref();
        let cancelled = self
            .advance(record, crate::domain::WorkEvent::Cancel, now)
            .await?;
        if cancelled.is_some() || matches!(record.state(), Some(WorkState::Cancelled { .. })) {
            self.refund(&work).await?;
        }
        tracing::info!(%work, "work of a deleted avatar cancelled and forgotten");
        kind.forget(self, record).await
    }

    /// Metrics, the notice (the caller holds its claim) and the tidying. Failures here are
    /// logged: the outcome is recorded, and the sweep retries the notice and the tidying.
    pub(super) async fn after_outcome<K: PaidKind>(&self, kind: &K, record: &K::Record) {
        let Some(state) = record.state() else { return };
        let dimensions = kind.dimensions(record, state.fal_request());
        let labels = labels(&dimensions);
        match state {
            WorkState::Completed {
                submitted_at,
                completed_at,
                ..
            } => {
                crate::metrics::count(&format!("{}Completed", K::METRICS), &labels);
                crate::metrics::seconds(
                    K::DURATION_METRIC,
                    completed_at.since(*submitted_at).as_secs_f64(),
                    &labels,
                );
            }
            WorkState::Failed { reason, .. } => {
                crate::metrics::count(&format!("{}Failed", K::METRICS), &labels);
                match reason {
                    FailureReason::TimedOut => {
                        crate::metrics::count(&format!("{}TimedOut", K::METRICS), &[])
                    }
                    FailureReason::Unconfirmed => {
                        crate::metrics::count("SubmissionsUnconfirmed", &[])
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        // Boxed: delivery is the deepest future of a webhook; kept off the worker's stack.
        let latest = match Box::pin(self.settle(kind, record)).await {
            Ok(marked) => marked,
            Err(e) => {
                tracing::warn!(work = %record.work_ref(), error = %e, "not told now; the sweep will retry");
                None
            }
        };
        if let Err(e) = self.tidy(kind, latest.as_ref().unwrap_or(record)).await {
            tracing::warn!(work = %record.work_ref(), error = %e, "files not deleted now; the sweep will retry");
        }
    }
}

/// A result the record did not take: a duplicate of what it has, or one it does not wait for.
fn settled_or_not_awaited<O>(
    state: &WorkState<O>,
    work: &WorkRef,
    request: &FalRequest,
) -> crate::pipeline::Completion {
    if state.is_finished() {
        Completion::AlreadyDone
    } else {
        tracing::warn!(%work, request = %request.request_id, status = state.status().as_str(), "result the work is not waiting for; ignored");
        Completion::NotAwaited
    }
}
