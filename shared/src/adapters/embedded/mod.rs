//! The embedded backend for the local runner: one SQLite file holds the records and the job
//! queue, a directory holds the blobs. Everything survives a restart.

mod blobs;
mod db;
mod pace;
mod queue;
mod store;

pub use blobs::LocalBlobs;
pub use db::Database;
pub use pace::LocalPace;
pub use queue::EmbeddedQueue;
pub use store::EmbeddedStore;
