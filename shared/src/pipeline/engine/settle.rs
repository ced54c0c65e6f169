//! Every end of paid work settles once: the user is told (a failure is refunded first; a
//! success its kind could not deliver is refunded by the kind), and the notice is marked sent.
//! Whoever recorded the outcome holds the notice; a send that failed leaves it due, and the
//! sweep takes it over once the claim lapses. What the work left behind (a training's archive
//! and photos) is deleted after, retried by the sweep until done.

use super::super::{Pipeline, PipelineResult, Updatable};
use super::PaidKind;
use crate::domain::work::PaidRecord;
use crate::domain::{NoticeEvent, Timestamp, WorkState};
use crate::ports::StoreError;

/// Whether telling the user settled the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Told {
    /// Sent, or never sendable (blocked, refused for good): marked sent.
    Settled,
    /// Not now (Telegram failed for the moment): left due for the sweep.
    Later,
    /// Not yet: it waits for other work to end (a photo pack's album, for its last
    /// picture). Left due and released at once, so whoever ends that work sends it.
    Waiting,
}

impl Pipeline {
    /// Tells the user of the outcome of a record whose notice the caller holds, then marks it
    /// sent. A failure gives its credits back before the user is told, once (keyed by the
    /// work), so the message can say so however often it is retried. Returns the record as
    /// marked, when it was (what comes next writes on top of it).
    pub(super) async fn settle<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
    ) -> PipelineResult<Option<K::Record>> {
        let refunded = match record.state() {
            Some(WorkState::Failed { .. }) => self.refund(&record.work_ref()).await?,
            _ => None,
        };
        let now = Timestamp::now();
        match kind.tell(self, record, refunded).await? {
            Told::Settled => {}
            Told::Later => return Ok(None),
            Told::Waiting => {
                // Only our own claim: one taken over meanwhile is the new sender's.
                let held = record.notice();
                self.update_persistently(record.clone(), |current| {
                    (current.notice() == held)
                        .then(|| current.apply_notice(NoticeEvent::Release, now))
                        .flatten()
                })
                .await?;
                return Ok(None);
            }
        }
        let marked = self
            .update_persistently(record.clone(), |current| {
                current.apply_notice(NoticeEvent::Sent, now)
            })
            .await?;
        if marked.is_some() {
            tracing::info!(work = %record.work_ref(), status = record.state().map(|s| s.status().as_str()), "user told of the outcome");
        }
        Ok(marked)
    }

    /// For the sweep, or work another waits for: takes over a due notice whose sender's
    /// claim has lapsed (or was released), and sends it.
    pub(in crate::pipeline) async fn retry_notice<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
        now: Timestamp,
    ) -> PipelineResult<bool> {
        let Some(claimed) = record.apply_notice(NoticeEvent::TakeOver, now) else {
            return Ok(false);
        };
        let claimed = match claimed.write(self.store.as_ref()).await {
            Ok(stored) => stored,
            // Someone else took it (or the record is gone): theirs to send.
            Err(StoreError::Conflict(_) | StoreError::NotFound(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Box::pin(self.settle(kind, &claimed)).await?;
        Ok(true)
    }

    /// Deletes what the finished work left behind, then says so on the record.
    pub(super) async fn tidy<K: PaidKind>(
        &self,
        kind: &K,
        record: &K::Record,
    ) -> PipelineResult<bool> {
        if !record.tidy_due() {
            return Ok(false);
        }
        kind.tidy(self, record).await?;
        self.update_persistently(record.clone(), PaidRecord::tidied)
            .await?;
        Ok(true)
    }
}
