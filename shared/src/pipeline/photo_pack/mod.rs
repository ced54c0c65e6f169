//! Photo packs as a kind of paid work: each picture of a pack is a record of its own (one
//! prompt, one picture, its own debit), committed with the others in one tap, launched,
//! completed, refunded and deleted by the engine like any generation. Only the telling
//! differs (`deliver.rs`): the pack's first record (its leader) sends the whole pack as one
//! album once every picture is over, and refunds, one by one, the pictures that did not come.

pub(super) mod deliver;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::engine::{FalCall, NotLaunched, PaidKind, Payload, Told};
use super::generation::{Generations, MAX_PHOTO_BYTES};
use super::{Pipeline, PipelineResult, simulation};
use crate::domain::{
    AttemptId, Credits, FailureReason, FalRequest, GeneratedImage, Generation, GenerationId,
    WorkKind, WorkRef,
};
use crate::fal::generation::{ResultImage, result_images};
use crate::ports::QueueDelay;

/// The photo pack kind: one of a pack's pictures.
pub(crate) struct PhotoPacks;

#[async_trait]
impl PaidKind for PhotoPacks {
    type Record = Generation;
    type Output = Vec<GeneratedImage>;
    type Result = Vec<ResultImage>;

    const KIND: WorkKind = WorkKind::PhotoPack;
    const METRICS: &'static str = "PhotoPacks";
    const DURATION_METRIC: &'static str = "PhotoPackDuration";

    async fn load(&self, p: &Pipeline, work: &WorkRef) -> PipelineResult<Option<Generation>> {
        let id = GenerationId::from(work.id);
        Ok(p.store
            .get_generation(work.avatar_id, id)
            .await?
            .filter(|g| g.owner == work.owner && g.kind() == WorkKind::PhotoPack))
    }

    /// Drawn from its prompt with the avatar's model, as a generation is.
    async fn prepare(
        &self,
        p: &Pipeline,
        picture: &Generation,
        attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        Generations.prepare(p, picture, attempt).await
    }

    fn timeout(&self, p: &Pipeline) -> Duration {
        p.fal_settings.generation_timeout
    }

    fn read(
        &self,
        _picture: &Generation,
        _request: &FalRequest,
        payload: Payload,
    ) -> Result<Vec<ResultImage>, FailureReason> {
        result_images(&payload.json, 1).map_err(|detail| FailureReason::ProviderError { detail })
    }

    async fn keep(
        &self,
        p: &Pipeline,
        picture: &Generation,
        images: Vec<ResultImage>,
    ) -> PipelineResult<Result<Vec<GeneratedImage>, FailureReason>> {
        Ok(Ok(p.keep_images(picture, &images, MAX_PHOTO_BYTES).await?))
    }

    async fn tell(
        &self,
        p: &Pipeline,
        picture: &Generation,
        _refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.tell_album(self, picture).await
    }

    async fn forget(&self, p: &Pipeline, picture: &Generation) -> PipelineResult<()> {
        Generations.forget(p, picture).await
    }

    fn simulated(&self, picture: &Generation, _request: &FalRequest) -> Value {
        simulation::placeholder_result(picture)
    }

    fn test_delay(&self, p: &Pipeline) -> QueueDelay {
        Generations.test_delay(p)
    }

    fn dimensions(
        &self,
        _picture: &Generation,
        request: Option<&FalRequest>,
    ) -> Vec<(&'static str, String)> {
        request
            .map(|r| vec![("Endpoint", r.endpoint.clone())])
            .unwrap_or_default()
    }
}
