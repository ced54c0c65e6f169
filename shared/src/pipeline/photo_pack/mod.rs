//! Photo packs as a kind of paid work: each picture of a pack is a record of its own (one
//! prompt, one picture, its own debit), committed with the others in one tap, launched,
//! completed, refunded and deleted by the engine like any generation. Only the telling
//! differs (`deliver.rs`): the pack's first record (its leader) sends the whole pack as one
//! album once every picture is over, and refunds, one by one, the pictures that did not come.

pub(super) mod deliver;

use async_trait::async_trait;

use super::engine::{FalCall, NotLaunched, Told};
use super::generation::Generations;
use super::pictures::PictureKind;
use super::{Pipeline, PipelineResult};
use crate::domain::{AttemptId, Credits, Generation, WorkKind};

/// The photo pack kind: one of a pack's pictures.
pub(crate) struct PhotoPacks;

#[async_trait]
impl PictureKind for PhotoPacks {
    const KIND: WorkKind = WorkKind::PhotoPack;
    const METRICS: &'static str = "PhotoPacks";
    const DURATION_METRIC: &'static str = "PhotoPackDuration";

    /// Drawn from its prompt with the avatar's model, as a generation is.
    async fn prepare(
        &self,
        p: &Pipeline,
        picture: &Generation,
        attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        PictureKind::prepare(&Generations, p, picture, attempt).await
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
