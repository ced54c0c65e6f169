//! Delivering a generation's outcome. A success: the kept pictures as a photo or an album with
//! the prompt as caption (as files when Telegram refuses them as photos), and the "drawing..."
//! message edited into the summary with Upscale / Again / New prompt / Back to avatar: two
//! messages in all. What reached the user nothing of is refunded. A failure: its message, in
//! place of the "drawing..." one.

use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::super::engine::Told;
use super::super::notice::told;
use super::super::{Pipeline, PipelineResult};
use crate::domain::{Avatar, ChatId, Credits, GeneratedImage, Generation, WorkState};
use crate::ports::{BlobError, BlobKey};
use crate::telegram::client::{Picture, PictureForm, TelegramError};
use crate::telegram::screens::{self, DeliveryReport, Keyboard, Screen};
use crate::telegram::texts::{Texts, texts};

/// What became of the pictures sent to the user.
pub(in crate::pipeline) enum Sent {
    /// They reached the user (as photos, or as files).
    Delivered,
    /// Telegram will not take them, however sent, or the user blocked the bot.
    NeverDeliverable,
    /// Not now: the sweep sends them again.
    Later,
}

impl Pipeline {
    /// Tells the user the outcome of a generation whose notice the caller holds.
    pub(in crate::pipeline) async fn deliver(
        &self,
        generation: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        let Some(avatar) = self.avatar_of_pictures(generation).await? else {
            return Ok(Told::Settled);
        };
        let (chat, language) = self.audience(generation.owner).await?;
        let t = texts(language);
        let name = avatar.name.as_str();
        let keyboard = screens::after_generation(t, generation);
        match &generation.state {
            WorkState::Completed { output, .. } => {
                self.deliver_pictures(generation, output, chat, t, name, keyboard)
                    .await
            }
            WorkState::Failed { reason, .. } => {
                // In place of the "drawing..." message (or new, if that cannot be edited).
                let mut text = t.generation_failed(name, reason);
                if let Some(credits) = refunded {
                    text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
                }
                let screen = Screen::new(text, keyboard);
                let shown = self
                    .telegram
                    .show(chat, generation.status_message, &screen)
                    .await
                    .map(|_| ());
                Ok(told(shown, &format!("generation {}", generation.id)))
            }
            _ => Ok(Told::Settled),
        }
    }

    async fn deliver_pictures(
        &self,
        generation: &Generation,
        images: &[GeneratedImage],
        chat: ChatId,
        t: &'static dyn Texts,
        name: &str,
        keyboard: Keyboard,
    ) -> PipelineResult<Told> {
        let subject = format!("generation {}", generation.id);
        let (pictures, mut report) = self.pictures(images).await?;
        match self
            .send_pictures(
                chat,
                &pictures,
                generation.prompt.as_str(),
                &[PictureForm::Photo, PictureForm::File],
                &subject,
            )
            .await
        {
            Sent::Later => return Ok(Told::Later),
            Sent::Delivered => report.sent = pictures.len(),
            Sent::NeverDeliverable => report.refused = pictures.len(),
        }
        // Nothing to show for it (every picture withheld, lost or refused): paid back.
        let refunded = match report.sent {
            0 => self.refund(&generation.work()).await?,
            _ => None,
        };
        crate::metrics::counts("ImagesDelivered", report.sent as u32, &[]);
        crate::metrics::counts("ImagesFiltered", report.filtered as u32, &[]);
        let mut text = screens::generation_result(t, name, report);
        if let Some(credits) = refunded {
            text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
        }
        // In place of the "drawing..." message (new only if that cannot be edited): with the
        // pictures, a generation costs Telegram two messages.
        let summary = Screen::new(text, keyboard);
        let shown = self
            .telegram
            .show(chat, generation.status_message, &summary)
            .await
            .map(|_| ());
        if report.sent > 0 {
            // The pictures are there: a lost summary must not send them twice.
            if let Err(e) = shown {
                tracing::warn!(%subject, error = %e, "summary of the pictures not shown");
            }
            return Ok(Told::Settled);
        }
        // Nothing else reached the user: the summary is the notice.
        Ok(told(shown, &subject))
    }

    /// The living avatar a piece of picture work belongs to. Without one (deleted: what
    /// never reached fal.ai was refunded then) there is nobody to show it to, and the work
    /// is forgotten with its pictures.
    pub(in crate::pipeline) async fn avatar_of_pictures(
        &self,
        generation: &Generation,
    ) -> PipelineResult<Option<Avatar>> {
        let avatar = self
            .store
            .get_avatar(generation.owner, generation.avatar_id)
            .await?
            .filter(|a| a.deleting_since.is_none());
        if avatar.is_none() {
            super::super::pictures::forget(self, generation).await?;
        }
        Ok(avatar)
    }

    /// Sends the pictures in the first of `forms` Telegram takes them in (photos, then
    /// files when Telegram refuses them as photos).
    pub(in crate::pipeline) async fn send_pictures(
        &self,
        chat: ChatId,
        pictures: &[Picture],
        caption: &str,
        forms: &[PictureForm],
        subject: &str,
    ) -> Sent {
        if pictures.is_empty() {
            return Sent::NeverDeliverable;
        }
        for (i, form) in forms.iter().enumerate() {
            match self
                .telegram
                .send_pictures(chat, pictures, caption, *form)
                .await
            {
                Ok(()) => return Sent::Delivered,
                Err(TelegramError::Refused(refusal)) if i + 1 < forms.len() => {
                    tracing::warn!(%subject, %refusal, ?form, "Telegram refused the pictures; sending them another way");
                }
                Err(e) => return never_or_later(e, subject),
            }
        }
        Sent::NeverDeliverable
    }

    /// The kept images, read back, and what to say about the rest.
    pub(in crate::pipeline) async fn pictures(
        &self,
        images: &[GeneratedImage],
    ) -> PipelineResult<(Vec<Picture>, DeliveryReport)> {
        let mut pictures = Vec::new();
        let mut report = DeliveryReport {
            sent: 0,
            filtered: 0,
            unavailable: 0,
            refused: 0,
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
        Ok((pictures, report))
    }

    pub(in crate::pipeline) async fn show_generation_status(
        &self,
        generation: &Generation,
        text: String,
    ) {
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

fn never_or_later(e: TelegramError, subject: &str) -> Sent {
    if e.is_transient() {
        tracing::warn!(%subject, error = %e, "pictures not sent; the sweep will retry");
        Sent::Later
    } else {
        tracing::error!(%subject, error = %e, "pictures can never be delivered");
        Sent::NeverDeliverable
    }
}
