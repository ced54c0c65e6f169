//! First looks as a kind of paid work: while a portrait avatar trains, one or two pictures
//! drawn at once from the user's best photo (the largest of the avatar's photos, presigned
//! afresh) by a training-free identity model (`fal/first_look.rs`). Each picture is a record
//! of its own, committed together with the others and delivered with them as one album, as a
//! photo pack's (`photo_pack/deliver.rs`); the engine does the rest.

use async_trait::async_trait;

use super::engine::{FalCall, NotLaunched, Told};
use super::pictures::PictureKind;
use super::{Pipeline, PipelineError, PipelineResult};
use crate::domain::{AttemptId, Credits, FailureReason, Generation, WorkKind};
use crate::fal::first_look::{FIRST_LOOK_ENDPOINT, first_look_input};
use crate::ports::BlobError;

/// The first look kind: one of its pictures.
pub(crate) struct FirstLooks;

#[async_trait]
impl PictureKind for FirstLooks {
    const KIND: WorkKind = WorkKind::FirstLook;
    const METRICS: &'static str = "FirstLooks";
    const DURATION_METRIC: &'static str = "FirstLookDuration";

    /// The avatar's largest photo, presigned for fal.ai, with the picture's prompt.
    async fn prepare(
        &self,
        p: &Pipeline,
        picture: &Generation,
        _attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        let transient = |e: PipelineError| NotLaunched::Transient(e);
        let avatar = p
            .store
            .get_avatar(picture.owner, picture.avatar_id)
            .await
            .map_err(|e| transient(e.into()))?
            .filter(|a| a.deleting_since.is_none())
            .ok_or(NotLaunched::Vanished)?;
        let photos = p
            .store
            .list_photos(avatar.id)
            .await
            .map_err(|e| transient(e.into()))?;
        let gone = || {
            NotLaunched::Permanent(FailureReason::NotStarted {
                detail: "the avatar's photos are gone".into(),
            })
        };
        let best = photos
            .iter()
            .max_by_key(|photo| u64::from(photo.width) * u64::from(photo.height))
            .ok_or_else(gone)?;
        let url = match p
            .url_for_fal(
                &best.blob_key,
                &format!("photo.{}", best.format.extension()),
                best.format.mime_type(),
                p.fal_settings.model_url_ttl,
            )
            .await
        {
            Ok(url) => url,
            Err(PipelineError::Blob(BlobError::NotFound(_))) => return Err(gone()),
            Err(e) => return Err(transient(e)),
        };
        Ok(FalCall {
            endpoint: FIRST_LOOK_ENDPOINT.to_owned(),
            input: first_look_input(picture, avatar.gender, url.as_str()),
        })
    }

    async fn tell(
        &self,
        p: &Pipeline,
        picture: &Generation,
        _refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.tell_album(self, picture).await
    }
}
