//! The avatar: what the user chose, where it is in its lifecycle, and what training produced.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ids::MessageRef;
use super::ids::{AvatarId, Timestamp, UserId};
use super::lifecycle::{AvatarEvent, AvatarState, AvatarStatus, IllegalTransition, transition};
use super::lifecycle::{TrainedModel, TrainingOutput};
use super::work::{IllegalStep, PaidRecord, WorkEvent, WorkRef, WorkState};

/// What the avatar depicts; decides the trainer and the photo minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvatarKind {
    /// A person.
    Portrait,
    /// An art style, object or concept.
    Style,
}

/// A hint used in prompts; never inferred from photos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
    Other,
}

/// Training quality preset: trades duration and cost against fidelity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    Fast,
    Balanced,
    Quality,
}

impl AvatarKind {
    pub const ALL: [AvatarKind; 2] = [AvatarKind::Portrait, AvatarKind::Style];
    pub fn as_str(self) -> &'static str {
        match self {
            AvatarKind::Portrait => "portrait",
            AvatarKind::Style => "style",
        }
    }
}

impl Gender {
    pub const ALL: [Gender; 3] = [Gender::Male, Gender::Female, Gender::Other];
    pub fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
            Gender::Other => "other",
        }
    }
}

impl Preset {
    pub const ALL: [Preset; 3] = [Preset::Fast, Preset::Balanced, Preset::Quality];
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Fast => "fast",
            Preset::Balanced => "balanced",
            Preset::Quality => "quality",
        }
    }

    /// How long training usually takes, in minutes (low, high): the original product's
    /// published figures, shown to users before they commit.
    pub fn expected_minutes(self, kind: AvatarKind) -> (u32, u32) {
        kind.profile().expected_minutes.get(self)
    }
}

/// One value per training preset (a price, a cost, a trainer's knobs): a preset added is a
/// field here, and the compiler then asks for its value wherever one is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerPreset<T> {
    pub fast: T,
    pub balanced: T,
    pub quality: T,
}

impl<T: Copy> PerPreset<T> {
    pub fn get(&self, preset: Preset) -> T {
        match preset {
            Preset::Fast => self.fast,
            Preset::Balanced => self.balanced,
            Preset::Quality => self.quality,
        }
    }
}

impl<T> PerPreset<T> {
    /// One value per preset, made by `f`.
    pub fn from_fn(mut f: impl FnMut(Preset) -> T) -> Self {
        Self {
            fast: f(Preset::Fast),
            balanced: f(Preset::Balanced),
            quality: f(Preset::Quality),
        }
    }
}

impl<T> PerPreset<Option<T>> {
    /// All the values, if every preset has one.
    pub fn transpose(self) -> Option<PerPreset<T>> {
        Some(PerPreset {
            fast: self.fast?,
            balanced: self.balanced?,
            quality: self.quality?,
        })
    }
}

/// What the product knows of a kind of avatar, as data: a new kind is a row (and its trainer
/// in `fal/training.rs`, its style presets in `styles.rs`).
#[derive(Debug)]
pub struct KindProfile {
    /// Photos asked for unless the operator sets `PHOTOS_MIN_<KIND>`.
    pub default_min_photos: u32,
    /// How long training usually takes, in minutes (low, high), per preset.
    pub expected_minutes: PerPreset<(u32, u32)>,
    /// The style presets offered, in display order.
    pub styles: &'static [super::styles::Style; 8],
}

/// A portrait needs a face from enough angles and lights for the portrait trainer; a style is
/// a look the pictures share, so a small consistent set carries it (README, "Photo minimums").
const PORTRAIT: KindProfile = KindProfile {
    default_min_photos: 10,
    expected_minutes: PerPreset {
        fast: (3, 5),
        balanced: (5, 15),
        quality: (15, 30),
    },
    styles: &super::styles::Style::PORTRAIT,
};

const STYLE: KindProfile = KindProfile {
    default_min_photos: 5,
    expected_minutes: PerPreset {
        fast: (5, 10),
        balanced: (10, 20),
        quality: (20, 45),
    },
    styles: &super::styles::Style::STYLE,
};

impl AvatarKind {
    pub fn profile(self) -> &'static KindProfile {
        match self {
            AvatarKind::Portrait => &PORTRAIT,
            AvatarKind::Style => &STYLE,
        }
    }
}

/// An avatar's display name: 1 to 40 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct AvatarName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name has {length} characters; at most {max} are allowed")]
    TooLong { length: usize, max: usize },
    #[error("the name contains control characters")]
    ControlCharacters,
}

impl AvatarName {
    pub const MAX_CHARS: usize = 40;

    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        let length = trimmed.chars().count();
        if length > Self::MAX_CHARS {
            return Err(NameError::TooLong {
                length,
                max: Self::MAX_CHARS,
            });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AvatarName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AvatarName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        AvatarName::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The token the LoRA learns for this avatar; prepended to prompts. Derived from the id so it
/// is unique, stable and never chosen by the user (no prompt injection through names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerPhrase(String);

impl TriggerPhrase {
    pub fn for_avatar(id: AvatarId) -> Self {
        // The last 10 hex digits of a v7 id are random bits, unlike the leading timestamp.
        let hex = id.to_string();
        Self(format!("TOK_{}", &hex[hex.len() - 10..]))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TriggerPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The user's notification of an outcome (a training's or a generation's): claimed by
/// whoever sends it (so a webhook and the sweep racing on one result cannot both send), and
/// marked sent afterwards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum OutcomeNotice {
    /// No outcome yet.
    #[default]
    NotDue,
    /// An outcome exists; `claimed_until` is when the current sender's claim lapses (a sender
    /// that crashed is replaced by the next sweep after that).
    Due {
        claimed_until: Timestamp,
    },
    Sent,
}

/// An avatar left unfinished (never sent to training) this long is removed with its photos
/// by the sweep. A constant, not a setting: it is part of the in-flight index key the store
/// writes, and a change would need every such key rewritten.
pub const ABANDONED_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long the sender of a notice holds it before the sweep may send it instead.
pub const NOTICE_CLAIM: Duration = Duration::from_secs(120);

/// Something that happened to a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeEvent {
    /// An outcome was recorded: whoever recorded it holds the notice now.
    OutcomeRecorded,
    /// The sweep takes over a due notice whose sender's claim has lapsed.
    TakeOver,
    /// The user was told (or can never be: blocked, refused).
    Sent,
    /// The sender lets it go before its claim lapses: it waits for other work (a photo
    /// pack's album for its last picture), and whoever finishes that may send it at once.
    Release,
}

impl OutcomeNotice {
    /// The notice after `event`, or `None` when the event does not apply (already sent,
    /// still claimed by someone else).
    pub fn apply(self, event: NoticeEvent, now: Timestamp) -> Option<OutcomeNotice> {
        let claimed = OutcomeNotice::Due {
            claimed_until: now.plus(NOTICE_CLAIM),
        };
        match (self, event) {
            (_, NoticeEvent::OutcomeRecorded) => Some(claimed),
            (OutcomeNotice::Due { claimed_until }, NoticeEvent::TakeOver)
                if claimed_until <= now =>
            {
                Some(claimed)
            }
            (OutcomeNotice::Due { .. }, NoticeEvent::Sent) => Some(OutcomeNotice::Sent),
            (OutcomeNotice::Due { .. }, NoticeEvent::Release) => {
                Some(OutcomeNotice::Due { claimed_until: now })
            }
            _ => None,
        }
    }
}

/// An avatar record. `version` is the optimistic-lock counter: 0 means "never stored"; the
/// store increments it on every successful write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Avatar {
    pub id: AvatarId,
    pub owner: UserId,
    pub kind: AvatarKind,
    pub gender: Gender,
    pub name: AvatarName,
    pub preset: Preset,
    pub state: AvatarState,
    /// Photos recorded for this avatar; maintained by the store atomically with each photo.
    pub photo_count: u32,
    /// The message the bot edits to show this avatar's progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<MessageRef>,
    /// When training progress was last shown to the user (edits at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_shown_at: Option<Timestamp>,
    /// Whether the user has been told how training ended.
    #[serde(default)]
    pub notice: OutcomeNotice,
    /// The Telegram update that created it: Telegram's retry of that update finds this
    /// avatar instead of creating a second one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_update: Option<i64>,
    /// When the user asked for it to be deleted: from then on no paid work of it can be
    /// committed, and deletion (retried until done) settles and removes everything of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleting_since: Option<Timestamp>,
    /// Whether the training's files (its archive, the photos after a success) are still to be
    /// deleted: the sweep retries until done.
    #[serde(default, skip_serializing_if = "Tidy::is_done")]
    pub tidy: Tidy,
    /// When the user confirmed that a portrait avatar's photos show them, or someone who
    /// agreed to it, and no child: no photo of a person is taken before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consented_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Avatar {
    /// Whether photos wait for the user's consent: a person's, until they gave it.
    pub fn needs_consent(&self) -> bool {
        self.kind == AvatarKind::Portrait && self.consented_at.is_none()
    }

    /// A new avatar in `draft`, not yet stored.
    pub fn draft(
        owner: UserId,
        kind: AvatarKind,
        gender: Gender,
        name: AvatarName,
        preset: Preset,
        now: Timestamp,
    ) -> Self {
        Self {
            id: AvatarId::new(),
            owner,
            kind,
            gender,
            name,
            preset,
            state: AvatarState::Draft,
            photo_count: 0,
            status_message: None,
            progress_shown_at: None,
            notice: OutcomeNotice::NotDue,
            created_by_update: None,
            deleting_since: None,
            tidy: Tidy::Done,
            consented_at: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    pub fn status(&self) -> AvatarStatus {
        self.state.status()
    }

    pub fn trigger_phrase(&self) -> TriggerPhrase {
        TriggerPhrase::for_avatar(self.id)
    }

    /// Its training, as paid work.
    /// Whether its model can redraw a photo: a trained LoRA (a FLUX Pro finetune draws from
    /// prompts only).
    pub fn can_restyle(&self) -> bool {
        matches!(
            self.state.trained().map(|t| &t.model),
            Some(TrainedModel::Lora { .. })
        )
    }

    pub fn work(&self) -> WorkRef {
        WorkRef::training(self.owner, self.id)
    }

    /// Applies a lifecycle event, returning the next version of this avatar to be written
    /// conditionally on the current `version`.
    /// An event that gives the avatar an outcome also hands its notice to the writer.
    pub fn apply(&self, event: AvatarEvent, now: Timestamp) -> Result<Avatar, IllegalTransition> {
        let notice = if event.is_outcome() {
            self.notice
                .apply(NoticeEvent::OutcomeRecorded, now)
                .unwrap_or(self.notice)
        } else {
            self.notice
        };
        // A training's end leaves its files to delete.
        let tidy = if event.is_outcome() {
            Tidy::Due
        } else {
            self.tidy
        };
        let state = transition(&self.state, event, now)?;
        Ok(Avatar {
            state,
            notice,
            tidy,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The next version with the notice moved on by `event`; `None` when it does not apply.
    pub fn apply_notice(&self, event: NoticeEvent, now: Timestamp) -> Option<Avatar> {
        Some(Avatar {
            notice: self.notice.apply(event, now)?,
            ..self.clone()
        })
    }

    /// Since when the status sweep should keep an eye on this avatar: while it waits for a
    /// launch worker or fal.ai, after an outcome until the user has been told, and once an
    /// unfinished avatar has been left alone for [`ABANDONED_AFTER`] (a time in the future
    /// until then, so the sweep does not see it before). This is what puts the avatar into
    /// the in-flight index.
    pub fn sweep_due_at(&self) -> Option<Timestamp> {
        let training = match &self.state {
            AvatarState::Draft | AvatarState::CollectingPhotos | AvatarState::Ready => {
                return Some(self.updated_at.plus(ABANDONED_AFTER));
            }
            AvatarState::Work(training) => training,
        };
        if let Some(due) = training.due_at() {
            return Some(due);
        }
        let unfinished = self.notice != OutcomeNotice::Sent || self.tidy == Tidy::Due;
        match training {
            WorkState::Completed { completed_at, .. } if unfinished => Some(*completed_at),
            WorkState::Failed { failed_at, .. } if unfinished => Some(*failed_at),
            _ => None,
        }
    }
}

impl PaidRecord for Avatar {
    type Output = TrainingOutput;

    fn work_ref(&self) -> WorkRef {
        self.work()
    }

    fn state(&self) -> Option<&WorkState<TrainingOutput>> {
        self.state.training()
    }

    fn apply_work(
        &self,
        event: WorkEvent<TrainingOutput>,
        now: Timestamp,
    ) -> Result<Self, IllegalStep> {
        self.apply(AvatarEvent::Work(event), now)
            .map_err(|e| IllegalStep {
                from: self
                    .state
                    .training()
                    .map_or(super::work::WorkStatus::Queued, WorkState::status),
                event: e.event,
            })
    }

    fn notice(&self) -> OutcomeNotice {
        self.notice
    }

    fn apply_notice(&self, event: NoticeEvent, now: Timestamp) -> Option<Self> {
        Avatar::apply_notice(self, event, now)
    }

    fn tidy_due(&self) -> bool {
        self.tidy == Tidy::Due
    }

    fn tidied(&self) -> Option<Self> {
        self.tidy_due().then(|| Avatar {
            tidy: Tidy::Done,
            ..self.clone()
        })
    }
}

/// Whether what a finished training leaves behind (its archive; its photos after a success)
/// is still to be deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tidy {
    /// Nothing left (records written before this was kept read as done: their files went
    /// when they ended, or expire under the bucket's lifecycle rule).
    #[default]
    Done,
    Due,
}

impl Tidy {
    pub fn is_done(&self) -> bool {
        *self == Tidy::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_events() {
        let now = Timestamp(1_000_000);
        let due = OutcomeNotice::NotDue
            .apply(NoticeEvent::OutcomeRecorded, now)
            .unwrap();
        assert_eq!(
            due,
            OutcomeNotice::Due {
                claimed_until: now.plus(NOTICE_CLAIM)
            }
        );
        assert_eq!(due.apply(NoticeEvent::TakeOver, now), None, "still claimed");
        assert!(
            due.apply(NoticeEvent::TakeOver, now.plus(NOTICE_CLAIM))
                .is_some()
        );
        assert_eq!(due.apply(NoticeEvent::Sent, now), Some(OutcomeNotice::Sent));
        assert_eq!(OutcomeNotice::Sent.apply(NoticeEvent::Sent, now), None);
        assert_eq!(OutcomeNotice::Sent.apply(NoticeEvent::TakeOver, now), None);
        assert_eq!(OutcomeNotice::NotDue.apply(NoticeEvent::Sent, now), None);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(AvatarName::parse("  Анна  ").unwrap().as_str(), "Анна");
        assert_eq!(AvatarName::parse("   "), Err(NameError::Empty));
        assert_eq!(AvatarName::parse(""), Err(NameError::Empty));
        let forty = "я".repeat(40);
        assert!(
            AvatarName::parse(&forty).is_ok(),
            "40 characters (80 bytes) fit"
        );
        assert_eq!(
            AvatarName::parse(&"a".repeat(41)),
            Err(NameError::TooLong {
                length: 41,
                max: 40
            })
        );
        assert_eq!(
            AvatarName::parse("a\u{7}b"),
            Err(NameError::ControlCharacters)
        );
    }

    #[test]
    fn names_are_validated_when_read_back() {
        assert!(serde_json::from_str::<AvatarName>("\"  \"").is_err());
        assert_eq!(
            serde_json::from_str::<AvatarName>("\"Bob\"")
                .unwrap()
                .as_str(),
            "Bob"
        );
    }

    #[test]
    fn trigger_phrase_is_stable_and_distinct() {
        let (a, b) = (AvatarId::new(), AvatarId::new());
        assert_eq!(TriggerPhrase::for_avatar(a), TriggerPhrase::for_avatar(a));
        assert_ne!(TriggerPhrase::for_avatar(a), TriggerPhrase::for_avatar(b));
        let phrase = TriggerPhrase::for_avatar(a);
        assert!(phrase.as_str().starts_with("TOK_"));
        assert_eq!(phrase.as_str().len(), 14);
    }
}
