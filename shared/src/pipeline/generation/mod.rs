//! Generations as a kind of paid work: fal.ai draws with a fresh presigned URL of our copy of
//! the avatar's LoRA (`request.rs`), the pictures it returns are fetched and kept under the
//! avatar before anyone is told (`keep.rs`), then sent (`deliver.rs`). The engine does the
//! rest.

mod deliver;
mod keep;
mod request;

pub(super) use deliver::Sent;
pub(super) use keep::MAX_PHOTO_BYTES;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::engine::{FalCall, NotLaunched, PaidKind, Payload, Told};
use super::simulation;
use super::{Pipeline, PipelineResult};
use crate::domain::{
    AttemptId, Credits, FailureReason, FalRequest, GeneratedImage, Generation, GenerationId,
    WorkKind, WorkRef, blob_keys,
};
use crate::fal::generation::{ResultImage, result_images};
use crate::ports::QueueDelay;

/// The generation kind.
pub(crate) struct Generations;

#[async_trait]
impl PaidKind for Generations {
    type Record = Generation;
    type Output = Vec<GeneratedImage>;
    type Result = Vec<ResultImage>;

    const KIND: WorkKind = WorkKind::Generation;
    const METRICS: &'static str = "Generations";
    const DURATION_METRIC: &'static str = "GenerationDuration";

    async fn load(&self, p: &Pipeline, work: &WorkRef) -> PipelineResult<Option<Generation>> {
        let id = GenerationId::from(work.id);
        Ok(p.store
            .get_generation(work.avatar_id, id)
            .await?
            .filter(|g| g.owner == work.owner && g.kind() == WorkKind::Generation))
    }

    async fn prepare(
        &self,
        p: &Pipeline,
        generation: &Generation,
        _attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        p.generation_call(generation).await
    }

    fn timeout(&self, p: &Pipeline) -> Duration {
        p.fal_settings.generation_timeout
    }

    /// At most as many pictures as were asked for.
    fn read(
        &self,
        generation: &Generation,
        _request: &FalRequest,
        payload: Payload,
    ) -> Result<Vec<ResultImage>, FailureReason> {
        result_images(&payload.json, usize::from(generation.num_images.get()))
            .map_err(|detail| FailureReason::ProviderError { detail })
    }

    async fn keep(
        &self,
        p: &Pipeline,
        generation: &Generation,
        images: Vec<ResultImage>,
    ) -> PipelineResult<Result<Vec<GeneratedImage>, FailureReason>> {
        Ok(Ok(p
            .keep_images(generation, &images, keep::MAX_PHOTO_BYTES)
            .await?))
    }

    async fn tell(
        &self,
        p: &Pipeline,
        generation: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.deliver(generation, refunded).await
    }

    async fn forget(&self, p: &Pipeline, generation: &Generation) -> PipelineResult<()> {
        let prefix =
            blob_keys::generation_prefix(generation.owner, generation.avatar_id, generation.id);
        p.blobs.delete_prefixes(&[prefix]).await?;
        Ok(p.store
            .delete_generation(generation.owner, generation.avatar_id, generation.id)
            .await?)
    }

    fn simulated(&self, generation: &Generation, _request: &FalRequest) -> Value {
        simulation::placeholder_result(generation)
    }

    fn test_delay(&self, p: &Pipeline) -> QueueDelay {
        match &p.fal {
            super::FalBackend::Test {
                mock_generation, ..
            } => *mock_generation,
            super::FalBackend::Live(_) => QueueDelay::NONE,
        }
    }

    fn dimensions(
        &self,
        _generation: &Generation,
        request: Option<&FalRequest>,
    ) -> Vec<(&'static str, String)> {
        request
            .map(|r| vec![("Endpoint", r.endpoint.clone())])
            .unwrap_or_default()
    }
}
