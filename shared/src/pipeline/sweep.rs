//! The status sweep: reads only the in-flight index (items older than the check interval,
//! oldest first, a page at a time) and hands each item to the engine's sweep of its kind
//! (`engine/sweep.rs`), [`CONCURRENCY`] items at a time: each
//! item is mostly waiting on fal.ai and Telegram, and one at a time a pass over a large index
//! outlasts the minute between runs (docs/scale.md). Work is bounded by a deadline under the
//! function's timeout; what is left waits for the next run. An item that cannot be settled
//! now (an unreadable record, a failing call) is counted and skipped: the rest of the index
//! is settled regardless.

use std::time::Instant;

use futures::StreamExt;

use super::{Pipeline, PipelineResult, kinds};
use crate::domain::{Timestamp, blob_keys};
use crate::ports::{InFlightCursor, InFlightItem};

const PAGE: u32 = 25;

/// Expired generations removed by one run (the embedded backend's retention); the rest wait
/// for the next.
const EXPIRED_PER_RUN: u32 = 100;

/// Items of a page settled at once. Each is independent (its own record, its own fal.ai
/// request, its own chat), and every step is already safe against a webhook racing it.
pub const CONCURRENCY: usize = 8;

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub checked: u32,
    pub relaunched: u32,
    pub completed: u32,
    pub failed: u32,
    pub timed_out: u32,
    pub progress_shown: u32,
    pub notices_sent: u32,
    /// Unfinished avatars removed with their photos after [`crate::domain::ABANDONED_AFTER`].
    pub abandoned_removed: u32,
    /// Finished work whose files were deleted by the sweep (the first attempt failed).
    pub tidied: u32,
    /// Generations past their retention removed with their pictures (embedded backend).
    pub expired_removed: u32,
    /// Items that could not be settled now (retried by the next run).
    pub errors: u32,
    /// Of those, records that cannot be read at all (counted in `SweepSkipped`).
    pub unreadable: u32,
    /// The deadline came before the index was done.
    pub truncated: bool,
}

impl Pipeline {
    pub async fn sweep(&self, now: Timestamp, deadline: Instant) -> PipelineResult<SweepReport> {
        let mut report = SweepReport::default();
        let older_than = now.minus(self.fal_settings.status_check_interval);
        let mut cursor: Option<InFlightCursor> = None;
        loop {
            let first_page = cursor.is_none();
            let page = self.store.list_in_flight(older_than, PAGE, cursor).await?;
            if first_page {
                // Oldest first: the operator's dashboard shows how long the oldest has waited.
                let oldest = page
                    .items
                    .first()
                    .map_or(0.0, |i| now.since(i.since).as_secs_f64());
                crate::metrics::seconds("OldestInFlightAge", oldest, &[]);
            }
            let settled: Vec<SweepReport> = futures::stream::iter(page.items)
                .map(|item| self.sweep_item(item, now, deadline))
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for one in settled {
                report.add(&one);
            }
            if report.truncated {
                return Ok(report);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        match self.remove_expired(now).await {
            Ok(removed) => report.expired_removed = removed,
            Err(e) => {
                report.errors += 1;
                tracing::warn!(error = %e, "expired pictures not removed; next run retries");
            }
        }
        let recovered = report.completed + report.failed + report.relaunched + report.notices_sent;
        if recovered > 0 {
            crate::metrics::counts("SweepRecoveries", recovered, &[]);
        }
        tracing::info!(?report, "sweep finished");
        Ok(report)
    }

    /// Deletes generation records whose retention is over, with their pictures, where the
    /// backend does not do it by itself (the embedded one: DynamoDB's TTL and the bucket's
    /// lifecycle rule do it on AWS). Pictures first, so a record never outlives nothing.
    async fn remove_expired(&self, now: Timestamp) -> PipelineResult<u32> {
        let mut removed = 0;
        for generation in self.store.expired_generations(now, EXPIRED_PER_RUN).await? {
            let prefix =
                blob_keys::generation_prefix(generation.owner, generation.avatar_id, generation.id);
            self.blobs.delete_prefixes(&[prefix]).await?;
            self.store
                .delete_generation(generation.owner, generation.avatar_id, generation.id)
                .await?;
            removed += 1;
        }
        if removed > 0 {
            tracing::info!(
                removed,
                "generations past their retention removed with their pictures"
            );
        }
        Ok(removed)
    }

    /// One in-flight item. Whatever goes wrong with it is its own: logged, counted, and
    /// left for the next run, never in the way of the others.
    async fn sweep_item(
        &self,
        item: InFlightItem,
        now: Timestamp,
        deadline: Instant,
    ) -> SweepReport {
        let mut report = SweepReport::default();
        if Instant::now() >= deadline {
            report.truncated = true;
            return report;
        }
        let work = item.work;
        if let Err(e) = kinds::driver(work.kind)
            .sweep(self, &work, now, &mut report)
            .await
        {
            report.errors += 1;
            if e.is_transient() {
                tracing::warn!(%work, error = %e, "sweep could not settle this item; next run retries");
            } else {
                report.unreadable += 1;
                crate::metrics::count("SweepSkipped", &[("Kind", work.kind.as_str())]);
                tracing::error!(%work, error = %e, "sweep skipped an item it cannot read or settle");
            }
        }
        report
    }
}

impl SweepReport {
    fn add(&mut self, other: &SweepReport) {
        self.checked += other.checked;
        self.relaunched += other.relaunched;
        self.completed += other.completed;
        self.failed += other.failed;
        self.timed_out += other.timed_out;
        self.progress_shown += other.progress_shown;
        self.notices_sent += other.notices_sent;
        self.abandoned_removed += other.abandoned_removed;
        self.tidied += other.tidied;
        self.expired_removed += other.expired_removed;
        self.errors += other.errors;
        self.unreadable += other.unreadable;
        self.truncated |= other.truncated;
    }
}
