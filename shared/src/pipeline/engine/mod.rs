//! The engine of paid work: one protocol for every kind (a training, a generation, and any
//! later kind), written once over [`PaidKind`], which each kind implements with only what
//! differs (its fal input and endpoint, how to read and keep its result, how to tell the
//! user). Everything else is here:
//!
//! 1. **launch** (`launch.rs`): a lease on the record (claim), the kind prepares the call, the
//!    intent to pay (`sending`) is written before fal.ai is called, the request id recorded;
//!    from `sending` on the work is never submitted again automatically;
//! 2. **complete** (`complete.rs`): the one path for webhook, sweep and test mode: what a
//!    result means for the work's state ([`crate::domain::work::acceptance`]), the kind keeps
//!    what we paid for, a conditional write hands the notice to the writer;
//! 3. **settle** (`settle.rs`): every end told once: a failure refunded first, a success
//!    delivered (the kind refunds what it could not deliver), the notice marked; the files a
//!    finished piece of work leaves behind deleted, retried by the sweep until done;
//! 4. **sweep** (`sweep.rs`): whatever a lost webhook, a crash or a failed send left behind,
//!    timeouts after asking fal.ai first.
//!
//! [`Driver`] is the engine as an object, so the queue, the webhook and the sweep reach a
//! kind's work through `kinds::driver(kind)` without naming it.

mod complete;
mod launch;
mod settle;
mod submit;
mod sweep;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::sweep::SweepReport;
use super::{JobOutcome, Pipeline, PipelineResult, Updatable};
use crate::domain::work::PaidRecord;
use crate::domain::{AttemptId, Credits, FailureReason, FalRequest, Timestamp, WorkKind, WorkRef};
use crate::fal::LogEntry;
use crate::ports::QueueDelay;

pub use complete::Completion;
pub(crate) use launch::NotLaunched;
pub(crate) use settle::Told;

/// A fal.ai call a kind has prepared: where to, and with what.
#[derive(Debug, Clone)]
pub(crate) struct FalCall {
    pub endpoint: String,
    pub input: Value,
}

/// A result fal.ai delivered (by webhook, or read by the sweep), before its kind reads it.
#[derive(Debug, Clone)]
pub(crate) struct Payload {
    pub json: Value,
    /// The body exactly as received, kept for support and re-processing.
    pub raw: String,
}

/// What the sweep learnt of running work, for its kind to show.
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    InQueue {
        position: Option<u32>,
    },
    Running {
        logs: Vec<LogEntry>,
    },
    /// Nothing to go by but the time so far (test mode).
    Elapsed,
}

/// What one kind of paid work does differently; the engine does the rest.
#[async_trait]
pub(crate) trait PaidKind: Send + Sync + 'static {
    /// The record the work lives in.
    type Record: PaidRecord<Output = Self::Output> + Updatable;
    /// What a success keeps (a model, pictures).
    type Output: Clone + Send + Sync + 'static;
    /// What fal's result says, before it is kept.
    type Result: Send + Sync + 'static;

    const KIND: WorkKind;
    /// The metrics' name: `<name>Started`, `<name>Completed`, `<name>Failed`.
    const METRICS: &'static str;
    /// Seconds from submit to result, by kind.
    const DURATION_METRIC: &'static str;

    async fn load(&self, p: &Pipeline, work: &WorkRef) -> PipelineResult<Option<Self::Record>>;

    /// The fal.ai call for a record this attempt holds the claim of.
    async fn prepare(
        &self,
        p: &Pipeline,
        record: &Self::Record,
        attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched>;

    /// How long fal.ai may take before the work is cancelled.
    fn timeout(&self, p: &Pipeline) -> Duration;

    /// What fal's result payload says.
    fn read(
        &self,
        record: &Self::Record,
        request: &FalRequest,
        payload: Payload,
    ) -> Result<Self::Result, FailureReason>;

    /// Keeps what we paid for, before anyone is told it exists. `Err(reason)` when it can
    /// never be had (fal's files gone, too big).
    async fn keep(
        &self,
        p: &Pipeline,
        record: &Self::Record,
        result: Self::Result,
    ) -> PipelineResult<Result<Self::Output, FailureReason>>;

    /// Tells the user of the outcome of a record whose notice the caller holds. `refunded`:
    /// what a failure gave back (the engine refunds it first). A success the user cannot be
    /// given is refunded by the kind (`Pipeline::refund`).
    async fn tell(
        &self,
        p: &Pipeline,
        record: &Self::Record,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told>;

    /// Deletes what the finished work leaves behind (see `PaidRecord::tidy_due`).
    async fn tidy(&self, _p: &Pipeline, _record: &Self::Record) -> PipelineResult<()> {
        Ok(())
    }

    /// Forgets a record whose avatar is gone (its files and the record).
    async fn forget(&self, p: &Pipeline, record: &Self::Record) -> PipelineResult<()>;

    /// Shows that fal.ai has it (the training's "started" message).
    async fn started(&self, _p: &Pipeline, _record: &Self::Record) -> PipelineResult<()> {
        Ok(())
    }

    /// Whether the sweep asks fal.ai for the logs of running work (to show progress).
    fn wants_logs(&self) -> bool {
        false
    }

    /// Shows progress of running work; `true` when something was shown.
    async fn progress(
        &self,
        _p: &Pipeline,
        _record: &Self::Record,
        _progress: Progress,
        _now: Timestamp,
    ) -> PipelineResult<bool> {
        Ok(false)
    }

    /// The sweep's care of a record that is not paid work (yet): an avatar being assembled.
    async fn sweep_unpaid(
        &self,
        _p: &Pipeline,
        _record: &Self::Record,
        _now: Timestamp,
        _report: &mut SweepReport,
    ) -> PipelineResult<()> {
        Ok(())
    }

    /// Test mode: what fal.ai would have returned, and after how long.
    fn simulated(&self, record: &Self::Record, request: &FalRequest) -> Value;
    fn test_delay(&self, p: &Pipeline) -> QueueDelay;

    /// The metrics' dimensions for this record (and its request, once known).
    fn dimensions(
        &self,
        record: &Self::Record,
        request: Option<&FalRequest>,
    ) -> Vec<(&'static str, String)>;
}

/// The engine for one kind, as an object: what the queue, the webhook and the sweep call.
#[async_trait]
pub(crate) trait Driver: Send + Sync {
    async fn launch(
        &self,
        p: &Pipeline,
        work: WorkRef,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome>;

    async fn complete(
        &self,
        p: &Pipeline,
        work: &WorkRef,
        request: &FalRequest,
        attempt: Option<AttemptId>,
        result: Result<Payload, FailureReason>,
        now: Timestamp,
    ) -> PipelineResult<Completion>;

    async fn finish_test(
        &self,
        p: &Pipeline,
        work: &WorkRef,
        attempt: AttemptId,
        request: &FalRequest,
        now: Timestamp,
    ) -> PipelineResult<Completion>;

    async fn sweep(
        &self,
        p: &Pipeline,
        work: &WorkRef,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()>;
}

#[async_trait]
impl<K: PaidKind> Driver for K {
    async fn launch(
        &self,
        p: &Pipeline,
        work: WorkRef,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        p.launch(self, work, now).await
    }

    async fn complete(
        &self,
        p: &Pipeline,
        work: &WorkRef,
        request: &FalRequest,
        attempt: Option<AttemptId>,
        result: Result<Payload, FailureReason>,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        p.complete(self, work, request, attempt, result, now).await
    }

    async fn finish_test(
        &self,
        p: &Pipeline,
        work: &WorkRef,
        attempt: AttemptId,
        request: &FalRequest,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        let Some(record) = self.load(p, work).await? else {
            return Ok(Completion::Gone);
        };
        let json = self.simulated(&record, request);
        let payload = Payload {
            raw: json.to_string(),
            json,
        };
        p.complete(self, work, request, Some(attempt), Ok(payload), now)
            .await
    }

    async fn sweep(
        &self,
        p: &Pipeline,
        work: &WorkRef,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        p.sweep_work(self, work, now, report).await
    }
}

/// Labels for a metric: the kind's dimensions as `(&str, &str)` pairs.
fn labels<'a>(dimensions: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    dimensions.iter().map(|(k, v)| (*k, v.as_str())).collect()
}
