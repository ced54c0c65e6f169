//! The contracts use cases depend on; AWS and embedded adapters implement them.

pub mod blob;
pub mod queue;
pub mod store;

pub use blob::{BlobError, BlobKey, BlobReader, BlobStore, ZipSource, ZipSummary};
pub use queue::{JobQueue, QueueDelay, QueueError, Receipt, ReceivedMessage};
pub use store::{
    FalRequestOwner, FalTarget, InFlightCursor, InFlightItem, InFlightPage, PhotoAdded,
    RecordStore, StoreError, StoreResult, UpdateClaim,
};
