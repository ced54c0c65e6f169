//! Forgetting a user ("delete everything about me"): every avatar deleted as one deletion
//! does it (`deletion`: unsent work refunded, running work cancelled at fal.ai, files, then
//! records), then every file left under the user's prefixes, then the profile, dialogue
//! state, counters and commit causes. The books stay: the balance and ledger entries (with
//! Telegram's charge ids and amounts), which payment disputes and refunds need, under their
//! own keys. Every step is idempotent, so a redelivered or interrupted request finishes the
//! job and refunds nothing twice.

use crate::domain::blob_keys;
use crate::domain::{Credits, Timestamp, UserId};
use crate::ports::{BlobStore, JobQueue, RecordStore};

use super::PipelineResult;
use super::deletion::{self, Settlement};

/// What forgetting the user would take (for the confirmation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inventory {
    pub avatars: u32,
    pub photos: u32,
    /// Generation records (each with its prompt and pictures).
    pub generations: u32,
    /// What the deletions would refund and cancel.
    pub settlement: Settlement,
    /// The balance, which stays with the books.
    pub balance: Credits,
}

/// What forgetting `owner` now would delete, refund and cancel.
pub async fn inventory(store: &dyn RecordStore, owner: UserId) -> PipelineResult<Inventory> {
    let mut inventory = Inventory {
        balance: store.balance(owner).await?,
        ..Inventory::default()
    };
    for avatar in store.list_avatars(owner).await? {
        inventory.avatars += 1;
        inventory.photos += avatar.photo_count;
        let generations = store.list_generations(avatar.id, u32::MAX).await?;
        inventory.generations += u32::try_from(generations.len()).unwrap_or(u32::MAX);
        let settlement = deletion::preview(store, &avatar).await?;
        inventory.settlement.refunded.0 += settlement.refunded.0;
        inventory.settlement.cancelled_at_fal += settlement.cancelled_at_fal;
    }
    Ok(inventory)
}

/// Forgets `owner`: what it refunded and cancelled. Nothing of theirs is left when it returns
/// `Ok`, but the books.
pub async fn forget_user(
    store: &dyn RecordStore,
    blobs: &dyn BlobStore,
    queue: &dyn JobQueue,
    owner: UserId,
    now: Timestamp,
) -> PipelineResult<Settlement> {
    let mut done = Settlement::default();
    let avatars = store.list_avatars(owner).await?;
    let count = avatars.len();
    for avatar in avatars {
        if let Some(settled) =
            deletion::delete_avatar(store, blobs, queue, owner, avatar.id, now).await?
        {
            done.refunded.0 += settled.refunded.0;
            done.cancelled_at_fal += settled.cancelled_at_fal;
        }
    }
    // Files no record leads to any more (a deletion interrupted between its files and an
    // earlier try's records) go too.
    let files = blobs
        .delete_prefixes(&blob_keys::user_prefixes(owner))
        .await?;
    store.forget_user(owner).await?;
    tracing::info!(%owner, avatars = count, stray_files = files, refunded = %done.refunded, cancelled_at_fal = done.cancelled_at_fal, "user forgotten; their books kept");
    crate::metrics::count("UsersForgotten", &[]);
    Ok(done)
}
