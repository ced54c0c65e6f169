//! SDK clients (and the HTTPS client under them, tls.rs) built when a function first calls
//! them. Building one costs about a millisecond of a cold start (its endpoint resolver parses
//! the AWS partition table, its runtime plugins compile a regex; docs/benchmarks.md, "Cold
//! start"), and most invocations of the Telegram webhook never touch S3 (only photos do) or
//! SQS (only Confirm does).

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A client of type `C`, built by its recipe on first use and shared by every clone after.
pub struct OnFirstUse<C>(Arc<Inner<C>>);

struct Inner<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> OnFirstUse<C> {
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self(Arc::new(Inner {
            client: OnceLock::new(),
            build: Box::new(build),
        }))
    }

    /// Whether a call has needed the client yet.
    pub fn is_built(&self) -> bool {
        self.0.client.get().is_some()
    }
}

impl<C: Clone + Send + Sync + 'static> From<C> for OnFirstUse<C> {
    /// A client that already exists (tests, the ops CLI).
    fn from(client: C) -> Self {
        let built = OnceLock::new();
        let _ = built.set(client.clone());
        Self(Arc::new(Inner {
            client: built,
            build: Box::new(move || client.clone()),
        }))
    }
}

impl<C> Deref for OnFirstUse<C> {
    type Target = C;

    fn deref(&self) -> &C {
        self.0.client.get_or_init(|| (self.0.build)())
    }
}

impl<C> Clone for OnFirstUse<C> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<C: fmt::Debug> fmt::Debug for OnFirstUse<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.client.get() {
            Some(client) => client.fmt(f),
            None => f.write_str("OnFirstUse(not built yet)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn builds_once_on_first_use_and_clones_share_it() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let client = OnFirstUse::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let other = client.clone();
        assert!(!client.is_built());
        assert_eq!(built.load(Ordering::SeqCst), 0);
        assert_eq!(other.len(), 6);
        assert!(client.is_built());
        assert_eq!(client.as_str(), "client");
        assert_eq!(built.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_existing_client_is_built_already() {
        let client = OnFirstUse::from(String::from("ready"));
        assert!(client.is_built());
        assert_eq!(format!("{client:?}"), "\"ready\"");
    }
}
