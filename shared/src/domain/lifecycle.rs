//! The avatar lifecycle: assembly, then a training on the paid-work core (`work.rs`).
//!
//! ```text
//! draft -> collecting_photos -> ready -> queued -> submitting -> sending -> training -> completed
//!                                           ^  \--(lease lapsed: claim again)  \           \-> failed
//!                                           +------ release: provably nothing reached fal.ai
//!   adopt:  a confirmed result of this avatar: queued | submitting | sending | training | failed -> completed
//!   cancel: draft | collecting_photos | ready | queued | submitting -> cancelled
//!   fail:   queued | submitting | sending | training -> failed
//! ```
//! From `queued` on, the avatar's state is its training's [`WorkState`] and every move is the
//! core's ([`super::work::step`]); `transition` adds only the assembly moves in front of it.
//! Deletion is not a state: the record is removed, whatever state it is in.

use serde::{Deserialize, Serialize};

use super::ids::{AttemptId, Timestamp};
use super::work::{self, IllegalStep, WorkEvent, WorkState, WorkStatus};

pub use super::work::{FailureReason, FalRequest};

pub use super::work::MAX_LAUNCH_CLAIMS;

/// What a finished training produced, in the form generation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrainedModel {
    /// A LoRA file (portrait trainer, fast style trainer) for `fal-ai/flux-lora`.
    Lora {
        /// Where fal.ai put it (expires under fal's retention; kept for the record).
        lora_url: String,
        config_url: Option<String>,
        /// Our copy in the bucket: what generations use. Absent only on records written
        /// before copies were kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stored_key: Option<String>,
    },
    /// A FLUX Pro finetune for `fal-ai/flux-pro/v1.1-ultra-finetuned`.
    Finetune { finetune_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainingOutput {
    pub model: TrainedModel,
    /// fal.ai's response exactly as received, kept for support and re-processing.
    pub raw_response: String,
}

/// A training: the avatar's paid work.
pub type Training = WorkState<TrainingOutput>;

/// Where an avatar is: being assembled, or its training (from `queued` on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredState", into = "StoredState")]
pub enum AvatarState {
    Draft,
    CollectingPhotos,
    Ready,
    Work(Training),
}

/// The state's name alone: what indexes, conditions and icons use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvatarStatus {
    Draft,
    CollectingPhotos,
    Ready,
    Queued,
    Submitting,
    Sending,
    Training,
    Completed,
    Failed,
    Cancelled,
}

impl AvatarStatus {
    pub const ALL: [AvatarStatus; 10] = [
        AvatarStatus::Draft,
        AvatarStatus::CollectingPhotos,
        AvatarStatus::Ready,
        AvatarStatus::Queued,
        AvatarStatus::Submitting,
        AvatarStatus::Sending,
        AvatarStatus::Training,
        AvatarStatus::Completed,
        AvatarStatus::Failed,
        AvatarStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AvatarStatus::Draft => "draft",
            AvatarStatus::CollectingPhotos => "collecting_photos",
            AvatarStatus::Ready => "ready",
            AvatarStatus::Queued => "queued",
            AvatarStatus::Submitting => "submitting",
            AvatarStatus::Sending => "sending",
            AvatarStatus::Training => "training",
            AvatarStatus::Completed => "completed",
            AvatarStatus::Failed => "failed",
            AvatarStatus::Cancelled => "cancelled",
        }
    }

    /// Photos may be added only while the avatar is being assembled.
    pub fn accepts_photos(self) -> bool {
        matches!(self, AvatarStatus::CollectingPhotos | AvatarStatus::Ready)
    }

    /// Training work has been requested and has not reached an outcome.
    pub fn is_training_in_progress(self) -> bool {
        matches!(
            self,
            AvatarStatus::Queued
                | AvatarStatus::Submitting
                | AvatarStatus::Sending
                | AvatarStatus::Training
        )
    }
}

impl From<WorkStatus> for AvatarStatus {
    fn from(status: WorkStatus) -> Self {
        match status {
            WorkStatus::Queued => AvatarStatus::Queued,
            WorkStatus::Submitting => AvatarStatus::Submitting,
            WorkStatus::Sending => AvatarStatus::Sending,
            WorkStatus::Running => AvatarStatus::Training,
            WorkStatus::Completed => AvatarStatus::Completed,
            WorkStatus::Failed => AvatarStatus::Failed,
            WorkStatus::Cancelled => AvatarStatus::Cancelled,
        }
    }
}

impl AvatarState {
    pub fn status(&self) -> AvatarStatus {
        match self {
            AvatarState::Draft => AvatarStatus::Draft,
            AvatarState::CollectingPhotos => AvatarStatus::CollectingPhotos,
            AvatarState::Ready => AvatarStatus::Ready,
            AvatarState::Work(training) => training.status().into(),
        }
    }

    /// The training, once the avatar is committed to one.
    pub fn training(&self) -> Option<&Training> {
        match self {
            AvatarState::Work(training) => Some(training),
            _ => None,
        }
    }

    /// Since when the avatar's work has been with a launch worker or fal.ai; `None` when
    /// it is not (queued avatars and unsent notices are added by [`super::Avatar`]).
    pub fn work_started_at(&self) -> Option<Timestamp> {
        self.training().and_then(WorkState::started_at)
    }

    /// Whether launching has been given up (see [`WorkState::launch_given_up`]).
    pub fn launch_given_up(&self, now: Timestamp) -> bool {
        self.training().is_some_and(|t| t.launch_given_up(now))
    }

    /// The fal.ai request this avatar knows of, if any.
    pub fn fal_request(&self) -> Option<&FalRequest> {
        self.training().and_then(WorkState::fal_request)
    }

    /// The attempt whose submit may have reached fal.ai, if any.
    pub fn paid_attempt(&self) -> Option<AttemptId> {
        self.training().and_then(WorkState::paid_attempt)
    }

    /// What the finished training produced, if it did.
    pub fn trained(&self) -> Option<&TrainingOutput> {
        match self.training() {
            Some(WorkState::Completed { output, .. }) => Some(output),
            _ => None,
        }
    }
}

/// Something that happened to an avatar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AvatarEvent {
    /// Kind, gender, name and preset are chosen; photos may come.
    BeginPhotos,
    /// The photo minimum for the kind is reached.
    MinimumReached,
    /// The user confirmed training; a launch message is on its way.
    Enqueue,
    /// The avatar ends before anything of it reached fal.ai (assembling, or its training
    /// queued or being prepared).
    Cancel,
    /// A move of its training (see [`work::step`]).
    Work(WorkEvent<TrainingOutput>),
}

impl AvatarEvent {
    pub fn name(&self) -> &'static str {
        match self {
            AvatarEvent::BeginPhotos => "begin_photos",
            AvatarEvent::MinimumReached => "minimum_reached",
            AvatarEvent::Enqueue => "enqueue",
            AvatarEvent::Cancel => "cancel",
            AvatarEvent::Work(event) => event.name(),
        }
    }

    /// Whether this event gives the avatar an outcome the user must be told of.
    pub fn is_outcome(&self) -> bool {
        matches!(self, AvatarEvent::Work(event) if event.is_outcome())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal avatar transition: {event} in state {}", from.as_str())]
pub struct IllegalTransition {
    pub from: AvatarStatus,
    pub event: &'static str,
}

impl From<IllegalStep> for IllegalTransition {
    fn from(e: IllegalStep) -> Self {
        Self {
            from: e.from.into(),
            event: e.event,
        }
    }
}

/// The lifecycle's single transition function: assembly here, the training's moves in the
/// paid-work core.
pub fn transition(
    state: &AvatarState,
    event: AvatarEvent,
    now: Timestamp,
) -> Result<AvatarState, IllegalTransition> {
    use AvatarEvent as E;
    use AvatarState as S;
    let illegal = IllegalTransition {
        from: state.status(),
        event: event.name(),
    };
    let next = match (state, event) {
        (S::Draft, E::BeginPhotos) => S::CollectingPhotos,
        (S::CollectingPhotos, E::MinimumReached) => S::Ready,
        (S::Ready, E::Enqueue) => S::Work(WorkState::Queued {
            queued_at: now,
            claims: 0,
        }),
        (S::Draft | S::CollectingPhotos | S::Ready, E::Cancel) => {
            S::Work(WorkState::Cancelled { cancelled_at: now })
        }
        (S::Work(training), E::Cancel) => S::Work(work::step(training, WorkEvent::Cancel, now)?),
        (S::Work(training), E::Work(event)) => S::Work(work::step(training, event, now)?),
        _ => return Err(illegal),
    };
    Ok(next)
}

/// The avatar's state as stored (its status tag and fields are the records' format since the
/// first release): kept as it is, so every stored avatar reads back and older code reads new
/// ones.
#[derive(Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum StoredState {
    Draft,
    CollectingPhotos,
    Ready,
    Queued {
        queued_at: Timestamp,
        #[serde(default)]
        claims: u32,
    },
    Submitting {
        attempt: AttemptId,
        claimed_at: Timestamp,
        lease_until: Timestamp,
        #[serde(default)]
        claims: u32,
    },
    Sending {
        attempt: AttemptId,
        endpoint: String,
        sent_at: Timestamp,
        claims: u32,
    },
    Training {
        attempt: AttemptId,
        request: FalRequest,
        submitted_at: Timestamp,
    },
    Completed {
        request: FalRequest,
        submitted_at: Timestamp,
        output: TrainingOutput,
        completed_at: Timestamp,
    },
    Failed {
        reason: FailureReason,
        failed_at: Timestamp,
    },
    Cancelled {
        cancelled_at: Timestamp,
    },
}

impl From<StoredState> for AvatarState {
    fn from(stored: StoredState) -> Self {
        use StoredState as W;
        let work = match stored {
            W::Draft => return AvatarState::Draft,
            W::CollectingPhotos => return AvatarState::CollectingPhotos,
            W::Ready => return AvatarState::Ready,
            W::Queued { queued_at, claims } => WorkState::Queued { queued_at, claims },
            W::Submitting {
                attempt,
                claimed_at,
                lease_until,
                claims,
            } => WorkState::Submitting {
                attempt,
                claimed_at,
                lease_until,
                claims,
            },
            W::Sending {
                attempt,
                endpoint,
                sent_at,
                claims,
            } => WorkState::Sending {
                attempt,
                endpoint,
                sent_at,
                claims,
            },
            W::Training {
                attempt,
                request,
                submitted_at,
            } => WorkState::Running {
                attempt,
                request,
                submitted_at,
            },
            W::Completed {
                request,
                submitted_at,
                output,
                completed_at,
            } => WorkState::Completed {
                request,
                submitted_at,
                output,
                completed_at,
            },
            W::Failed { reason, failed_at } => WorkState::Failed { reason, failed_at },
            W::Cancelled { cancelled_at } => WorkState::Cancelled { cancelled_at },
        };
        AvatarState::Work(work)
    }
}

impl From<AvatarState> for StoredState {
    fn from(state: AvatarState) -> Self {
        use StoredState as W;
        match state {
            AvatarState::Draft => W::Draft,
            AvatarState::CollectingPhotos => W::CollectingPhotos,
            AvatarState::Ready => W::Ready,
            AvatarState::Work(work) => match work {
                WorkState::Queued { queued_at, claims } => W::Queued { queued_at, claims },
                WorkState::Submitting {
                    attempt,
                    claimed_at,
                    lease_until,
                    claims,
                } => W::Submitting {
                    attempt,
                    claimed_at,
                    lease_until,
                    claims,
                },
                WorkState::Sending {
                    attempt,
                    endpoint,
                    sent_at,
                    claims,
                } => W::Sending {
                    attempt,
                    endpoint,
                    sent_at,
                    claims,
                },
                WorkState::Running {
                    attempt,
                    request,
                    submitted_at,
                } => W::Training {
                    attempt,
                    request,
                    submitted_at,
                },
                WorkState::Completed {
                    request,
                    submitted_at,
                    output,
                    completed_at,
                } => W::Completed {
                    request,
                    submitted_at,
                    output,
                    completed_at,
                },
                WorkState::Failed { reason, failed_at } => W::Failed { reason, failed_at },
                WorkState::Cancelled { cancelled_at } => W::Cancelled { cancelled_at },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T0: Timestamp = Timestamp(1_700_000_000_000);

    fn request() -> FalRequest {
        FalRequest {
            request_id: "req-1".into(),
            endpoint: "fal-ai/flux-lora-portrait-trainer".into(),
        }
    }

    fn output() -> TrainingOutput {
        TrainingOutput {
            model: TrainedModel::Lora {
                lora_url: "https://x/l.safetensors".into(),
                config_url: None,
                stored_key: None,
            },
            raw_response: "{}".into(),
        }
    }

    /// The assembly states, and one training state to show the core takes over from there.
    fn states() -> Vec<(&'static str, AvatarState)> {
        vec![
            ("draft", AvatarState::Draft),
            ("collecting_photos", AvatarState::CollectingPhotos),
            ("ready", AvatarState::Ready),
            (
                "queued",
                AvatarState::Work(WorkState::Queued {
                    queued_at: T0,
                    claims: 0,
                }),
            ),
            (
                "completed",
                AvatarState::Work(WorkState::Completed {
                    request: request(),
                    submitted_at: T0,
                    output: output(),
                    completed_at: T0,
                }),
            ),
        ]
    }

    fn events() -> Vec<(&'static str, AvatarEvent)> {
        vec![
            ("begin_photos", AvatarEvent::BeginPhotos),
            ("minimum_reached", AvatarEvent::MinimumReached),
            ("enqueue", AvatarEvent::Enqueue),
            ("cancel", AvatarEvent::Cancel),
            (
                "claim",
                AvatarEvent::Work(WorkEvent::Claim {
                    attempt: AttemptId::new(),
                    lease: Duration::from_secs(600),
                }),
            ),
        ]
    }

    /// Every legal pair of the assembly and its hand-over to the core; the core's own moves
    /// are pinned by its table (`work.rs`).
    const LEGAL: &[(&str, &str, AvatarStatus)] = &[
        ("draft", "begin_photos", AvatarStatus::CollectingPhotos),
        ("draft", "cancel", AvatarStatus::Cancelled),
        ("collecting_photos", "minimum_reached", AvatarStatus::Ready),
        ("collecting_photos", "cancel", AvatarStatus::Cancelled),
        ("ready", "enqueue", AvatarStatus::Queued),
        ("ready", "cancel", AvatarStatus::Cancelled),
        ("queued", "cancel", AvatarStatus::Cancelled),
        ("queued", "claim", AvatarStatus::Submitting),
    ];

    #[test]
    fn every_state_event_pair_matches_the_table() {
        let checked = crate::domain::work::check_table(
            &states(),
            &events(),
            LEGAL,
            |state, event| {
                transition(state, event, T0)
                    .map(|next| next.status())
                    .map_err(|e| (e.from, e.to_string()))
            },
            AvatarState::status,
        );
        assert_eq!(checked, 5 * 5);
    }

    #[test]
    fn state_is_stored_as_it_always_was() {
        let json = serde_json::to_value(AvatarState::Work(WorkState::Queued {
            queued_at: T0,
            claims: 1,
        }))
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status": "queued", "queued_at": T0.0, "claims": 1})
        );
        let before_claims: AvatarState =
            serde_json::from_value(serde_json::json!({"status": "queued", "queued_at": T0.0}))
                .unwrap();
        assert_eq!(
            before_claims,
            AvatarState::Work(WorkState::Queued {
                queued_at: T0,
                claims: 0
            })
        );
        let attempt = AttemptId::new();
        let training = serde_json::json!({
            "status": "training", "attempt": attempt.to_string(),
            "request": {"request_id": "req-1", "endpoint": request().endpoint},
            "submitted_at": T0.0,
        });
        let read: AvatarState = serde_json::from_value(training.clone()).unwrap();
        assert_eq!(read.status(), AvatarStatus::Training);
        assert_eq!(serde_json::to_value(&read).unwrap(), training);
        for status in AvatarStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }
}
