//! Telling the user of a group of pictures committed together (a photo pack, a first look):
//! once every picture of the group is over, its leader (the first picture's record) sends
//! them as one album and edits the "drawing..." message into the summary (two messages for
//! the whole group), and refunds, one by one, the pictures that did not come (failed,
//! withheld by the safety filter, lost, refused).
//!
//! Who sends it: the leader's notice is the album's. The leader's own notice waits (it is
//! released, not sent) while other pictures run; whichever picture ends last takes that
//! notice over and sends the album, and the sweep sends it if that take-over lost a race.

use super::super::engine::{PaidKind, Told};
use super::super::notice::told;
use super::super::{Pipeline, PipelineResult};
use crate::domain::{
    Avatar, Catalogue, Credits, Generation, GenerationId, Language, Order, Timestamp, WorkRef,
    WorkState,
};
use crate::telegram::client::{Picture, PictureForm};
use crate::telegram::screens::{self, DeliveryReport, Screen};
use crate::telegram::texts::{Texts, texts};

use super::super::generation::Sent;

impl Pipeline {
    /// Tells of the end of one picture of a group whose notice the caller holds.
    pub(in crate::pipeline) async fn tell_album<K: PaidKind<Record = Generation>>(
        &self,
        kind: &K,
        picture: &Generation,
    ) -> PipelineResult<Told> {
        let Some(avatar) = self.avatar_of_pictures(picture).await? else {
            return Ok(Told::Settled);
        };
        let ids = picture.pack_members();
        let mut members = Vec::with_capacity(ids.len());
        for id in &ids {
            members.push(self.store.get_generation(picture.avatar_id, *id).await?);
        }
        let all_over = members
            .iter()
            .flatten()
            .all(|m| m.state.is_finished() && m.owner == picture.owner);
        let leader = picture.piece();
        if picture.id != leader {
            // Its picture goes in the leader's album; the last one to end has it sent.
            if all_over
                && let Some(Some(leader)) = members.first()
                && let Err(e) = Box::pin(self.retry_notice(kind, leader, Timestamp::now())).await
            {
                tracing::warn!(pack = %leader.id, error = %e, "pack album not sent now; the sweep will");
            }
            return Ok(Told::Settled);
        }
        if !all_over {
            return Ok(Told::Waiting);
        }
        self.deliver_album(&avatar, picture, &ids, &members).await
    }

    async fn deliver_album(
        &self,
        avatar: &Avatar,
        leader: &Generation,
        ids: &[GenerationId],
        members: &[Option<Generation>],
    ) -> PipelineResult<Told> {
        let subject = format!("{} {}", leader.kind(), leader.id);
        let (chat, language) = self.audience(leader.owner).await?;
        let t = texts(language);
        let title = title(t, language, &leader.order);
        let mut pictures: Vec<Picture> = Vec::new();
        // For each picture in the album, the record it came from (what Upscale names).
        let mut shown: Vec<GenerationId> = Vec::new();
        let mut report = DeliveryReport {
            sent: 0,
            filtered: 0,
            unavailable: 0,
            refused: 0,
        };
        let mut failed = 0;
        // The pictures that gave the user nothing: each is refunded on its own.
        let mut empty: Vec<GenerationId> = Vec::new();
        for (id, member) in ids.iter().zip(members) {
            match member.as_ref().map(|m| &m.state) {
                Some(WorkState::Completed { output, .. }) => {
                    let (kept, r) = self.pictures(output).await?;
                    report.filtered += r.filtered;
                    report.unavailable += r.unavailable;
                    if kept.is_empty() {
                        empty.push(*id);
                    }
                    shown.extend(std::iter::repeat_n(*id, kept.len()));
                    pictures.extend(kept);
                }
                _ => {
                    failed += 1;
                    empty.push(*id);
                }
            }
        }
        match self
            .send_pictures(
                chat,
                &pictures,
                &title,
                &[PictureForm::Photo, PictureForm::File],
                &subject,
            )
            .await
        {
            Sent::Later => return Ok(Told::Later),
            Sent::Delivered => report.sent = pictures.len(),
            Sent::NeverDeliverable => {
                report.refused = pictures.len();
                empty.append(&mut shown);
            }
        }
        let mut refunded = Credits(0);
        for id in &empty {
            let work = WorkRef {
                id: (*id).into(),
                ..leader.work()
            };
            if let Some(credits) = self.refund(&work).await? {
                refunded.0 += credits.0;
            }
        }
        crate::metrics::counts("ImagesDelivered", report.sent as u32, &[]);
        crate::metrics::counts("ImagesFiltered", report.filtered as u32, &[]);
        let name = avatar.name.as_str();
        let (mut text, keyboard) = match leader.order {
            Order::FirstLook { .. } => (
                screens::first_look_result(t, name, report, failed),
                screens::back_to_menu(t),
            ),
            _ => (
                screens::pack_result(t, name, &title, report, failed),
                screens::after_pack(t, leader.avatar_id, &shown),
            ),
        };
        if refunded.0 > 0 {
            text.push_str(&format!("\n\n{}", t.credits_returned(refunded)));
        }
        let summary = Screen::new(text, keyboard);
        let shown_summary = self
            .telegram
            .show(chat, leader.status_message, &summary)
            .await
            .map(|_| ());
        if report.sent > 0 {
            // The pictures are there: a lost summary must not send them twice.
            if let Err(e) = shown_summary {
                tracing::warn!(%subject, error = %e, "summary of the pack not shown");
            }
            return Ok(Told::Settled);
        }
        Ok(told(shown_summary, &subject))
    }
}

/// The album's caption: the pack's name in the user's language, or the first look's.
fn title(t: &dyn Texts, language: Language, order: &Order) -> String {
    match order {
        Order::Pack { theme, .. } => Catalogue::shipped()
            .by_id(theme)
            .map_or(theme.as_str(), |p| p.name.get(language))
            .to_owned(),
        _ => t.first_look_caption().to_owned(),
    }
}
