//! The record store: every durable record the functions share, one port per record type.
//! [`RecordStore`] is their sum, what the use cases hold. Writes of [`Versioned`] records are
//! conditional on the version read (optimistic locking), so two workers racing on one item
//! cannot both win: the loser gets [`StoreError::Conflict`] and re-reads.

mod avatars;
mod causes;
mod commit;
mod credits;
mod fal_requests;
mod generations;
mod in_flight;
mod photos;
mod spend;
mod updates;
mod users;
mod versioned;

pub use avatars::AvatarStore;
pub use causes::CauseLog;
pub use commit::{Cause, CommitCost, CommitRefused};
pub use credits::{Applied, CreditLedger};
pub use fal_requests::{FalRequestOwner, FalRequests};
pub use generations::GenerationStore;
pub use in_flight::{InFlightCursor, InFlightIndex, InFlightItem, InFlightPage};
pub(crate) use in_flight::{avatar_entry, generation_entry, parse_in_flight_sort_key};
pub use photos::{PhotoAdded, PhotoStore};
pub use spend::SpendLedger;
pub use updates::{UpdateClaim, UpdateLog};
pub use users::{UserPage, UserStore};
pub use versioned::Versioned;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the record changed (or appeared) since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The record to update does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored record could not be decoded.
    #[error("corrupt record {key}: {reason}")]
    Corrupt { key: String, reason: String },
    /// The backend failed; retrying later may help.
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }

    /// A listing's cursor this store never gave (typed by hand, or from another table).
    pub fn foreign_cursor(listing: &str) -> Self {
        StoreError::Corrupt {
            key: format!("{listing} cursor"),
            reason: "not a cursor this store gave".into(),
        }
    }

    /// Whether the same call may succeed later. A corrupt record stays corrupt.
    pub fn is_transient(&self) -> bool {
        !matches!(self, StoreError::Corrupt { .. })
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Every record port at once: what a backend offers and a use case holds.
pub trait RecordStore:
    UserStore
    + AvatarStore
    + PhotoStore
    + GenerationStore
    + FalRequests
    + UpdateLog
    + InFlightIndex
    + SpendLedger
    + CreditLedger
    + CauseLog
{
}

impl<T> RecordStore for T where
    T: UserStore
        + AvatarStore
        + PhotoStore
        + GenerationStore
        + FalRequests
        + UpdateLog
        + InFlightIndex
        + SpendLedger
        + CreditLedger
        + CauseLog
{
}
