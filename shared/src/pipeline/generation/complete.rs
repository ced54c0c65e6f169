//! The one completion path of a generation, for webhook, sweep and test mode. Images are
//! fetched from fal's CDN (NSFW-flagged ones are not) and kept in blob storage under the
//! avatar before the outcome is written, so whoever wins the write can deliver them (and the
//! sweep can deliver them again) without fal.ai.

use super::super::{Completion, Pipeline, PipelineResult};
use super::GenerationOutcome;
use crate::domain::{
    FailureReason, FalRequest, GeneratedImage, Generation, GenerationEvent, GenerationState,
    ImageFormat, Timestamp, blob_keys,
};
use crate::fal::generation::ResultImage;

/// Telegram takes photos of at most 10 MB.
const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

impl Pipeline {
    /// Applies the result of `request`. A generation in progress takes only its recorded
    /// request; one still `sending` (request id never recorded) takes the confirmed result
    /// the caller brings.
    pub(in crate::pipeline) async fn complete_generation(
        &self,
        generation: &Generation,
        request: &FalRequest,
        outcome: GenerationOutcome,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        match &generation.state {
            state if state.is_finished() => return Ok(Completion::AlreadyDone),
            GenerationState::InProgress {
                request: awaited, ..
            } if awaited.request_id != request.request_id => {
                tracing::warn!(generation = %generation.id, request = %request.request_id, "result for another request than the recorded one; ignored");
                return Ok(Completion::NotAwaited);
            }
            _ => {}
        }
        let event = match outcome {
            GenerationOutcome::Images(images) => {
                // Nothing is fetched for a result the generation would not take.
                let probe = GenerationEvent::Succeed {
                    request: request.clone(),
                    images: Vec::new(),
                };
                if generation.apply(probe, now).is_err() {
                    return Ok(Completion::NotAwaited);
                }
                GenerationEvent::Succeed {
                    request: request.clone(),
                    images: self.keep_images(generation, &images).await?,
                }
            }
            GenerationOutcome::Failed(reason) => GenerationEvent::Fail { reason },
        };
        self.finish_generation(generation, event, now).await
    }

    /// A generation that never reached fal.ai (refused at submit, avatar not trained), or
    /// can no longer end well.
    pub(in crate::pipeline) async fn fail_generation(
        &self,
        generation: &Generation,
        reason: FailureReason,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        self.finish_generation(generation, GenerationEvent::Fail { reason }, now)
            .await
    }

    /// Writes the outcome (which hands the notice to the writer), then delivers.
    async fn finish_generation(
        &self,
        generation: &Generation,
        event: GenerationEvent,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        let written = self
            .update_with(generation.clone(), |current| {
                current.apply(event.clone(), now).ok()
            })
            .await?;
        let Some(finished) = written else {
            return Ok(Completion::AlreadyDone);
        };
        match &finished.state {
            GenerationState::Completed { request, .. } => {
                crate::metrics::count(
                    "GenerationsCompleted",
                    &[("Endpoint", request.endpoint.as_str())],
                );
                crate::metrics::seconds(
                    "GenerationDuration",
                    now.since(finished.created_at).as_secs_f64(),
                    &[],
                );
            }
            GenerationState::Failed { reason, .. } => {
                crate::metrics::count("GenerationsFailed", &[]);
                if *reason == FailureReason::Unconfirmed {
                    crate::metrics::count("SubmissionsUnconfirmed", &[]);
                }
            }
            _ => {}
        }
        // Boxed: delivery is the deepest future of a webhook; kept off the worker's stack.
        if let Err(e) = Box::pin(self.deliver(&finished)).await {
            tracing::warn!(generation = %finished.id, error = %e, "result not delivered now; the sweep will retry");
        }
        Ok(Completion::Applied)
    }

    /// Fetches every image fal.ai did not flag and keeps it in blob storage.
    async fn keep_images(
        &self,
        generation: &Generation,
        images: &[ResultImage],
    ) -> PipelineResult<Vec<GeneratedImage>> {
        let mut kept = Vec::with_capacity(images.len());
        for (index, image) in images.iter().enumerate() {
            if image.nsfw {
                kept.push(GeneratedImage::Filtered);
                continue;
            }
            let bytes = match self.fetcher.bytes(&image.url, MAX_IMAGE_BYTES).await? {
                Ok(bytes) => bytes,
                Err(unavailable) => {
                    tracing::warn!(generation = %generation.id, index, detail = %unavailable.0, "generated image not available");
                    kept.push(GeneratedImage::Unavailable {
                        detail: unavailable.0,
                    });
                    continue;
                }
            };
            let format = match imagesize::image_type(&bytes) {
                Ok(imagesize::ImageType::Jpeg) => ImageFormat::Jpeg,
                Ok(imagesize::ImageType::Png) => ImageFormat::Png,
                Ok(imagesize::ImageType::Webp) => ImageFormat::Webp,
                _ => {
                    kept.push(GeneratedImage::Unavailable {
                        detail: "not a JPEG, PNG or WebP image".into(),
                    });
                    continue;
                }
            };
            let key = blob_keys::generated_image(
                generation.owner,
                generation.avatar_id,
                generation.id,
                index,
                format,
            );
            let reader = Box::pin(std::io::Cursor::new(bytes));
            self.blobs.put(&key, reader, format.mime_type()).await?;
            kept.push(GeneratedImage::Stored {
                key: key.as_str().to_owned(),
                width: image.width,
                height: image.height,
            });
        }
        Ok(kept)
    }
}
