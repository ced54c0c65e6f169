//! Upscales as a kind of paid work: a kept picture of a finished generation, presigned afresh
//! for the upscaler (`fal/upscale.rs`), comes back bigger, is kept like a generation's
//! pictures (up to Telegram's limit for files) and is sent as a file, so nothing is
//! recompressed. Its record is a generation's (`Order::Upscale`) under the same avatar; the
//! engine does the rest.

mod deliver;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::engine::{FalCall, NotLaunched, PaidKind, Payload, Told};
use super::pictures;
use super::{Pipeline, PipelineError, PipelineResult, simulation};
use crate::domain::{
    AttemptId, Credits, FailureReason, FalRequest, GeneratedImage, Generation, GenerationId, Order,
    WorkKind, WorkRef,
};
use crate::fal::generation::ResultImage;
use crate::fal::upscale::result_image;
use crate::ports::{BlobError, BlobKey, QueueDelay};

/// Telegram takes files of at most 50 MB from bots; kept under it with room for the upload.
const MAX_FILE_BYTES: usize = 48 * 1024 * 1024;

/// The upscale kind.
pub(crate) struct Upscales;

#[async_trait]
impl PaidKind for Upscales {
    type Record = Generation;
    type Output = Vec<GeneratedImage>;
    type Result = ResultImage;

    const KIND: WorkKind = WorkKind::Upscale;
    const METRICS: &'static str = "Upscales";
    const DURATION_METRIC: &'static str = "UpscaleDuration";

    async fn load(&self, p: &Pipeline, work: &WorkRef) -> PipelineResult<Option<Generation>> {
        let id = GenerationId::from(work.id);
        Ok(p.store
            .get_generation(work.avatar_id, id)
            .await?
            .filter(|g| g.owner == work.owner && g.kind() == WorkKind::Upscale))
    }

    async fn prepare(
        &self,
        p: &Pipeline,
        upscale: &Generation,
        _attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        let Order::Upscale {
            of,
            picture,
            factor,
        } = upscale.order
        else {
            return Err(NotLaunched::Permanent(FailureReason::NotStarted {
                detail: "not an upscale".into(),
            }));
        };
        let avatar = p
            .store
            .get_avatar(upscale.owner, upscale.avatar_id)
            .await
            .map_err(PipelineError::from)?;
        if avatar.filter(|a| a.deleting_since.is_none()).is_none() {
            return Err(NotLaunched::Vanished);
        }
        let source = p
            .store
            .get_generation(upscale.avatar_id, of)
            .await
            .map_err(PipelineError::from)?
            .filter(|g| g.owner == upscale.owner);
        let gone = || {
            NotLaunched::Permanent(FailureReason::NotStarted {
                detail: "the picture to upscale is gone".into(),
            })
        };
        let Some(source) = source else {
            return Err(gone());
        };
        let Some(kept) = source.kept_picture(picture) else {
            return Err(gone());
        };
        let key = BlobKey::new(kept.key.to_owned())
            .map_err(|e| NotLaunched::Transient(PipelineError::Blob(BlobError::from(e))))?;
        let file_name = key.as_str().rsplit('/').next().unwrap_or("picture.jpg");
        let mime = match file_name.rsplit('.').next() {
            Some("png") => "image/png",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        };
        let url = match p
            .url_for_fal(&key, file_name, mime, p.fal_settings.model_url_ttl)
            .await
        {
            Ok(url) => url,
            Err(PipelineError::Blob(BlobError::NotFound(_))) => return Err(gone()),
            Err(e) => return Err(NotLaunched::Transient(e)),
        };
        let upscaler = p.generation.upscale.upscaler;
        Ok(FalCall {
            endpoint: upscaler.endpoint().to_owned(),
            input: upscaler.input(url.as_str(), factor),
        })
    }

    fn timeout(&self, p: &Pipeline) -> Duration {
        p.fal_settings.generation_timeout
    }

    fn read(
        &self,
        _upscale: &Generation,
        _request: &FalRequest,
        payload: Payload,
    ) -> Result<ResultImage, FailureReason> {
        result_image(&payload.json).map_err(|detail| FailureReason::ProviderError { detail })
    }

    async fn keep(
        &self,
        p: &Pipeline,
        upscale: &Generation,
        image: ResultImage,
    ) -> PipelineResult<Result<Vec<GeneratedImage>, FailureReason>> {
        Ok(Ok(p.keep_images(upscale, &[image], MAX_FILE_BYTES).await?))
    }

    async fn tell(
        &self,
        p: &Pipeline,
        upscale: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.deliver_upscale(upscale, refunded).await
    }

    async fn forget(&self, p: &Pipeline, upscale: &Generation) -> PipelineResult<()> {
        pictures::forget(p, upscale).await
    }

    fn simulated(&self, upscale: &Generation, _request: &FalRequest) -> Value {
        match upscale.order {
            Order::Upscale { factor, .. } => simulation::upscale_result(upscale, factor),
            _ => simulation::placeholder_result(upscale),
        }
    }

    fn test_delay(&self, p: &Pipeline) -> QueueDelay {
        pictures::test_delay(p)
    }

    fn dimensions(
        &self,
        _upscale: &Generation,
        request: Option<&FalRequest>,
    ) -> Vec<(&'static str, String)> {
        request
            .map(|r| vec![("Endpoint", r.endpoint.clone())])
            .unwrap_or_default()
    }
}
