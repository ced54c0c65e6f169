//! The avatar lifecycle. `transition` is the only place that knows which moves are legal:
//!
//! ```text
//! draft -> collecting_photos -> ready -> queued -> submitting -> sending -> training -> completed
//!                                           ^  \--(lease lapsed: claim again)  \           \-> failed
//!                                           +------ release: provably nothing reached fal.ai
//!   adopt:  a confirmed result of this avatar: queued | submitting | sending | training | failed -> completed
//!   cancel: draft | collecting_photos | ready | queued -> cancelled
//!   fail:   queued | submitting | sending | training -> failed
//! ```
//! `submitting` is a lease: archiving may be redone by another worker if this one crashed.
//! `sending` is the intent to pay, written before the submit call: from there the avatar is
//! never claimed again; it waits for its result (or fails after the wait window).
//! Deletion is not a state: the record is removed, whatever state it is in.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::{AttemptId, Timestamp};

/// How many times a launch may be claimed before the avatar fails: each claim that ends
/// without a submit (a crash, a transient error) counts.
pub const MAX_LAUNCH_CLAIMS: u32 = 5;

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

/// Why an avatar or a generation failed, in terms the user-facing texts can explain.
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
    /// The work could not be started on our side (a photo gone, a record unreadable, too
    /// many failed attempts); nothing was sent to fal.ai.
    NotStarted { detail: String },
    /// The submit may have reached fal.ai, but no result or confirmation came within the
    /// wait window; it is never submitted again.
    Unconfirmed,
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
        /// Launch claims so far (see [`MAX_LAUNCH_CLAIMS`]).
        #[serde(default)]
        claims: u32,
    },
    /// A launch worker holds a lease on the avatar while it archives photos.
    Submitting {
        attempt: AttemptId,
        claimed_at: Timestamp,
        lease_until: Timestamp,
        #[serde(default)]
        claims: u32,
    },
    /// The submit of `attempt` to `endpoint` may have reached fal.ai (recorded before the
    /// call); its request id is not known yet.
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

impl AvatarState {
    pub fn status(&self) -> AvatarStatus {
        match self {
            AvatarState::Draft => AvatarStatus::Draft,
            AvatarState::CollectingPhotos => AvatarStatus::CollectingPhotos,
            AvatarState::Ready => AvatarStatus::Ready,
            AvatarState::Queued { .. } => AvatarStatus::Queued,
            AvatarState::Submitting { .. } => AvatarStatus::Submitting,
            AvatarState::Sending { .. } => AvatarStatus::Sending,
            AvatarState::Training { .. } => AvatarStatus::Training,
            AvatarState::Completed { .. } => AvatarStatus::Completed,
            AvatarState::Failed { .. } => AvatarStatus::Failed,
            AvatarState::Cancelled { .. } => AvatarStatus::Cancelled,
        }
    }

    /// Since when the avatar's work has been with a launch worker or fal.ai; `None` when
    /// it is not (queued avatars and unsent notices are added by [`super::Avatar`]).
    pub fn work_started_at(&self) -> Option<Timestamp> {
        match self {
            AvatarState::Submitting { claimed_at, .. } => Some(*claimed_at),
            AvatarState::Sending { sent_at, .. } => Some(*sent_at),
            AvatarState::Training { submitted_at, .. } => Some(*submitted_at),
            _ => None,
        }
    }

    /// Whether launching has been given up: the avatar waits for a claim it may no longer
    /// have (every claim so far ended without a submit).
    pub fn launch_given_up(&self, now: Timestamp) -> bool {
        match self {
            AvatarState::Queued { claims, .. } => *claims >= MAX_LAUNCH_CLAIMS,
            AvatarState::Submitting {
                claims,
                lease_until,
                ..
            } => *claims >= MAX_LAUNCH_CLAIMS && *lease_until <= now,
            _ => false,
        }
    }

    /// The fal.ai request this avatar knows of, if any.
    pub fn fal_request(&self) -> Option<&FalRequest> {
        match self {
            AvatarState::Training { request, .. } | AvatarState::Completed { request, .. } => {
                Some(request)
            }
            _ => None,
        }
    }

    /// The attempt whose submit may have reached fal.ai, if any.
    pub fn paid_attempt(&self) -> Option<AttemptId> {
        match self {
            AvatarState::Sending { attempt, .. } | AvatarState::Training { attempt, .. } => {
                Some(*attempt)
            }
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
    /// A launch worker takes the avatar for `lease`. Allowed again once a lease has expired
    /// (nothing was sent yet), at most [`MAX_LAUNCH_CLAIMS`] times in all.
    Claim {
        attempt: AttemptId,
        lease: Duration,
    },
    /// The attempt holding the lease is about to call fal.ai: from here it may be paid.
    BeginSubmit {
        attempt: AttemptId,
        endpoint: String,
    },
    /// fal.ai gave the sending attempt a request id.
    Submitted {
        attempt: AttemptId,
        request: FalRequest,
    },
    /// The attempt gives the avatar back to the queue: provably nothing reached fal.ai.
    Release {
        attempt: AttemptId,
    },
    /// The awaited request finished with a model.
    Succeed {
        output: TrainingOutput,
    },
    /// A result of this avatar, confirmed ours (our token and our record or fal's status
    /// under our key), arrived while the avatar was not waiting for exactly it: a late
    /// result of an earlier attempt. Paid for, so kept.
    Adopt {
        request: FalRequest,
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
            AvatarEvent::BeginSubmit { .. } => "begin_submit",
            AvatarEvent::Submitted { .. } => "submitted",
            AvatarEvent::Release { .. } => "release",
            AvatarEvent::Succeed { .. } => "succeed",
            AvatarEvent::Adopt { .. } => "adopt",
            AvatarEvent::Fail { .. } => "fail",
            AvatarEvent::Cancel => "cancel",
        }
    }

    /// Whether this event gives the avatar an outcome the user must be told of.
    pub fn is_outcome(&self) -> bool {
        matches!(
            self,
            AvatarEvent::Succeed { .. } | AvatarEvent::Adopt { .. } | AvatarEvent::Fail { .. }
        )
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
    let claimed = |attempt, lease, claims| S::Submitting {
        attempt,
        claimed_at: now,
        lease_until: now.plus(lease),
        claims: claims + 1,
    };
    let next = match (state, event) {
        (S::Draft, E::BeginPhotos) => S::CollectingPhotos,
        (S::CollectingPhotos, E::MinimumReached) => S::Ready,
        (S::Ready, E::Enqueue) => S::Queued {
            queued_at: now,
            claims: 0,
        },
        (S::Queued { claims, .. }, E::Claim { attempt, lease }) if *claims < MAX_LAUNCH_CLAIMS => {
            claimed(attempt, lease, *claims)
        }
        (
            S::Submitting {
                lease_until,
                claims,
                ..
            },
            E::Claim { attempt, lease },
        ) if *lease_until <= now && *claims < MAX_LAUNCH_CLAIMS => claimed(attempt, lease, *claims),
        (
            S::Submitting {
                attempt: holder,
                claims,
                ..
            },
            E::BeginSubmit { attempt, endpoint },
        ) if *holder == attempt => S::Sending {
            attempt,
            endpoint,
            sent_at: now,
            claims: *claims,
        },
        (
            S::Sending {
                attempt: holder,
                endpoint,
                ..
            },
            E::Submitted { attempt, request },
        ) if *holder == attempt && *endpoint == request.endpoint => S::Training {
            attempt,
            request,
            submitted_at: now,
        },
        (
            S::Submitting {
                attempt: holder,
                claims,
                ..
            }
            | S::Sending {
                attempt: holder,
                claims,
                ..
            },
            E::Release { attempt },
        ) if *holder == attempt => S::Queued {
            queued_at: now,
            claims: *claims,
        },
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
        (
            S::Queued { .. }
            | S::Submitting { .. }
            | S::Sending { .. }
            | S::Training { .. }
            | S::Failed { .. },
            E::Adopt { request, output },
        ) => S::Completed {
            request,
            submitted_at: state.work_started_at().unwrap_or(now),
            output,
            completed_at: now,
        },
        (
            S::Queued { .. } | S::Submitting { .. } | S::Sending { .. } | S::Training { .. },
            E::Fail { reason },
        ) => S::Failed {
            reason,
            failed_at: now,
        },
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
                stored_key: None,
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
            (
                "queued",
                AvatarState::Queued {
                    queued_at: T0,
                    claims: 0,
                },
            ),
            (
                "queued_exhausted",
                AvatarState::Queued {
                    queued_at: T0,
                    claims: MAX_LAUNCH_CLAIMS,
                },
            ),
            (
                "submitting_held",
                AvatarState::Submitting {
                    attempt: holder,
                    claimed_at: T0,
                    lease_until: T0.plus(LEASE),
                    claims: 1,
                },
            ),
            (
                "submitting_expired",
                AvatarState::Submitting {
                    attempt: holder,
                    claimed_at: T0.minus(LEASE * 2),
                    lease_until: T0.minus(LEASE),
                    claims: 1,
                },
            ),
            (
                "submitting_expired_exhausted",
                AvatarState::Submitting {
                    attempt: holder,
                    claimed_at: T0.minus(LEASE * 2),
                    lease_until: T0.minus(LEASE),
                    claims: MAX_LAUNCH_CLAIMS,
                },
            ),
            (
                "sending",
                AvatarState::Sending {
                    attempt: holder,
                    endpoint: request().endpoint,
                    sent_at: T0.minus(LEASE * 100),
                    claims: 1,
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
                "begin_submit_by_holder",
                AvatarEvent::BeginSubmit {
                    attempt: holder,
                    endpoint: request().endpoint,
                },
            ),
            (
                "begin_submit_by_other",
                AvatarEvent::BeginSubmit {
                    attempt: other,
                    endpoint: request().endpoint,
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
                "adopt",
                AvatarEvent::Adopt {
                    request: request(),
                    output: output(),
                },
            ),
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
        ("queued", "adopt", AvatarStatus::Completed),
        ("queued_exhausted", "fail", AvatarStatus::Failed),
        ("queued_exhausted", "cancel", AvatarStatus::Cancelled),
        ("queued_exhausted", "adopt", AvatarStatus::Completed),
        (
            "submitting_held",
            "begin_submit_by_holder",
            AvatarStatus::Sending,
        ),
        ("submitting_held", "fail", AvatarStatus::Failed),
        ("submitting_held", "release_by_holder", AvatarStatus::Queued),
        ("submitting_held", "adopt", AvatarStatus::Completed),
        (
            "submitting_expired",
            "release_by_holder",
            AvatarStatus::Queued,
        ),
        ("submitting_expired", "claim", AvatarStatus::Submitting),
        (
            "submitting_expired",
            "begin_submit_by_holder",
            AvatarStatus::Sending,
        ),
        ("submitting_expired", "fail", AvatarStatus::Failed),
        ("submitting_expired", "adopt", AvatarStatus::Completed),
        (
            "submitting_expired_exhausted",
            "release_by_holder",
            AvatarStatus::Queued,
        ),
        (
            "submitting_expired_exhausted",
            "begin_submit_by_holder",
            AvatarStatus::Sending,
        ),
        ("submitting_expired_exhausted", "fail", AvatarStatus::Failed),
        (
            "submitting_expired_exhausted",
            "adopt",
            AvatarStatus::Completed,
        ),
        ("sending", "submitted_by_holder", AvatarStatus::Training),
        ("sending", "release_by_holder", AvatarStatus::Queued),
        ("sending", "fail", AvatarStatus::Failed),
        ("sending", "adopt", AvatarStatus::Completed),
        ("training", "succeed", AvatarStatus::Completed),
        ("training", "fail", AvatarStatus::Failed),
        ("training", "adopt", AvatarStatus::Completed),
        ("failed", "adopt", AvatarStatus::Completed),
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
        assert_eq!(checked, 13 * 14);
    }

    #[test]
    fn claim_records_attempt_and_lease() {
        let attempt = AttemptId::new();
        let next = transition(
            &AvatarState::Queued {
                queued_at: T0,
                claims: 2,
            },
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
                lease_until: T0.plus(LEASE),
                claims: 3,
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
            claims: 1,
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
    fn only_submitting_sending_and_training_have_started_work() {
        for (name, state) in states(AttemptId::new()) {
            let expected =
                name.starts_with("submitting") || name == "sending" || name == "training";
            assert_eq!(state.work_started_at().is_some(), expected, "{name}");
        }
    }

    #[test]
    fn a_sending_avatar_is_never_claimed_again_however_old() {
        let sending = AvatarState::Sending {
            attempt: AttemptId::new(),
            endpoint: request().endpoint,
            sent_at: T0,
            claims: 1,
        };
        let claim = AvatarEvent::Claim {
            attempt: AttemptId::new(),
            lease: LEASE,
        };
        assert!(
            transition(
                &sending,
                claim,
                T0.plus(Duration::from_secs(30 * 24 * 3600))
            )
            .is_err()
        );
    }

    #[test]
    fn a_request_for_another_endpoint_does_not_match_the_sending_attempt() {
        let attempt = AttemptId::new();
        let sending = AvatarState::Sending {
            attempt,
            endpoint: "fal-ai/flux-lora-fast-training".into(),
            sent_at: T0,
            claims: 1,
        };
        let submitted = AvatarEvent::Submitted {
            attempt,
            request: request(),
        };
        assert!(transition(&sending, submitted, T0).is_err());
    }

    #[test]
    fn state_serialises_with_a_status_tag() {
        let json = serde_json::to_value(AvatarState::Queued {
            queued_at: T0,
            claims: 1,
        })
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
            AvatarState::Queued {
                queued_at: T0,
                claims: 0
            }
        );
        for status in AvatarStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }
}
