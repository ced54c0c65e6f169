//! Refunds: paid work that failed, timed out, was cancelled before it reached fal.ai, or
//! delivered nothing gives its credits back. The refund is keyed by the work, so whoever asks
//! for it (the notice that tells the user, sent again by the sweep if it failed; a deletion
//! retried after a crash) applies it once.

use super::{Pipeline, PipelineResult};
use crate::domain::{Credits, LedgerEntry, Timestamp, WorkRef};
use crate::ports::{Applied, RecordStore, StoreResult};

/// Gives back what `work` was debited, once. `None` when nothing was paid for it (a free bot,
/// or work committed before billing was on).
pub async fn refund(store: &dyn RecordStore, work: &WorkRef) -> StoreResult<Option<Credits>> {
    let Some(debit) = store
        .ledger_entry(work.owner, &LedgerEntry::debit_key(work.paid()))
        .await?
    else {
        return Ok(None);
    };
    let Some(refund) = LedgerEntry::refund_of(&debit, Timestamp::now()) else {
        return Ok(None);
    };
    let credits = Credits(refund.delta.unsigned_abs());
    match store.apply_entry(&refund).await? {
        Ok(Applied::New(balance)) => {
            tracing::info!(user = %work.owner, key = refund.key(), %credits, %balance, "credits refunded");
            crate::metrics::count("CreditsRefunded", &[("Kind", work.kind.as_str())]);
        }
        Ok(Applied::Repeat(_)) => {}
        // A refund only adds: a balance cannot be short of it.
        Err(short) => {
            tracing::error!(user = %work.owner, ?short, "refund refused by the ledger");
            return Ok(None);
        }
    }
    Ok(Some(credits))
}

/// What `work` was debited, if anything (and not refunded yet).
pub async fn debited(store: &dyn RecordStore, work: &WorkRef) -> StoreResult<Option<Credits>> {
    let refund = LedgerEntry::refund_key(work.paid());
    if store.ledger_entry(work.owner, &refund).await?.is_some() {
        return Ok(None);
    }
    let debit = LedgerEntry::debit_key(work.paid());
    Ok(store
        .ledger_entry(work.owner, &debit)
        .await?
        .map(|debit| Credits(debit.delta.unsigned_abs())))
}

impl Pipeline {
    /// [`refund`] on this pipeline's store.
    pub(crate) async fn refund(&self, work: &WorkRef) -> PipelineResult<Option<Credits>> {
        Ok(refund(self.store.as_ref(), work).await?)
    }
}
