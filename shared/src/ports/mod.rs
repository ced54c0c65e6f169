//! The contracts use cases depend on; AWS and embedded adapters implement them.

pub mod blob;
pub mod pace;
pub mod queue;
pub mod store;

pub use blob::{BlobError, BlobKey, BlobReader, BlobStore, ZipSource, ZipSummary};
pub use pace::{Reservation, SendPace};
pub use queue::{JobQueue, QueueDelay, QueueError, Receipt, ReceivedMessage};
pub use store::{
    Applied, AvatarStore, Cause, CauseLog, CommitCost, CommitRefused, CreditLedger,
    FalRequestOwner, FalRequests, GenerationStore, InFlightCursor, InFlightIndex, InFlightItem,
    InFlightPage, PhotoAdded, PhotoStore, RecordStore, SpendLedger, StoreError, StoreResult,
    UpdateClaim, UpdateLog, UserPage, UserStore, Versioned,
};
