//! A request to generate images with a completed avatar.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::avatar::{Avatar, NoticeEvent, OutcomeNotice};
use super::ids::{AvatarId, GenerationId, MessageRef, Timestamp, UserId};
use super::lifecycle::{FailureReason, FalRequest, MAX_LAUNCH_CLAIMS};
use super::styles::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AspectRatio {
    #[serde(rename = "1:1")]
    Square,
    #[serde(rename = "3:4")]
    Portrait3x4,
    #[serde(rename = "4:3")]
    Landscape4x3,
    #[serde(rename = "9:16")]
    Portrait9x16,
    #[serde(rename = "16:9")]
    Landscape16x9,
}

/// A prompt as the user wrote it: trimmed, control characters removed, 1..=1000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Prompt(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("the prompt is empty")]
    Empty,
    #[error("the prompt has {length} characters; at most {max} are allowed")]
    TooLong { length: usize, max: usize },
}

impl Prompt {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, PromptError> {
        // Line breaks and tabs separate words; other control characters are dropped.
        let cleaned: String = raw
            .chars()
            .filter_map(|c| match c {
                c if c.is_whitespace() => Some(if c.is_control() { ' ' } else { c }),
                c if c.is_control() => None,
                c => Some(c),
            })
            .collect();
        let trimmed = cleaned.trim();
        if trimmed.is_empty() {
            return Err(PromptError::Empty);
        }
        let length = trimmed.chars().count();
        if length > Self::MAX_CHARS {
            return Err(PromptError::TooLong {
                length,
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Prompt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Prompt::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The number of images in one generation: 1 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct ImageCount(u8);

impl ImageCount {
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for ImageCount {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        if (1..=4).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!("image count must be 1 to 4, got {n}"))
        }
    }
}

impl From<ImageCount> for u8 {
    fn from(c: ImageCount) -> u8 {
        c.0
    }
}

/// What became of one image fal.ai returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "image", rename_all = "snake_case")]
pub enum GeneratedImage {
    /// Kept in blob storage under `key` (the user's copy; deleted with the avatar).
    Stored {
        key: String,
        width: Option<u32>,
        height: Option<u32>,
    },
    /// Flagged NSFW by fal.ai: neither kept nor sent.
    Filtered,
    /// fal.ai named it but it could not be fetched (gone, too big, not an image).
    Unavailable { detail: String },
}

/// The user's choices for the next generation, remembered between generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationDefaults {
    pub aspect_ratio: AspectRatio,
    pub num_images: ImageCount,
}

impl Default for GenerationDefaults {
    fn default() -> Self {
        Self {
            aspect_ratio: AspectRatio::Portrait3x4,
            num_images: ImageCount(2),
        }
    }
}

impl AspectRatio {
    pub const ALL: [AspectRatio; 5] = [
        AspectRatio::Square,
        AspectRatio::Portrait3x4,
        AspectRatio::Landscape4x3,
        AspectRatio::Portrait9x16,
        AspectRatio::Landscape16x9,
    ];

    /// As fal.ai and people write it.
    pub fn as_str(self) -> &'static str {
        match self {
            AspectRatio::Square => "1:1",
            AspectRatio::Portrait3x4 => "3:4",
            AspectRatio::Landscape4x3 => "4:3",
            AspectRatio::Portrait9x16 => "9:16",
            AspectRatio::Landscape16x9 => "16:9",
        }
    }

    /// Width and height in parts (3:4 -> (3, 4)).
    pub fn parts(self) -> (u32, u32) {
        match self {
            AspectRatio::Square => (1, 1),
            AspectRatio::Portrait3x4 => (3, 4),
            AspectRatio::Landscape4x3 => (4, 3),
            AspectRatio::Portrait9x16 => (9, 16),
            AspectRatio::Landscape16x9 => (16, 9),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl ImageCount {
    pub const ALL: [ImageCount; 4] = [ImageCount(1), ImageCount(2), ImageCount(3), ImageCount(4)];
}

/// Where a generation is:
///
/// ```text
/// pending -> submitting -> sending -> in_progress -> completed
///    ^  \-(lease lapsed: claim again)  \             \-> failed
///    +---- release: provably nothing reached fal.ai
///   succeed also from sending (a confirmed result whose request id was never recorded)
///   fail: pending | submitting | sending | in_progress -> failed
/// ```
/// `sending` is written before the submit call: from there the generation is never
/// claimed again; it ends by its result or by the wait window running out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GenerationState {
    /// Recorded; the launch job is on its way.
    Pending {
        #[serde(default)]
        claims: u32,
    },
    /// A launch worker is preparing the submit; another may take over once the lease lapses.
    Submitting {
        lease_until: Timestamp,
        #[serde(default)]
        claims: u32,
    },
    /// The submit may have reached fal.ai; the request id is not known yet.
    Sending { sent_at: Timestamp, claims: u32 },
    InProgress {
        request: FalRequest,
        submitted_at: Timestamp,
    },
    Completed {
        request: FalRequest,
        images: Vec<GeneratedImage>,
        completed_at: Timestamp,
    },
    Failed {
        reason: FailureReason,
        failed_at: Timestamp,
    },
}

/// The state's name alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenerationStatus {
    Pending,
    Submitting,
    Sending,
    InProgress,
    Completed,
    Failed,
}

impl GenerationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Pending => "pending",
            GenerationStatus::Submitting => "submitting",
            GenerationStatus::Sending => "sending",
            GenerationStatus::InProgress => "in_progress",
            GenerationStatus::Completed => "completed",
            GenerationStatus::Failed => "failed",
        }
    }
}

impl GenerationState {
    pub fn status(&self) -> GenerationStatus {
        match self {
            GenerationState::Pending { .. } => GenerationStatus::Pending,
            GenerationState::Submitting { .. } => GenerationStatus::Submitting,
            GenerationState::Sending { .. } => GenerationStatus::Sending,
            GenerationState::InProgress { .. } => GenerationStatus::InProgress,
            GenerationState::Completed { .. } => GenerationStatus::Completed,
            GenerationState::Failed { .. } => GenerationStatus::Failed,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            GenerationState::Completed { .. } | GenerationState::Failed { .. }
        )
    }

    pub fn as_str(&self) -> &'static str {
        self.status().as_str()
    }

    /// The fal.ai request this generation knows of, if any.
    pub fn fal_request(&self) -> Option<&FalRequest> {
        match self {
            GenerationState::InProgress { request, .. }
            | GenerationState::Completed { request, .. } => Some(request),
            _ => None,
        }
    }

    /// Whether launching has been given up: it waits for a claim it may no longer have.
    pub fn launch_given_up(&self, now: Timestamp) -> bool {
        match self {
            GenerationState::Pending { claims } => *claims >= MAX_LAUNCH_CLAIMS,
            GenerationState::Submitting {
                claims,
                lease_until,
            } => *claims >= MAX_LAUNCH_CLAIMS && *lease_until <= now,
            _ => false,
        }
    }
}

/// Something that happened to a generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerationEvent {
    /// A launch worker takes it for `lease` (again once a lease lapsed, at most
    /// [`MAX_LAUNCH_CLAIMS`] times).
    Claim {
        lease: Duration,
    },
    /// The worker is about to call fal.ai: from here it may be paid.
    BeginSubmit,
    /// fal.ai gave it a request id.
    Submitted {
        request: FalRequest,
    },
    /// Provably nothing reached fal.ai: back to pending.
    Release,
    /// The result of `request`: the recorded one, or (while `sending`) one confirmed ours.
    Succeed {
        request: FalRequest,
        images: Vec<GeneratedImage>,
    },
    Fail {
        reason: FailureReason,
    },
}

impl GenerationEvent {
    pub fn name(&self) -> &'static str {
        match self {
            GenerationEvent::Claim { .. } => "claim",
            GenerationEvent::BeginSubmit => "begin_submit",
            GenerationEvent::Submitted { .. } => "submitted",
            GenerationEvent::Release => "release",
            GenerationEvent::Succeed { .. } => "succeed",
            GenerationEvent::Fail { .. } => "fail",
        }
    }

    fn is_outcome(&self) -> bool {
        matches!(
            self,
            GenerationEvent::Succeed { .. } | GenerationEvent::Fail { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal generation transition: {event} in state {}", from.as_str())]
pub struct IllegalGenerationTransition {
    pub from: GenerationStatus,
    pub event: &'static str,
}

/// The generation lifecycle's single transition function.
pub fn transition(
    state: &GenerationState,
    event: GenerationEvent,
    now: Timestamp,
) -> Result<GenerationState, IllegalGenerationTransition> {
    use GenerationEvent as E;
    use GenerationState as S;
    let illegal = IllegalGenerationTransition {
        from: state.status(),
        event: event.name(),
    };
    let next = match (state, event) {
        (S::Pending { claims }, E::Claim { lease }) if *claims < MAX_LAUNCH_CLAIMS => {
            S::Submitting {
                lease_until: now.plus(lease),
                claims: claims + 1,
            }
        }
        (
            S::Submitting {
                lease_until,
                claims,
            },
            E::Claim { lease },
        ) if *lease_until <= now && *claims < MAX_LAUNCH_CLAIMS => S::Submitting {
            lease_until: now.plus(lease),
            claims: claims + 1,
        },
        (S::Submitting { claims, .. }, E::BeginSubmit) => S::Sending {
            sent_at: now,
            claims: *claims,
        },
        (S::Sending { .. }, E::Submitted { request }) => S::InProgress {
            request,
            submitted_at: now,
        },
        (S::Submitting { claims, .. } | S::Sending { claims, .. }, E::Release) => {
            S::Pending { claims: *claims }
        }
        (
            S::InProgress {
                request: awaited, ..
            },
            E::Succeed { request, images },
        ) if awaited.request_id == request.request_id => S::Completed {
            request,
            images,
            completed_at: now,
        },
        (S::Sending { .. }, E::Succeed { request, images }) => S::Completed {
            request,
            images,
            completed_at: now,
        },
        (
            S::Pending { .. } | S::Submitting { .. } | S::Sending { .. } | S::InProgress { .. },
            E::Fail { reason },
        ) => S::Failed {
            reason,
            failed_at: now,
        },
        _ => return Err(illegal),
    };
    Ok(next)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub id: GenerationId,
    pub avatar_id: AvatarId,
    pub owner: UserId,
    /// The user's prompt, or the chosen style's prompt.
    pub prompt: Prompt,
    /// The style preset the prompt came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<Style>,
    pub aspect_ratio: AspectRatio,
    pub num_images: ImageCount,
    pub state: GenerationState,
    /// The "generating..." message, edited when the images arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<MessageRef>,
    /// Whether the user has been sent the result.
    #[serde(default)]
    pub notice: OutcomeNotice,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Generation {
    /// A new generation in `pending`, not yet stored.
    pub fn pending(
        avatar: &Avatar,
        prompt: Prompt,
        style: Option<Style>,
        defaults: GenerationDefaults,
        now: Timestamp,
    ) -> Self {
        Self {
            id: GenerationId::new(),
            avatar_id: avatar.id,
            owner: avatar.owner,
            prompt,
            style,
            aspect_ratio: defaults.aspect_ratio,
            num_images: defaults.num_images,
            state: GenerationState::Pending { claims: 0 },
            status_message: None,
            notice: OutcomeNotice::NotDue,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// Waiting on a launch worker or fal.ai.
    pub fn is_running(&self) -> bool {
        !self.state.is_finished()
    }

    /// Since when the sweep should look after it: while it runs, and after it finished
    /// until the user has the result. This is what puts it into the in-flight index.
    pub fn sweep_due_at(&self) -> Option<Timestamp> {
        match &self.state {
            GenerationState::Pending { .. } | GenerationState::Submitting { .. } => {
                Some(self.created_at)
            }
            GenerationState::Sending { sent_at, .. } => Some(*sent_at),
            GenerationState::InProgress { submitted_at, .. } => Some(*submitted_at),
            GenerationState::Completed { completed_at, .. }
                if self.notice != OutcomeNotice::Sent =>
            {
                Some(*completed_at)
            }
            GenerationState::Failed { failed_at, .. } if self.notice != OutcomeNotice::Sent => {
                Some(*failed_at)
            }
            _ => None,
        }
    }

    /// The next version after `event`, to be written conditionally on `version`. An outcome
    /// also hands the notice to the writer.
    pub fn apply(
        &self,
        event: GenerationEvent,
        now: Timestamp,
    ) -> Result<Generation, IllegalGenerationTransition> {
        let notice = if event.is_outcome() {
            self.notice
                .apply(NoticeEvent::OutcomeRecorded, now)
                .unwrap_or(self.notice)
        } else {
            self.notice
        };
        Ok(Generation {
            state: transition(&self.state, event, now)?,
            notice,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The next version with the notice moved on by `event`; `None` when it does not apply.
    pub fn apply_notice(&self, event: NoticeEvent, now: Timestamp) -> Option<Generation> {
        Some(Generation {
            notice: self.notice.apply(event, now)?,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp(1_700_000_000_000);
    const LEASE: Duration = Duration::from_secs(600);

    fn request(id: &str) -> FalRequest {
        FalRequest {
            request_id: id.into(),
            endpoint: "fal-ai/flux-lora".into(),
        }
    }

    /// One representative of every state; `submitting` held and lapsed, `pending` and
    /// lapsed `submitting` with their claims used up.
    fn states() -> Vec<(&'static str, GenerationState)> {
        use GenerationState as S;
        vec![
            ("pending", S::Pending { claims: 0 }),
            (
                "pending_exhausted",
                S::Pending {
                    claims: MAX_LAUNCH_CLAIMS,
                },
            ),
            (
                "submitting_held",
                S::Submitting {
                    lease_until: T0.plus(LEASE),
                    claims: 1,
                },
            ),
            (
                "submitting_lapsed",
                S::Submitting {
                    lease_until: T0.minus(LEASE),
                    claims: 1,
                },
            ),
            (
                "submitting_lapsed_exhausted",
                S::Submitting {
                    lease_until: T0.minus(LEASE),
                    claims: MAX_LAUNCH_CLAIMS,
                },
            ),
            (
                "sending",
                S::Sending {
                    sent_at: T0.minus(LEASE * 100),
                    claims: 1,
                },
            ),
            (
                "in_progress",
                S::InProgress {
                    request: request("r1"),
                    submitted_at: T0,
                },
            ),
            (
                "completed",
                S::Completed {
                    request: request("r1"),
                    images: vec![],
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
        ]
    }

    fn events() -> Vec<(&'static str, GenerationEvent)> {
        use GenerationEvent as E;
        vec![
            ("claim", E::Claim { lease: LEASE }),
            ("begin_submit", E::BeginSubmit),
            (
                "submitted",
                E::Submitted {
                    request: request("r1"),
                },
            ),
            ("release", E::Release),
            (
                "succeed_recorded",
                E::Succeed {
                    request: request("r1"),
                    images: vec![GeneratedImage::Filtered],
                },
            ),
            (
                "succeed_other",
                E::Succeed {
                    request: request("r2"),
                    images: vec![GeneratedImage::Filtered],
                },
            ),
            (
                "fail",
                E::Fail {
                    reason: FailureReason::Unauthorized,
                },
            ),
        ]
    }

    /// Every legal (state, event) pair and where it leads. Anything absent is illegal.
    const LEGAL: &[(&str, &str, GenerationStatus)] = &[
        ("pending", "claim", GenerationStatus::Submitting),
        ("pending", "fail", GenerationStatus::Failed),
        ("pending_exhausted", "fail", GenerationStatus::Failed),
        ("submitting_held", "begin_submit", GenerationStatus::Sending),
        ("submitting_held", "release", GenerationStatus::Pending),
        ("submitting_held", "fail", GenerationStatus::Failed),
        ("submitting_lapsed", "claim", GenerationStatus::Submitting),
        (
            "submitting_lapsed",
            "begin_submit",
            GenerationStatus::Sending,
        ),
        ("submitting_lapsed", "release", GenerationStatus::Pending),
        ("submitting_lapsed", "fail", GenerationStatus::Failed),
        (
            "submitting_lapsed_exhausted",
            "begin_submit",
            GenerationStatus::Sending,
        ),
        (
            "submitting_lapsed_exhausted",
            "release",
            GenerationStatus::Pending,
        ),
        (
            "submitting_lapsed_exhausted",
            "fail",
            GenerationStatus::Failed,
        ),
        ("sending", "submitted", GenerationStatus::InProgress),
        ("sending", "release", GenerationStatus::Pending),
        ("sending", "succeed_recorded", GenerationStatus::Completed),
        ("sending", "succeed_other", GenerationStatus::Completed),
        ("sending", "fail", GenerationStatus::Failed),
        (
            "in_progress",
            "succeed_recorded",
            GenerationStatus::Completed,
        ),
        ("in_progress", "fail", GenerationStatus::Failed),
    ];

    #[test]
    fn every_state_event_pair_matches_the_table() {
        let mut checked = 0;
        for (state_name, state) in states() {
            for (event_name, event) in events() {
                let expected = LEGAL
                    .iter()
                    .find(|(s, e, _)| *s == state_name && *e == event_name)
                    .map(|(_, _, to)| *to);
                match (expected, transition(&state, event, T0)) {
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
        assert_eq!(checked, 9 * 7);
    }

    #[test]
    fn a_sending_generation_is_never_claimed_again() {
        let sending = GenerationState::Sending {
            sent_at: T0,
            claims: 1,
        };
        let much_later = T0.plus(Duration::from_secs(365 * 24 * 3600));
        assert!(
            transition(
                &sending,
                GenerationEvent::Claim { lease: LEASE },
                much_later
            )
            .is_err()
        );
    }

    #[test]
    fn pending_reads_records_written_before_claims_were_counted() {
        let old: GenerationState =
            serde_json::from_value(serde_json::json!({"status": "pending"})).unwrap();
        assert_eq!(old, GenerationState::Pending { claims: 0 });
        let old: GenerationState =
            serde_json::from_value(serde_json::json!({"status": "submitting", "lease_until": 5}))
                .unwrap();
        assert_eq!(
            old,
            GenerationState::Submitting {
                lease_until: Timestamp(5),
                claims: 0
            }
        );
    }

    #[test]
    fn prompts_are_cleaned_and_bounded() {
        assert_eq!(Prompt::parse("  a\tcat\u{0}  ").unwrap().as_str(), "a cat");
        assert_eq!(Prompt::parse("a\u{7}b\nc").unwrap().as_str(), "ab c");
        assert_eq!(Prompt::parse(" \n "), Err(PromptError::Empty));
        assert!(Prompt::parse(&"я".repeat(1000)).is_ok());
        assert_eq!(
            Prompt::parse(&"x".repeat(1001)),
            Err(PromptError::TooLong {
                length: 1001,
                max: 1000
            })
        );
    }

    #[test]
    fn image_count_is_bounded() {
        assert!(ImageCount::try_from(0).is_err());
        assert!(ImageCount::try_from(5).is_err());
        assert_eq!(serde_json::from_str::<ImageCount>("4").unwrap().get(), 4);
        assert!(serde_json::from_str::<ImageCount>("9").is_err());
    }

    #[test]
    fn aspect_ratios_serialise_as_fal_spells_them() {
        assert_eq!(
            serde_json::to_string(&AspectRatio::Portrait9x16).unwrap(),
            "\"9:16\""
        );
    }
}
