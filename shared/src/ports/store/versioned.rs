//! Records written with optimistic locking. Both backends write every such record through one
//! generic create and one generic conditional replace over this trait.

use crate::domain::{Avatar, Generation, UserProfile};

pub trait Versioned: Clone + Send + Sync + 'static {
    /// The version the record was read at (0: never stored).
    fn version(&self) -> u64;
    /// The record as the next write stores it: the same, one version on.
    fn next_version(&self) -> Self;
    /// How errors and logs name it ("avatar 01H...").
    fn label(&self) -> String;
}

/// The three versioned records: `version` field, labelled by kind and id.
macro_rules! versioned {
    ($($record:ty => $kind:literal),* $(,)?) => {$(
        impl Versioned for $record {
            fn version(&self) -> u64 {
                self.version
            }
            fn next_version(&self) -> Self {
                Self {
                    version: self.version + 1,
                    ..self.clone()
                }
            }
            fn label(&self) -> String {
                format!(concat!($kind, " {}"), self.id)
            }
        }
    )*};
}

versioned!(UserProfile => "user", Avatar => "avatar", Generation => "generation");
