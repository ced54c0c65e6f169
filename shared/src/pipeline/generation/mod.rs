//! Generations as a kind of paid work: fal.ai draws with a fresh presigned URL of our copy of
//! the avatar's LoRA (`request.rs`), the pictures it returns are fetched and kept under the
//! avatar before anyone is told (`keep.rs`), then sent (`deliver.rs`). The engine does the
//! rest.

mod deliver;
mod keep;
mod request;

pub(super) use deliver::Sent;

use async_trait::async_trait;

use super::Pipeline;
use super::PipelineResult;
use super::engine::{FalCall, NotLaunched, Told};
use super::pictures::PictureKind;
use crate::domain::{AttemptId, Credits, Generation, WorkKind};

/// The generation kind.
pub(crate) struct Generations;

#[async_trait]
impl PictureKind for Generations {
    const KIND: WorkKind = WorkKind::Generation;
    const METRICS: &'static str = "Generations";
    const DURATION_METRIC: &'static str = "GenerationDuration";

    async fn prepare(
        &self,
        p: &Pipeline,
        generation: &Generation,
        _attempt: AttemptId,
    ) -> Result<FalCall, NotLaunched> {
        p.generation_call(generation).await
    }

    async fn tell(
        &self,
        p: &Pipeline,
        generation: &Generation,
        refunded: Option<Credits>,
    ) -> PipelineResult<Told> {
        p.deliver(generation, refunded).await
    }
}
