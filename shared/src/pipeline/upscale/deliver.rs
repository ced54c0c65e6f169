//! Delivering an upscale: the bigger picture as a file (no recompression), captioned with its
//! factor and prompt, and the "upscaling..." message edited to say it came; a file Telegram
//! will not take is refunded. A failure: its message in place of the "upscaling..." one.

use super::super::engine::Told;
use super::super::generation::Sent;
use super::super::notice::told;
use super::super::{Pipeline, PipelineResult};
use crate::domain::{Credits, Generation, Order, UpscaleFactor, WorkState};
use crate::telegram::client::PictureForm;
use crate::telegram::screens::{self, Screen};
use crate::telegram::texts::texts;

impl Pipeline {
    /// Tells the user the outcome of an upscale whose notice the caller holds.
    pub(super) async fn deliver_upscale(
        &self,
        upscale: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        let Some(avatar) = self.avatar_of_pictures(upscale).await? else {
            return Ok(Told::Settled);
        };
        let (chat, language) = self.audience(upscale.owner).await?;
        let t = texts(language);
        let name = avatar.name.as_str();
        let factor = match upscale.order {
            Order::Upscale { factor, .. } => factor,
            _ => UpscaleFactor::TWO,
        };
        let subject = format!("upscale {}", upscale.id);
        let keyboard = screens::after_upscale(t, upscale);
        let text = match &upscale.state {
            WorkState::Completed { output, .. } => {
                let (pictures, _) = self.pictures(output).await?;
                let caption = t.upscale_caption(factor, upscale.prompt.as_str());
                match self
                    .send_pictures(chat, &pictures, &caption, &[PictureForm::File], &subject)
                    .await
                {
                    Sent::Later => return Ok(Told::Later),
                    Sent::Delivered => {
                        crate::metrics::count("UpscalesDelivered", &[]);
                        // The file is there: a lost edit must not send it twice.
                        self.show_generation_status(upscale, t.upscale_delivered(name, factor))
                            .await;
                        return Ok(Told::Settled);
                    }
                    Sent::NeverDeliverable => {
                        let mut text = t.upscale_refused().to_owned();
                        if let Some(credits) = self.refund(&upscale.work()).await? {
                            text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
                        }
                        text
                    }
                }
            }
            WorkState::Failed { reason, .. } => {
                let mut text = t.upscale_failed(name, reason);
                if let Some(credits) = refunded {
                    text.push_str(&format!("\n\n{}", t.credits_returned(credits)));
                }
                text
            }
            _ => return Ok(Told::Settled),
        };
        // In place of the "upscaling..." message (or new, if that cannot be edited).
        let shown = self
            .telegram
            .show(chat, upscale.status_message, &Screen::new(text, keyboard))
            .await
            .map(|_| ());
        Ok(told(shown, &subject))
    }
}
