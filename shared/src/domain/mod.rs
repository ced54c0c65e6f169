//! The product's vocabulary: avatars and their lifecycle, photos, generations, users.
//! Pure data and rules; no I/O.

pub mod avatar;
pub mod blob_key;
pub mod credits;
pub mod generation;
pub mod ids;
pub mod lifecycle;
pub mod photo;
pub mod policy;
pub mod spend;
pub mod styles;
pub mod user;

pub use avatar::{
    ABANDONED_AFTER, Avatar, AvatarKind, AvatarName, Gender, NOTICE_CLAIM, NameError, NoticeEvent,
    OutcomeNotice, Preset, TriggerPhrase,
};
pub use blob_key::{BlobKey, InvalidBlobKey};
pub use credits::{Billing, Credits, EntryKind, LedgerEntry, NotEnoughCredits, Pack, Prices, Work};
pub use generation::{
    AspectRatio, GeneratedImage, Generation, GenerationDefaults, GenerationEvent, GenerationState,
    GenerationStatus, IllegalGenerationTransition, ImageCount, Prompt, PromptError,
};
pub use ids::{
    AttemptId, AvatarId, ChatId, GenerationId, InvalidId, MessageRef, Timestamp, UserId,
};
pub use lifecycle::{
    AvatarEvent, AvatarState, AvatarStatus, FailureReason, FalRequest, IllegalTransition,
    MAX_LAUNCH_CLAIMS, TrainedModel, TrainingOutput, transition,
};
pub use photo::{ContentHash, ImageFormat, Photo, PhotoRejection, blob_keys};
pub use policy::{Access, GenerationRefusal, Limits, PhotoRefusal, TrainingRefusal};
pub use spend::{Charge, Costs, SpendCap, SpendDay, Usd};
pub use styles::Style;
pub use user::{DialogueState, Language, UserProfile};
