//! Generations, from the launch worker to the user's chat: launch (claim, submit with our
//! copy of the LoRA, record), completion (the images fetched from fal's CDN and kept under
//! the avatar), delivery, and the sweep's care of each in-flight generation.

mod complete;
mod deliver;
mod launch;
mod sweep;

use serde_json::Value;

use crate::domain::{FailureReason, Generation};
use crate::fal::generation::{ResultImage, result_images};

/// How a generation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationOutcome {
    Images(Vec<ResultImage>),
    Failed(FailureReason),
}

impl GenerationOutcome {
    /// From a flux-lora / ultra-finetuned result JSON: no more images than `generation`
    /// asked for.
    pub fn from_payload(payload: &Value, generation: &Generation) -> Self {
        match result_images(payload, usize::from(generation.num_images.get())) {
            Ok(images) => GenerationOutcome::Images(images),
            Err(problem) => {
                GenerationOutcome::Failed(FailureReason::ProviderError { detail: problem })
            }
        }
    }
}
