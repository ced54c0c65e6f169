//! Trainings as a kind of paid work: the archive of the avatar's photos is what fal.ai gets
//! (`archive.rs`), the LoRA it returns is copied into our bucket before anyone is told
//! (`model.rs`), the user sees the start, progress and outcome (`notify.rs`), and an avatar
//! never sent to training is removed after a week (`abandoned.rs`). The engine does the rest.

mod abandoned;
mod archive;
mod model;
mod notify;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::engine::{FalCall, NotLaunched, PaidKind, Payload, Progress, Told};
use super::simulation;
use super::sweep::SweepReport;
use super::{Pipeline, PipelineResult};
use crate::domain::{
    AttemptId, Avatar, Credits, FailureReason, FalRequest, Timestamp, TrainedModel, TrainingOutput,
    WorkKind, WorkRef, blob_keys,
};
use crate::ports::QueueDelay;

/// What a trainer's result names: the model (on fal's CDN) and the payload as received.
pub(crate) struct Trained {
    model: TrainedModel,
    raw: String,
}

/// The training kind.
pub(crate) struct Trainings;

#[async_trait]
impl PaidKind for Trainings {
    type Record = Avatar;
    type Output = TrainingOutput;
    type Result = Trained;

    const KIND: WorkKind = WorkKind::Training;
    const METRICS: &'static str = "Trainings";
    const DURATION_METRIC: &'static str = "TrainingDuration";

    async fn load(&self, p: &Pipeline, work: &WorkRef) -> PipelineResult<Option<Avatar>> {
        Ok(p.store.get_avatar(work.owner, work.avatar_id).await?)
    }

    async fn prepare(
        &self,
        p: &Pipeline,
        avatar: &Avatar,
        attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        let archive_url = p.archive(avatar, attempt).await?;
        let request = p.training.request_for(avatar, &archive_url);
        Ok(FalCall {
            endpoint: request.endpoint.to_owned(),
            input: request.input,
        })
    }

    fn timeout(&self, p: &Pipeline) -> Duration {
        p.fal_settings.training_timeout
    }

    fn read(
        &self,
        _avatar: &Avatar,
        request: &FalRequest,
        payload: Payload,
    ) -> Result<Trained, FailureReason> {
        crate::fal::training::trained_model(&request.endpoint, &payload.json)
            .map(|model| Trained {
                model,
                raw: payload.raw,
            })
            .map_err(|detail| FailureReason::ProviderError { detail })
    }

    async fn keep(
        &self,
        p: &Pipeline,
        avatar: &Avatar,
        trained: Trained,
    ) -> PipelineResult<Result<TrainingOutput, FailureReason>> {
        p.keep_model(avatar, trained.model, trained.raw).await
    }

    async fn tell(
        &self,
        p: &Pipeline,
        avatar: &Avatar,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.tell_training_outcome(avatar, refunded).await
    }

    async fn tidy(&self, p: &Pipeline, avatar: &Avatar) -> PipelineResult<()> {
        p.delete_training_files(avatar).await
    }

    async fn forget(&self, p: &Pipeline, avatar: &Avatar) -> PipelineResult<()> {
        p.blobs
            .delete_prefixes(&blob_keys::avatar_prefixes(avatar.owner, avatar.id))
            .await?;
        Ok(p.store.delete_avatar(avatar.owner, avatar.id).await?)
    }

    async fn started(&self, p: &Pipeline, avatar: &Avatar) -> PipelineResult<()> {
        p.announce_start(avatar).await
    }

    fn wants_logs(&self) -> bool {
        true
    }

    async fn progress(
        &self,
        p: &Pipeline,
        avatar: &Avatar,
        progress: Progress,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        p.show_progress(avatar, progress, now).await
    }

    async fn sweep_unpaid(
        &self,
        p: &Pipeline,
        avatar: &Avatar,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        if p.remove_if_abandoned(avatar, now).await? {
            report.abandoned_removed += 1;
        }
        Ok(())
    }

    fn simulated(&self, _avatar: &Avatar, request: &FalRequest) -> Value {
        simulation::training_result(&request.request_id, &request.endpoint)
    }

    fn test_delay(&self, p: &Pipeline) -> QueueDelay {
        match &p.fal {
            super::FalBackend::Test { mock_duration, .. } => *mock_duration,
            super::FalBackend::Live(_) => QueueDelay::NONE,
        }
    }

    fn dimensions(
        &self,
        avatar: &Avatar,
        _request: Option<&FalRequest>,
    ) -> Vec<(&'static str, String)> {
        vec![("Kind", avatar.kind.as_str().to_owned())]
    }
}
