//! Delivering a generation's outcome: a photo or an album with the prompt as caption, then
//! a message with Again / New prompt / Back to avatar; or the failure, in place of the
//! "drawing..." message. Marked sent; a failed send stays due for the sweep.

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::super::notice::settles_notice;
use super::super::{Pipeline, PipelineResult};
use crate::domain::{GeneratedImage, Generation, GenerationState, NoticeEvent, Timestamp, Work};
use crate::ports::{BlobError, BlobKey};
use crate::telegram::client::Picture;
use crate::telegram::screens::{self, DeliveryReport, Keyboard, Screen};
use crate::telegram::texts::texts;

impl Pipeline {
    /// Sends the result of a generation whose notice the caller holds, then marks it sent.
    /// A transient failure leaves it due: the sweep sends it once the claim lapses.
    pub(in crate::pipeline) async fn deliver(&self, generation: &Generation) -> PipelineResult<()> {
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
        let work = Work::Generation(generation.id);
        let sent = match &generation.state {
            GenerationState::Completed { images, .. } => {
                let (pictures, report) = self.pictures(images).await?;
                // Nothing to show for it (every picture withheld or lost): paid back.
                let refunded = match report.sent {
                    0 => self.refund(generation.owner, work).await?,
                    _ => None,
                };
                crate::metrics::counts("ImagesDelivered", report.sent as u32, &[]);
                crate::metrics::counts("ImagesFiltered", report.filtered as u32, &[]);
                let pictures_sent = self
                    .telegram
                    .send_pictures(chat, &pictures, generation.prompt.as_str())
                    .await;
                if pictures_sent.is_ok() {
                    self.show_generation_status(generation, t.generation_delivered(name))
                        .await;
                    let mut text = screens::generation_result(t, name, report);
                    if let Some(credits) = refunded {
                        text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
                    }
                    let summary = Screen::new(text, keyboard);
                    // The pictures are there: a lost summary must not send them twice.
                    if let Err(e) = self.telegram.send(chat, &summary).await {
                        tracing::warn!(generation = %generation.id, error = %e, "summary under the pictures not sent");
                    }
                }
                pictures_sent
            }
            GenerationState::Failed { reason, .. } => {
                // In place of the "drawing..." message (or new, if that cannot be edited).
                let mut text = t.generation_failed(name, reason);
                if let Some(credits) = self.refund(generation.owner, work).await? {
                    text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
                }
                let screen = Screen::new(text, keyboard);
                self.telegram
                    .show(chat, generation.status_message, &screen)
                    .await
                    .map(|_| ())
            }
            _ => return Ok(()),
        };
        if !settles_notice(sent, &format!("generation {}", generation.id)) {
            return Ok(());
        }
        let now = Timestamp::now();
        self.update_persistently(generation.clone(), |current| {
            current.apply_notice(NoticeEvent::Sent, now)
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
}
