//! The product's vocabulary: avatars and their lifecycle, photos, generations, users.
//! Pure data and rules; no I/O.

pub mod avatar;
pub mod blob_key;
pub mod credits;
pub mod generation;
pub mod ids;
pub mod lifecycle;
pub mod photo;
pub mod photo_packs;
pub mod policy;
pub mod spend;
pub mod styles;
pub mod user;
pub mod work;

pub use avatar::{
    ABANDONED_AFTER, Avatar, AvatarKind, AvatarName, Gender, KindProfile, NOTICE_CLAIM, NameError,
    NoticeEvent, OutcomeNotice, PerPreset, Preset, Tidy, TriggerPhrase,
};
pub use blob_key::{BlobKey, InvalidBlobKey};
pub use credits::{Billing, Credits, EntryKind, LedgerEntry, NotEnoughCredits, Pack, Prices};
pub use generation::{
    AspectRatio, GeneratedImage, Generation, GenerationDefaults, GenerationState, ImageCount,
    KeptPicture, Order, Prompt, PromptError, UpscaleFactor,
};
pub use ids::{
    AttemptId, AvatarId, ChatId, GenerationId, InvalidId, MessageRef, Timestamp, UserId, WorkId,
};
pub use lifecycle::{
    AvatarEvent, AvatarState, AvatarStatus, IllegalTransition, TrainedModel, Training,
    TrainingOutput, transition,
};
pub use photo::{ContentHash, ImageFormat, Photo, PhotoRejection, blob_keys};
pub use photo_packs::{Catalogue, PackPicture, PhotoPack};
pub use policy::{
    Access, Audience, GenerationRefusal, Limits, Money, PhotoRefusal, Priced, Quotas, Quote,
    TrainingRefusal,
};
pub use spend::{Charge, Costs, SpendCap, SpendDay, Usd};
pub use styles::Style;
pub use user::{DialogueState, Language, TelegramPhoto, UserProfile};
pub use work::{
    Acceptance, FailureReason, FalRequest, IllegalStep, MAX_LAUNCH_CLAIMS, PaidRecord, Quota, Work,
    WorkEvent, WorkKind, WorkRef, WorkState, WorkStatus,
};
