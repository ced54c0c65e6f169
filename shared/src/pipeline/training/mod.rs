//! Trainings: launch (claim, archive, submit, record), completion (with our copy of the
//! model), notices and progress, and the sweep's care of each in-flight avatar.

mod complete;
mod launch;
mod notify;
mod sweep;

pub use complete::{Completion, TrainingOutcome};
