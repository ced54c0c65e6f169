//! The avatar lifecycle. `transition` is the only place that knows which moves are legal:
//!
//! ```text
//! draft -> collecting_photos -> ready -> queued -> submitting -> training -> completed
//!                                           \          \  ^(lease expired)  \-> failed
//!                                  queued <- submitting (release: nothing was submitted)
//!   cancel: draft | collecting_photos | ready | queued -> cancelled
//!   fail:   queued | submitting | training -> failed
//! ```
//! Deletion is not a state: the record is removed, whatever state it is in.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::{AttemptId, Timestamp};

/// A request in the fal.ai queue: its id and the endpoint (model id) it was submitted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FalRequest {
    pub request_id: String,
    pub endpoint: String,
}

/// What a finished training produced, in the form generation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrainedModel {
    /// A LoRA file (portrait trainer, fast style trainer) for `fal-ai/flux-lora`.
    Lora {
        lora_url: String,
        config_url: Option<String>,
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

/// Why an avatar failed, in terms the user-facing texts can explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FailureReason {
    /// fal.ai refused the input (422): the detail is fal's own explanation.
    Rejected { detail: String },
    /// fal.ai refused our key: an operator problem, not the user's.
    Unauthorized,
    /// fal.ai ran the job and reported an error.
    ProviderError { detail: String },
    /// The training took longer than the configured timeout and was cancelled.
    TimedOut,
}

/// The lifecycle state, with exactly the data each state has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AvatarState {
    Draft,
    CollectingPhotos,
    Ready,
    Queued {
        queued_at: Timestamp,
    },
    /// A launch worker holds a lease on the avatar while it archives photos and submits.
    Submitting {
        attempt: AttemptId,
        claimed_at: Timestamp,
        lease_until: Timestamp,
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

/// The state's name alone: what indexes, conditions and icons use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvatarStatus {
    Draft,
    CollectingPhotos,
    Ready,
    Queued,
    Submitting,
    Training,
    Completed,
    Failed,
    Cancelled,
}

impl AvatarStatus {
    pub const ALL: [AvatarStatus; 9] = [
        AvatarStatus::Draft,
        AvatarStatus::CollectingPhotos,
        AvatarStatus::Ready,
        AvatarStatus::Queued,
        AvatarStatus::Submitting,
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
            AvatarStatus::Queued | AvatarStatus::Submitting | AvatarStatus::Training
        )
    }
}

impl AvatarState {
    pub fn status(&self) -> AvatarStatus {
        match self {
            AvatarState::Draft => AvatarStatus::Draft,
            AvatarState::CollectingPhotos => AvatarStatus::CollectingPhotos,
            AvatarState::Ready => AvatarStatus::Ready,
            AvatarState::Queued { .. } => AvatarStatus::Queued,
            AvatarState::Submitting { .. } => AvatarStatus::Submitting,
            AvatarState::Training { .. } => AvatarStatus::Training,
            AvatarState::Completed { .. } => AvatarStatus::Completed,
            AvatarState::Failed { .. } => AvatarStatus::Failed,
            AvatarState::Cancelled { .. } => AvatarStatus::Cancelled,
        }
    }

    /// Since when the avatar waits on a launch worker or on fal.ai; `None` when it does not.
    /// This is what puts an avatar into the in-flight index the status sweep reads.
    pub fn in_flight_since(&self) -> Option<Timestamp> {
        match self {
            AvatarState::Submitting { claimed_at, .. } => Some(*claimed_at),
            AvatarState::Training { submitted_at, .. } => Some(*submitted_at),
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
    /// A launch worker takes the avatar for `lease`. Allowed again once a lease has expired,
    /// so a crashed worker does not strand the avatar.
    Claim {
        attempt: AttemptId,
        lease: Duration,
    },
    /// The attempt holding the lease got a request id from fal.ai.
    Submitted {
        attempt: AttemptId,
        request: FalRequest,
    },
    /// The attempt holding the lease gives the avatar back to the queue: it failed before
    /// anything was submitted, so another attempt may start at once.
    Release {
        attempt: AttemptId,
    },
    Succeed {
        output: TrainingOutput,
    },
    Fail {
        reason: FailureReason,
    },
    Cancel,
}

impl AvatarEvent {
    pub fn name(&self) -> &'static str {
        match self {
            AvatarEvent::BeginPhotos => "begin_photos",
            AvatarEvent::MinimumReached => "minimum_reached",
            AvatarEvent::Enqueue => "enqueue",
            AvatarEvent::Claim { .. } => "claim",
            AvatarEvent::Submitted { .. } => "submitted",
            AvatarEvent::Release { .. } => "release",
            AvatarEvent::Succeed { .. } => "succeed",
            AvatarEvent::Fail { .. } => "fail",
            AvatarEvent::Cancel => "cancel",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal avatar transition: {event} in state {}", from.as_str())]
pub struct IllegalTransition {
    pub from: AvatarStatus,
    pub event: &'static str,
}

/// The lifecycle's single transition function.
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
        (S::Ready, E::Enqueue) => S::Queued { queued_at: now },
        (S::Queued { .. }, E::Claim { attempt, lease }) => S::Submitting {
            attempt,
            claimed_at: now,
            lease_until: now.plus(lease),
        },
        (S::Submitting { lease_until, .. }, E::Claim { attempt, lease }) if *lease_until <= now => {
            S::Submitting {
                attempt,
                claimed_at: now,
                lease_until: now.plus(lease),
            }
        }
        (
            S::Submitting {
                attempt: holder, ..
            },
            E::Submitted { attempt, request },
        ) if *holder == attempt => S::Training {
            attempt,
            request,
            submitted_at: now,
        },
        (
            S::Submitting {
                attempt: holder, ..
            },
            E::Release { attempt },
        ) if *holder == attempt => S::Queued { queued_at: now },
        (
            S::Training {
                request,
                submitted_at,
                ..
            },
            E::Succeed { output },
        ) => S::Completed {
            request: request.clone(),
            submitted_at: *submitted_at,
            output,
            completed_at: now,
        },
        (S::Queued { .. } | S::Submitting { .. } | S::Training { .. }, E::Fail { reason }) => {
            S::Failed {
                reason,
                failed_at: now,
            }
        }
        (S::Draft | S::CollectingPhotos | S::Ready | S::Queued { .. }, E::Cancel) => {
            S::Cancelled { cancelled_at: now }
        }
        _ => return Err(illegal),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000);
    const LEASE: Duration = Duration::from_secs(120);

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
            },
            raw_response: "{}".into(),
        }
    }

    /// One representative of every state; `submitting` twice: lease held and lease expired.
    fn states(holder: AttemptId) -> Vec<(&'static str, AvatarState)> {
        vec![
            ("draft", AvatarState::Draft),
            ("collecting_photos", AvatarState::CollectingPhotos),
            ("ready", AvatarState::Ready),
            ("queued", AvatarState::Queued { queued_at: T0 }),
            (
                "submitting_held",
                AvatarState::Submitting {
                    attempt: holder,
                    claimed_at: T0,
                    lease_until: T0.plus(LEASE),
                },
            ),
            (
                "submitting_expired",
                AvatarState::Submitting {
                    attempt: holder,
                    claimed_at: T0.minus(LEASE * 2),
                    lease_until: T0.minus(LEASE),
                },
            ),
            (
                "training",
                AvatarState::Training {
                    attempt: holder,
                    request: request(),
                    submitted_at: T0,
                },
            ),
            (
                "completed",
                AvatarState::Completed {
                    request: request(),
                    submitted_at: T0,
                    output: output(),
                    completed_at: T0,
                },
            ),
            (
                "failed",
                AvatarState::Failed {
                    reason: FailureReason::TimedOut,
                    failed_at: T0,
                },
            ),
            ("cancelled", AvatarState::Cancelled { cancelled_at: T0 }),
        ]
    }

    fn events(holder: AttemptId, other: AttemptId) -> Vec<(&'static str, AvatarEvent)> {
        vec![
            ("begin_photos", AvatarEvent::BeginPhotos),
            ("minimum_reached", AvatarEvent::MinimumReached),
            ("enqueue", AvatarEvent::Enqueue),
            (
                "claim",
                AvatarEvent::Claim {
                    attempt: other,
                    lease: LEASE,
                },
            ),
            (
                "submitted_by_holder",
                AvatarEvent::Submitted {
                    attempt: holder,
                    request: request(),
                },
            ),
            (
                "submitted_by_other",
                AvatarEvent::Submitted {
                    attempt: other,
                    request: request(),
                },
            ),
            (
                "release_by_holder",
                AvatarEvent::Release { attempt: holder },
            ),
            ("release_by_other", AvatarEvent::Release { attempt: other }),
            ("succeed", AvatarEvent::Succeed { output: output() }),
            (
                "fail",
                AvatarEvent::Fail {
                    reason: FailureReason::Unauthorized,
                },
            ),
            ("cancel", AvatarEvent::Cancel),
        ]
    }

    /// Every legal (state, event) pair and the status it leads to. Anything absent is illegal.
    const LEGAL: &[(&str, &str, AvatarStatus)] = &[
        ("draft", "begin_photos", AvatarStatus::CollectingPhotos),
        ("draft", "cancel", AvatarStatus::Cancelled),
        ("collecting_photos", "minimum_reached", AvatarStatus::Ready),
        ("collecting_photos", "cancel", AvatarStatus::Cancelled),
        ("ready", "enqueue", AvatarStatus::Queued),
        ("ready", "cancel", AvatarStatus::Cancelled),
        ("queued", "claim", AvatarStatus::Submitting),
        ("queued", "fail", AvatarStatus::Failed),
        ("queued", "cancel", AvatarStatus::Cancelled),
        (
            "submitting_held",
            "submitted_by_holder",
            AvatarStatus::Training,
        ),
        ("submitting_held", "fail", AvatarStatus::Failed),
        ("submitting_held", "release_by_holder", AvatarStatus::Queued),
        (
            "submitting_expired",
            "release_by_holder",
            AvatarStatus::Queued,
        ),
        ("submitting_expired", "claim", AvatarStatus::Submitting),
        (
            "submitting_expired",
            "submitted_by_holder",
            AvatarStatus::Training,
        ),
        ("submitting_expired", "fail", AvatarStatus::Failed),
        ("training", "succeed", AvatarStatus::Completed),
        ("training", "fail", AvatarStatus::Failed),
    ];

    #[test]
    fn every_state_event_pair_matches_the_table() {
        let (holder, other) = (AttemptId::new(), AttemptId::new());
        let mut checked = 0;
        for (state_name, state) in states(holder) {
            for (event_name, event) in events(holder, other) {
                let expected = LEGAL
                    .iter()
                    .find(|(s, e, _)| *s == state_name && *e == event_name)
                    .map(|(_, _, to)| *to);
                let got = transition(&state, event, T0);
                match (expected, got) {
                    (Some(to), Ok(next)) => {
                        assert_eq!(next.status(), to, "{state_name} + {event_name}")
                    }
                    (None, Err(err)) => {
                        assert_eq!(err.from, state.status(), "{state_name} + {event_name}")
                    }
                    (Some(_), Err(err)) => {
                        panic!("{state_name} + {event_name} should be legal: {err}")
                    }
                    (None, Ok(next)) => panic!(
                        "{state_name} + {event_name} should be illegal, went to {:?}",
                        next.status()
                    ),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 10 * 11);
    }

    #[test]
    fn claim_records_attempt_and_lease() {
        let attempt = AttemptId::new();
        let next = transition(
            &AvatarState::Queued { queued_at: T0 },
            AvatarEvent::Claim {
                attempt,
                lease: LEASE,
            },
            T0,
        )
        .unwrap();
        assert_eq!(
            next,
            AvatarState::Submitting {
                attempt,
                claimed_at: T0,
                lease_until: T0.plus(LEASE)
            }
        );
    }

    #[test]
    fn a_held_lease_cannot_be_taken_until_it_expires() {
        let holder = AttemptId::new();
        let held = AvatarState::Submitting {
            attempt: holder,
            claimed_at: T0,
            lease_until: T0.plus(LEASE),
        };
        let claim = || AvatarEvent::Claim {
            attempt: AttemptId::new(),
            lease: LEASE,
        };
        assert!(transition(&held, claim(), T0.plus(LEASE / 2)).is_err());
        assert!(
            transition(&held, claim(), T0.plus(LEASE)).is_ok(),
            "expires exactly at lease_until"
        );
    }

    #[test]
    fn completion_keeps_the_request_and_submission_time() {
        let training = AvatarState::Training {
            attempt: AttemptId::new(),
            request: request(),
            submitted_at: T0,
        };
        let done = T0.plus(Duration::from_secs(600));
        match transition(&training, AvatarEvent::Succeed { output: output() }, done).unwrap() {
            AvatarState::Completed {
                request: r,
                submitted_at,
                completed_at,
                ..
            } => {
                assert_eq!((r, submitted_at, completed_at), (request(), T0, done));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn only_submitting_and_training_are_in_flight() {
        for (name, state) in states(AttemptId::new()) {
            let expected = matches!(name, "submitting_held" | "submitting_expired" | "training");
            assert_eq!(state.in_flight_since().is_some(), expected, "{name}");
        }
    }

    #[test]
    fn state_serialises_with_a_status_tag() {
        let json = serde_json::to_value(AvatarState::Queued { queued_at: T0 }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status": "queued", "queued_at": T0.0})
        );
        for status in AvatarStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }
}
