//! Generations, from the launch worker to the user's chat:
//!
//! - launch: claim the pending generation (`pending -> submitting`, conditional, with a
//!   lease), submit it to fal.ai with a webhook URL naming it, record the request id
//!   (`in_progress`); in test mode a delayed job brings placeholder images instead;
//! - complete: the one path for webhook, sweep and test mode. The images are fetched from
//!   fal.ai (NSFW-flagged ones are not), kept in blob storage under the avatar (so deleting
//!   the avatar deletes them, and a failed send can be retried without fal.ai), then the
//!   outcome is written conditionally together with the claim on the user's notice;
//! - deliver: a photo or an album with the prompt as caption, then a message with Again /
//!   New prompt / Back to avatar; marked sent. A failed send stays due for the sweep.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use url::Url;

use super::complete::Completion;
use super::{FalBackend, LAUNCH_LEASE, NOTICE_CLAIM, Pipeline, PipelineError, PipelineResult};
use crate::domain::{
    AvatarId, AvatarState, FailureReason, FalRequest, GeneratedImage, Generation, GenerationId,
    GenerationState, ImageFormat, OutcomeNotice, Timestamp, UserId, blob_keys,
};
use crate::fal::FalError;
use crate::fal::generation::{ResultImage, result_images};
use crate::jobs::Job;
use crate::ports::{BlobError, BlobKey, FalRequestOwner, FalTarget, StoreError};
use crate::telegram::client::Picture;
use crate::telegram::screens::{self, Keyboard, Screen};
use crate::telegram::texts::{DeliveryReport, texts};

use super::launch::JobOutcome;
use super::sweep::SweepReport;

/// Telegram takes photos of at most 10 MB.
const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// How a generation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationOutcome {
    Images(Vec<ResultImage>),
    Failed(FailureReason),
}

impl GenerationOutcome {
    /// From a flux-lora / ultra-finetuned result JSON.
    pub fn from_payload(payload: &Value) -> Self {
        match result_images(payload) {
            Ok(images) => GenerationOutcome::Images(images),
            Err(problem) => {
                GenerationOutcome::Failed(FailureReason::ProviderError { detail: problem })
            }
        }
    }
}

/// An image as fetched: checked to be one Telegram will show.
enum Fetched {
    Image {
        bytes: Bytes,
        format: ImageFormat,
    },
    /// Permanently not available (gone, too big, not an image): said to the user.
    Unavailable(String),
}

impl Pipeline {
    pub(super) async fn launch_generation(
        &self,
        owner: UserId,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let Some(generation) = self.store.get_generation(avatar_id, generation_id).await? else {
            tracing::info!(generation = %generation_id, "launch for a deleted generation dropped");
            return Ok(JobOutcome::Done);
        };
        let claimable = match &generation.state {
            GenerationState::Pending => true,
            GenerationState::Submitting { lease_until } => *lease_until <= now,
            _ => false,
        };
        if generation.owner != owner || !claimable {
            tracing::info!(generation = %generation_id, status = generation.state.as_str(), "generation launch not needed (duplicate or already running)");
            return Ok(JobOutcome::Done);
        }
        let Some(avatar) = self.store.get_avatar(owner, avatar_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let AvatarState::Completed { output, .. } = &avatar.state else {
            let reason = FailureReason::Rejected {
                detail: "the avatar is not trained".into(),
            };
            self.fail_generation(&generation, reason, now).await?;
            return Ok(JobOutcome::Done);
        };
        let claimed = generation.with_state(
            GenerationState::Submitting {
                lease_until: now.plus(LAUNCH_LEASE),
            },
            now,
        );
        let claimed = match self.store.update_generation(&claimed).await {
            Ok(stored) => stored,
            // Another worker claimed it first, or it is gone: nothing to do here.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(JobOutcome::Done),
            Err(e) => return Err(e.into()),
        };
        let request = self
            .generation
            .request_for(&avatar, &output.model, &claimed);
        let request_id = match &self.fal {
            FalBackend::Live(client) => {
                let webhook = self.generation_webhook_url(&claimed);
                match client
                    .submit(request.endpoint, &request.input, webhook.as_ref())
                    .await
                {
                    Ok(submitted) => submitted.request_id,
                    Err(FalError::SubmitOutcomeUnknown) => {
                        // Maybe queued: keep the claim; the webhook names the generation.
                        return Ok(JobOutcome::RetryLater("submit outcome unknown".into()));
                    }
                    Err(e) if e.is_permanent() => {
                        let reason = match e {
                            FalError::Unauthorized { .. } => FailureReason::Unauthorized,
                            other => FailureReason::Rejected {
                                detail: other.to_string(),
                            },
                        };
                        self.fail_generation(&claimed, reason, now).await?;
                        return Ok(JobOutcome::Done);
                    }
                    Err(e) => {
                        // Nothing was submitted: hand it back for the retry.
                        let released = claimed.with_state(GenerationState::Pending, now);
                        if let Err(release) = self.store.update_generation(&released).await {
                            tracing::warn!(generation = %claimed.id, error = %release, "claim not released; it lapses with its lease");
                        }
                        return Err(e.into());
                    }
                }
            }
            FalBackend::Test {
                mock_generation, ..
            } => {
                let request_id = format!("test_{}", GenerationId::new());
                let finish = Job::FinishTestGeneration {
                    owner,
                    avatar_id,
                    generation_id,
                    request_id: request_id.clone(),
                    endpoint: request.endpoint.to_owned(),
                };
                self.queue.send(&finish.to_body(), *mock_generation).await?;
                tracing::info!(generation = %generation_id, %request_id, "TEST MODE: no fal.ai call; placeholder images follow");
                request_id
            }
        };
        let request = FalRequest {
            request_id,
            endpoint: request.endpoint.to_owned(),
        };
        tracing::info!(generation = %generation_id, request = %request.request_id, endpoint = %request.endpoint, "generation submitted");
        crate::metrics::count(
            "GenerationsStarted",
            &[("Endpoint", request.endpoint.as_str())],
        );
        // Paid for from here on: failures are logged, never released for a resubmit.
        if let Err(e) = self.record_generation(&claimed, &request, now).await {
            tracing::error!(generation = %generation_id, error = %e, "submitted but not recorded; the webhook names the generation");
        }
        Ok(JobOutcome::Done)
    }

    async fn record_generation(
        &self,
        generation: &Generation,
        request: &FalRequest,
        now: Timestamp,
    ) -> PipelineResult<()> {
        self.store
            .put_fal_request(&FalRequestOwner {
                request_id: request.request_id.clone(),
                target: FalTarget::Generation {
                    owner: generation.owner,
                    avatar_id: generation.avatar_id,
                    generation_id: generation.id,
                },
                created_at: now,
            })
            .await?;
        self.update_with(generation.clone(), |current| {
            // Declines when a fast result finished it already.
            (!current.state.is_finished()).then(|| {
                current.with_state(
                    GenerationState::InProgress {
                        request: request.clone(),
                        submitted_at: now,
                    },
                    now,
                )
            })
        })
        .await?;
        Ok(())
    }

    /// The webhook URL for a generation: the route plus what names it.
    fn generation_webhook_url(&self, generation: &Generation) -> Option<Url> {
        let mut url = self.training.webhook_url.clone()?;
        url.query_pairs_mut()
            .append_pair("owner", &generation.owner.to_string())
            .append_pair("avatar", &generation.avatar_id.to_string())
            .append_pair("generation", &generation.id.to_string());
        Some(url)
    }

    pub(super) async fn finish_test_generation(
        &self,
        avatar_id: AvatarId,
        generation_id: GenerationId,
        request: FalRequest,
        now: Timestamp,
    ) -> PipelineResult<JobOutcome> {
        let Some(generation) = self.store.get_generation(avatar_id, generation_id).await? else {
            return Ok(JobOutcome::Done);
        };
        let payload = placeholder_result(&generation);
        let completion = self
            .complete_generation(
                &generation,
                &request,
                GenerationOutcome::from_payload(&payload),
                now,
            )
            .await?;
        tracing::info!(generation = %generation_id, ?completion, "TEST MODE: placeholder images delivered");
        Ok(JobOutcome::Done)
    }

    /// The one completion path for a result of `request`. Images are kept before the
    /// outcome is written, so whoever wins the write can deliver them (and the sweep can
    /// deliver them again) without fal.ai.
    pub(super) async fn complete_generation(
        &self,
        generation: &Generation,
        request: &FalRequest,
        outcome: GenerationOutcome,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        if generation.state.is_finished() {
            return Ok(Completion::AlreadyDone);
        }
        let state = match outcome {
            GenerationOutcome::Images(images) => GenerationState::Completed {
                request: request.clone(),
                images: self.keep_images(generation, &images).await?,
                completed_at: now,
            },
            GenerationOutcome::Failed(reason) => GenerationState::Failed {
                reason,
                failed_at: now,
            },
        };
        self.finish_generation(generation, state, now).await
    }

    /// A generation that never reached fal.ai (refused at submit, avatar not trained).
    async fn fail_generation(
        &self,
        generation: &Generation,
        reason: FailureReason,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        let state = GenerationState::Failed {
            reason,
            failed_at: now,
        };
        self.finish_generation(generation, state, now).await
    }

    /// Writes the outcome with the claim on its delivery, then delivers.
    async fn finish_generation(
        &self,
        generation: &Generation,
        state: GenerationState,
        now: Timestamp,
    ) -> PipelineResult<Completion> {
        let written = self
            .update_with(generation.clone(), |current| {
                (!current.state.is_finished()).then(|| Generation {
                    notice: OutcomeNotice::Due {
                        claimed_until: now.plus(NOTICE_CLAIM),
                    },
                    ..current.with_state(state.clone(), now)
                })
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
            _ => crate::metrics::count("GenerationsFailed", &[]),
        }
        if let Err(e) = self.deliver(&finished).await {
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
            match fetch_image(&image.url).await? {
                Fetched::Unavailable(detail) => {
                    tracing::warn!(generation = %generation.id, index, %detail, "generated image not available");
                    kept.push(GeneratedImage::Unavailable { detail });
                }
                Fetched::Image { bytes, format } => {
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
            }
        }
        Ok(kept)
    }

    /// Sends the result of a generation whose notice the caller holds, then marks it sent.
    /// A transient failure leaves it due: the sweep sends it once the claim lapses.
    pub(super) async fn deliver(&self, generation: &Generation) -> PipelineResult<()> {
        let Some(avatar) = self
            .store
            .get_avatar(generation.owner, generation.avatar_id)
            .await?
        else {
            return Ok(()); // Deleted with its generations: nobody to tell about what.
        };
        let (chat, language) = self.audience(generation.owner).await?;
        let t = texts(language);
        let keyboard = screens::after_generation(t, generation);
        let name = avatar.name.as_str();
        let sent = match &generation.state {
            GenerationState::Completed { images, .. } => {
                let (pictures, report) = self.pictures(images).await?;
                crate::metrics::counts("ImagesDelivered", report.sent as u32, &[]);
                crate::metrics::counts("ImagesFiltered", report.filtered as u32, &[]);
                let pictures_sent = self
                    .telegram
                    .send_pictures(chat, &pictures, generation.prompt.as_str())
                    .await;
                if pictures_sent.is_ok() {
                    self.show_generation_status(generation, t.generation_delivered(name))
                        .await;
                    let summary = Screen::new(t.generation_result(name, report), keyboard);
                    // The pictures are there: a lost summary must not send them twice.
                    if let Err(e) = self.telegram.send(chat, &summary).await {
                        tracing::warn!(generation = %generation.id, error = %e, "summary under the pictures not sent");
                    }
                }
                pictures_sent
            }
            GenerationState::Failed { reason, .. } => {
                // In place of the "drawing..." message (or new, if that cannot be edited).
                let screen = Screen::new(t.generation_failed(name, reason), keyboard);
                self.telegram
                    .show(chat, generation.status_message, &screen)
                    .await
                    .map(|_| ())
            }
            _ => return Ok(()),
        };
        if !super::notify::settles_notice(sent, &format!("generation {}", generation.id)) {
            return Ok(());
        }
        self.update_with(generation.clone(), |current| {
            (current.notice != OutcomeNotice::Sent).then(|| Generation {
                notice: OutcomeNotice::Sent,
                ..current.clone()
            })
        })
        .await?;
        tracing::info!(generation = %generation.id, status = generation.state.as_str(), "user got the result");
        Ok(())
    }

    /// The kept images, read back, and what to say about the rest.
    async fn pictures(
        &self,
        images: &[GeneratedImage],
    ) -> PipelineResult<(Vec<Picture>, DeliveryReport)> {
        let mut pictures = Vec::new();
        let mut report = DeliveryReport {
            sent: 0,
            filtered: 0,
            unavailable: 0,
        };
        for image in images {
            match image {
                GeneratedImage::Stored { key, .. } => {
                    let key = BlobKey::new(key.clone()).map_err(BlobError::from)?;
                    match self.blobs.get(&key).await {
                        Ok(mut reader) => {
                            let mut bytes = Vec::new();
                            reader
                                .read_to_end(&mut bytes)
                                .await
                                .map_err(BlobError::from)?;
                            let file_name = key.as_str().rsplit('/').next().unwrap_or("image.jpg");
                            pictures.push(Picture {
                                bytes: Bytes::from(bytes),
                                file_name: file_name.to_owned(),
                            });
                        }
                        Err(BlobError::NotFound(_)) => report.unavailable += 1,
                        Err(e) => return Err(e.into()),
                    }
                }
                GeneratedImage::Filtered => report.filtered += 1,
                GeneratedImage::Unavailable { .. } => report.unavailable += 1,
            }
        }
        report.sent = pictures.len();
        Ok((pictures, report))
    }

    async fn show_generation_status(&self, generation: &Generation, text: String) {
        if let Some(at) = generation.status_message
            && let Err(e) = self
                .telegram
                .edit(at, &Screen::new(text, Keyboard::default()))
                .await
        {
            tracing::info!(generation = %generation.id, error = %e, "status message not updated");
        }
    }

    /// For the sweep: puts one in-flight generation right.
    pub(super) async fn sweep_generation(
        &self,
        generation: &Generation,
        now: Timestamp,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        match &generation.state {
            GenerationState::Pending => self.relaunch_generation(generation, report).await,
            GenerationState::Submitting { lease_until } if *lease_until <= now => {
                self.relaunch_generation(generation, report).await
            }
            GenerationState::Submitting { .. } => Ok(()),
            GenerationState::InProgress {
                request,
                submitted_at,
            } => {
                if now.since(*submitted_at) > self.fal_settings.generation_timeout {
                    if let FalBackend::Live(client) = &self.fal
                        && let Err(e) = client.cancel(&request.endpoint, &request.request_id).await
                    {
                        tracing::warn!(generation = %generation.id, error = %e, "cancel at fal.ai failed; failing the generation anyway");
                    }
                    self.complete_generation(
                        generation,
                        request,
                        GenerationOutcome::Failed(FailureReason::TimedOut),
                        now,
                    )
                    .await?;
                    report.timed_out += 1;
                    return Ok(());
                }
                let FalBackend::Live(client) = &self.fal else {
                    return Ok(()); // Test mode: the placeholder job is on its way.
                };
                let outcome = match client
                    .status(&request.endpoint, &request.request_id, false)
                    .await
                {
                    Ok(crate::fal::QueueStatus::Completed { error: None, .. }) => {
                        let raw = client
                            .result(&request.endpoint, &request.request_id)
                            .await?;
                        match serde_json::from_str::<Value>(&raw) {
                            Ok(payload) => GenerationOutcome::from_payload(&payload),
                            Err(e) => GenerationOutcome::Failed(FailureReason::ProviderError {
                                detail: format!("unreadable result: {e}"),
                            }),
                        }
                    }
                    Ok(crate::fal::QueueStatus::Completed {
                        error: Some(detail),
                        ..
                    }) => GenerationOutcome::Failed(FailureReason::ProviderError { detail }),
                    Ok(_) => return Ok(()), // Still queued or running.
                    Err(FalError::NotFound) => {
                        GenerationOutcome::Failed(FailureReason::ProviderError {
                            detail: "fal.ai no longer knows this request".into(),
                        })
                    }
                    Err(e) => return Err(e.into()),
                };
                let failed = matches!(outcome, GenerationOutcome::Failed(_));
                self.complete_generation(generation, request, outcome, now)
                    .await?;
                tracing::info!(generation = %generation.id, "sweep recovered a finished generation");
                if failed {
                    report.failed += 1;
                } else {
                    report.completed += 1;
                }
                Ok(())
            }
            GenerationState::Completed { .. } | GenerationState::Failed { .. } => {
                let OutcomeNotice::Due { claimed_until } = generation.notice else {
                    return Ok(());
                };
                if claimed_until > now {
                    return Ok(());
                }
                let claimed = Generation {
                    notice: OutcomeNotice::Due {
                        claimed_until: now.plus(NOTICE_CLAIM),
                    },
                    ..generation.clone()
                };
                let claimed = match self.store.update_generation(&claimed).await {
                    Ok(stored) => stored,
                    Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(()),
                    Err(e) => return Err(e.into()),
                };
                self.deliver(&claimed).await?;
                report.notices_sent += 1;
                Ok(())
            }
        }
    }

    async fn relaunch_generation(
        &self,
        generation: &Generation,
        report: &mut SweepReport,
    ) -> PipelineResult<()> {
        let job = Job::LaunchGeneration {
            owner: generation.owner,
            avatar_id: generation.avatar_id,
            generation_id: generation.id,
        };
        self.queue
            .send(&job.to_body(), crate::ports::QueueDelay::NONE)
            .await?;
        tracing::info!(generation = %generation.id, status = generation.state.as_str(), "generation launch sent again");
        report.relaunched += 1;
        Ok(())
    }
}

/// One shared client for fetching results: connection reuse across invocations.
fn http() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a rustls client with timeouts always builds")
    })
}

/// Fetches an image named by fal.ai: an https URL on its CDN, or a `data:` URI. Network
/// trouble and 5xx are errors (retried later); anything that will not get better is
/// `Unavailable`.
async fn fetch_image(url: &str) -> PipelineResult<Fetched> {
    let bytes = if let Some(data) = url.strip_prefix("data:") {
        let Some((_, encoded)) = data.split_once(";base64,") else {
            return Ok(Fetched::Unavailable("a data URI that is not base64".into()));
        };
        match base64::engine::general_purpose::STANDARD.decode(encoded) {
            Ok(bytes) => Bytes::from(bytes),
            Err(e) => return Ok(Fetched::Unavailable(format!("bad base64: {e}"))),
        }
    } else {
        let response = http()
            .get(url)
            .send()
            .await
            .map_err(|e| PipelineError::ImageFetch(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(PipelineError::ImageFetch(format!(
                "image host answered {status}"
            )));
        }
        if !status.is_success() {
            return Ok(Fetched::Unavailable(format!(
                "image host answered {status}"
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_IMAGE_BYTES as u64)
        {
            return Ok(Fetched::Unavailable("larger than Telegram takes".into()));
        }
        response
            .bytes()
            .await
            .map_err(|e| PipelineError::ImageFetch(e.without_url().to_string()))?
    };
    if bytes.len() > MAX_IMAGE_BYTES {
        return Ok(Fetched::Unavailable("larger than Telegram takes".into()));
    }
    let format = match imagesize::image_type(&bytes) {
        Ok(imagesize::ImageType::Jpeg) => ImageFormat::Jpeg,
        Ok(imagesize::ImageType::Png) => ImageFormat::Png,
        Ok(imagesize::ImageType::Webp) => ImageFormat::Webp,
        _ => return Ok(Fetched::Unavailable("not a JPEG, PNG or WebP image".into())),
    };
    Ok(Fetched::Image { bytes, format })
}

/// Test mode's result: what fal.ai returns, with placeholder JPEGs as data URIs (as fal does
/// in sync mode), sized to the requested aspect ratio.
fn placeholder_result(generation: &Generation) -> Value {
    let (w, h) = generation.aspect_ratio.parts();
    let (width, height) = if w >= h {
        (768, 768 * h / w)
    } else {
        (768 * w / h, 768)
    };
    let seed = generation.id.to_bytes();
    let images: Vec<Value> = (0..generation.num_images.get())
        .map(|i| {
            let jpeg = placeholder_jpeg(
                width,
                height,
                [seed[0], seed[1].wrapping_add(i * 60), seed[2]],
            );
            json!({
                "url": format!(
                    "data:image/jpeg;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(jpeg)
                ),
                "width": width,
                "height": height,
                "content_type": "image/jpeg"
            })
        })
        .collect();
    json!({
        "images": images,
        "timings": {"inference": 0.0},
        "seed": u32::from_be_bytes([seed[12], seed[13], seed[14], seed[15]]),
        "has_nsfw_concepts": vec![false; usize::from(generation.num_images.get())],
        "prompt": generation.prompt.as_str(),
    })
}

/// A diagonal gradient between two colours taken from `tint`.
fn placeholder_jpeg(width: u32, height: u32, tint: [u8; 3]) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            let f = (x + y) as f32 / (width + height) as f32;
            for (c, t) in tint.iter().enumerate() {
                let other = 255 - *t / 2 - (c as u8) * 20;
                pixels.push((*t as f32 * (1.0 - f) + other as f32 * f) as u8);
            }
        }
    }
    let mut jpeg = Vec::new();
    jpeg_encoder::Encoder::new(&mut jpeg, 80)
        .encode(
            &pixels,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encoding a small in-memory image cannot fail");
    jpeg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AspectRatio, Avatar, AvatarKind, AvatarName, Gender, GenerationDefaults, ImageCount,
        Preset, Prompt,
    };

    #[tokio::test]
    async fn placeholders_are_real_jpegs_of_the_requested_shape() {
        let avatar = Avatar::draft(
            UserId(1),
            AvatarKind::Portrait,
            Gender::Male,
            AvatarName::parse("A").unwrap(),
            Preset::Fast,
            Timestamp(0),
        );
        let generation = Generation::pending(
            &avatar,
            Prompt::parse("p").unwrap(),
            None,
            GenerationDefaults {
                aspect_ratio: AspectRatio::Portrait9x16,
                num_images: ImageCount::try_from(3).unwrap(),
            },
            Timestamp(0),
        );
        let payload = placeholder_result(&generation);
        let GenerationOutcome::Images(images) = GenerationOutcome::from_payload(&payload) else {
            panic!("placeholder result must parse");
        };
        assert_eq!(images.len(), 3);
        for image in images {
            let Fetched::Image { bytes, format } = fetch_image(&image.url).await.unwrap() else {
                panic!("placeholder must be fetchable");
            };
            assert_eq!(format, ImageFormat::Jpeg);
            let size = imagesize::blob_size(&bytes).unwrap();
            assert_eq!((size.width, size.height), (432, 768));
        }
        assert!(matches!(
            fetch_image("data:text/plain,hello").await.unwrap(),
            Fetched::Unavailable(_)
        ));
        assert!(matches!(
            fetch_image("data:image/png;base64,aGVsbG8=").await.unwrap(),
            Fetched::Unavailable(_)
        ));
    }
}
