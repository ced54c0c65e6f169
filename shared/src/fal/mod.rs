//! fal.ai: the queue API client and the shapes it speaks. See `../shared/reference/fal-api.md`
//! beside the repository for the protocol facts this follows.

pub mod first_look;
pub mod generation;
pub mod hosts;
pub mod queue;
pub mod settings;
pub mod storage;
pub mod training;
pub mod upscale;
pub mod webhook;
pub mod webhook_token;

pub use queue::{
    CancelOutcome, FalClient, FalError, LogEntry, QueueStatus, Retention, RetryPolicy, Submitted,
    app_path,
};
