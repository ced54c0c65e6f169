//! Paid work: a fal.ai submission the user is charged for (a training, a generation, and every
//! later kind). Each piece is named by one [`WorkRef`] (its kind, owner, avatar and id) and
//! lives on the one lifecycle core every kind embeds (`state.rs`).

mod state;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::{AvatarId, GenerationId, UserId, WorkId};

#[cfg(test)]
pub(crate) use state::check_table;
pub use state::{
    Acceptance, IllegalStep, MAX_LAUNCH_CLAIMS, PaidRecord, WorkEvent, WorkState, WorkStatus,
    acceptance, outcome_events, step,
};

/// A request in the fal.ai queue: its id and the endpoint (model id) it was submitted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FalRequest {
    pub request_id: String,
    pub endpoint: String,
}

/// Why paid work failed, in terms the user-facing texts can explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FailureReason {
    /// fal.ai refused the input (422): the detail is fal's own explanation.
    Rejected { detail: String },
    /// fal.ai refused our key: an operator problem, not the user's.
    Unauthorized,
    /// fal.ai ran the job and reported an error.
    ProviderError { detail: String },
    /// The work took longer than the configured timeout and was cancelled.
    TimedOut,
    /// The work could not be started on our side (a photo gone, a record unreadable, too
    /// many failed attempts); nothing was sent to fal.ai.
    NotStarted { detail: String },
    /// The submit may have reached fal.ai, but no result or confirmation came within the
    /// wait window; it is never submitted again.
    Unconfirmed,
}

/// The kinds of paid work. The kind decides the engine's kind-specific steps, the per-user
/// quota it counts against and its price; nothing else in the engine looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkKind {
    /// An avatar's training: the work's id is the avatar's.
    Training,
    /// Pictures drawn with a trained avatar.
    Generation,
    /// One of those pictures made bigger (its record is a generation's, `Order::Upscale`).
    Upscale,
    /// The user's own photo redrawn by the avatar (`Order::Restyle`).
    Restyle,
    /// One picture of a photo pack (`Order::Pack`); a pack's pictures are committed in one
    /// tap, and its first delivers the album.
    PhotoPack,
    /// A picture drawn from the user's best photo while the avatar trains
    /// (`Order::FirstLook`), delivered with the others of its group as one album.
    FirstLook,
}

impl WorkKind {
    pub const ALL: [WorkKind; 6] = [
        WorkKind::Training,
        WorkKind::Generation,
        WorkKind::Upscale,
        WorkKind::Restyle,
        WorkKind::PhotoPack,
        WorkKind::FirstLook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkKind::Training => "training",
            WorkKind::Generation => "generation",
            WorkKind::Upscale => "upscale",
            WorkKind::Restyle => "restyle",
            WorkKind::PhotoPack => "photo_pack",
            WorkKind::FirstLook => "first_look",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The per-user count a commit of this kind moves on (each has its own limits).
    pub fn quota(self) -> Quota {
        match self {
            WorkKind::Training => Quota::Trainings,
            WorkKind::Generation
            | WorkKind::Upscale
            | WorkKind::Restyle
            | WorkKind::PhotoPack
            | WorkKind::FirstLook => Quota::Pictures,
        }
    }
}

impl fmt::Display for WorkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The per-user counts that guard the per-user limits (`MAX_TRAININGS_PER_USER`, the
/// generation limits): a commit moves its kind's count on, conditional on the count read
/// before the limits were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    Trainings,
    Pictures,
}

/// One piece of paid work: its kind, its owner, the avatar it belongs to and its own id.
/// Ownership is part of the name: every lookup goes through the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkRef {
    pub kind: WorkKind,
    pub owner: UserId,
    pub avatar_id: AvatarId,
    pub id: WorkId,
}

impl WorkRef {
    pub fn training(owner: UserId, avatar_id: AvatarId) -> Self {
        Self {
            kind: WorkKind::Training,
            owner,
            avatar_id,
            id: WorkId::from(avatar_id),
        }
    }

    pub fn generation(owner: UserId, avatar_id: AvatarId, id: GenerationId) -> Self {
        Self {
            kind: WorkKind::Generation,
            owner,
            avatar_id,
            id: WorkId::from(id),
        }
    }

    /// What its debit and refund are keyed by.
    pub fn paid(&self) -> Work {
        Work {
            kind: self.kind,
            id: self.id,
        }
    }
}

impl fmt::Display for WorkRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.id)
    }
}

/// Paid work as the ledger keys its debit and refund: each is applied at most once. Stored in
/// ledger entries as `{"type": "<kind>", "id": "<id>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Work {
    #[serde(rename = "type")]
    pub kind: WorkKind,
    pub id: WorkId,
}

impl Work {
    pub fn training(avatar: AvatarId) -> Self {
        Self {
            kind: WorkKind::Training,
            id: avatar.into(),
        }
    }

    pub fn generation(id: GenerationId) -> Self {
        Self {
            kind: WorkKind::Generation,
            id: id.into(),
        }
    }

    pub(crate) fn key(&self) -> String {
        format!("{}:{}", self.kind, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_keys_read_as_the_ledger_wrote_them() {
        let id = AvatarId::new();
        let work = Work::training(id);
        assert_eq!(work.key(), format!("training:{id}"));
        let json = serde_json::to_value(work).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "training", "id": id.to_string()})
        );
        assert_eq!(serde_json::from_value::<Work>(json).unwrap(), work);
    }
}
