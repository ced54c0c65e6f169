//! Deleting an avatar with everything of it, its paid work settled first: what never reached
//! fal.ai is cancelled and refunded, what is running at fal.ai is cancelled there (not
//! refunded: fal bills it), then the fal request ids are forgotten, the files deleted (photos,
//! archives, model copies, pictures), then the records. The avatar is marked first, in the
//! same write that cancels its training if that is still unsent: from then on no work of it
//! can be committed (the commit checks the mark) or submitted (the launch finds it cancelled).
//! Every step is idempotent, so a deletion interrupted half-way is finished by the next try,
//! and refunds are keyed by the work, so none is given twice.

use crate::domain::work::PaidRecord;
use crate::domain::{
    Avatar, AvatarEvent, AvatarId, Credits, Timestamp, UserId, WorkEvent, WorkState,
};
use crate::jobs::Job;
use crate::ports::{BlobStore, JobQueue, QueueDelay, RecordStore};

use super::refund::{debited, refund};
use super::{PipelineResult, Updatable, advance, update_with};

/// What deleting an avatar would do about its paid work (for the confirmation), or did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Credits of work that never reached fal.ai, given back.
    pub refunded: Credits,
    /// Work running at fal.ai, cancelled there (its credits are not given back).
    pub cancelled_at_fal: u32,
}

/// What deleting `avatar` now would refund and cancel.
pub async fn preview(store: &dyn RecordStore, avatar: &Avatar) -> PipelineResult<Settlement> {
    let mut preview = Settlement::default();
    if let Some(training) = avatar.state.training() {
        preview_one(store, avatar, training, &mut preview).await?;
    }
    for generation in store.list_generations(avatar.id, u32::MAX).await? {
        preview_one(store, &generation, &generation.state, &mut preview).await?;
    }
    Ok(preview)
}

async fn preview_one<R: PaidRecord>(
    store: &dyn RecordStore,
    record: &R,
    state: &WorkState<R::Output>,
    preview: &mut Settlement,
) -> PipelineResult<()> {
    match state {
        WorkState::Queued { .. } | WorkState::Submitting { .. } | WorkState::Cancelled { .. } => {
            if let Some(credits) = debited(store, &record.work_ref()).await? {
                preview.refunded.0 += credits.0;
            }
        }
        WorkState::Running { .. } => preview.cancelled_at_fal += 1,
        _ => {}
    }
    Ok(())
}

/// Deletes the avatar and everything of it; `None` when it is gone already.
pub async fn delete_avatar(
    store: &dyn RecordStore,
    blobs: &dyn BlobStore,
    queue: &dyn JobQueue,
    owner: UserId,
    avatar_id: AvatarId,
    now: Timestamp,
) -> PipelineResult<Option<Settlement>> {
    let Some(avatar) = store.get_avatar(owner, avatar_id).await? else {
        return Ok(None);
    };
    let Some(avatar) = mark(store, avatar, now).await? else {
        return Ok(None);
    };
    let mut done = Settlement::default();
    settle(store, queue, avatar.clone(), now, &mut done).await?;
    let generations = store.list_generations(avatar.id, u32::MAX).await?;
    for generation in &generations {
        settle(store, queue, generation.clone(), now, &mut done).await?;
    }
    let requests: Vec<String> = avatar
        .state
        .fal_request()
        .into_iter()
        .chain(generations.iter().filter_map(|g| g.state.fal_request()))
        .map(|request| request.request_id.clone())
        .collect();
    store.delete_fal_requests(&requests).await?;
    // Files before records: if the records went first and a later step failed, nothing would
    // remember the files.
    blobs
        .delete_prefixes(&crate::domain::blob_keys::avatar_prefixes(owner, avatar.id))
        .await?;
    store.delete_avatar(owner, avatar.id).await?;
    tracing::info!(avatar = %avatar.id, status = avatar.status().as_str(), refunded = %done.refunded, cancelled_at_fal = done.cancelled_at_fal, "avatar deleted with its files");
    Ok(Some(done))
}

/// Marks the avatar as being deleted, its training cancelled in the same write if nothing of
/// it reached fal.ai. `None` when the avatar is gone.
async fn mark(
    store: &dyn RecordStore,
    avatar: Avatar,
    now: Timestamp,
) -> PipelineResult<Option<Avatar>> {
    if avatar.deleting_since.is_some() {
        return Ok(Some(avatar));
    }
    let marked = update_with(store, avatar.clone(), |current| {
        if current.deleting_since.is_some() {
            return None;
        }
        let unsent = current.state.training().is_none_or(WorkState::is_unsent);
        let mut next = if unsent {
            current.apply(AvatarEvent::Cancel, now).ok()?
        } else {
            current.clone()
        };
        next.deleting_since = Some(now);
        Some(next)
    })
    .await?;
    match marked {
        Some(marked) => Ok(Some(marked)),
        // Marked meanwhile by another try of the same deletion, or gone.
        None => Ok(avatar.reread(store).await?),
    }
}

/// Settles one piece of paid work of an avatar being deleted.
async fn settle<R: PaidRecord + Updatable>(
    store: &dyn RecordStore,
    queue: &dyn JobQueue,
    record: R,
    now: Timestamp,
    done: &mut Settlement,
) -> PipelineResult<()> {
    let work = record.work_ref();
    let Some(state) = record.state() else {
        return Ok(());
    };
    match state {
        WorkState::Queued { .. } | WorkState::Submitting { .. } => {
            let cancelled = advance(store, &record, WorkEvent::Cancel, now).await;
            match cancelled {
                Ok(Some(_)) => refunded(store, &work, done).await?,
                // Moved on meanwhile (a worker began the submit): settled by what it is now.
                Ok(None) => {
                    if let Some(current) = record.reread(store).await? {
                        Box::pin(settle(store, queue, current, now, done)).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Never reached fal.ai (an earlier try cancelled it), or failed: its refund, once.
        WorkState::Cancelled { .. } | WorkState::Failed { .. } => {
            refunded(store, &work, done).await?
        }
        WorkState::Running { request, .. } => {
            let cancel = Job::CancelFalRequest {
                endpoint: request.endpoint.clone(),
                request_id: request.request_id.clone(),
            };
            queue.send(&cancel.to_body(), QueueDelay::NONE).await?;
            done.cancelled_at_fal += 1;
        }
        // Sending: it may have reached fal.ai, and nothing can cancel what has no request id;
        // its late result finds nothing. Completed: delivered, or the user deletes it unseen.
        WorkState::Sending { .. } | WorkState::Completed { .. } => {}
    }
    Ok(())
}

/// Refunds `work` unless it was refunded before (a failure told already, an earlier try).
async fn refunded(
    store: &dyn RecordStore,
    work: &crate::domain::WorkRef,
    done: &mut Settlement,
) -> PipelineResult<()> {
    if debited(store, work).await?.is_some()
        && let Some(credits) = refund(store, work).await?
    {
        done.refunded.0 += credits.0;
    }
    Ok(())
}
