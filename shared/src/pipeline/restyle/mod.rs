//! Restyles as a kind of paid work: the user's own photo (kept under the avatar's photos
//! while the work runs, `blob_keys::restyle_source`) is redrawn by the avatar's LoRA on
//! `fal-ai/flux-lora/image-to-image`; the picture is kept and delivered as a generation's
//! are, and the photo is deleted once the restyle is over (retried by the sweep until done).
//! Its record is a generation's (`Order::Restyle`); the engine does the rest.

use async_trait::async_trait;

use super::engine::{FalCall, NotLaunched, Told};
use super::pictures::PictureKind;
use super::{Pipeline, PipelineError, PipelineResult};
use crate::domain::{AttemptId, Credits, FailureReason, Generation, WorkKind};
use crate::ports::BlobError;

/// The restyle kind.
pub(crate) struct Restyles;

#[async_trait]
impl PictureKind for Restyles {
    const KIND: WorkKind = WorkKind::Restyle;
    const METRICS: &'static str = "Restyles";
    const DURATION_METRIC: &'static str = "RestyleDuration";

    async fn prepare(
        &self,
        p: &Pipeline,
        restyle: &Generation,
        _attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        let (avatar, model) = p.model_of(restyle).await?;
        let gone = || {
            NotLaunched::Permanent(FailureReason::NotStarted {
                detail: "the photo to redraw is gone".into(),
            })
        };
        let Some(source) = restyle.restyle_source() else {
            return Err(gone());
        };
        let file_name = source.as_str().rsplit('/').next().unwrap_or("photo.jpg");
        let mime = match file_name.rsplit('.').next() {
            Some("png") => "image/png",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        };
        if p.blobs
            .size(&source)
            .await
            .map_err(|e| NotLaunched::Transient(e.into()))?
            .is_none()
        {
            return Err(gone());
        }
        let url = match p
            .url_for_fal(&source, file_name, mime, p.fal_settings.model_url_ttl)
            .await
        {
            Ok(url) => url,
            Err(PipelineError::Blob(BlobError::NotFound(_))) => return Err(gone()),
            Err(e) => return Err(NotLaunched::Transient(e)),
        };
        let Some(request) =
            p.generation
                .restyle_request_for(&avatar, &model, restyle, url.as_str())
        else {
            return Err(NotLaunched::Permanent(FailureReason::Rejected {
                detail: "this avatar's model cannot redraw photos".into(),
            }));
        };
        Ok(FalCall {
            endpoint: request.endpoint.to_owned(),
            input: request.input,
        })
    }

    async fn tell(
        &self,
        p: &Pipeline,
        restyle: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.deliver(restyle, refunded).await
    }

    /// The user's photo goes as soon as the restyle is over.
    async fn tidy(&self, p: &Pipeline, restyle: &Generation) -> PipelineResult<()> {
        if let Some(source) = restyle.restyle_source() {
            p.blobs.delete(&source).await?;
        }
        Ok(())
    }
}
