//! Automatic refunds: a training that failed or timed out, and a generation that failed or
//! delivered no picture, give their credits back. The refund is keyed by the work, so the
//! notice that tells the user (sent again by the sweep if it failed) can ask for it every
//! time and it applies once.

use super::{Pipeline, PipelineResult};
use crate::domain::{Credits, LedgerEntry, Timestamp, UserId, Work};
use crate::ports::Applied;

impl Pipeline {
    /// Gives back what `work` was debited, once. `None` when nothing was paid for it (a free
    /// bot, or work committed before billing was on).
    pub(in crate::pipeline) async fn refund(
        &self,
        owner: UserId,
        work: Work,
    ) -> PipelineResult<Option<Credits>> {
        let Some(debit) = self
            .store
            .ledger_entry(owner, &LedgerEntry::debit_key(work))
            .await?
        else {
            return Ok(None);
        };
        let Some(refund) = LedgerEntry::refund_of(&debit, Timestamp::now()) else {
            return Ok(None);
        };
        let credits = Credits(refund.delta.unsigned_abs());
        match self.store.apply_entry(&refund).await? {
            Ok(Applied::New(balance)) => {
                tracing::info!(user = %owner, key = refund.key(), %credits, %balance, "credits refunded");
                crate::metrics::count("CreditsRefunded", &[]);
            }
            Ok(Applied::Repeat(_)) => {}
            // A refund only adds: a balance cannot be short of it.
            Err(short) => {
                tracing::error!(user = %owner, ?short, "refund refused by the ledger");
                return Ok(None);
            }
        }
        Ok(Some(credits))
    }
}
