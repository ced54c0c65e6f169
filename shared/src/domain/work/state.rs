//! The lifecycle core of paid work, which every kind embeds:
//!
//! ```text
//! queued -> submitting -> sending -> running -> completed
//!    ^  \--(lease lapsed: claim again)  \        \-> failed
//!    +------ release: provably nothing reached fal.ai
//!   adopt:  a confirmed result of this work: queued | submitting | sending | running | failed -> completed
//!   fail:   queued | submitting | sending | running -> failed
//!   cancel: queued | submitting -> cancelled   (nothing reached fal.ai: the price is refunded)
//! ```
//! `submitting` is a lease held by one launch attempt while it prepares the submit; a crashed
//! worker's lease lapses and the next claim may take it. `sending` is the intent to pay,
//! written before the submit call: from there the work is never claimed again; it ends by its
//! result, or by the wait window running out. [`step`] is the only place that knows the moves.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{FailureReason, FalRequest, WorkRef};
use crate::domain::avatar::{NoticeEvent, OutcomeNotice};
use crate::domain::ids::{AttemptId, Timestamp};

/// How many times a launch may be claimed before the work fails: each claim that ends
/// without a submit (a crash, a transient error) counts.
pub const MAX_LAUNCH_CLAIMS: u32 = 5;

/// Where a piece of paid work is, from its commit to its end, with exactly the data each state
/// has. `O` is what a success produced (a model, pictures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum WorkState<O> {
    /// Committed and paid for; the launch job is on its way.
    Queued {
        queued_at: Timestamp,
        /// Launch claims so far (see [`MAX_LAUNCH_CLAIMS`]).
        #[serde(default)]
        claims: u32,
    },
    /// A launch worker holds a lease while it prepares the submit.
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
    /// fal.ai has it under `request`.
    Running {
        attempt: AttemptId,
        request: FalRequest,
        submitted_at: Timestamp,
    },
    Completed {
        request: FalRequest,
        submitted_at: Timestamp,
        output: O,
        completed_at: Timestamp,
    },
    Failed {
        reason: FailureReason,
        failed_at: Timestamp,
    },
    /// Ended before anything reached fal.ai (its avatar was deleted).
    Cancelled { cancelled_at: Timestamp },
}

/// The state's name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkStatus {
    Queued,
    Submitting,
    Sending,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl WorkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkStatus::Queued => "queued",
            WorkStatus::Submitting => "submitting",
            WorkStatus::Sending => "sending",
            WorkStatus::Running => "running",
            WorkStatus::Completed => "completed",
            WorkStatus::Failed => "failed",
            WorkStatus::Cancelled => "cancelled",
        }
    }
}

impl<O> WorkState<O> {
    pub fn status(&self) -> WorkStatus {
        match self {
            WorkState::Queued { .. } => WorkStatus::Queued,
            WorkState::Submitting { .. } => WorkStatus::Submitting,
            WorkState::Sending { .. } => WorkStatus::Sending,
            WorkState::Running { .. } => WorkStatus::Running,
            WorkState::Completed { .. } => WorkStatus::Completed,
            WorkState::Failed { .. } => WorkStatus::Failed,
            WorkState::Cancelled { .. } => WorkStatus::Cancelled,
        }
    }

    /// Completed, failed or cancelled.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            WorkState::Completed { .. } | WorkState::Failed { .. } | WorkState::Cancelled { .. }
        )
    }

    /// Nothing of it can have reached fal.ai yet: deleting it now refunds its price.
    pub fn is_unsent(&self) -> bool {
        matches!(
            self,
            WorkState::Queued { .. } | WorkState::Submitting { .. }
        )
    }

    /// Since when the work has been with a launch worker or fal.ai.
    pub fn started_at(&self) -> Option<Timestamp> {
        match self {
            WorkState::Submitting { claimed_at, .. } => Some(*claimed_at),
            WorkState::Sending { sent_at, .. } => Some(*sent_at),
            WorkState::Running { submitted_at, .. } => Some(*submitted_at),
            _ => None,
        }
    }

    /// Since when the sweep should look after the work while it runs (an outcome the user
    /// has not been told of is the record's business: see its notice).
    pub fn due_at(&self) -> Option<Timestamp> {
        match self {
            WorkState::Queued { queued_at, .. } => Some(*queued_at),
            state => state.started_at(),
        }
    }

    /// When it ended, if it has.
    pub fn ended_at(&self) -> Option<Timestamp> {
        match self {
            WorkState::Completed { completed_at, .. } => Some(*completed_at),
            WorkState::Failed { failed_at, .. } => Some(*failed_at),
            WorkState::Cancelled { cancelled_at } => Some(*cancelled_at),
            _ => None,
        }
    }

    /// Whether launching has been given up: the work waits for a claim it may no longer have
    /// (every claim so far ended without a submit).
    pub fn launch_given_up(&self, now: Timestamp) -> bool {
        match self {
            WorkState::Queued { claims, .. } => *claims >= MAX_LAUNCH_CLAIMS,
            WorkState::Submitting {
                claims,
                lease_until,
                ..
            } => *claims >= MAX_LAUNCH_CLAIMS && *lease_until <= now,
            _ => false,
        }
    }

    /// The fal.ai request the work knows of, if any.
    pub fn fal_request(&self) -> Option<&FalRequest> {
        match self {
            WorkState::Running { request, .. } | WorkState::Completed { request, .. } => {
                Some(request)
            }
            _ => None,
        }
    }

    /// The attempt whose submit may have reached fal.ai, if any.
    pub fn paid_attempt(&self) -> Option<AttemptId> {
        match self {
            WorkState::Sending { attempt, .. } | WorkState::Running { attempt, .. } => {
                Some(*attempt)
            }
            _ => None,
        }
    }
}

/// Something that happened to a piece of paid work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkEvent<O> {
    /// A launch worker takes it for `lease`. Allowed again once a lease has lapsed (nothing
    /// was sent yet), at most [`MAX_LAUNCH_CLAIMS`] times in all.
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
    /// The attempt gives the work back to the queue: provably nothing reached fal.ai.
    Release {
        attempt: AttemptId,
    },
    /// The awaited request finished with `output`.
    Succeed {
        request: FalRequest,
        output: O,
    },
    /// A result of this work, confirmed ours (our token and our record, or fal's status under
    /// our key), that it was not waiting for exactly: a late result, or one whose request id
    /// was never recorded. Paid for, so kept.
    Adopt {
        request: FalRequest,
        output: O,
    },
    Fail {
        reason: FailureReason,
    },
    /// Its avatar is deleted before anything reached fal.ai.
    Cancel,
}

impl<O> WorkEvent<O> {
    pub fn name(&self) -> &'static str {
        match self {
            WorkEvent::Claim { .. } => "claim",
            WorkEvent::BeginSubmit { .. } => "begin_submit",
            WorkEvent::Submitted { .. } => "submitted",
            WorkEvent::Release { .. } => "release",
            WorkEvent::Succeed { .. } => "succeed",
            WorkEvent::Adopt { .. } => "adopt",
            WorkEvent::Fail { .. } => "fail",
            WorkEvent::Cancel => "cancel",
        }
    }

    /// Whether this event gives the work an outcome the user must be told of.
    pub fn is_outcome(&self) -> bool {
        matches!(
            self,
            WorkEvent::Succeed { .. } | WorkEvent::Adopt { .. } | WorkEvent::Fail { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal move of paid work: {event} in state {}", from.as_str())]
pub struct IllegalStep {
    pub from: WorkStatus,
    pub event: &'static str,
}

/// The lifecycle core's single transition function.
pub fn step<O: Clone>(
    state: &WorkState<O>,
    event: WorkEvent<O>,
    now: Timestamp,
) -> Result<WorkState<O>, IllegalStep> {
    use WorkEvent as E;
    use WorkState as S;
    let illegal = IllegalStep {
        from: state.status(),
        event: event.name(),
    };
    let claimed = |attempt, lease, claims: u32| S::Submitting {
        attempt,
        claimed_at: now,
        lease_until: now.plus(lease),
        claims: claims + 1,
    };
    let next = match (state, event) {
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
        ) if *holder == attempt && *endpoint == request.endpoint => S::Running {
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
            S::Running {
                request: awaited,
                submitted_at,
                ..
            },
            E::Succeed { request, output },
        ) if awaited.request_id == request.request_id => S::Completed {
            request,
            submitted_at: *submitted_at,
            output,
            completed_at: now,
        },
        (
            S::Queued { .. }
            | S::Submitting { .. }
            | S::Sending { .. }
            | S::Running { .. }
            | S::Failed { .. },
            E::Adopt { request, output },
        ) => S::Completed {
            request,
            submitted_at: state.started_at().unwrap_or(now),
            output,
            completed_at: now,
        },
        (
            S::Queued { .. } | S::Submitting { .. } | S::Sending { .. } | S::Running { .. },
            E::Fail { reason },
        ) => S::Failed {
            reason,
            failed_at: now,
        },
        (S::Queued { .. } | S::Submitting { .. }, E::Cancel) => S::Cancelled { cancelled_at: now },
        _ => return Err(illegal),
    };
    Ok(next)
}

/// A record that carries a piece of paid work: what the engine needs of it, whatever its kind.
pub trait PaidRecord: Clone + Send + Sync + 'static {
    type Output: Clone + Send + Sync + 'static;

    fn work_ref(&self) -> WorkRef;
    /// Its paid work's state; `None` while it is not paid work yet (an avatar being
    /// assembled).
    fn state(&self) -> Option<&WorkState<Self::Output>>;
    /// The next version after `event`, to be written conditionally on the version read; an
    /// outcome also hands the notice to the writer.
    fn apply_work(
        &self,
        event: WorkEvent<Self::Output>,
        now: Timestamp,
    ) -> Result<Self, IllegalStep>;
    fn notice(&self) -> OutcomeNotice;
    /// The next version with the notice moved on by `event`; `None` when it does not apply.
    fn apply_notice(&self, event: NoticeEvent, now: Timestamp) -> Option<Self>;
    /// Whether files the finished work left behind are still to be deleted.
    fn tidy_due(&self) -> bool {
        false
    }
    /// The next version with nothing left to delete.
    fn tidied(&self) -> Option<Self> {
        None
    }
}

/// How a result that arrived would be taken by the work, decided before anything of it is
/// fetched (see [`acceptance`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// The awaited request: its outcome, as it is.
    Awaited,
    /// The sending attempt's result whose request id was never recorded: the request is
    /// recorded, then the outcome.
    Unrecorded,
    /// A success of this work it no longer (or not yet) waits for: adopted.
    Adopted,
}

/// Whether `state` takes the result of `request` (`attempt`: the attempt the result is known
/// to be of, from our webhook token; `None` when only the work is known), and how.
/// A failure is only ever taken from the request the work waits for.
pub fn acceptance<O>(
    state: &WorkState<O>,
    request: &FalRequest,
    attempt: Option<AttemptId>,
    success: bool,
) -> Option<Acceptance> {
    match state {
        WorkState::Running {
            request: awaited, ..
        } if awaited.request_id == request.request_id => Some(Acceptance::Awaited),
        WorkState::Sending {
            attempt: holder,
            endpoint,
            ..
        } if attempt.is_none_or(|a| a == *holder) && *endpoint == request.endpoint => {
            Some(Acceptance::Unrecorded)
        }
        WorkState::Queued { .. }
        | WorkState::Submitting { .. }
        | WorkState::Sending { .. }
        | WorkState::Running { .. }
        | WorkState::Failed { .. }
            if success =>
        {
            Some(Acceptance::Adopted)
        }
        _ => None,
    }
}

/// The events that give `state` the outcome of `request`, as `acceptance` decided.
pub fn outcome_events<O>(
    state: &WorkState<O>,
    acceptance: Acceptance,
    request: &FalRequest,
    outcome: Result<O, FailureReason>,
) -> Vec<WorkEvent<O>> {
    let finish = |outcome: Result<O, FailureReason>| match outcome {
        Ok(output) => WorkEvent::Succeed {
            request: request.clone(),
            output,
        },
        Err(reason) => WorkEvent::Fail { reason },
    };
    match acceptance {
        Acceptance::Awaited => vec![finish(outcome)],
        Acceptance::Unrecorded => {
            let attempt = state.paid_attempt().unwrap_or(AttemptId::LEGACY);
            vec![
                WorkEvent::Submitted {
                    attempt,
                    request: request.clone(),
                },
                finish(outcome),
            ]
        }
        Acceptance::Adopted => match outcome {
            Ok(output) => vec![WorkEvent::Adopt {
                request: request.clone(),
                output,
            }],
            // A result kept as a failure (its files gone): nothing to adopt.
            Err(_) => Vec::new(),
        },
    }
}

/// Checks a transition function against its table of legal moves: every (state, event) pair
/// of the representatives is tried; a pair in `legal` must lead to its status, any other must
/// be refused from the state's own status. Returns how many pairs were checked. Shared by the
/// tables of the core and of the avatar's assembly.
#[cfg(test)]
pub(crate) fn check_table<S, E: Clone, St: PartialEq + std::fmt::Debug + Copy>(
    states: &[(&'static str, S)],
    events: &[(&'static str, E)],
    legal: &[(&str, &str, St)],
    apply: impl Fn(&S, E) -> Result<St, (St, String)>,
    status: impl Fn(&S) -> St,
) -> usize {
    let mut checked = 0;
    for (state_name, state) in states {
        for (event_name, event) in events {
            let expected = legal
                .iter()
                .find(|(s, e, _)| s == state_name && e == event_name)
                .map(|(_, _, to)| *to);
            match (expected, apply(state, event.clone())) {
                (Some(to), Ok(next)) => assert_eq!(next, to, "{state_name} + {event_name}"),
                (None, Err((from, _))) => {
                    assert_eq!(from, status(state), "{state_name} + {event_name}")
                }
                (Some(_), Err((_, why))) => {
                    panic!("{state_name} + {event_name} should be legal: {why}")
                }
                (None, Ok(next)) => {
                    panic!("{state_name} + {event_name} should be illegal, went to {next:?}")
                }
            }
            checked += 1;
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000);
    const LEASE: Duration = Duration::from_secs(600);
    type State = WorkState<u8>;
    type Event = WorkEvent<u8>;

    fn request(id: &str) -> FalRequest {
        FalRequest {
            request_id: id.into(),
            endpoint: "fal-ai/endpoint".into(),
        }
    }

    /// One representative of every state; `submitting` held and lapsed, `queued` and lapsed
    /// `submitting` with their claims used up.
    fn states(holder: AttemptId) -> Vec<(&'static str, State)> {
        vec![
            (
                "queued",
                S::Queued {
                    queued_at: T0,
                    claims: 0,
                },
            ),
            (
                "queued_exhausted",
                S::Queued {
                    queued_at: T0,
                    claims: MAX_LAUNCH_CLAIMS,
                },
            ),
            (
                "submitting_held",
                S::Submitting {
                    attempt: holder,
                    claimed_at: T0,
                    lease_until: T0.plus(LEASE),
                    claims: 1,
                },
            ),
            (
                "submitting_lapsed",
                S::Submitting {
                    attempt: holder,
                    claimed_at: T0.minus(LEASE * 2),
                    lease_until: T0.minus(LEASE),
                    claims: 1,
                },
            ),
            (
                "submitting_lapsed_exhausted",
                S::Submitting {
                    attempt: holder,
                    claimed_at: T0.minus(LEASE * 2),
                    lease_until: T0.minus(LEASE),
                    claims: MAX_LAUNCH_CLAIMS,
                },
            ),
            (
                "sending",
                S::Sending {
                    attempt: holder,
                    endpoint: request("r1").endpoint,
                    sent_at: T0.minus(LEASE * 100),
                    claims: 1,
                },
            ),
            (
                "running",
                S::Running {
                    attempt: holder,
                    request: request("r1"),
                    submitted_at: T0,
                },
            ),
            (
                "completed",
                S::Completed {
                    request: request("r1"),
                    submitted_at: T0,
                    output: 1,
                    completed_at: T0,
                },
            ),
            (
                "failed",
                S::Failed {
                    reason: FailureReason::TimedOut,
                    failed_at: T0,
                },
            ),
            ("cancelled", S::Cancelled { cancelled_at: T0 }),
        ]
    }

    use WorkState as S;

    fn events(holder: AttemptId, other: AttemptId) -> Vec<(&'static str, Event)> {
        vec![
            (
                "claim",
                WorkEvent::Claim {
                    attempt: other,
                    lease: LEASE,
                },
            ),
            (
                "begin_submit_by_holder",
                WorkEvent::BeginSubmit {
                    attempt: holder,
                    endpoint: request("r1").endpoint,
                },
            ),
            (
                "begin_submit_by_other",
                WorkEvent::BeginSubmit {
                    attempt: other,
                    endpoint: request("r1").endpoint,
                },
            ),
            (
                "submitted_by_holder",
                WorkEvent::Submitted {
                    attempt: holder,
                    request: request("r1"),
                },
            ),
            (
                "submitted_by_other",
                WorkEvent::Submitted {
                    attempt: other,
                    request: request("r1"),
                },
            ),
            ("release_by_holder", WorkEvent::Release { attempt: holder }),
            ("release_by_other", WorkEvent::Release { attempt: other }),
            (
                "succeed_awaited",
                WorkEvent::Succeed {
                    request: request("r1"),
                    output: 7,
                },
            ),
            (
                "succeed_other",
                WorkEvent::Succeed {
                    request: request("r2"),
                    output: 7,
                },
            ),
            (
                "adopt",
                WorkEvent::Adopt {
                    request: request("r2"),
                    output: 7,
                },
            ),
            (
                "fail",
                WorkEvent::Fail {
                    reason: FailureReason::Unauthorized,
                },
            ),
            ("cancel", WorkEvent::Cancel),
        ]
    }

    /// Every legal (state, event) pair and the status it leads to. Anything absent is illegal.
    const LEGAL: &[(&str, &str, WorkStatus)] = &[
        ("queued", "claim", WorkStatus::Submitting),
        ("queued", "adopt", WorkStatus::Completed),
        ("queued", "fail", WorkStatus::Failed),
        ("queued", "cancel", WorkStatus::Cancelled),
        ("queued_exhausted", "adopt", WorkStatus::Completed),
        ("queued_exhausted", "fail", WorkStatus::Failed),
        ("queued_exhausted", "cancel", WorkStatus::Cancelled),
        (
            "submitting_held",
            "begin_submit_by_holder",
            WorkStatus::Sending,
        ),
        ("submitting_held", "release_by_holder", WorkStatus::Queued),
        ("submitting_held", "adopt", WorkStatus::Completed),
        ("submitting_held", "fail", WorkStatus::Failed),
        ("submitting_held", "cancel", WorkStatus::Cancelled),
        ("submitting_lapsed", "claim", WorkStatus::Submitting),
        (
            "submitting_lapsed",
            "begin_submit_by_holder",
            WorkStatus::Sending,
        ),
        ("submitting_lapsed", "release_by_holder", WorkStatus::Queued),
        ("submitting_lapsed", "adopt", WorkStatus::Completed),
        ("submitting_lapsed", "fail", WorkStatus::Failed),
        ("submitting_lapsed", "cancel", WorkStatus::Cancelled),
        (
            "submitting_lapsed_exhausted",
            "begin_submit_by_holder",
            WorkStatus::Sending,
        ),
        (
            "submitting_lapsed_exhausted",
            "release_by_holder",
            WorkStatus::Queued,
        ),
        (
            "submitting_lapsed_exhausted",
            "adopt",
            WorkStatus::Completed,
        ),
        ("submitting_lapsed_exhausted", "fail", WorkStatus::Failed),
        (
            "submitting_lapsed_exhausted",
            "cancel",
            WorkStatus::Cancelled,
        ),
        ("sending", "submitted_by_holder", WorkStatus::Running),
        ("sending", "release_by_holder", WorkStatus::Queued),
        ("sending", "adopt", WorkStatus::Completed),
        ("sending", "fail", WorkStatus::Failed),
        ("running", "succeed_awaited", WorkStatus::Completed),
        ("running", "adopt", WorkStatus::Completed),
        ("running", "fail", WorkStatus::Failed),
        ("failed", "adopt", WorkStatus::Completed),
    ];

    #[test]
    fn every_state_event_pair_matches_the_table() {
        let (holder, other) = (AttemptId::new(), AttemptId::new());
        let checked = check_table(
            &states(holder),
            &events(holder, other),
            LEGAL,
            |state, event| {
                step(state, event, T0)
                    .map(|next| next.status())
                    .map_err(|e| (e.from, e.to_string()))
            },
            WorkState::status,
        );
        assert_eq!(checked, 10 * 12);
    }

    #[test]
    fn a_held_lease_cannot_be_taken_until_it_lapses() {
        let held: State = S::Submitting {
            attempt: AttemptId::new(),
            claimed_at: T0,
            lease_until: T0.plus(LEASE),
            claims: 1,
        };
        let claim = || WorkEvent::Claim {
            attempt: AttemptId::new(),
            lease: LEASE,
        };
        assert!(step(&held, claim(), T0.plus(LEASE / 2)).is_err());
        assert!(
            step(&held, claim(), T0.plus(LEASE)).is_ok(),
            "lapses at lease_until"
        );
    }

    #[test]
    fn a_request_for_another_endpoint_does_not_match_the_sending_attempt() {
        let attempt = AttemptId::new();
        let sending: State = S::Sending {
            attempt,
            endpoint: "fal-ai/other".into(),
            sent_at: T0,
            claims: 1,
        };
        let submitted = WorkEvent::Submitted {
            attempt,
            request: request("r1"),
        };
        assert!(step(&sending, submitted, T0).is_err());
        assert_eq!(
            acceptance(&sending, &request("r1"), Some(attempt), true),
            Some(Acceptance::Adopted)
        );
        assert_eq!(
            acceptance(&sending, &request("r1"), Some(attempt), false),
            None
        );
    }

    #[test]
    fn results_are_taken_only_as_the_state_allows() {
        let holder = AttemptId::new();
        let other = AttemptId::new();
        for (name, state) in states(holder) {
            let awaited = acceptance(&state, &request("r1"), Some(holder), false);
            let expected = match name {
                "running" => Some(Acceptance::Awaited),
                "sending" => Some(Acceptance::Unrecorded),
                _ => None,
            };
            assert_eq!(awaited, expected, "a failure in {name}");
            let late = acceptance(&state, &request("r9"), Some(other), true);
            let expected = match name {
                "completed" | "cancelled" => None,
                _ => Some(Acceptance::Adopted),
            };
            assert_eq!(late, expected, "a late success in {name}");
        }
    }

    #[test]
    fn states_serialise_with_a_status_tag() {
        let queued: State = S::Queued {
            queued_at: T0,
            claims: 1,
        };
        let json = serde_json::to_value(queued).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"status": "queued", "queued_at": T0.0, "claims": 1})
        );
        let back: State = serde_json::from_value(json).unwrap();
        assert_eq!(back.status(), WorkStatus::Queued);
    }

    fn any_event(holder: AttemptId) -> impl Strategy<Value = Event> {
        let other = AttemptId::new();
        (0usize..12, any::<bool>()).prop_map(move |(i, mine)| {
            let attempt = if mine { holder } else { other };
            match i {
                0 => WorkEvent::Claim {
                    attempt: holder,
                    lease: LEASE,
                },
                1 => WorkEvent::BeginSubmit {
                    attempt,
                    endpoint: request("r1").endpoint,
                },
                2 => WorkEvent::Submitted {
                    attempt,
                    request: request("r1"),
                },
                3 => WorkEvent::Release { attempt },
                4 => WorkEvent::Succeed {
                    request: request("r1"),
                    output: 1,
                },
                5 => WorkEvent::Adopt {
                    request: request("r2"),
                    output: 2,
                },
                6 => WorkEvent::Fail {
                    reason: FailureReason::TimedOut,
                },
                7 => WorkEvent::Cancel,
                _ => WorkEvent::Claim {
                    attempt: other,
                    lease: LEASE,
                },
            }
        })
    }

    proptest! {
        /// Whatever happens to a piece of paid work, in any order at any time: it is never
        /// submitted twice (from `sending` on, no claim or begin-submit is legal again until
        /// a release, and a release is legal only before a request id is known), once
        /// finished only a failure can change (to an adoption), and a cancelled one never
        /// reaches fal.
        #[test]
        fn paid_work_is_submitted_at_most_once(
            events in prop::collection::vec(
                (any_event(AttemptId::LEGACY), 0u64..2_000), 1..60)
        ) {
            let mut state: State = S::Queued { queued_at: T0, claims: 0 };
            let mut now = T0;
            let mut submits = 0;
            for (event, secs) in events {
                now = now.plus(Duration::from_secs(secs));
                let was = state.clone();
                let Ok(next) = step(&state, event.clone(), now) else { continue };
                if was.status() != WorkStatus::Sending && next.status() == WorkStatus::Sending {
                    submits += 1;
                }
                if was.status() == WorkStatus::Sending && next.status() == WorkStatus::Queued {
                    submits -= 1; // Provably not sent: may be sent again.
                }
                match (&was, &next) {
                    (S::Completed { .. }, _) | (S::Cancelled { .. }, _) => {
                        prop_assert!(false, "{:?} moved to {:?}", was.status(), next.status())
                    }
                    (S::Failed { .. }, n) => prop_assert_eq!(n.status(), WorkStatus::Completed),
                    (S::Running { .. }, S::Queued { .. } | S::Submitting { .. } | S::Sending { .. }) => {
                        prop_assert!(false, "a running request went back")
                    }
                    _ => {}
                }
                prop_assert!(submits <= 1, "submitted twice");
                state = next;
            }
        }
    }
}
