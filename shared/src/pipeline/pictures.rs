//! What every kind of picture work shares (a generation, a restyle, a photo pack's picture, a
//! first look): its record is a generation's under the avatar, one fal.ai request draws its
//! pictures, they are fetched and kept under the record's prefix before anyone is told, and
//! forgetting it deletes them with the record. A [`PictureKind`] says only how it calls fal.ai
//! and how it tells the user; it is then a [`PaidKind`] like any other. (An upscale reads one
//! file rather than pictures, so it is a `PaidKind` of its own.)

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::engine::{FalCall, NotLaunched, PaidKind, Payload, Told};
use super::{FalBackend, Pipeline, PipelineResult, simulation};
use crate::domain::{
    AttemptId, Credits, FailureReason, FalRequest, GeneratedImage, Generation, GenerationId,
    WorkKind, WorkRef, blob_keys,
};
use crate::fal::generation::{ResultImage, result_images};
use crate::ports::QueueDelay;

/// Telegram takes photos of at most 10 MB.
pub(in crate::pipeline) const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// A kind of picture work: what it does differently from the others.
#[async_trait]
pub(crate) trait PictureKind: Send + Sync + 'static {
    const KIND: WorkKind;
    /// The metrics' name: `<name>Started`, `<name>Completed`, `<name>Failed`.
    const METRICS: &'static str;
    const DURATION_METRIC: &'static str;

    /// The fal.ai call for a record this attempt holds the claim of.
    async fn prepare(
        &self,
        p: &Pipeline,
        record: &Generation,
        attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched>;

    /// Tells the user of the outcome (the caller holds the notice).
    async fn tell(
        &self,
        p: &Pipeline,
        record: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told>;

    /// Deletes the user's input the work kept while it ran (a restyle's photo).
    async fn tidy(&self, _p: &Pipeline, _record: &Generation) -> PipelineResult<()> {
        Ok(())
    }
}

/// Forgets picture work whose avatar is gone: its pictures, then the record.
pub(crate) async fn forget(p: &Pipeline, record: &Generation) -> PipelineResult<()> {
    if let Some(source) = record.restyle_source() {
        p.blobs.delete(&source).await?;
    }
    let prefix = blob_keys::generation_prefix(record.owner, record.avatar_id, record.id);
    p.blobs.delete_prefixes(&[prefix]).await?;
    Ok(p.store
        .delete_generation(record.owner, record.avatar_id, record.id)
        .await?)
}

/// How long test mode takes to "draw" pictures.
pub(crate) fn test_delay(p: &Pipeline) -> QueueDelay {
    match &p.fal {
        FalBackend::Test {
            mock_generation, ..
        } => *mock_generation,
        FalBackend::Live(_) => QueueDelay::NONE,
    }
}

/// The endpoint a picture request went to, as the metrics' dimension.
pub(crate) fn endpoint_dimension(request: Option<&FalRequest>) -> Vec<(&'static str, String)> {
    request
        .map(|r| vec![("Endpoint", r.endpoint.clone())])
        .unwrap_or_default()
}

#[async_trait]
impl<K: PictureKind> PaidKind for K {
    type Record = Generation;
    type Output = Vec<GeneratedImage>;
    type Result = Vec<ResultImage>;

    const KIND: WorkKind = <K as PictureKind>::KIND;
    const METRICS: &'static str = <K as PictureKind>::METRICS;
    const DURATION_METRIC: &'static str = <K as PictureKind>::DURATION_METRIC;

    async fn load(&self, p: &Pipeline, work: &WorkRef) -> PipelineResult<Option<Generation>> {
        let id = GenerationId::from(work.id);
        Ok(p.store
            .get_generation(work.avatar_id, id)
            .await?
            .filter(|g| g.owner == work.owner && g.kind() == <K as PictureKind>::KIND))
    }

    async fn prepare(
        &self,
        p: &Pipeline,
        record: &Generation,
        attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        PictureKind::prepare(self, p, record, attempt).await
    }

    fn timeout(&self, p: &Pipeline) -> Duration {
        p.fal_settings.generation_timeout
    }

    /// At most as many pictures as were asked for.
    fn read(
        &self,
        record: &Generation,
        _request: &FalRequest,
        payload: Payload,
    ) -> Result<Vec<ResultImage>, FailureReason> {
        result_images(&payload.json, usize::from(record.num_images.get()))
            .map_err(|detail| FailureReason::ProviderError { detail })
    }

    async fn keep(
        &self,
        p: &Pipeline,
        record: &Generation,
        images: Vec<ResultImage>,
    ) -> PipelineResult<Result<Vec<GeneratedImage>, FailureReason>> {
        Ok(Ok(p.keep_images(record, &images, MAX_PHOTO_BYTES).await?))
    }

    async fn tell(
        &self,
        p: &Pipeline,
        record: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        PictureKind::tell(self, p, record, refunded).await
    }

    async fn tidy(&self, p: &Pipeline, record: &Generation) -> PipelineResult<()> {
        PictureKind::tidy(self, p, record).await
    }

    async fn forget(&self, p: &Pipeline, record: &Generation) -> PipelineResult<()> {
        forget(p, record).await
    }

    fn simulated(&self, record: &Generation, _request: &FalRequest) -> Value {
        simulation::placeholder_result(record)
    }

    fn test_delay(&self, p: &Pipeline) -> QueueDelay {
        test_delay(p)
    }

    fn dimensions(
        &self,
        _record: &Generation,
        request: Option<&FalRequest>,
    ) -> Vec<(&'static str, String)> {
        endpoint_dimension(request)
    }
}
