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

impl Versioned for UserProfile {
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
        format!("user {}", self.id)
    }
}

impl Versioned for Avatar {
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
        format!("avatar {}", self.id)
    }
}

impl Versioned for Generation {
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
        format!("generation {}", self.id)
    }
}
