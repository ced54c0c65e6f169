//! A request to generate images with a completed avatar.

use serde::{Deserialize, Serialize};

use super::avatar::{Avatar, NoticeEvent, OutcomeNotice, Tidy};
use super::blob_key::BlobKey;
use super::ids::{AttemptId, AvatarId, GenerationId, MessageRef, Timestamp, UserId};
use super::photo::{ImageFormat, blob_keys};
use super::styles::Style;
use super::work::{
    FailureReason, FalRequest, IllegalStep, PaidRecord, WorkEvent, WorkKind, WorkRef, WorkState,
    step,
};

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

    /// The ratio closest to a picture of `width` x `height` (3:4 when the size is unknown).
    pub fn nearest(width: u32, height: u32) -> Self {
        if width == 0 || height == 0 {
            return AspectRatio::Portrait3x4;
        }
        let shape = (f64::from(width) / f64::from(height)).ln();
        Self::ALL
            .into_iter()
            .min_by(|a, b| {
                let off = |r: AspectRatio| {
                    let (w, h) = r.parts();
                    ((f64::from(w) / f64::from(h)).ln() - shape).abs()
                };
                off(*a).total_cmp(&off(*b))
            })
            .unwrap_or(AspectRatio::Portrait3x4)
    }
}

impl ImageCount {
    pub const ALL: [ImageCount; 4] = [ImageCount(1), ImageCount(2), ImageCount(3), ImageCount(4)];
    pub const ONE: ImageCount = ImageCount(1);
}

/// How much an upscale multiplies a picture's width and height: 2 to 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct UpscaleFactor(u8);

impl UpscaleFactor {
    pub const TWO: UpscaleFactor = UpscaleFactor(2);

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for UpscaleFactor {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        if (2..=4).contains(&n) {
            Ok(Self(n))
        } else {
            Err(format!("the upscale factor must be 2 to 4, got {n}"))
        }
    }
}

impl From<UpscaleFactor> for u8 {
    fn from(f: UpscaleFactor) -> u8 {
        f.0
    }
}

/// What a picture job asks for. Every kind of picture work lives in a generation record
/// under its avatar; the order says which kind it is and what it works from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Order {
    /// Pictures drawn from the prompt with the avatar's model.
    #[default]
    Prompt,
    /// Picture `picture` (0-based) of the generation `of`, under the same avatar, made
    /// `factor` times bigger. The record keeps the source's prompt and format.
    Upscale {
        of: GenerationId,
        picture: u8,
        factor: UpscaleFactor,
    },
    /// The user's own photo (kept at `blob_keys::restyle_source` until the work is over)
    /// redrawn from the prompt with the avatar's model.
    Restyle { source: ImageFormat },
    /// Picture `index` of a photo pack of `size` pictures (`theme`, by its id in the
    /// catalogue), committed together in one tap; `pack` is the first picture's id, whose
    /// record delivers the album once every picture of the pack is over.
    Pack {
        pack: GenerationId,
        index: u8,
        size: u8,
        theme: String,
    },
    /// Picture `index` of `size` drawn at once from the user's own best photo by a
    /// training-free identity model while the avatar trains; `pack` is the first picture's
    /// id, whose record delivers the album (as a pack's).
    FirstLook {
        pack: GenerationId,
        index: u8,
        size: u8,
    },
}

impl Order {
    pub fn kind(&self) -> WorkKind {
        match self {
            Order::Prompt => WorkKind::Generation,
            Order::Upscale { .. } => WorkKind::Upscale,
            Order::Restyle { .. } => WorkKind::Restyle,
            Order::Pack { .. } => WorkKind::PhotoPack,
            Order::FirstLook { .. } => WorkKind::FirstLook,
        }
    }

    /// Whether the work keeps an input of the user's that goes once it is over.
    fn leaves_inputs(&self) -> bool {
        matches!(self, Order::Restyle { .. })
    }

    fn is_prompt(&self) -> bool {
        *self == Order::Prompt
    }
}

/// A kept picture: where it is and its size, as fal.ai reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptPicture<'a> {
    pub key: &'a str,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Where a generation is: the paid-work core's state, with the pictures a success kept.
pub type GenerationState = WorkState<Vec<GeneratedImage>>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "stored::StoredGeneration")]
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
    /// What kind of picture work this is (drawn from the prompt, or an upscale).
    #[serde(default, skip_serializing_if = "Order::is_prompt")]
    pub order: Order,
    #[serde(serialize_with = "stored::state")]
    pub state: GenerationState,
    /// The "generating..." message, edited when the images arrive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<MessageRef>,
    /// Whether the user has been sent the result.
    #[serde(default)]
    pub notice: OutcomeNotice,
    /// Whether an input of the user's (a restyle's photo) is still to be deleted.
    #[serde(default, skip_serializing_if = "Tidy::is_done")]
    pub tidy: Tidy,
    /// When the record and its pictures go (`RETENTION_DAYS` after it was committed); `None`
    /// keeps them until the avatar is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_until: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
}

impl Generation {
    /// Whether the record's time is over: it counts as gone, whatever the backend still holds
    /// (DynamoDB's TTL deletes within days, not at once).
    pub fn expired(&self, now: Timestamp) -> bool {
        self.keep_until.is_some_and(|until| until <= now)
    }

    /// Whether the user still sees the record under a retention of `retention_days`. A record
    /// made before records carried their end counts from when it was made, as the bucket's
    /// lifecycle rule counts for its pictures.
    pub fn retained(&self, now: Timestamp, retention_days: Option<u32>) -> bool {
        let days = |d: u32| std::time::Duration::from_secs(u64::from(d) * 86_400);
        let until = self
            .keep_until
            .or_else(|| retention_days.map(|d| self.created_at.plus(days(d))));
        until.is_none_or(|until| until > now)
    }

    /// A new generation, committed and queued once stored.
    pub fn queued(
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
            order: Order::Prompt,
            state: WorkState::Queued {
                queued_at: now,
                claims: 0,
            },
            status_message: None,
            notice: OutcomeNotice::NotDue,
            tidy: Tidy::Done,
            keep_until: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// A new upscale of `source`'s picture `picture`, committed and queued once stored.
    pub fn upscale(
        source: &Generation,
        picture: u8,
        factor: UpscaleFactor,
        now: Timestamp,
    ) -> Self {
        Self {
            id: GenerationId::new(),
            num_images: ImageCount::ONE,
            order: Order::Upscale {
                of: source.id,
                picture,
                factor,
            },
            state: WorkState::Queued {
                queued_at: now,
                claims: 0,
            },
            status_message: None,
            notice: OutcomeNotice::NotDue,
            tidy: Tidy::Done,
            created_at: now,
            updated_at: now,
            version: 0,
            ..source.clone()
        }
    }

    /// A new restyle `id`: the user's photo, already kept at [`Self::restyle_source`],
    /// redrawn by `avatar` from `prompt`; committed and queued once stored.
    pub fn restyle(
        id: GenerationId,
        avatar: &Avatar,
        prompt: Prompt,
        style: Option<Style>,
        source: ImageFormat,
        aspect_ratio: AspectRatio,
        now: Timestamp,
    ) -> Self {
        let defaults = GenerationDefaults {
            aspect_ratio,
            num_images: ImageCount::ONE,
        };
        Self {
            id,
            order: Order::Restyle { source },
            ..Generation::queued(avatar, prompt, style, defaults, now)
        }
    }

    /// A first look at `avatar` while it trains: `size` pictures, one record each, committed
    /// together (as a pack's), each from a portrait preset's prompt.
    pub fn first_look(avatar: &Avatar, size: u8, now: Timestamp) -> Vec<Self> {
        let leader = GenerationId::new();
        let styles = Style::for_kind(avatar.kind);
        (0..size)
            .map(|index| {
                let style = styles[usize::from(index) % styles.len()];
                let defaults = GenerationDefaults {
                    aspect_ratio: AspectRatio::Portrait3x4,
                    num_images: ImageCount::ONE,
                };
                let prompt = Prompt::parse(style.prompt()).expect("style prompts are valid");
                Self {
                    id: leader.member(index),
                    order: Order::FirstLook {
                        pack: leader,
                        index,
                        size,
                    },
                    ..Generation::queued(avatar, prompt, Some(style), defaults, now)
                }
            })
            .collect()
    }

    /// The leader and size of the group it was committed in (a photo pack, a first look).
    fn group(&self) -> Option<(GenerationId, u8)> {
        match self.order {
            Order::Pack { pack, size, .. } | Order::FirstLook { pack, size, .. } => {
                Some((pack, size))
            }
            _ => None,
        }
    }

    /// The piece of work it is part of, as the user asked for it: a group's leader for every
    /// picture of the group, else itself (what the per-user limits count).
    pub fn piece(&self) -> GenerationId {
        self.group().map_or(self.id, |(pack, _)| pack)
    }

    /// The ids of every picture of its group, the leader first (empty if not a group's).
    pub fn pack_members(&self) -> Vec<GenerationId> {
        match self.group() {
            Some((pack, size)) => (0..size).map(|i| pack.member(i)).collect(),
            None => Vec::new(),
        }
    }

    /// Where a restyle's photo is kept while the restyle runs.
    pub fn restyle_source(&self) -> Option<BlobKey> {
        match self.order {
            Order::Restyle { source } => Some(blob_keys::restyle_source(
                self.owner,
                self.avatar_id,
                self.id,
                source,
            )),
            _ => None,
        }
    }

    pub fn kind(&self) -> WorkKind {
        self.order.kind()
    }

    pub fn work(&self) -> WorkRef {
        WorkRef {
            kind: self.kind(),
            owner: self.owner,
            avatar_id: self.avatar_id,
            id: self.id.into(),
        }
    }

    /// The kept pictures of a completed generation, by their place in it.
    pub fn kept_pictures(&self) -> Vec<(u8, KeptPicture<'_>)> {
        let WorkState::Completed { output, .. } = &self.state else {
            return Vec::new();
        };
        output
            .iter()
            .enumerate()
            .filter_map(|(i, image)| match image {
                GeneratedImage::Stored { key, width, height } => Some((
                    u8::try_from(i).ok()?,
                    KeptPicture {
                        key,
                        width: *width,
                        height: *height,
                    },
                )),
                _ => None,
            })
            .collect()
    }

    /// Picture `index`, if it was kept.
    pub fn kept_picture(&self, index: u8) -> Option<KeptPicture<'_>> {
        self.kept_pictures()
            .into_iter()
            .find(|(i, _)| *i == index)
            .map(|(_, p)| p)
    }

    /// Waiting on a launch worker or fal.ai.
    pub fn is_running(&self) -> bool {
        !self.state.is_finished()
    }

    /// Since when the sweep should look after it: while it runs, and after it finished
    /// until the user has the result. This is what puts it into the in-flight index.
    pub fn sweep_due_at(&self) -> Option<Timestamp> {
        match self.state.due_at() {
            Some(due) => Some(due),
            None if self.notice != OutcomeNotice::Sent || self.tidy == Tidy::Due => {
                match &self.state {
                    WorkState::Completed { completed_at, .. } => Some(*completed_at),
                    WorkState::Failed { failed_at, .. } => Some(*failed_at),
                    _ => None,
                }
            }
            None => None,
        }
    }

    /// The next version after `event`, to be written conditionally on `version`. An outcome
    /// also hands the notice to the writer.
    pub fn apply(
        &self,
        event: WorkEvent<Vec<GeneratedImage>>,
        now: Timestamp,
    ) -> Result<Generation, IllegalStep> {
        let notice = if event.is_outcome() {
            self.notice
                .apply(NoticeEvent::OutcomeRecorded, now)
                .unwrap_or(self.notice)
        } else {
            self.notice
        };
        let tidy = if event.is_outcome() && self.order.leaves_inputs() {
            Tidy::Due
        } else {
            self.tidy
        };
        Ok(Generation {
            state: step(&self.state, event, now)?,
            notice,
            tidy,
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

impl PaidRecord for Generation {
    type Output = Vec<GeneratedImage>;

    fn work_ref(&self) -> WorkRef {
        self.work()
    }

    fn state(&self) -> Option<&GenerationState> {
        Some(&self.state)
    }

    fn apply_work(
        &self,
        event: WorkEvent<Vec<GeneratedImage>>,
        now: Timestamp,
    ) -> Result<Self, IllegalStep> {
        self.apply(event, now)
    }

    fn notice(&self) -> OutcomeNotice {
        self.notice
    }

    fn apply_notice(&self, event: NoticeEvent, now: Timestamp) -> Option<Self> {
        Generation::apply_notice(self, event, now)
    }

    fn tidy_due(&self) -> bool {
        self.tidy == Tidy::Due
    }

    fn tidied(&self) -> Option<Self> {
        self.tidy_due().then(|| Generation {
            tidy: Tidy::Done,
            ..self.clone()
        })
    }
}

/// Generations as stored: the status names and fields of the first release (`pending`,
/// `in_progress`), which had no attempt ids, kept so every stored generation reads back and
/// older code reads new ones (it ignores the fields it does not know).
mod stored {
    use serde::{Deserialize, Serialize, Serializer};

    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "status", rename_all = "snake_case")]
    pub(super) enum StoredState {
        Pending {
            #[serde(default)]
            claims: u32,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            queued_at: Option<Timestamp>,
        },
        Submitting {
            lease_until: Timestamp,
            #[serde(default)]
            claims: u32,
            #[serde(default = "legacy")]
            attempt: AttemptId,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            claimed_at: Option<Timestamp>,
        },
        Sending {
            sent_at: Timestamp,
            claims: u32,
            #[serde(default = "legacy")]
            attempt: AttemptId,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            endpoint: Option<String>,
        },
        InProgress {
            request: FalRequest,
            submitted_at: Timestamp,
            #[serde(default = "legacy")]
            attempt: AttemptId,
        },
        Completed {
            request: FalRequest,
            images: Vec<GeneratedImage>,
            completed_at: Timestamp,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            submitted_at: Option<Timestamp>,
        },
        Failed {
            reason: FailureReason,
            failed_at: Timestamp,
        },
        Cancelled {
            cancelled_at: Timestamp,
        },
    }

    fn legacy() -> AttemptId {
        AttemptId::LEGACY
    }

    /// The endpoint of generations stored before it was recorded: the only one then.
    const LEGACY_ENDPOINT: &str = "fal-ai/flux-lora";

    impl StoredState {
        fn of(state: &GenerationState) -> Self {
            match state.clone() {
                WorkState::Queued { queued_at, claims } => StoredState::Pending {
                    claims,
                    queued_at: Some(queued_at),
                },
                WorkState::Submitting {
                    attempt,
                    claimed_at,
                    lease_until,
                    claims,
                } => StoredState::Submitting {
                    lease_until,
                    claims,
                    attempt,
                    claimed_at: Some(claimed_at),
                },
                WorkState::Sending {
                    attempt,
                    endpoint,
                    sent_at,
                    claims,
                } => StoredState::Sending {
                    sent_at,
                    claims,
                    attempt,
                    endpoint: Some(endpoint),
                },
                WorkState::Running {
                    attempt,
                    request,
                    submitted_at,
                } => StoredState::InProgress {
                    request,
                    submitted_at,
                    attempt,
                },
                WorkState::Completed {
                    request,
                    submitted_at,
                    output,
                    completed_at,
                } => StoredState::Completed {
                    request,
                    images: output,
                    completed_at,
                    submitted_at: Some(submitted_at),
                },
                WorkState::Failed { reason, failed_at } => {
                    StoredState::Failed { reason, failed_at }
                }
                WorkState::Cancelled { cancelled_at } => StoredState::Cancelled { cancelled_at },
            }
        }

        /// `created_at` stands in for the times records of the first release did not keep.
        fn into_state(self, created_at: Timestamp) -> GenerationState {
            match self {
                StoredState::Pending { claims, queued_at } => WorkState::Queued {
                    queued_at: queued_at.unwrap_or(created_at),
                    claims,
                },
                StoredState::Submitting {
                    lease_until,
                    claims,
                    attempt,
                    claimed_at,
                } => WorkState::Submitting {
                    attempt,
                    claimed_at: claimed_at.unwrap_or(created_at),
                    lease_until,
                    claims,
                },
                StoredState::Sending {
                    sent_at,
                    claims,
                    attempt,
                    endpoint,
                } => WorkState::Sending {
                    attempt,
                    endpoint: endpoint.unwrap_or_else(|| LEGACY_ENDPOINT.to_owned()),
                    sent_at,
                    claims,
                },
                StoredState::InProgress {
                    request,
                    submitted_at,
                    attempt,
                } => WorkState::Running {
                    attempt,
                    request,
                    submitted_at,
                },
                StoredState::Completed {
                    request,
                    images,
                    completed_at,
                    submitted_at,
                } => WorkState::Completed {
                    request,
                    submitted_at: submitted_at.unwrap_or(created_at),
                    output: images,
                    completed_at,
                },
                StoredState::Failed { reason, failed_at } => {
                    WorkState::Failed { reason, failed_at }
                }
                StoredState::Cancelled { cancelled_at } => WorkState::Cancelled { cancelled_at },
            }
        }
    }

    pub(super) fn state<S: Serializer>(state: &GenerationState, s: S) -> Result<S::Ok, S::Error> {
        StoredState::of(state).serialize(s)
    }

    /// A generation as read from the store.
    #[derive(Deserialize)]
    pub(super) struct StoredGeneration {
        id: GenerationId,
        avatar_id: AvatarId,
        owner: UserId,
        prompt: Prompt,
        #[serde(default)]
        style: Option<Style>,
        aspect_ratio: AspectRatio,
        num_images: ImageCount,
        #[serde(default)]
        order: Order,
        state: StoredState,
        #[serde(default)]
        status_message: Option<MessageRef>,
        #[serde(default)]
        notice: OutcomeNotice,
        #[serde(default)]
        tidy: Tidy,
        #[serde(default)]
        keep_until: Option<Timestamp>,
        created_at: Timestamp,
        updated_at: Timestamp,
        version: u64,
    }

    impl From<StoredGeneration> for Generation {
        fn from(g: StoredGeneration) -> Self {
            Generation {
                id: g.id,
                avatar_id: g.avatar_id,
                owner: g.owner,
                prompt: g.prompt,
                style: g.style,
                aspect_ratio: g.aspect_ratio,
                num_images: g.num_images,
                order: g.order,
                state: g.state.into_state(g.created_at),
                status_message: g.status_message,
                notice: g.notice,
                tidy: g.tidy,
                keep_until: g.keep_until,
                created_at: g.created_at,
                updated_at: g.updated_at,
                version: g.version,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const T0: Timestamp = Timestamp(1_700_000_000_000);
    const LEASE: Duration = Duration::from_secs(600);

    fn request(id: &str) -> FalRequest {
        FalRequest {
            request_id: id.into(),
            endpoint: "fal-ai/flux-lora".into(),
        }
    }

    #[test]
    fn generations_of_the_first_release_read_back() {
        let id = GenerationId::new();
        let avatar = AvatarId::new();
        let record = |state: serde_json::Value| {
            serde_json::json!({
                "id": id.to_string(), "avatar_id": avatar.to_string(), "owner": 5,
                "prompt": "a cat", "aspect_ratio": "3:4", "num_images": 2,
                "state": state, "created_at": T0.0, "updated_at": T0.0, "version": 3,
            })
        };
        let read = |state| {
            serde_json::from_value::<Generation>(record(state))
                .unwrap()
                .state
        };
        assert_eq!(
            read(serde_json::json!({"status": "pending"})),
            WorkState::Queued {
                queued_at: T0,
                claims: 0
            }
        );
        assert_eq!(
            read(serde_json::json!({"status": "submitting", "lease_until": 5})),
            WorkState::Submitting {
                attempt: AttemptId::LEGACY,
                claimed_at: T0,
                lease_until: Timestamp(5),
                claims: 0
            }
        );
        assert_eq!(
            read(serde_json::json!({"status": "sending", "sent_at": 7, "claims": 1})),
            WorkState::Sending {
                attempt: AttemptId::LEGACY,
                endpoint: "fal-ai/flux-lora".into(),
                sent_at: Timestamp(7),
                claims: 1
            }
        );
        let running = read(serde_json::json!({"status": "in_progress",
            "request": {"request_id": "r1", "endpoint": "fal-ai/flux-lora"}, "submitted_at": 9}));
        assert_eq!(running.paid_attempt(), Some(AttemptId::LEGACY));
        assert_eq!(running.fal_request(), Some(&request("r1")));
    }

    #[test]
    fn a_record_counts_until_its_end_or_its_age_passes_the_retention() {
        let avatar = Avatar::draft(
            UserId(1),
            crate::domain::AvatarKind::Portrait,
            crate::domain::Gender::Male,
            crate::domain::AvatarName::parse("A").unwrap(),
            crate::domain::Preset::Fast,
            T0,
        );
        let day = Duration::from_secs(86_400);
        let prompt = Prompt::parse("a cat").unwrap();
        let mut g = Generation::queued(&avatar, prompt, None, GenerationDefaults::default(), T0);
        // Made before records carried their end: counted from when it was made.
        assert!(g.retained(T0.plus(day * 89), Some(90)));
        assert!(!g.retained(T0.plus(day * 90), Some(90)));
        assert!(g.retained(T0.plus(day * 10_000), None), "off keeps it");
        assert!(
            !g.expired(T0.plus(day * 10_000)),
            "the store does not know the retention"
        );
        // Stamped at its commit: that end holds, whatever the setting is now.
        g.keep_until = Some(T0.plus(day * 30));
        assert!(!g.retained(T0.plus(day * 30), None));
        assert!(g.expired(T0.plus(day * 30)));
        assert!(g.retained(T0.plus(day * 29), Some(1)));
    }

    #[test]
    fn generations_are_stored_under_their_first_status_names() {
        let avatar = Avatar::draft(
            UserId(1),
            crate::domain::AvatarKind::Portrait,
            crate::domain::Gender::Male,
            crate::domain::AvatarName::parse("A").unwrap(),
            crate::domain::Preset::Fast,
            T0,
        );
        let g = Generation::queued(
            &avatar,
            Prompt::parse("p").unwrap(),
            None,
            GenerationDefaults::default(),
            T0,
        );
        let json = serde_json::to_value(&g).unwrap();
        assert_eq!(json["state"]["status"], "pending");
        assert_eq!(serde_json::from_value::<Generation>(json).unwrap(), g);
        let attempt = AttemptId::new();
        let running = g
            .apply(
                WorkEvent::Claim {
                    attempt,
                    lease: LEASE,
                },
                T0,
            )
            .and_then(|g| {
                g.apply(
                    WorkEvent::BeginSubmit {
                        attempt,
                        endpoint: "fal-ai/flux-lora".into(),
                    },
                    T0,
                )
            })
            .and_then(|g| {
                g.apply(
                    WorkEvent::Submitted {
                        attempt,
                        request: request("r1"),
                    },
                    T0,
                )
            })
            .unwrap();
        let json = serde_json::to_value(&running).unwrap();
        assert_eq!(json["state"]["status"], "in_progress");
        assert_eq!(serde_json::from_value::<Generation>(json).unwrap(), running);
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
